"""Helpers shared by the integration tests (imported as ``_support``: pytest puts this folder on
``sys.path``, as it does for every test folder without an ``__init__.py``)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seccompgen.events import Event, Phase, SyscallEvent
from seccompgen.runtime import RuntimeBlock
from seccompgen.tracefile import read_trace
from seccompgen.tracing.base import TraceOutcome, TraceProgress

#: System calls the Go runtime makes or not depending on timing, run to run and tracer to tracer
#: (strace slows a program down several times), not on what the program does:
#: - getpid, tgkill: asynchronous preemption; sysmon preempts a goroutine that ran for 10 ms by
#:   sending SIGURG to its thread (runtime/signal_unix.go preemptM -> signalM -> tgkill);
#: - rt_sigreturn: the return from that SIGURG handler;
#: - sched_yield, nanosleep: osyield()/usleep() in the scheduler's spinning and work stealing and
#:   sysmon's sleeps (runtime/proc.go runqgrab, sysmon), taken only under contention;
#: - restart_syscall: the kernel resumes a sleep (sysmon's nanosleep) that a signal or a stop
#:   interrupted with ERESTART_RESTARTBLOCK (restart_syscall(2)); seen under ptrace when the
#:   process exits while sysmon sleeps;
#: - epoll_pwait: the idle scheduler's wait in the network poller, and sysmon's poll once the last
#:   one is 10 ms old (runtime/proc.go findRunnable, sysmon; "network poller wait" in
#:   seccompgen/data/go-runtime.json): a short run may never idle.
GO_SCHEDULING_DEPENDENT = frozenset(
    {
        "getpid",
        "tgkill",
        "rt_sigreturn",
        "sched_yield",
        "nanosleep",
        "restart_syscall",
        "epoll_pwait",
    }
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sg(
    *args: str, cwd: Path, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m seccompgen ARGS`` in ``cwd``; output captured as text, never raises on a
    non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", "seccompgen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


class TraceRun:
    """One traced run read back: the outcome, the trace file's events, the progress reports,
    and the file the target's standard output went to."""

    def __init__(
        self,
        outcome: TraceOutcome,
        path: Path,
        progress: list[TraceProgress],
        stdout: Path | None = None,
    ) -> None:
        self.outcome = outcome
        self.path = path
        self.reader = read_trace(path)
        self.events: list[Event] = list(self.reader)
        self.progress = progress
        self.stdout = stdout

    def syscalls(self) -> list[SyscallEvent]:
        return [e for e in self.events if isinstance(e, SyscallEvent)]

    def names(self, phase: Phase | None = None) -> set[str]:
        return {e.name for e in self.syscalls() if phase is None or e.phase is phase}

    def count(self, name: str) -> int:
        return sum(1 for e in self.syscalls() if e.name == name)


TraceWith = Callable[..., TraceRun]
"""The ``trace_with`` fixture: ``(tracer, argv, **request_fields) -> TraceRun``."""


def probe_rows(
    client: Any,
    image: str,
    profile_json: str | None,
    *,
    command: list[str] | None = None,
    nnp: bool = False,
) -> list[dict[str, Any]]:
    """The JSON lines ``examples/probe`` prints in a ``FROM scratch`` container of ``image``
    under ``profile_json`` (None: no seccomp option, so the engine applies its own default
    profile), with no network and fewer runtime signals; the container is removed after."""
    from seccompgen.verify import VERIFY_LABEL

    security = [] if profile_json is None else [f"seccomp={profile_json}"]
    if nnp:
        security.append("no-new-privileges")
    container = client.containers.create(
        image,
        command=command,
        security_opt=security,
        network_mode="none",
        tmpfs={"/tmp": ""},
        labels={VERIFY_LABEL: "probe-test"},
        environment={"GODEBUG": "asyncpreemptoff=1"},
    )
    try:
        container.start()
        status = int(container.wait(timeout=120)["StatusCode"])
        out = container.logs(stdout=True, stderr=False).decode()
        err = container.logs(stdout=False, stderr=True).decode()
    finally:
        container.remove(force=True)
    assert status == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def measure_block(tmp_path: Path, *extra: str) -> RuntimeBlock:
    """``seccompgen runtime-baseline --rounds 2 -o TMP_PATH EXTRA``, which must pass; the block
    it wrote."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "seccompgen",
            "runtime-baseline",
            "--rounds",
            "2",
            "-o",
            str(tmp_path),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(proc.stdout)
    (path,) = tmp_path.glob("*.json")
    return RuntimeBlock.from_dict(json.loads(path.read_text()), source=str(path))
