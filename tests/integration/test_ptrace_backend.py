"""The ptrace backend on the real example programs, against the strace backend on the same runs.

Both tracers run for real on the Go binaries built from ``examples/``; the sets of system call
names they record must agree. Go makes a few calls whose presence depends on thread scheduling
and signal timing, not on what the program does (see :data:`SCHEDULING_DEPENDENT`); those may
differ between any two runs, even under one tracer, so only they are allowed to differ, and every
other name must be recorded by both.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from _support import GO_SCHEDULING_DEPENDENT, TraceRun, TraceWith, free_port

from seccompgen.events import ExitEvent, Phase, SignalEvent
from seccompgen.registry import backend_names, get_tracer
from seccompgen.tracing.backends.ptrace import PtraceTracer
from seccompgen.tracing.backends.strace import StraceTracer

pytestmark = [pytest.mark.go, pytest.mark.slow]

# Calls Go makes or not depending on timing, run to run under any tracer.
SCHEDULING_DEPENDENT = GO_SCHEDULING_DEPENDENT


Run = TraceRun


@pytest.fixture
def trace(trace_with: TraceWith) -> TraceWith:
    """``trace(tracer, argv, **request_fields)`` -> :class:`TraceRun`, files in tmp_path."""
    return trace_with


def assert_same_names(strace_runs: list[Run], ptrace_runs: list[Run]) -> None:
    by_strace = set().union(*(r.names() for r in strace_runs))
    by_ptrace = set().union(*(r.names() for r in ptrace_runs))
    differing = by_strace ^ by_ptrace
    only_strace, only_ptrace = sorted(by_strace - by_ptrace), sorted(by_ptrace - by_strace)
    assert differing <= SCHEDULING_DEPENDENT, f"only strace: {only_strace}; ptrace: {only_ptrace}"
    assert by_strace - SCHEDULING_DEPENDENT == by_ptrace - SCHEDULING_DEPENDENT
    assert len(by_ptrace) > 15  # a Go program's runtime alone makes more than this


@pytest.mark.strace
def test_http_service_same_names_as_strace_under_load(
    build_example: Callable[[str], Path], trace: Callable[..., Run], tmp_path: Path
) -> None:
    service = build_example("httpservice")
    loadgen = build_example("loadgen")
    runs: dict[str, list[Run]] = {"strace": [], "ptrace": []}
    for tracer in (StraceTracer(), PtraceTracer()):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        result = tmp_path / f"load-{tracer.name}.json"
        run = trace(
            tracer,
            [service, "-addr", f"127.0.0.1:{port}"],
            exercise=f"{loadgen} -c 4 -n 400 {url}/healthz {url}/debug/pprof/ > {result}",
            timeout=60,
        )
        assert run.outcome.complete, run.outcome
        assert run.outcome.exercise_exit_code == 0
        assert run.outcome.exit_code == 0  # SIGTERM reached the service, which shut down
        load = json.loads(result.read_text())
        assert load["requests"] == 400 and load["errors"] == 0
        runs[tracer.name].append(run)

    [pt] = runs["ptrace"]
    assert [p for _, p in pt.outcome.boundaries] == list(Phase)
    assert {"execve", "bind", "listen"} <= pt.names(Phase.STARTUP)
    assert "accept4" in pt.names(Phase.EXERCISE)
    assert "exit_group" in pt.names(Phase.SHUTDOWN)
    # SIGTERM was recorded as delivered to the service, in the shutdown phase.
    assert any(
        isinstance(e, SignalEvent) and e.signal == "SIGTERM" and e.phase is Phase.SHUTDOWN
        for e in pt.events
    )
    # Return values: bind returned 0, and the execve is the target's.
    binds = [e for e in pt.syscalls() if e.name == "bind"]
    assert binds and all(e.ret == 0 and e.errno is None for e in binds)
    execve = pt.syscalls()[0]
    assert execve.name == "execve" and execve.ret == 0 and execve.pid == execve.tid
    # Events are placed in phases by their timestamps, as the strace backend does.
    for e in pt.events:
        expected = Phase.STARTUP
        for ts, phase in pt.outcome.boundaries:
            if e.timestamp is not None and e.timestamp >= ts:
                expected = phase
        assert e.phase is expected, e
    reported = [n for p in pt.progress for n in p.new_names]
    assert len(reported) == len(set(reported)) == pt.outcome.distinct
    assert_same_names(runs["strace"], runs["ptrace"])


@pytest.mark.strace
def test_batch_same_names_as_strace(
    build_example: Callable[[str], Path], trace: Callable[..., Run], tmp_path: Path
) -> None:
    batch = build_example("batch")
    src = tmp_path / "words.txt"
    src.write_text("the quick brown fox jumps over the lazy dog the end\n")
    runs: dict[str, list[Run]] = {"strace": [], "ptrace": []}
    for _ in range(2):
        for tracer in (StraceTracer(), PtraceTracer()):
            out = tmp_path / f"counts-{tracer.name}.json"
            run = trace(tracer, [batch, "-in", src, "-out", out], timeout=60)
            assert run.outcome.complete and run.outcome.exit_code == 0
            assert json.loads(out.read_text())["words"]["the"] == 3
            runs[tracer.name].append(run)
    pt = runs["ptrace"][0]
    assert {"openat", "read", "write", "renameat", "exit_group"} <= pt.names()
    # A failed call carries its errno name; the input's openat succeeded with an fd.
    opens = [e for e in pt.syscalls() if e.name == "openat" and e.ret is not None and e.ret >= 0]
    assert opens and all(e.args[0] == -100 for e in opens)  # AT_FDCWD, signed as strace shows
    assert {e.pid for e in pt.syscalls()} == {pt.syscalls()[0].pid}
    exits = [e for e in pt.events if isinstance(e, ExitEvent) and e.tid == e.pid]
    assert [e.code for e in exits] == [0]
    assert_same_names(runs["strace"], runs["ptrace"])


@pytest.mark.strace
def test_threadonly_call_on_its_thread_and_same_names_as_strace(
    build_example: Callable[[str], Path], trace: Callable[..., Run], tmp_path: Path
) -> None:
    program = build_example("threadonly")
    runs: dict[str, list[Run]] = {"strace": [], "ptrace": []}
    for _ in range(2):
        for tracer in (StraceTracer(), PtraceTracer()):
            run = trace(tracer, [program], timeout=60)
            assert run.outcome.complete and run.outcome.exit_code == 0
            runs[tracer.name].append(run)
    for run in runs["ptrace"]:
        stdout = run.path.with_name(run.path.name.replace("trace-", "stdout-")).with_suffix(".txt")
        m = re.search(r"pid=(\d+) main_tid=(\d+) sysinfo_tid=(\d+)", stdout.read_text())
        assert m, stdout.read_text()
        pid, main_tid, sysinfo_tid = map(int, m.groups())
        [call] = [e for e in run.syscalls() if e.name == "sysinfo"]
        assert call.pid == pid == main_tid
        assert call.tid == sysinfo_tid != pid
        assert call.ret == 0 and len(call.args) == 1
    assert_same_names(runs["strace"], runs["ptrace"])


def test_entry_only_mode_records_every_call_without_results(
    build_example: Callable[[str], Path], trace: Callable[..., Run]
) -> None:
    program = build_example("threadonly")
    run = trace(PtraceTracer(returns=False), [program], timeout=60)
    assert run.outcome.complete and run.outcome.exit_code == 0
    calls = run.syscalls()
    assert all(e.ret is None and e.errno is None for e in calls)
    [call] = [e for e in calls if e.name == "sysinfo"]
    assert call.tid != call.pid
    assert {"execve", "clone", "exit_group"} <= run.names()


def test_sigterm_after_duration_and_ctrl_c(
    build_example: Callable[[str], Path], trace: Callable[..., Run]
) -> None:
    service = build_example("httpservice")
    run = trace(
        PtraceTracer(), [service, "-addr", f"127.0.0.1:{free_port()}"], duration=1.0, timeout=60
    )
    assert run.outcome.complete and run.outcome.exit_code == 0
    assert [p for _, p in run.outcome.boundaries] == [Phase.STARTUP, Phase.SHUTDOWN]
    assert "exit_group" in run.names(Phase.SHUTDOWN)

    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        run = trace(PtraceTracer(), [service, "-addr", f"127.0.0.1:{free_port()}"], timeout=60)
    finally:
        timer.cancel()
    assert not run.outcome.complete and run.outcome.reason == "interrupted"
    assert run.outcome.exit_code == 0  # the service still got its orderly SIGTERM
    assert "exit_group" in run.names(Phase.SHUTDOWN)


def test_timeout_kills_a_target_that_ignores_sigterm(
    tmp_path: Path, trace: Callable[..., Run]
) -> None:
    script = tmp_path / "stubborn.sh"
    script.write_text("#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 0.1; done\n")
    script.chmod(0o755)
    run = trace(PtraceTracer(), [script], timeout=1.0, grace=0.5)
    assert not run.outcome.complete and run.outcome.reason == "timeout"
    # The shell's children (sleep) were followed through fork and exec.
    pids = {e.pid for e in run.syscalls()}
    assert len(pids) > 1
    assert sum(1 for e in run.syscalls() if e.name == "execve") > 1
    assert any(isinstance(e, ExitEvent) and e.signal == "SIGKILL" for e in run.events)


def test_registry_offers_ptrace() -> None:
    assert "ptrace" in backend_names()
    tracer = get_tracer("ptrace")
    assert tracer.name == "ptrace" and tracer.unavailable_reason() is None
