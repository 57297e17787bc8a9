"""The ebpf backend records every distinct value of the arguments ``emit --args auto`` conditions.

``programs/argburst`` makes, on one locked thread, 40 calls of socket, prctl, ioctl, fcntl,
personality and mprotect with a first value, then one call of each with a second value: far
past the sampled first calls of each key (``ARGS_SAMPLES``), so a trace that kept only samples
would miss every second value and ``emit --args auto`` would refuse it. The same program traced
with strace, which records every call, is the reference: both engines of the ebpf backend must
give the same argument rules for those names. A trace whose footer does not vouch for its values
(an ebpf trace from before, or one whose map filled) gives no rule at all; that is unit-tested in
``tests/unit/test_ebpf_counts.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from _rules import missing_tool
from _support import sg

from seccompgen.events import SyscallEvent
from seccompgen.tracefile import read_trace
from seccompgen.tracing.bpf.counts import ARGS_SAMPLES
from seccompgen.tracing.bpf.preconditions import precondition_problem
from seccompgen.tracing.gobuild import build_go

pytestmark = [pytest.mark.root, pytest.mark.go, pytest.mark.strace, pytest.mark.slow]

PROGRAM = Path(__file__).resolve().parent / "programs" / "argburst"
CALLS = 40
# name -> (argument index, the first value, the value after the burst)
VALUES = {
    "socket": (0, 2, 1),  # AF_INET, then AF_UNIX
    "prctl": (0, 16, 3),  # PR_GET_NAME, then PR_GET_DUMPABLE
    "ioctl": (1, 0x541B, 0x5413),  # FIONREAD, then TIOCGWINSZ
    "fcntl": (1, 1, 3),  # F_GETFD, then F_GETFL
    "personality": (0, 0xFFFFFFFF, 0),  # the query, then PER_LINUX
    "mprotect": (2, 1, 3),  # PROT_READ, then PROT_READ|PROT_WRITE
}


@pytest.fixture(scope="module")
def argburst(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_go(PROGRAM, tmp_path_factory.mktemp("argburst") / "argburst")


@pytest.fixture(scope="module")
def strace_rules(argburst: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("argburst-strace")
    return _trace_and_emit(work, argburst, "strace", {})


def _trace_and_emit(work: Path, program: Path, backend: str, env: dict[str, str]) -> dict[str, Any]:
    store = str(work / "store")
    run_env = {**os.environ, **env}
    traced = sg("trace", "--backend", backend, "-w", "argburst", "--store", store,
                "--", str(program), str(CALLS), cwd=work, env=run_env)  # fmt: skip
    assert traced.returncode == 0, traced.stdout + traced.stderr
    out = work / "argburst.json"
    # No-new-privileges: without it runc's own prctl and fcntl calls keep those two
    # unconditioned (see seccompgen/profile/args.py).
    emitted = sg("emit", "-w", "argburst", "--args", "auto", "--no-new-privileges",
                 "--store", store, "-o", str(out), cwd=work, env=run_env)  # fmt: skip
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr
    rules: dict[str, Any] = {"_emit": emitted.stdout + emitted.stderr, "_store": Path(store)}
    for rule in json.loads(out.read_text())["syscalls"]:
        if rule.get("args"):
            for name in rule["names"]:
                rules.setdefault(name, []).append(rule["args"])
    return rules


def _values(conds: list[list[dict[str, Any]]], index: int) -> set[int]:
    """The compared values at ``index`` (a masked comparison's datum is its valueTwo)."""
    return {
        c.get("valueTwo", 0) if c["op"] == "SCMP_CMP_MASKED_EQ" else c["value"]
        for rule in conds
        for c in rule
        if c["index"] == index
    }


@pytest.mark.parametrize("engine", ["bpf", "bpftrace"])
def test_every_distinct_value_after_the_samples_is_recorded(
    engine: str, argburst: Path, strace_rules: dict[str, Any], tmp_path: Path
) -> None:
    problem = precondition_problem(engine=engine)
    if problem is not None:
        missing_tool(f"ebpf backend unavailable: {problem[0]} ({problem[1]})")
    assert CALLS > 2 * ARGS_SAMPLES
    rules = _trace_and_emit(tmp_path, argburst, "ebpf", {"SECCOMPGEN_EBPF_ENGINE": engine})
    # The trace vouches for the watched arguments, and holds the late values as events.
    (path,) = rules["_store"].rglob("*.jsonl")
    reader = read_trace(path)
    assert reader.header.backend == "ebpf"
    seen: dict[str, set[int]] = {name: set() for name in VALUES}
    for ev in reader:
        if isinstance(ev, SyscallEvent) and ev.name in VALUES:
            index = VALUES[ev.name][0]
            if len(ev.args) > index and (v := ev.args[index]) is not None:
                seen[ev.name].add(v & 0xFFFFFFFF)
    every = reader.every_value()
    for name, (index, first, second) in VALUES.items():
        assert index in every[name], (name, every)
        assert {first, second} <= seen[name], (name, seen[name])
    # The same rules as from strace's every-call record, and the late values allowed.
    for name, (index, first, second) in VALUES.items():
        if name == "mprotect":  # a not-together rule: the values only decide whether W+X
            assert rules.get(name) == strace_rules.get(name), rules["_emit"]
            continue
        assert name in rules, (name, rules["_emit"])
        got = {v & 0xFFFFFFFF for v in _values(rules[name], index)}
        want = {v & 0xFFFFFFFF for v in _values(strace_rules[name], index)}
        assert got == want, (name, got, want)
        assert {first, second} <= got, (name, got)
