"""Host processes: the tracer process as a child of seccompgen, the exercise, the target.

:class:`HostProcesses` is the :class:`~seccompgen.tracing.session.ProcessSide` of every host
backend. The tracer process (strace, the ptrace tracer, a launcher) starts in a new session
(setsid(2)), so a Ctrl-C on the terminal reaches only seccompgen, which then shuts the target down
in order (SIGTERM, ``grace`` seconds, SIGKILL) while the tracer still records the shutdown.
SIGTERM goes to the traced program itself, never to strace: a signalled strace detaches and lets
its tracees run on untraced (strace(1), "-p"/detach). The exercise command runs on the host in a
session of its own (:func:`start_host_exercise`), for host and container backends alike.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from seccompgen.errors import TracerError
from seccompgen.tracing.base import TraceRequest
from seccompgen.tracing.session import REAP_TIMEOUT, ExerciseProcess


def _executable_problem(path: Path) -> str | None:
    if not path.exists():
        return f"target {path} does not exist"
    if path.is_dir():
        return f"target {path} is a directory, not a program"
    if not os.access(path, os.X_OK):
        return f"target {path} is not executable (chmod +x {path})"
    return None


def require_host(
    request: TraceRequest,
    backend: str,
    *,
    hint: str = "use `seccompgen trace --container` or `--image`",
) -> None:
    """Refuse a container request in a host backend (only the container backend runs those)."""
    if request.container is not None:
        raise TracerError(
            f"the {backend} backend runs the program on the host; a container request needs "
            "the container backend",
            hint=hint,
        )
    if not request.argv:
        raise TracerError("nothing to trace: the command is empty")


def resolve_target(request: TraceRequest) -> Path:
    """The program ``request`` runs, as an absolute path: looked up on the target's PATH when
    given without a slash, relative to ``request.cwd`` otherwise. Shared by the host backends;
    raises :class:`TracerError` naming the program when it is missing or not executable."""
    if not request.argv:
        raise TracerError("nothing to trace: the command is empty")
    target = Path(request.argv[0])
    if os.sep not in request.argv[0]:
        path = None if request.env is None else request.env.get("PATH")
        found = shutil.which(request.argv[0], path=path)
        if found is None:
            raise TracerError(
                f"target {request.argv[0]} was not found on PATH",
                hint="give the path to the program to trace",
            )
        target = Path(found)
    elif request.cwd is not None and not target.is_absolute():
        target = Path(request.cwd) / target
    problem = _executable_problem(target)
    if problem:
        raise TracerError(problem, hint="give the path to an executable program")
    return target.absolute()


class HostExercise:
    """An exercise command run on the host, in its own session."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc

    def poll(self) -> int | None:
        return self.proc.poll()

    def stop(self, grace: float) -> None:
        end_group(self.proc, grace)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=REAP_TIMEOUT)


