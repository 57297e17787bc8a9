"""The strace backend: run the target under ``strace -f`` and stream its output into the trace.

strace (strace(1)) follows every thread and child (``-f``), stamps each line with the wall clock
(``-ttt``, the same clock as :func:`time.time`, so phase boundaries recorded here line up with
its timestamps) and prints constants as raw numbers (``-X raw``). Its output goes to a temporary
file that this module tails while the target runs, feeding the lines through
:func:`seccompgen.parsing.strace.parse_strace` and each event to the :class:`TraceWriter`.

Process layout: strace starts in a new session (setsid(2)), so a Ctrl-C on the terminal reaches
only seccompgen, which then shuts the target down in order (SIGTERM, ``grace`` seconds, SIGKILL)
while strace still records the shutdown. SIGTERM goes to the traced program itself, never to
strace: a signalled strace detaches and lets its tracees run on untraced (strace(1), "-p"/detach).

Threads: the calling thread runs the lifecycle (timers, signals, the exercise command); a worker
thread tails, parses and writes. The worker runs at a lower CPU priority (``niceness``; Linux
nice values are per thread, see setpriority(2) NOTES) so that on a busy machine the traced
program and strace get the CPU first and the worker catches up when they stop; this keeps the
traced program's throughput close to that under bare ``strace -f``.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Final, Protocol

from seccompgen.errors import TracerError
from seccompgen.events import Event, ExitEvent, Phase, SignalEvent, SyscallEvent
from seccompgen.tracefile import Boundary, TraceWriter
from seccompgen.tracing.base import TraceOutcome, TraceProgress, TraceRequest

NOT_FOUND_MESSAGE: Final = (
    "strace not found on PATH; install strace (apt-get install strace) or use --backend "
    "with another tracer"
)

# strace(1) options, and why each one is here:
#   -f        follow threads (clone) and children (fork/vfork): Go runs syscalls on many threads
#   -ttt      wall-clock timestamps with microseconds: events are placed into phases by time
#   -X raw    print constants as numbers: less formatting work, and the parser wants numbers
#   -q        suppress attach/detach and personality messages; -qq would also drop the
#             "+++ exited with N +++" lines that the exit events and exit code come from
#   -s 0      print no string contents: the events keep no strings, and less text is less work
#   -o FILE   one output file, lines prefixed by pid (the format parse_strace reads)
STRACE_OPTIONS: Final = ("-f", "-ttt", "-X", "raw", "-q", "-s", "0")

_POLL: Final = 0.05  # seconds between looks at the output file and the processes
_PROGRESS_EVERY: Final = 0.5  # seconds between progress reports
_READ_SIZE: Final = 1 << 20
_EXERCISE_GRACE: Final = 2.0  # seconds an exercise gets after SIGTERM before SIGKILL
_REAP_TIMEOUT: Final = 10.0


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


class StraceTracer:
    """Trace with strace(1). See the module docstring for the process and thread layout.

    ``strace`` is the strace command (looked up on PATH). ``niceness`` is the nice increment of
    the worker thread that parses and writes while the target runs (0 disables it).
    ``tmp_dir`` holds strace's raw output during the run (default: the system temp dir).
    """

    name = "strace"

    def __init__(
        self,
        *,
        strace: str = "strace",
        niceness: int = 10,
        tmp_dir: Path | None = None,
        arch: str | None = None,
    ) -> None:
        self.strace = strace
        self.niceness = niceness
        self.tmp_dir = tmp_dir
        self.arch = arch

    def unavailable_reason(self) -> str | None:
        """None when strace is on PATH, else how to install it."""
        return None if shutil.which(self.strace) else NOT_FOUND_MESSAGE

    def command(self, request: TraceRequest, output: Path) -> list[str]:
        """The strace command line for ``request`` writing to ``output``."""
        strace = shutil.which(self.strace)
        if strace is None:
            raise TracerError(NOT_FOUND_MESSAGE)
        unset = ["-E", "TZ"] if "TZ" not in _base_env(request) else []
        return [strace, *STRACE_OPTIONS, *unset, "-o", str(output), "--", *request.argv]

    @staticmethod
    def environment(request: TraceRequest) -> dict[str, str]:
        """strace's environment: the target's, with ``TZ`` set when it is not.

        With ``TZ`` unset, glibc's localtime(3), which strace calls for every timestamped line,
        stats /etc/localtime each time (one extra system call per traced call, measured at a
        quarter of the throughput under ``-ttt``); with ``TZ`` set it does not. ``-ttt``
        prints epoch seconds, so the zone itself does not matter, and ``-E TZ`` (strace(1))
        removes the variable again from the traced program's environment.
        """
        env = _base_env(request)
        env.setdefault("TZ", "UTC")
        return env

    def run(
        self,
        request: TraceRequest,
        writer: TraceWriter,
        progress: Callable[[TraceProgress], None],
    ) -> TraceOutcome:
        """Trace ``request``; see :meth:`seccompgen.tracing.base.Tracer.run`.

        Ctrl-C (SIGINT) while tracing is handled, not re-raised: the target gets SIGTERM, then
        SIGKILL after ``grace`` seconds (at once on a second Ctrl-C), every complete event is
        written, and the outcome is incomplete with reason ``"interrupted"``. SIGTERM to
        seccompgen is handled the same way with reason ``"terminated"``. (Handlers can only be
        installed from the main thread; elsewhere signals keep their usual effect, and the
        processes are still cleaned up before the exception propagates.)

        ``progress`` is called from the worker thread, about every half second.
        """
        require_host(request, "strace")
        resolve_target(request)
        arch = self.arch or writer.header.arch
        with tempfile.TemporaryDirectory(prefix="seccompgen-strace-", dir=self.tmp_dir) as tmp:
            output = Path(tmp) / "strace.out"
            output.touch()
            cmd = self.command(request, output)
            return run_traced(
                cmd,
                request=request,
                writer=writer,
                progress=progress,
                output=output,
                processes=HostProcesses(),
                niceness=self.niceness,
                arch=arch,
            )


class ExerciseProcess(Protocol):
    """A running exercise command, wherever it runs."""

    def poll(self) -> int | None:
        """Its exit status once it has ended (negative signal number if killed), else None."""
        ...

    def stop(self, grace: float) -> None:
        """SIGTERM it and what it started, SIGKILL after ``grace`` seconds; reap it."""
        ...

    def kill(self) -> None:
        """SIGKILL it and what it started, at once; reap it."""
        ...


class ProcessSide(Protocol):
    """Where strace and its tracees run: host processes, or a container.

    A :class:`_Session` drives the lifecycle (phases, exercise, SIGTERM, grace, SIGKILL) through
    this interface only, so the same lifecycle applies whether strace is a child of seccompgen
    or pid 1 of a container. ``pid`` arguments are pids as strace printed them (the tracee's
    own pid namespace); implementations map them to something they can signal.
    """

    def start(self, cmd: Sequence[str], request: TraceRequest, stack: contextlib.ExitStack) -> None:
        """Start strace with ``cmd``; register any cleanup on ``stack``."""
        ...

    def exited(self) -> bool:
        """True once strace has exited (or never started)."""
        ...

    def returncode(self) -> int | None:
        """strace's exit status once it has exited, else None."""
        ...

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for strace to exit; True when it has."""
        ...

    def signal_target(self, pid: int, sig: int) -> None:
        """Send ``sig`` to the traced process ``pid`` (never to strace)."""
        ...

    def target_alive(self, pid: int) -> bool:
        """True while the traced process ``pid`` exists."""
        ...

    def tracees_running(self) -> bool:
        """True while any process strace started (directly or not) is left."""
        ...

    def kill_tracees(self) -> None:
        """SIGKILL every traced process, not strace (strace then records their end)."""
        ...

    def kill_tracer(self) -> None:
        """SIGKILL strace itself (it outlived its tracees)."""
        ...

    def kill_all(self) -> None:
        """SIGKILL strace and everything it started, and reap strace."""
        ...

    def sweep(self) -> None:
        """After strace has exited: end anything it left behind."""
        ...

    def start_exercise(self, command: str, target_pid: int | None) -> ExerciseProcess:
        """Run ``command`` with ``sh -c`` and ``SECCOMPGEN_TARGET_PID`` set."""
        ...


def run_traced(
    cmd: Sequence[str],
    *,
    request: TraceRequest,
    writer: TraceWriter,
    progress: Callable[[TraceProgress], None],
    output: Path,
    processes: ProcessSide,
    niceness: int = 10,
    arch: str | None = None,
) -> TraceOutcome:
    """Run strace as ``cmd`` on ``processes`` and trace ``request`` from its output ``output``.

    ``cmd`` must make strace write to ``output`` (as seen from where it runs) with
    :data:`STRACE_OPTIONS`; this function tails ``output`` on the host. See
    :meth:`StraceTracer.run` for the lifecycle, signals and outcome.
    """
    from seccompgen.parsing.strace import parse_strace

    the_arch = arch or writer.header.arch
    session = _Session(
        request=request,
        writer=writer,
        progress=progress,
        output=output,
        niceness=niceness,
        parse=lambda lines: parse_strace(lines, source=str(output), arch=the_arch),
        processes=processes,
    )
    return session.run(cmd)


class _HostExercise:
    """An exercise command run on the host, in its own session."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc

    def poll(self) -> int | None:
        return self.proc.poll()

    def stop(self, grace: float) -> None:
        _end_group(self.proc, grace)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=_REAP_TIMEOUT)


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
        return StraceTracer.environment(request)

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
        _signal_pid(pid, sig)

    def target_alive(self, pid: int) -> bool:
        return Path(f"/proc/{pid}").exists()

    def tracees_running(self) -> bool:
        st = self.strace
        return st is not None and any(pid != st.pid for pid in _session_members(st.pid))

    def kill_tracees(self) -> None:
        """SIGKILL every process in strace's session except strace itself."""
        st = self.strace
        if st is None:
            return
        for pid in _session_members(st.pid):
            if pid != st.pid:
                _signal_pid(pid, signal.SIGKILL)

    def kill_tracer(self) -> None:
        if self.strace is not None:
            _signal_pid(self.strace.pid, signal.SIGKILL)

    def kill_all(self) -> None:
        st = self.strace
        if st is None:
            return
        self.kill_tracees()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(st.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            st.wait(timeout=_REAP_TIMEOUT)

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
    return _HostExercise(proc)


@dataclass
class _Counts:
    syscalls: int = 0
    names: set[str] = field(default_factory=set)
    fresh: list[str] = field(default_factory=list)
    first_pid: int | None = None
    target_exit: ExitEvent | None = None


class _Session:
    """One traced run: the processes, the lifecycle (calling thread) and the worker thread."""

    def __init__(
        self,
        *,
        request: TraceRequest,
        writer: TraceWriter,
        progress: Callable[[TraceProgress], None],
        output: Path,
        niceness: int,
        parse: Callable[[Iterator[str]], Iterator[Event]],
        processes: ProcessSide,
    ) -> None:
        self.req = request
        self.procs = processes
        self.writer = writer
        self.progress = progress
        self.output = output
        self.niceness = niceness
        self.parse = parse

        self.exercise: ExerciseProcess | None = None
        self.target_pid: int | None = None
        self.started = time.monotonic()

        # Boundaries are appended by the calling thread and read by the worker. The timestamp is
        # taken under the lock, and the worker refreshes its copy under the lock before each
        # chunk it reads, so a line stamped at or after a boundary can never be read before the
        # boundary is visible (strace stamps a line before writing it).
        self.lock = threading.Lock()
        self.boundaries: list[Boundary] = []
        self.counts = _Counts()
        self.strace_done = threading.Event()  # strace has exited (set by the calling thread)
        self.worker_error: BaseException | None = None

        self.interrupt: str | None = None  # "interrupted" / "terminated" once a signal came
        self.force = threading.Event()  # a second signal: stop waiting, kill now
        self.wake = threading.Event()  # wakes the lifecycle's waits early
        self.killed = False
        self.timed_out = False
        self.terminated = False  # SIGTERM sent to the target
        self.strace_lingered = False  # strace outlived its tracees and was ended
        self._seen: list[Boundary] = []  # the worker's copy of the boundaries

    # ----------------------------------------------------------------------- lifecycle

    def run(self, cmd: Sequence[str]) -> TraceOutcome:
        self._add_boundary(Phase.STARTUP)
        with contextlib.ExitStack() as stack:
            stack.enter_context(self._signal_handlers())
            self.procs.start(cmd, self.req, stack)
            self.started = time.monotonic()
            worker = threading.Thread(target=self._work, name="seccompgen-strace-tail")
            worker.start()
            self._find_target_pid()
            try:
                try:
                    self._lifecycle()
                finally:
                    # Whatever happened above (including an exception), no process outlives
                    # the run, and the worker drains all output strace wrote.
                    self._stop_everything()
                    self.strace_done.set()
                    worker.join()
            except BaseException:
                self._kill_everything()
                raise
        if self.worker_error is not None:
            raise self.worker_error
        return self._outcome()

    def _lifecycle(self) -> None:
        req = self.req
        deadline = None if req.timeout is None else self.started + req.timeout
        if req.exercise is not None:
            if self._wait(req.ready_delay, deadline) != "elapsed":
                self._end_early()
                return
            self._start_exercise(req.exercise)
            state = self._wait_exercise(deadline)
            if state != "done":
                self._end_early()
                return
            if req.duration and self._wait(req.duration, deadline) != "elapsed":
                self._end_early()
                return
            self._terminate_target()
        elif req.duration is not None:
            if self._wait(req.duration, deadline) != "elapsed":
                self._end_early()
                return
            self._terminate_target()
        else:
            self._wait(None, deadline)
            self._end_early()

    def _end_early(self) -> None:
        """After a wait that did not run its course: timeout, signal, or the target's exit."""
        if self._strace_exited():
            return
        self._terminate_target()

    def _wait(self, seconds: float | None, deadline: float | None) -> str:
        """Wait ``seconds`` (None: forever); 'elapsed', 'exited', 'timeout' or 'interrupted'."""
        end = None if seconds is None else time.monotonic() + seconds
        while True:
            if self.interrupt is not None:
                return "interrupted"
            if self.worker_error is not None:
                return "error"
            if self._strace_exited() or self._tracees_gone():
                return "exited"
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                self.timed_out = True
                return "timeout"
            if end is not None and now >= end:
                return "elapsed"
            limits = [x - now for x in (end, deadline) if x is not None]
            self.wake.wait(min([_POLL, *limits]))
            self.wake.clear()

    def _wait_exercise(self, deadline: float | None) -> str:
        assert self.exercise is not None
        while self.exercise.poll() is None:
            state = self._wait(_POLL, deadline)
            if state not in ("elapsed", "exited"):
                return state
        return "done"

    def _start_exercise(self, command: str) -> None:
        pid = self._find_target_pid()
        self._add_boundary(Phase.EXERCISE)
        self.exercise = self.procs.start_exercise(command, pid)

    def _terminate_target(self) -> None:
        """SIGTERM the target, give it ``grace`` seconds, then SIGKILL what is left."""
        if self.terminated:
            return
        self.terminated = True
        pid = self._find_target_pid()
        self._add_boundary(Phase.SHUTDOWN)
        if pid is not None:
            self.procs.signal_target(pid, signal.SIGTERM)
        end = time.monotonic() + self.req.grace
        while not self._strace_exited() and time.monotonic() < end and not self.force.is_set():
            self.wake.wait(_POLL)
            self.wake.clear()
            if self._tracees_gone():
                break
        if not self._strace_exited() and not self._tracees_gone():
            self.killed = True
            self.procs.kill_tracees()

    def _stop_everything(self) -> None:
        """End the exercise and make sure strace and every tracee are gone and reaped."""
        if self.exercise is not None:
            self.exercise.stop(_EXERCISE_GRACE)
        if not self.procs.exited():
            # The lifecycle ended without its shutdown (an error): the usual order still.
            self._terminate_target()
        if not self.procs.wait(_REAP_TIMEOUT):
            self._kill_everything()
        self.procs.sweep()

    def _kill_everything(self) -> None:
        if self.exercise is not None:
            self.exercise.kill()
        self.procs.kill_all()

    def _tracees_gone(self) -> bool:
        """True when every traced process has exited but strace is still running.

        strace exits by itself once its last tracee is gone; rarely (seen with strace 6.1 on
        multi-threaded Go programs exiting under -f) it keeps running after that. Then its
        output is complete (it writes line by line), so it gets a moment and is then ended.
        """
        if self.procs.exited() or self.target_pid is None:
            return False
        if self.procs.target_alive(self.target_pid):
            return False
        if self.procs.tracees_running():
            return False
        if not self.procs.wait(1.0):
            self.strace_lingered = True
            self.procs.kill_tracer()
            self.procs.wait(_REAP_TIMEOUT)
        return True

    def _strace_exited(self) -> bool:
        return self.procs.exited()

    def _find_target_pid(self) -> int | None:
        """The traced program's pid: the pid of the first line strace wrote (its execve).

        Not strace's child list in /proc: strace forks short-lived children of its own at
        startup to probe ptrace features, so its first child is not always the target.
        """
        if self.target_pid is not None:
            return self.target_pid
        end = time.monotonic() + 10.0
        while self.counts.first_pid is None and time.monotonic() < end:
            if self.procs.exited() or self.worker_error is not None:
                break
            time.sleep(0.01)
        self.target_pid = self.counts.first_pid
        return self.target_pid

    def _add_boundary(self, phase: Phase) -> None:
        with self.lock:
            ts = time.time()
            self.boundaries.append((ts, phase))

    @contextlib.contextmanager
    def _signal_handlers(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: FrameType | None) -> None:
            if self.interrupt is None:
                self.interrupt = "interrupted" if signum == signal.SIGINT else "terminated"
            else:
                self.force.set()
            self.wake.set()

        old_int = signal.signal(signal.SIGINT, handler)
        old_term = signal.signal(signal.SIGTERM, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, old_int)
            signal.signal(signal.SIGTERM, old_term)

    # ----------------------------------------------------------------------- worker

    def _work(self) -> None:
        if self.niceness:
            # Per-thread on Linux (setpriority(2) NOTES); the thread ends with the run.
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.niceness)
        try:
            self._consume()
        except BaseException as e:  # handed to the calling thread, which re-raises it
            self.worker_error = e
            self.wake.set()

    def _consume(self) -> None:
        counts = self.counts
        write = self.writer.write
        for event in self.parse(self._lines()):
            event = self._phased(event)
            write(event)
            if isinstance(event, SyscallEvent):
                counts.syscalls += 1
                if event.name not in counts.names:
                    counts.names.add(event.name)
                    counts.fresh.append(event.name)
                if counts.first_pid is None:
                    counts.first_pid = event.pid
            elif isinstance(event, ExitEvent) and event.tid == self.target_pid:
                counts.target_exit = event
        self._report(force=True)

    def _lines(self) -> Iterator[str]:
        """Lines of strace's output as it grows; ends when strace has exited and all is read."""
        next_report = time.monotonic() + _PROGRESS_EVERY
        pending = b""
        with self.output.open("rb") as f:
            while True:
                finished = self.strace_done.is_set()
                self._refresh_boundaries()
                chunk = f.read(_READ_SIZE)
                if chunk:
                    pending += chunk
                    cut = pending.rfind(b"\n") + 1
                    if cut:
                        text = pending[:cut].decode("utf-8", "replace")
                        pending = pending[cut:]
                        # Lines keep their "\n": the parser tells a line cut short by a killed
                        # strace (no newline, tolerated at the end) from a malformed one by it.
                        # StringIO with newline="\n" splits on "\n" only, in C.
                        yield from io.StringIO(text, newline="\n")
                elif finished:
                    if pending:  # strace died mid-line; let the parser judge the fragment
                        yield pending.decode("utf-8", "replace")
                    return
                else:
                    time.sleep(_POLL)
                if time.monotonic() >= next_report:
                    self._report()
                    next_report = time.monotonic() + _PROGRESS_EVERY

    def _refresh_boundaries(self) -> None:
        with self.lock:
            self._seen = list(self.boundaries)

    def _phased(self, event: Event) -> Event:
        phase = self._phase_at(event.timestamp)
        if phase is event.phase:
            return event
        if isinstance(event, SyscallEvent):
            return SyscallEvent(
                event.name,
                event.arch,
                event.pid,
                event.tid,
                event.ret,
                event.errno,
                event.timestamp,
                event.args,
                phase,
            )
        if isinstance(event, SignalEvent):
            return SignalEvent(event.signal, event.pid, event.tid, event.timestamp, phase)
        return ExitEvent(event.pid, event.tid, event.code, event.signal, event.timestamp, phase)

    def _phase_at(self, ts: float | None) -> Phase:
        seen = self._seen
        if ts is None:  # no timestamp: the latest phase known when the line was read
            return seen[-1][1] if seen else Phase.STARTUP
        phase = Phase.STARTUP
        for bts, bphase in seen:  # at most three boundaries
            if ts >= bts:
                phase = bphase
            else:
                break
        return phase

    def _report(self, *, force: bool = False) -> None:
        c = self.counts
        if not c.fresh and not force and not c.syscalls:
            return
        fresh, c.fresh = c.fresh, []
        with self.lock:
            phase = self.boundaries[-1][1] if self.boundaries else Phase.STARTUP
        self.progress(
            TraceProgress(
                elapsed=time.monotonic() - self.started,
                events=c.syscalls,
                distinct=len(c.names),
                new_names=tuple(sorted(fresh)),
                phase=phase,
            )
        )

    # ----------------------------------------------------------------------- result

    def _outcome(self) -> TraceOutcome:
        for ts, phase in self.boundaries:
            self.writer.add_boundary(ts, phase)
        rc = self.procs.returncode()
        if self.counts.syscalls == 0 and rc not in (0, None) and self.interrupt is None:
            raise TracerError(
                f"strace could not trace {self.req.argv[0]} (strace exit status "
                f"{rc}); see strace's message on stderr",
                hint="strace needs ptrace(2): check kernel.yama.ptrace_scope, and in a "
                "container CAP_SYS_PTRACE and a seccomp profile that allows ptrace",
            )
        exit_code: int | None
        texit = self.counts.target_exit
        if texit is not None:
            exit_code = texit.code if texit.code is not None else _signal_number(texit.signal)
        else:
            exit_code = rc
        return self._result(exit_code)

    def _result(self, exit_code: int | None) -> TraceOutcome:
        """The outcome of the run so far, with the target's ``exit_code``."""
        reason: str | None = None
        if self.interrupt is not None:
            reason = self.interrupt
        elif self.timed_out:
            reason = "timeout"
        elif self.killed:
            reason = "killed"
        ex = self.exercise
        return TraceOutcome(
            complete=reason is None,
            reason=reason,
            events=self.counts.syscalls,
            distinct=len(self.counts.names),
            exit_code=exit_code,
            exercise_exit_code=None if ex is None else ex.poll(),
            boundaries=tuple(self.boundaries),
        )


def _base_env(request: TraceRequest) -> dict[str, str]:
    return dict(request.env) if request.env is not None else dict(os.environ)


def _signal_number(name: str | None) -> int | None:
    if name is None:
        return None
    try:
        return -int(signal.Signals[name])
    except KeyError:
        return None


def _signal_pid(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _end_group(proc: subprocess.Popen[bytes], grace: float) -> None:
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
        proc.wait(timeout=_REAP_TIMEOUT)


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


def _session_members(sid: int) -> list[int]:
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
