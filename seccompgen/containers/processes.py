"""The processes of a traced container, seen from the host: the container backend's
:class:`~seccompgen.tracing.session.ProcessSide` (:class:`ContainerProcesses`) and the exercise
run inside it with ``docker exec`` (:class:`ExecExercise`).

The engine must run on this machine: the lifecycle signals the traced program itself (never
strace) by its host pid, found through ``/proc/PID/status`` ``NSpid`` (proc(5)), because a
signal through the Docker API reaches only process 1.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from seccompgen.errors import TracerError
from seccompgen.tracing.base import ContainerSpec, TraceRequest
from seccompgen.tracing.host import start_host_exercise
from seccompgen.tracing.session import ExerciseProcess

_POLL: Final = 0.05
#: Seconds to wait for a container's process 1 to end after it was killed.
REMOVE_TIMEOUT: Final = 30


@dataclass(frozen=True, slots=True)
class _Proc:
    host_pid: int
    ns_pid: int
    ppid: int  # host pid of the parent
    tracer: int  # host pid of its ptrace tracer (``TracerPid``), 0 when not traced


class ContainerProcesses:
    """The target as process 1 of a container, strace as its detached grandchild (strace
    ``-D``); a :class:`~seccompgen.tracing.session.ProcessSide`.

    Processes are found on the host through ``/proc``: the container's processes share the pid
    namespace of its process 1 (``/proc/PID/ns/pid``), and ``NSpid`` in ``/proc/PID/status``
    gives each one's pid inside the container, the pid strace prints. The traced processes are
    process 1 and everything below it, except strace: the process some member's ``TracerPid``
    names, and its own children. ``docker exec`` processes are not below process 1 (their
    parent is the runtime, outside the namespace).

    "strace has exited" is "the container's process 1 has exited": strace cannot outlive it
    (the kernel ends the whole pid namespace with it), and its exit status is the container's.
    """

    def __init__(
        self,
        client: Any,
        container: Any,
        spec: ContainerSpec,
        *,
        stdout: Path | None = None,
        stderr: Path | None = None,
    ) -> None:
        self.client = client
        self.container = container
        self.spec = spec
        self.stdout = stdout
        self.stderr = stderr
        self.init_pid: int | None = None
        self.started_pid: int | None = None
        """Process 1's host pid as the engine reported it after the start, even if it was gone
        by the time ``/proc`` was read (then :attr:`init_pid` stays None)."""
        self.pidns: str | None = None
        self.rc: int | None = None
        self.logs_saved = False

    def start(self, cmd: Sequence[str], request: TraceRequest, stack: contextlib.ExitStack) -> None:
        import docker.errors  # type: ignore[import-untyped]

        # Runs before the container's removal (the stack unwinds last in, first out).
        stack.callback(self._save_logs)
        try:
            self.container.start()
            self.container.reload()
        except docker.errors.DockerException as e:
            raise TracerError(f"cannot start the tracing container: {e}") from e
        pid = int(self.container.attrs.get("State", {}).get("Pid") or 0)
        self.started_pid = pid or None
        if pid:
            try:
                self.pidns = os.readlink(f"/proc/{pid}/ns/pid")
                self.init_pid = pid
            except OSError as e:
                if not Path(f"/proc/{pid}").exists() and self._stays_running():
                    raise TracerError(
                        "the Docker engine does not run on this machine (its container "
                        f"process {pid} is not in /proc); tracing in a container needs a "
                        "local engine to signal the traced program",
                        hint="run seccompgen on the Docker host",
                    ) from e

    def _stays_running(self, seconds: float = 2.0) -> bool:
        """True when the engine still reports the container running after ``seconds``: a
        process 1 that has just exited is reported so for a moment, until the shim tells."""
        end = time.monotonic() + seconds
        while self._status() == "running":
            if time.monotonic() >= end:
                return True
            time.sleep(_POLL)
        return False

    def _status(self) -> str:
        import docker.errors

        try:
            self.container.reload()
        except docker.errors.NotFound:
            return "removed"
        return str(self.container.status)

    def exited(self) -> bool:
        if self.rc is not None:
            return True
        if self.init_pid is not None and self.same_namespace(self.init_pid):
            return False
        # Process 1 is gone (or never ran): collect the exit status from the engine.
        try:
            result = self.container.wait(timeout=10)
            self.rc = int(result.get("StatusCode", -1))
        except Exception:  # the engine is gone or slow: the process is gone all the same
            self.rc = -1
        return True

    def returncode(self) -> int | None:
        return self.rc if self.exited() else None

    def wait(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() >= end:
                return False
            time.sleep(_POLL)
        return True

    def same_namespace(self, host_pid: int) -> bool:
        try:
            if os.readlink(f"/proc/{host_pid}/ns/pid") != self.pidns:
                return False
            state = Path(f"/proc/{host_pid}/stat").read_text()
        except OSError:
            return False
        return state[state.rfind(")") + 2 :].split()[0] != "Z"

    def members(self) -> list[_Proc]:
        """Every live process of the container, including ``docker exec`` ones."""
        if self.pidns is None:
            return []
        found = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink(f"{entry.path}/ns/pid") != self.pidns:
                    continue
                status = Path(entry.path, "status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if fields.get("State", "").strip().startswith("Z"):
                continue
            ns = fields.get("NSpid", "").split()
            ppid = int(fields.get("PPid", "0").strip() or 0)
            tracer = int(fields.get("TracerPid", "0").strip() or 0)
            if ns:
                found.append(_Proc(int(entry.name), int(ns[-1]), ppid, tracer))
        return found

    def _split(self) -> tuple[list[_Proc], list[_Proc]]:
        """The traced processes (process 1 and below it) and strace's (the tracer and below)."""
        members = self.members()
        tracers = {p.tracer for p in members if p.tracer}
        # strace and its children (its startup probes) are below process 1 too, as its orphans.
        theirs = _subtree(members, tracers)
        ours = [
            p
            for p in _subtree(members, {self.init_pid} if self.init_pid else set())
            if p.host_pid not in {q.host_pid for q in theirs}
        ]
        return ours, theirs

    def _tracees(self) -> list[_Proc]:
        """The traced processes: process 1 (the target) and below it, not strace."""
        return self._split()[0]

    def host_pid(self, ns_pid: int) -> int | None:
        """The host pid of the container's traced process ``ns_pid``, or None."""
        return next((p.host_pid for p in self._tracees() if p.ns_pid == ns_pid), None)

    def signal_target(self, pid: int, sig: int) -> None:
        host = self.host_pid(pid)
        if host is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(host, sig)

    def target_alive(self, pid: int) -> bool:
        return self.host_pid(pid) is not None

    def tracees_running(self) -> bool:
        return bool(self._tracees())

    def kill_tracees(self) -> None:
        # Children first: process 1's end SIGKILLs the rest of the namespace, strace with it.
        for p in sorted(self._tracees(), key=lambda p: p.host_pid == self.init_pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p.host_pid, signal.SIGKILL)

    def kill_tracer(self) -> None:
        for p in self._split()[1]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p.host_pid, signal.SIGKILL)

    def kill_all(self) -> None:
        import docker.errors

        # SIGKILL to process 1 ends every process of its pid namespace (pid_namespaces(7)).
        with contextlib.suppress(docker.errors.DockerException):
            self.container.kill()
        self.wait(REMOVE_TIMEOUT)

    def sweep(self) -> None:
        # Exec'd exercise processes and anything else end with the container's removal.
        if not self.exited():
            self.kill_all()

    def start_exercise(self, command: str, target_pid: int | None) -> ExerciseProcess:
        if not self.spec.exercise_in_container:
            host = None if target_pid is None else self.host_pid(target_pid)
            return start_host_exercise(command, host, None)
        env = {} if target_pid is None else {"SECCOMPGEN_TARGET_PID": str(target_pid)}
        return ExecExercise(self, command, env)

    def _save_logs(self) -> None:
        """Copy the container's output (the target's and strace's) where the request says."""
        import docker.errors

        if self.logs_saved:
            return
        self.logs_saved = True
        for want_out, dest, fallback in (
            (True, self.stdout, sys.stdout),
            (False, self.stderr, sys.stderr),
        ):
            try:
                data = self.container.logs(stdout=want_out, stderr=not want_out)
            except docker.errors.DockerException:
                continue
            if dest is not None:
                dest.write_bytes(data)
            elif data:
                _write_out(fallback, data)