class HostProcesses:
    """strace as a child of seccompgen, in a new session (see the module docstring).

    With a ``gate`` (a FIFO), the tracer process is a launcher that forks the target and stays
    the session leader, as strace does (so the target may call setsid(2), which fails for a
    session or process-group leader); the child blocks reading the FIFO until :meth:`arm` has
    been given its pid (:attr:`target`), then runs the program. The ebpf and delta launchers
    work this way.
    """

    def __init__(self, gate: Path | None = None) -> None:
        self.strace: subprocess.Popen[bytes] | None = None
        self.cwd: Path | None = None
        self.gate = gate
        self.target: int | None = None
        """With a ``gate``: the launcher's child, the target, once started."""

    def arm(self, pid: int) -> None:
        """With a ``gate``: get ready for the target ``pid`` before it runs the program."""

    def start(self, cmd: Sequence[str], request: TraceRequest, stack: contextlib.ExitStack) -> None:
        go: int | None = None
        if self.gate is not None:
            # Opened read-write, the FIFO never blocks this side (fifo(7)); the child's read
            # waits for the byte written once it is armed.
            go = os.open(self.gate, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
            stack.callback(os.close, go)
        self._popen(cmd, request, stack)
        if go is None:
            return
        assert self.strace is not None
        try:
            # The child waits on the FIFO, so it is there to be found.
            self.target = first_child(self.strace)
            self.arm(self.target)
            os.write(go, b"g")
        except OSError as e:
            self.kill_all()  # the child would wait on the FIFO forever
            raise TracerError(f"cannot start the target under {cmd[0]}: {e}") from e

    def _popen(
        self, cmd: Sequence[str], request: TraceRequest, stack: contextlib.ExitStack
    ) -> None:
        out: IO[bytes] | None = None
        err: IO[bytes] | None = None
        if request.stdout is not None:
            out = stack.enter_context(open(request.stdout, "wb"))  # noqa: SIM115
        if request.stderr is not None:
            err = stack.enter_context(open(request.stderr, "wb"))  # noqa: SIM115
        self.cwd = request.cwd
        try:
            self.strace = subprocess.Popen(
                list(cmd),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=request.cwd,
                env=self.environment(request),
                start_new_session=True,
            )
        except OSError as e:
            raise TracerError(f"cannot start {cmd[0]}: {e.strerror}") from e

    def environment(self, request: TraceRequest) -> dict[str, str] | None:
        """The tracer process's environment (None: seccompgen's own)."""
        return tracer_environment(request)

    def exited(self) -> bool:
        return self.strace is None or self.strace.poll() is not None

    def returncode(self) -> int | None:
        return None if self.strace is None else self.strace.poll()

    def wait(self, timeout: float) -> bool:
        if self.strace is None:
            return True
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.strace.wait(timeout=timeout)
        return self.strace.poll() is not None

    def signal_target(self, pid: int, sig: int) -> None:
        signal_pid(pid, sig)

    def target_alive(self, pid: int) -> bool:
        return Path(f"/proc/{pid}").exists()

    def tracees_running(self) -> bool:
        st = self.strace
        return st is not None and any(pid != st.pid for pid in session_members(st.pid))

    def kill_tracees(self) -> None:
        """SIGKILL every process in strace's session except strace itself."""
        st = self.strace
        if st is None:
            return
        for pid in session_members(st.pid):
            if pid != st.pid:
                signal_pid(pid, signal.SIGKILL)

    def kill_tracer(self) -> None:
        if self.strace is not None:
            signal_pid(self.strace.pid, signal.SIGKILL)

    def kill_all(self) -> None:
        st = self.strace
        if st is None:
            return
        self.kill_tracees()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(st.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            st.wait(timeout=REAP_TIMEOUT)

    def sweep(self) -> None:
        # strace is the session leader; anything left in its process group (a daemonized child
        # that strace no longer traces) goes too.
        if self.strace is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.strace.pid, signal.SIGKILL)

    def start_exercise(self, command: str, target_pid: int | None) -> ExerciseProcess:
        return start_host_exercise(command, target_pid, self.cwd)


def start_host_exercise(command: str, target_pid: int | None, cwd: Path | None) -> ExerciseProcess:
    """Run the exercise ``command`` on the host with ``sh -c``, in a session of its own.

    It gets seccompgen's environment (the target's may be minimal, without PATH) plus
    ``SECCOMPGEN_TARGET_PID`` (``target_pid``, a host pid) when known.
    """
    env = dict(os.environ)
    if target_pid is not None:
        env["SECCOMPGEN_TARGET_PID"] = str(target_pid)
    try:
        # Its own session: Ctrl-C must not hit the exercise directly, and killpg can end
        # everything it started.
        proc = subprocess.Popen(
            ["sh", "-c", command],
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as e:
        raise TracerError(f"cannot run the exercise command with sh: {e.strerror}") from e
    return HostExercise(proc)


def tracer_environment(request: TraceRequest) -> dict[str, str]:
    """A tracer process's environment: the target's, with ``TZ`` set when it is not.

    With ``TZ`` unset, glibc's localtime(3), which strace calls for every timestamped line,
    stats /etc/localtime each time (one extra system call per traced call, measured at a
    quarter of the throughput under ``-ttt``); with ``TZ`` set it does not. ``-ttt``
    prints epoch seconds, so the zone itself does not matter, and ``-E TZ`` (strace(1))
    removes the variable again from the traced program's environment. Launchers that exec
    the target with an environment of their own are unaffected.
    """
    env = base_env(request)
    env.setdefault("TZ", "UTC")
    return env


def base_env(request: TraceRequest) -> dict[str, str]:
    return dict(request.env) if request.env is not None else dict(os.environ)


def signal_pid(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def end_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM a process group led by ``proc``, SIGKILL it after ``grace`` seconds; reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    # Children it left behind in its group (sh -c 'a & b') go too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=REAP_TIMEOUT)


def first_child(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    """The pid of the first child ``proc`` forks (proc(5): ``/proc/PID/task/PID/children``).

    For launchers that fork the target and stay its session leader (the ebpf and delta
    backends), as strace does: a session or process-group leader cannot call setsid(2).
    Raises OSError when ``proc`` exits first or forks nothing within ``timeout`` seconds.
    """
    path = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + timeout
    while True:
        words = path.read_text().split() if path.exists() else []
        if words:
            return int(words[0])
        if proc.poll() is not None:
            raise OSError(f"the launcher exited (status {proc.returncode}) before it forked")
        if time.monotonic() > deadline:
            raise OSError(f"the launcher forked no child within {timeout:g}s")
        time.sleep(0.005)


def session_members(sid: int) -> list[int]:
    """Pids whose session id is ``sid`` (field 6 of /proc/PID/stat, proc(5))."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) is in parentheses and may contain spaces: split after it.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 3 and int(fields[3]) == sid:
            members.append(int(entry.name))
    return members
