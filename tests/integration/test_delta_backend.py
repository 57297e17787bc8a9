"""The delta backend on real Go programs: known profile in, only the misses out.

Profiles come from strace traces of the same programs (run just before), so what a delta run
finds is what the earlier trace did not show. Runs need root (the audit feed), the Go toolchain
and strace (for the earlier trace).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from _support import GO_SCHEDULING_DEPENDENT, free_port

from seccompgen.events import Phase, SyscallEvent
from seccompgen.goruntime import go_runtime_names
from seccompgen.profile.build import Mode, build_profile
from seccompgen.profile.model import Profile
from seccompgen.registry import AUTO_ORDER, get_delta_tracer, get_tracer, select_backend
from seccompgen.tracefile import TraceHeader, TraceWriter, read_trace
from seccompgen.tracing.backends.delta import DeltaOutcome, DeltaTracer
from seccompgen.tracing.backends.strace import StraceTracer
from seccompgen.tracing.base import TraceProgress, Tracer, TraceRequest

pytestmark = [pytest.mark.root, pytest.mark.go, pytest.mark.strace]

# Calls the Go runtime makes in some runs and not others (_support.GO_SCHEDULING_DEPENDENT).
SCHEDULING_DEPENDENT = GO_SCHEDULING_DEPENDENT


class Run:
    def __init__(self, outcome: object, path: Path) -> None:
        self.outcome = outcome
        self.path = path
        self.reader = read_trace(path)
        self.events = [e for e in self.reader if isinstance(e, SyscallEvent)]

    def names(self) -> set[str]:
        return {e.name for e in self.events}


RunTrace = Callable[..., Run]


@pytest.fixture
def trace(tmp_path: Path, no_leaked_processes: None) -> RunTrace:
    counter = iter(range(1000))

    def run(tracer: Tracer, argv: Sequence[object], **fields: object) -> Run:
        n = next(counter)
        args = tuple(str(a) for a in argv)
        fields.setdefault("stderr", tmp_path / f"stderr-{n}.txt")
        fields.setdefault("timeout", 90)
        request = TraceRequest(argv=args, workload="test", **fields)  # type: ignore[arg-type]
        header = TraceHeader.new(workload="test", arch="x86_64", backend=tracer.name, command=args)
        path = tmp_path / f"trace-{n}.jsonl"
        progress: list[TraceProgress] = []
        with TraceWriter.create(path, header) as writer:
            outcome = tracer.run(request, writer, progress.append)
            writer.close(complete=outcome.complete, reason=outcome.reason)
        return Run(outcome, path)

    return run


def log_profile(names: set[str]) -> Profile:
    return build_profile(sorted(names), ["x86_64"], Mode.LOG).profile


def test_batch_finds_exactly_the_call_the_known_profile_lacks(
    build_example: Callable[[str], Path], trace: RunTrace, tmp_path: Path
) -> None:
    batch = build_example("batch")
    data = tmp_path / "in.txt"
    data.write_text("the quick brown fox jumps over the lazy dog the end\n")
    taken = tmp_path / "taken"
    taken.mkdir()
    # Known run: the output path is a directory, so os.Rename stops after its Lstat of the
    # target (Go refuses to rename a file onto a directory) and renameat is never called.
    known = trace(StraceTracer(), [batch, "-in", data, "-out", taken])
    assert known.outcome.exit_code == 1  # type: ignore[attr-defined]
    assert "renameat" not in known.names() and "newfstatat" in known.names()
    # The profile as `emit --go-runtime on` would make it: the traced calls plus the Go
    # runtime's rare-path calls, so scheduling cannot add names here.
    assert "renameat" not in go_runtime_names()
    profile = log_profile(known.names() | set(go_runtime_names()))

    out = tmp_path / "out.json"
    run = trace(DeltaTracer(profile), [batch, "-in", data, "-out", out])
    outcome = run.outcome
    assert isinstance(outcome, DeltaOutcome)
    assert outcome.complete and outcome.exit_code == 0, outcome
    assert json.loads(out.read_text())["total"] == 11  # the program really ran to the end
    assert outcome.new_names == ("renameat",)
    (miss,) = outcome.misses
    assert miss.count == 1 and miss.comm == "batch" and miss.phase is Phase.STARTUP
    # The trace holds the misses as events, from the target's pid, under the delta backend.
    assert run.reader.header.backend == "delta"
    assert run.names() == {"renameat"}
    assert [e.pid for e in run.events] == [miss.pid]
    assert outcome.events == 1 and outcome.unattributed == 0 and outcome.overruns == 0


def test_batch_under_its_own_profile_finds_nothing(
    build_example: Callable[[str], Path], trace: RunTrace, tmp_path: Path
) -> None:
    batch = build_example("batch")
    data = tmp_path / "in.txt"
    data.write_text("a b a\n")
    known = trace(StraceTracer(), [batch, "-in", data, "-out", tmp_path / "one.json"])
    profile = log_profile(known.names() | set(go_runtime_names()))
    run = trace(get_delta_tracer(profile), [batch, "-in", data, "-out", tmp_path / "two.json"])
    assert isinstance(run.outcome, DeltaOutcome)
    assert run.outcome.misses == () and run.events == []
    assert run.outcome.exit_code == 0


def test_target_may_start_its_own_session(trace: RunTrace, tmp_path: Path) -> None:
    """setsid(2) fails for a session or process-group leader; under the delta launcher the
    target is neither (as under strace), and its misses are still attributed."""
    code = "import os; os.setsid(); open(os.environ['OUT'], 'w').write(str(os.getsid(0)))"
    out = tmp_path / "sid.txt"
    profile = log_profile({"execve", "exit_group"})
    run = trace(
        DeltaTracer(profile),
        [sys.executable, "-c", code],
        env=dict(os.environ, OUT=str(out)),
    )
    outcome = run.outcome
    assert isinstance(outcome, DeltaOutcome)
    assert outcome.exit_code == 0, outcome
    assert int(out.read_text()) == outcome.misses[0].pid  # its own session now
    assert "setsid" in {m.name for m in outcome.misses}
    assert outcome.unattributed == 0


def test_child_processes_are_followed(
    build_example: Callable[[str], Path], trace: RunTrace, tmp_path: Path
) -> None:
    """A shell's children inherit the filter and get new pids; their misses are attributed."""
    batch = build_example("batch")
    data = tmp_path / "in.txt"
    data.write_text("x\n")
    taken = tmp_path / "taken"
    taken.mkdir()
    known = trace(StraceTracer(), [batch, "-in", data, "-out", taken])
    sh = trace(StraceTracer(), ["/bin/sh", "-c", "true"])
    profile = log_profile(known.names() | sh.names() | set(go_runtime_names()))
    one, two = tmp_path / "a.json", tmp_path / "b.json"
    script = f"{batch} -in {data} -out {one}; {batch} -in {data} -out {two}"
    run = trace(DeltaTracer(profile), ["/bin/sh", "-c", script])
    outcome = run.outcome
    assert isinstance(outcome, DeltaOutcome)
    renames = [m for m in outcome.misses if m.name == "renameat"]
    # Two children, two pids, neither the shell's: each renamed once.
    assert len({m.pid for m in renames}) == 2, outcome.misses
    assert all(m.comm == "batch" and m.count == 1 for m in renames)
    assert outcome.events == len(run.events)
    assert {e.pid for e in run.events if e.name == "renameat"} == {m.pid for m in renames}
    assert outcome.unattributed == 0