def _subtree(members: Sequence[_Proc], roots: set[int]) -> list[_Proc]:
    """The members whose host pid is in ``roots``, and every member below them (by ``PPid``)."""
    below = set(roots)
    result = [p for p in members if p.host_pid in below]
    changed = True
    while changed:
        changed = False
        for p in members:
            if p.ppid in below and p.host_pid not in below:
                below.add(p.host_pid)
                result.append(p)
                changed = True
    return result


def _write_out(stream: Any, data: bytes) -> None:
    """Write bytes to a text stream: through its binary buffer when it has one."""
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        stream.write(data.decode("utf-8", "replace"))
        stream.flush()


class ExecExercise:
    """The exercise command run inside the container with ``docker exec /bin/sh -c``."""

    def __init__(self, procs: ContainerProcesses, command: str, env: dict[str, str]) -> None:
        import docker.errors

        self.procs = procs
        api = procs.client.api
        try:
            self.exec_id = api.exec_create(
                procs.container.id, ["/bin/sh", "-c", command], environment=env
            )["Id"]
            stream: Iterator[bytes] = api.exec_start(self.exec_id, stream=True)
        except docker.errors.DockerException as e:
            raise TracerError(f"cannot run the exercise command in the container: {e}") from e
        self.rc: int | None = None
        # Its output goes to seccompgen's stderr, as a host exercise's would go to the terminal.
        self.pump = threading.Thread(
            target=self._copy, args=(stream,), name="seccompgen-exec-output", daemon=True
        )
        self.pump.start()
        self.pid = 0
        end = time.monotonic() + 5.0
        while not self.pid and time.monotonic() < end:
            info = api.exec_inspect(self.exec_id)
            self.pid = int(info.get("Pid") or 0)
            if not info.get("Running") and info.get("ExitCode") is not None:
                break
            time.sleep(0.01)

    @staticmethod
    def _copy(stream: Iterator[bytes]) -> None:
        with contextlib.suppress(Exception):
            for chunk in stream:
                _write_out(sys.stderr, chunk)

    def poll(self) -> int | None:
        import docker.errors

        if self.rc is not None:
            return self.rc
        try:
            info = self.procs.client.api.exec_inspect(self.exec_id)
        except docker.errors.DockerException:
            self.rc = -1
            return self.rc
        if info.get("Running"):
            return None
        code = info.get("ExitCode")
        self.rc = -1 if code is None else int(code)
        return self.rc

    def _group(self) -> list[int]:
        # The exec'd shell and whatever it started, by parent pid within the container.
        below = {self.pid} | {p.host_pid for p in _subtree(self.procs.members(), {self.pid})}
        return [pid for pid in below if pid]

    def _signal(self, sig: int) -> None:
        for pid in self._group():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def stop(self, grace: float) -> None:
        if self.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        end = time.monotonic() + grace
        while self.poll() is None and time.monotonic() < end:
            time.sleep(_POLL)
        self.kill()

    def kill(self) -> None:
        if self.poll() is None:
            self._signal(signal.SIGKILL)
            end = time.monotonic() + 5.0
            while self.poll() is None and time.monotonic() < end:
                time.sleep(_POLL)
        self.pump.join(timeout=2.0)
