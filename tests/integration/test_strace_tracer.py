"""The strace backend's lifecycle: phases, SIGTERM, timeout, Ctrl-C, errors, no leaked processes."""

from __future__ import annotations

import os
import signal
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _support import free_port

from seccompgen.errors import TracerError
from seccompgen.events import ExitEvent, Phase, SignalEvent
from seccompgen.registry import backend_names, get_tracer
from seccompgen.tracing.backends.strace import NOT_FOUND_MESSAGE, StraceTracer
from seccompgen.tracing.base import TraceRequest

pytestmark = [pytest.mark.strace, pytest.mark.go, pytest.mark.slow]


def _phases_in_order(run: Any) -> None:
    bounds = run.outcome.boundaries
    assert [p for _, p in bounds] == sorted((p for _, p in bounds), key=lambda p: p.order)
    assert run.reader.boundaries == bounds
    for e in run.events:
        if e.timestamp is None:
            continue
        expected = Phase.STARTUP
        for ts, phase in bounds:
            if e.timestamp >= ts:
                expected = phase
        assert e.phase is expected, e


def test_duration_then_sigterm_traces_the_shutdown(
    build_example: Callable[[str], Path], run_trace: Callable[..., Any]
) -> None:
    service = build_example("httpservice")
    run = run_trace(
        [service, "-addr", f"127.0.0.1:{free_port()}"], duration=1.0, grace=10, timeout=60
    )
    assert run.outcome.complete and run.outcome.reason is None
    assert [p for _, p in run.outcome.boundaries] == [Phase.STARTUP, Phase.SHUTDOWN]
    _phases_in_order(run)
    shutdown = [e for e in run.events if e.phase is Phase.SHUTDOWN]
    # SIGTERM reached the service itself (not strace), and the service then ran its
    # http.Server.Shutdown path and exited 0 by itself.
    assert any(isinstance(e, SignalEvent) and e.signal == "SIGTERM" for e in shutdown)
    assert "exit_group" in run.names(Phase.SHUTDOWN)
    assert run.outcome.exit_code == 0
    assert "stopped" in (run.path.parent / "stderr-0.txt").read_text()
    assert run.reader.footer is not None and run.reader.footer.syscalls == run.outcome.events


def test_exercise_gets_the_target_pid_and_its_own_phase(
    build_example: Callable[[str], Path], run_trace: Callable[..., Any], tmp_path: Path
) -> None:
    service = build_example("httpservice")
    seen = tmp_path / "pid.txt"
    run = run_trace(
        [service, "-addr", f"127.0.0.1:{free_port()}"],
        exercise=f'sleep 0.3; echo "$SECCOMPGEN_TARGET_PID" > {seen}; exit 3',
        ready_delay=0.2,
        timeout=60,
    )
    assert run.outcome.complete
    assert run.outcome.exercise_exit_code == 3
    assert [p for _, p in run.outcome.boundaries] == list(Phase)
    _phases_in_order(run)
    execve = next(e for e in run.syscalls() if e.name == "execve")
    assert int(seen.read_text()) == execve.pid
    # Progress came while tracing, with each name reported new exactly once.
    assert run.progress
    reported = [n for p in run.progress for n in p.new_names]
    assert len(reported) == len(set(reported)) == run.outcome.distinct


def test_timeout_marks_incomplete_and_keeps_events(
    tmp_path: Path, run_trace: Callable[..., Any]
) -> None:
    # A target that ignores SIGTERM: the timeout must escalate to SIGKILL after the grace.
    script = tmp_path / "stubborn.sh"
    script.write_text("#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 0.1; done\n")
    script.chmod(0o755)
    run = run_trace([script], timeout=1.0, grace=0.5)
    assert not run.outcome.complete
    assert run.outcome.reason == "timeout"
    assert run.reader.footer is not None and run.reader.footer.reason == "timeout"
    assert run.outcome.events > 0 and len(run.syscalls()) == run.outcome.events
    assert "wait4" in run.names(Phase.STARTUP)
    exits = [e for e in run.events if isinstance(e, ExitEvent)]
    assert any(e.signal == "SIGKILL" for e in exits)


def test_ctrl_c_saves_events_and_returns_interrupted(
    build_example: Callable[[str], Path], run_trace: Callable[..., Any]
) -> None:
    service = build_example("httpservice")
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        run = run_trace([service, "-addr", f"127.0.0.1:{free_port()}"], timeout=60)
    finally:
        timer.cancel()
    assert not run.outcome.complete
    assert run.outcome.reason == "interrupted"
    assert run.reader.footer is not None and run.reader.footer.reason == "interrupted"
    # The service still got its orderly SIGTERM and shut down while traced.
    assert "exit_group" in run.names(Phase.SHUTDOWN)
    assert run.outcome.exit_code == 0
    assert {"bind", "listen"} <= run.names(Phase.STARTUP)


def test_non_executable_target_is_a_tracer_error(tmp_path: Path) -> None:
    target = tmp_path / "prog"
    target.write_text("#!/bin/sh\n")
    target.chmod(stat.S_IRUSR | stat.S_IWUSR)
    with pytest.raises(TracerError, match="not executable") as info:
        StraceTracer().run(TraceRequest(argv=(str(target),), workload="w"), None, print)  # type: ignore[arg-type]
    assert str(target) in info.value.message
    with pytest.raises(TracerError, match="does not exist"):
        StraceTracer().run(TraceRequest(argv=(str(tmp_path / "nope"),), workload="w"), None, print)  # type: ignore[arg-type]


def test_missing_strace_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    tracer = StraceTracer()
    assert tracer.unavailable_reason() == NOT_FOUND_MESSAGE
    assert "apt-get install strace" in NOT_FOUND_MESSAGE


def test_registry_maps_names_to_backends() -> None:
    assert "strace" in backend_names()
    assert get_tracer("strace").name == "strace"
    with pytest.raises(TracerError, match="unknown tracer backend 'nope'"):
        get_tracer("nope")