def test_http_service_under_load_with_its_own_profile(
    build_example: Callable[[str], Path], trace: RunTrace, tmp_path: Path
) -> None:
    service, loadgen = build_example("httpservice"), build_example("loadgen")

    def exercise(port: int, name: str) -> str:
        url = f"http://127.0.0.1:{port}"
        out = tmp_path / f"{name}.json"
        return f"{loadgen} -c 4 -d 2s {url}/healthz {url}/debug/pprof/ > {out}"

    port = free_port()
    known = trace(
        StraceTracer(),
        [service, "-addr", f"127.0.0.1:{port}"],
        exercise=exercise(port, "known"),
        grace=15,
    )
    assert known.outcome.exit_code == 0  # type: ignore[attr-defined]
    # The profile from the trace alone (no Go runtime additions): what differs now is
    # scheduling only.
    profile = log_profile(known.names())
    port = free_port()
    run = trace(
        DeltaTracer(profile),
        [service, "-addr", f"127.0.0.1:{port}"],
        exercise=exercise(port, "delta"),
        grace=15,
    )
    outcome = run.outcome
    assert isinstance(outcome, DeltaOutcome)
    assert outcome.complete and outcome.exit_code == 0 and outcome.exercise_exit_code == 0
    stats = json.loads((tmp_path / "delta.json").read_text())
    assert stats["errors"] == 0 and stats["requests"] > 0
    assert set(outcome.new_names) <= SCHEDULING_DEPENDENT, outcome.misses
    assert run.names() == set(outcome.new_names)
    # Phases come from the run's boundaries, as for the other backends.
    assert [p for _, p in outcome.boundaries] == [Phase.STARTUP, Phase.EXERCISE, Phase.SHUTDOWN]


def test_auto_picks_the_first_available_backend() -> None:
    """Real availability checks: the choice can run, every faster backend cannot."""
    name, reason = select_backend(TraceRequest(argv=("true",), workload="w"))
    assert name in AUTO_ORDER
    assert get_tracer(name).unavailable_reason() is None
    assert reason.startswith(f"{name}: ")
    for faster in AUTO_ORDER[: AUTO_ORDER.index(name)]:
        problem = get_tracer(faster).unavailable_reason()
        assert problem is not None and problem in reason
