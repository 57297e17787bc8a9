"""SIGKILL at random points of `import`, `learn`, `emit` and `trace` never corrupts the store.

Each test runs the real command (``python -m seccompgen ...``) over and over, kills it with
SIGKILL after a random delay drawn between interpreter start-up and the command's full run
time, and checks the store after every kill:

* every trace file under its final name is complete (header, events, footer) and reads back;
* ``graph.json`` parses and holds only traces that are in the store; when it holds all of
  them it is byte for byte what a rebuild from the trace files gives; when it lacks some (the
  command died between renaming its trace in and saving the graph) the next command folds
  them in;
* a profile file is absent, the previous one, or the complete new one, and validates;
* temporary files left by killed writers are not taken for traces, and no ``graph.json``
  temporary file outlives the next command.

After the last kill the command runs to completion and ``graph.json`` must equal the rebuild.
The delays come from a seeded generator; nothing asserts how long anything took.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from seccompgen.graph import SyscallGraph
from seccompgen.schema.validate import validate_profile_file
from seccompgen.store import GRAPH_FILE, TraceStore
from seccompgen.tracefile import read_trace

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "traces" / "recorded"
KILLS = 30


def seccompgen(*args: str) -> list[str]:
    return [sys.executable, "-m", "seccompgen", *args]


def rebuilt_json(store: TraceStore) -> str:
    """What a rebuild from the trace files writes, computed without touching the store."""
    graph = SyscallGraph()
    for path in store.traces():
        graph = TraceStore._fold(graph, path)
    return graph.to_json()


class StoreChecker:
    """Checks one store after each command; trace files never change once named, so each is
    read and folded into the reference graph once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = TraceStore(root)
        self.ids: dict[Path, str] = {}
        self.reference = SyscallGraph()
        self.tally: Counter[str] = Counter()

    def check(self, *, finished: bool) -> None:
        """The invariants that hold whenever a command was killed or finished."""
        traces = self.store.traces()
        assert set(self.ids) <= set(traces), "a trace file disappeared"
        for path in traces:
            if path in self.ids:
                continue
            assert not path.name.startswith("."), f"temporary file taken for a trace: {path}"
            reader = read_trace(path)
            list(reader)
            assert reader.footer is not None and not reader.truncated, f"half-written {path}"
            self.ids[path] = reader.header.trace_id
            self.reference = TraceStore._fold(self.reference, path)
        temps = [p for p in self.root.rglob("*.tmp")]
        self.tally["most temp files left"] = max(self.tally["most temp files left"], len(temps))
        graph_path = self.root / GRAPH_FILE
        if not graph_path.exists():
            assert not finished, "a finished command left no graph.json"
            self.tally["no graph.json"] += 1
            return
        text = graph_path.read_text(encoding="utf-8")
        graph = SyscallGraph.from_json(text, source=str(graph_path))  # raises if corrupt
        have, want = set(graph.sources()), set(self.ids.values())
        assert have <= want, f"graph.json holds traces not in the store: {have - want}"
        if have == want:
            assert text == self.reference.to_json()
        else:
            assert not finished, "a finished command left graph.json behind the trace files"
            self.tally["graph behind traces"] += 1
        if finished:
            assert not list(self.root.glob(".graph.*.tmp")), "a graph temp file outlived a run"


def _names(dirs: list[Path]) -> set[str]:
    """Names in ``dirs`` and one level below (the store root and its workload folders)."""
    found: set[str] = set()
    for d in dirs:
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            found.add(f"{d}/{e.name}")
            if e.is_dir():
                with contextlib.suppress(OSError):
                    found.update(f"{e.path}/{n}" for n in os.listdir(e.path))
    return found


# When to kill: after a random delay, or as soon as the command reaches a given write step
# (then a random 0-20 ms later): a temporary file appears (a trace or profile being written),
# a new trace file appears (renamed in, graph.json not yet saved), a graph temp file appears.
Trigger = Callable[[set[str]], bool]
TRIGGERS: dict[str, Trigger | None] = {
    "delay": None,
    "writing": lambda new: any(n.endswith(".tmp") for n in new),
    "renamed": lambda new: any(n.endswith(".trace.jsonl") for n in new),
    "graph-tmp": lambda new: any("/.graph." in n for n in new),
}


def run_killed(
    cmd: list[str], cwd: Path, watch: list[Path], trigger: Trigger | None, delay: float
) -> int | None:
    """Run ``cmd`` and SIGKILL its process group when ``trigger`` fires (plus ``delay`` s), or
    after ``delay`` s without a trigger. Its exit status when it ended first, else None."""
    before = _names(watch)
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + delay if trigger is None else None
    while proc.poll() is None:
        if deadline is None and trigger is not None and trigger(_names(watch) - before):
            deadline = time.monotonic() + delay
        if deadline is not None and time.monotonic() >= deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return None
        time.sleep(0.001)
    _, err = proc.communicate()
    assert proc.returncode == 0, err.decode(errors="replace")
    return proc.returncode


def full_run_seconds(cmd: list[str], cwd: Path) -> float:
    """How long one complete run takes here (to spread the random delays over it)."""
    start = time.monotonic()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.monotonic() - start


