"""Each example program, traced with real strace, shows the system calls it is known to make."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _support import free_port

from seccompgen.events import Phase, SyscallEvent

pytestmark = [pytest.mark.strace, pytest.mark.go, pytest.mark.slow]


def test_http_service_under_loopback_load(
    build_example: Callable[[str], Path], run_trace: Callable[..., Any], tmp_path: Path
) -> None:
    service = build_example("httpservice")
    loadgen = build_example("loadgen")
    port = free_port()
    result = tmp_path / "load.json"
    url = f"http://127.0.0.1:{port}"
    run = run_trace(
        [service, "-addr", f"127.0.0.1:{port}"],
        exercise=f"{loadgen} -c 4 -n 400 {url}/healthz {url}/debug/pprof/ > {result}",
        timeout=60,
    )
    assert run.outcome.complete, run.outcome
    assert run.outcome.exercise_exit_code == 0
    assert run.outcome.exit_code == 0  # graceful shutdown on SIGTERM
    load = json.loads(result.read_text())
    assert load["requests"] == 400 and load["errors"] == 0

    startup = run.names(Phase.STARTUP)
    exercise = run.names(Phase.EXERCISE)
    assert {"execve", "bind", "listen"} <= startup
    assert "accept4" in exercise
    assert {"epoll_ctl", "epoll_pwait"} <= run.names()
    # The service logged the address it listens on; the bind in the trace is for that port.
    log = run.path.parent / "stderr-0.txt"
    assert f"127.0.0.1:{port}" in log.read_text()
    binds = [e for e in run.syscalls() if e.name == "bind"]
    assert binds and all(e.ret == 0 for e in binds)


def test_batch_job_reads_and_writes_files(
    build_example: Callable[[str], Path], run_trace: Callable[..., Any], tmp_path: Path
) -> None:
    batch = build_example("batch")
    src = tmp_path / "words.txt"
    src.write_text("the quick brown fox jumps over the lazy dog the end\n")
    out = tmp_path / "counts.json"
    run = run_trace([batch, "-in", src, "-out", out], timeout=60)

    assert run.outcome.complete and run.outcome.exit_code == 0
    counts = json.loads(out.read_text())
    assert counts["total"] == 11 and counts["words"]["the"] == 3
    names = run.names()
    assert {"openat", "read", "write", "renameat", "exit_group"} <= names
    # openat of the input succeeded; the pid of every call is the batch process.
    opens = [e for e in run.syscalls() if e.name == "openat" and e.ret is not None and e.ret >= 0]
    assert opens
    assert {e.pid for e in run.syscalls()} == {run.syscalls()[0].pid}
    # Without exercise or duration nothing sends SIGTERM: no shutdown phase.
    assert not run.names(Phase.SHUTDOWN)


def test_thread_only_syscall_is_traced_on_its_thread(
    build_example: Callable[[str], Path], run_trace: Callable[..., Any]
) -> None:
    program = build_example("threadonly")
    run = run_trace([program], timeout=60)
    assert run.outcome.complete and run.outcome.exit_code == 0

    printed = (run.path.parent / "stdout-0.txt").read_text()
    m = re.search(r"pid=(\d+) main_tid=(\d+) sysinfo_tid=(\d+)", printed)
    assert m, printed
    pid, main_tid, sysinfo_tid = map(int, m.groups())
    calls = [e for e in run.events if isinstance(e, SyscallEvent) and e.name == "sysinfo"]
    assert len(calls) == 1
    [call] = calls
    assert call.pid == pid == main_tid
    assert call.tid == sysinfo_tid != pid