def kill_loop(
    name: str,
    make_cmd: Callable[[int], list[str]],
    cwd: Path,
    store: Path,
    seed: int,
    watch: list[Path] | None = None,
    triggers: tuple[str, ...] = tuple(TRIGGERS),
    after: Callable[[int, int | None], None] | None = None,
    cleanup: Callable[[], None] | None = None,
) -> Counter[str]:
    """Kill ``make_cmd(i)`` KILLS times (runs that end first are checked too), then finish one."""
    rng = random.Random(seed)
    whole = full_run_seconds(make_cmd(-1), cwd)
    watch = watch or [store]
    checker = StoreChecker(store)
    tally = checker.tally
    i = 0
    while tally["killed"] < KILLS and i < KILLS + 10:
        how = rng.choice(triggers)
        trigger = TRIGGERS[how]
        delay = rng.uniform(0.2, 1.0) * whole if trigger is None else rng.uniform(0, 0.02)
        rc = run_killed(make_cmd(i), cwd, watch, trigger, delay)
        if cleanup is not None:
            cleanup()
        outcome = "finished" if rc == 0 else "killed"
        tally[outcome] += 1
        tally[f"{outcome} by {how}"] += 1
        checker.check(finished=rc == 0)
        if after is not None:
            after(i, rc)
        i += 1
    # The next command works, and leaves graph.json equal to the rebuild.
    subprocess.run(make_cmd(i), cwd=cwd, check=True, capture_output=True)
    checker.check(finished=True)
    assert (store / GRAPH_FILE).read_text(encoding="utf-8") == rebuilt_json(TraceStore(store))
    print(f"{name}: {dict(sorted(tally.items()))}")
    return tally


def import_and_learn_loops(tmp_path: Path) -> list[Callable[[], Counter[str]]]:
    log = RECORDED / "go_f_ttt_raw.strace"
    audit = RECORDED / "audit" / "audit.log"
    imp_store, learn_store = tmp_path / "import-store", tmp_path / "learn-store"

    def imp(i: int) -> list[str]:
        return seccompgen("import", str(log), "-w", "imp", "--store", str(imp_store))

    def learn(i: int) -> list[str]:
        # A new workload each time, so every run has something to write.
        return seccompgen(
            "learn", "--from", str(audit), "-w", f"l{i + 1}", "--store", str(learn_store)
        )

    return [
        lambda: kill_loop("import", imp, tmp_path, imp_store, seed=1),
        lambda: kill_loop("learn", learn, tmp_path, learn_store, seed=2),
    ]


def emit_loop(tmp_path: Path) -> Callable[[], Counter[str]]:
    store = tmp_path / "emit-store"
    subprocess.run(
        seccompgen(
            "import", str(RECORDED / "go_f_ttt_raw.strace"), "-w", "a", "--store", str(store)
        ),
        check=True,
        capture_output=True,
    )
    out = tmp_path / "profiles" / "a.json"
    modes = ("enforce", "log")
    common = ("--runtime", "none", "--go-runtime", "off", "--store", str(store))
    expected = {}
    for mode in modes:
        ref = tmp_path / f"ref-{mode}.json"
        subprocess.run(
            seccompgen("emit", "-w", "a", "--mode", mode, "-o", str(ref), *common),
            check=True,
            capture_output=True,
        )
        assert validate_profile_file(ref) == []
        expected[mode] = ref.read_bytes()
    assert expected["enforce"] != expected["log"]
    previous: list[bytes | None] = [None]

    def emit(i: int) -> list[str]:
        target = out if i >= 0 else tmp_path / "measure.json"  # -1: the timing run
        return seccompgen("emit", "-w", "a", "--mode", modes[i % 2], "-o", str(target), *common)

    def after(i: int, rc: int | None) -> None:
        now = out.read_bytes() if out.exists() else None
        new = expected[modes[i % 2]]
        assert now in (previous[0], new), "profile is neither the old one nor the new one"
        if rc == 0:
            assert now == new
        if now is not None:
            assert validate_profile_file(out) == []
        previous[0] = now

    def run() -> Counter[str]:
        tally = kill_loop(
            "emit", emit, tmp_path, store, seed=3, watch=[out.parent],
            triggers=("delay", "writing"), after=after,
        )  # fmt: skip
        assert out.read_bytes() in expected.values()
        return tally

    return run


@pytest.mark.slow
def test_kill_during_import_learn_and_emit(tmp_path: Path) -> None:
    # Three stores, one loop each, side by side (the machine's cores, not the test's logic).
    loops = [*import_and_learn_loops(tmp_path), emit_loop(tmp_path)]
    with ThreadPoolExecutor(len(loops)) as pool:
        tallies = [f.result() for f in [pool.submit(loop) for loop in loops]]
    assert all(t["killed"] > 0 for t in tallies)


# --- real `trace` under strace ------------------------------------------------------------

_PR_SET_CHILD_SUBREAPER = 36  # prctl(2)


def _children() -> set[int]:
    me = os.getpid()
    found = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rfind(")") + 2 :].split()[1]) == me:
            found.add(int(entry.name))
    return found


@contextmanager
def subreaper() -> Iterator[Callable[[], None]]:
    """Adopt the processes a killed command leaves (strace runs in its own session, so a
    process-group kill does not reach it); yields a function that kills and reaps them."""
    libc = ctypes.CDLL(None, use_errno=True)
    before = _children()
    assert libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0

    def reap() -> None:
        while True:
            orphans = _children() - before
            if not orphans:
                return
            for pid in orphans:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass

    try:
        yield reap
    finally:
        reap()
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


@pytest.mark.slow
@pytest.mark.strace
@pytest.mark.go
@pytest.mark.usefixtures("no_leaked_processes")
def test_kill_during_trace(tmp_path: Path, build_example: Callable[[str], Path]) -> None:
    noop = build_example("noop")
    store = tmp_path / "store"

    def trace(i: int) -> list[str]:
        return seccompgen(
            "trace", str(noop), "-w", "noop", "--backend", "strace", "--store", str(store)
        )

    with subreaper() as reap:
        tally = kill_loop("trace", trace, tmp_path, store, seed=4, cleanup=reap)
    assert tally["killed"] > 0
