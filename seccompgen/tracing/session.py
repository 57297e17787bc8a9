"""The session every backend runs: one traced run's lifecycle, the same for each tracer.

A :class:`Session` starts the tracer process on a :class:`ProcessSide` (host processes, or a
container), then runs the lifecycle on the calling thread: phase boundaries (STARTUP, EXERCISE,
SHUTDOWN), the exercise command, the duration, SIGTERM to the target, ``grace`` seconds, SIGKILL,
the timeout, Ctrl-C and SIGTERM to seccompgen. A worker thread runs the backend's
:class:`Recorder`, which turns the tracer's output into events while the target runs.

A backend is therefore a :class:`ProcessSide` plus a :class:`Recorder`: strace and the ptrace
tracer write text lines (:class:`TextRecorder` with their parsers), the ebpf engines fold
in-kernel counts, the delta backend reads audit records. The lifecycle is written once, here.

Threads: the worker runs at a lower CPU priority (``niceness``; Linux nice values are per
thread, see setpriority(2) NOTES) so that on a busy machine the traced program and its tracer
get the CPU first and the worker catches up when they stop; this keeps the traced program's
throughput close to that under bare ``strace -f``.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Final, Protocol

from seccompgen.errors import TracerError
from seccompgen.events import Event, ExitEvent, Phase, SignalEvent, SyscallEvent
from seccompgen.tracefile import Boundary, TraceWriter
from seccompgen.tracing.base import TraceOutcome, TraceProgress, TraceRequest

_POLL: Final = 0.05  # seconds between looks at the output file and the processes
#: Seconds between progress reports.
PROGRESS_EVERY: Final = 0.5
_READ_SIZE: Final = 1 << 20
_EXERCISE_GRACE: Final = 2.0  # seconds an exercise gets after SIGTERM before SIGKILL
#: Seconds to wait for a process to be reaped after SIGKILL.
REAP_TIMEOUT: Final = 10.0


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
    """Where the tracer process and its tracees run: host processes, or a container.

    A :class:`Session` drives the lifecycle (phases, exercise, SIGTERM, grace, SIGKILL) through
    this interface only, so the same lifecycle applies whether the tracer (strace, the ptrace
    tracer, a launcher) is a child of seccompgen or pid 1 of a container. "strace" below means
    that tracer process. ``pid`` arguments are pids as the tracer reported them (the tracee's
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


class Recorder(Protocol):
    """What a backend plugs into a :class:`Session`: how its tracer's output becomes events.

    The session owns the processes, the phases, the signals and the timers; the recorder owns
    the reading. A backend is a :class:`ProcessSide` (where its tracer runs) plus a recorder.
    """

    def record(self, session: Session) -> None:
        """Read the tracer's output until it is all read, on the session's worker thread.

        Write every event to ``session.writer`` (stamped with :meth:`Session.phased`), keep
        ``session.counts`` current, and call :meth:`Session.report` now and then and once with
        ``force=True`` at the end. :meth:`Session.lines` tails a text output file. An exception
        raised here ends the run and is re-raised by :meth:`Session.run`.
        """
        ...

    def target_pid(self, session: Session) -> int | None:
        """The traced program's pid, as :meth:`ProcessSide.signal_target` takes it, or None
        while unknown. :meth:`Session.first_event_pid` is the usual answer."""
        ...

    def outcome(self, session: Session) -> TraceOutcome:
        """How the run ended, once every process is gone and :meth:`record` has returned.

        Usually :meth:`Session.traced_outcome`; raise :class:`TracerError` when the tracer
        failed before it could trace anything.
        """
        ...


class TextRecorder:
    """A :class:`Recorder` for tracers that write text lines (strace, the ptrace tracer):
    ``parse`` turns the lines :meth:`Session.lines` yields into events."""

    def __init__(self, parse: Callable[[Iterator[str]], Iterator[Event]]) -> None:
        self.parse = parse

    def record(self, session: Session) -> None:
        counts = session.counts
        write = session.writer.write
        phased = session.phased
        for event in self.parse(session.lines()):
            event = phased(event)
            write(event)
            if isinstance(event, SyscallEvent):
                counts.syscalls += 1
                if event.name not in counts.names:
                    counts.names.add(event.name)
                    counts.fresh.append(event.name)
                if counts.first_pid is None:
                    counts.first_pid = event.pid
            elif isinstance(event, ExitEvent) and event.tid == session.target_pid:
                counts.target_exit = event
        session.report(force=True)

    def target_pid(self, session: Session) -> int | None:
        return session.first_event_pid()

    def outcome(self, session: Session) -> TraceOutcome:
        return session.traced_outcome()


@dataclass
class SessionCounts:
    """What the recorder has seen so far (written by the worker thread, read for progress)."""

    syscalls: int = 0
    names: set[str] = field(default_factory=set)
    fresh: list[str] = field(default_factory=list)
    first_pid: int | None = None
    target_exit: ExitEvent | None = None


class Session:
    """One traced run: the processes, the lifecycle (calling thread) and the worker thread.

    The same lifecycle serves every backend: ``processes`` says where the tracer runs,
    ``recorder`` how its output becomes events (see :class:`Recorder`). ``clock`` stamps the
    phase boundaries and must be the clock of the events' timestamps (the wall clock; the delta
    backend's audit records use a coarser one). With ``end_with_tracees`` (the default) the run
    also ends when every traced process is gone but the tracer lingers; without it, only the
    tracer's own exit ends it (the delta launcher is the target itself).
    """

    def __init__(
        self,
        *,
        request: TraceRequest,
        writer: TraceWriter,
        progress: Callable[[TraceProgress], None],
        output: Path,
        niceness: int,
        processes: ProcessSide,
        recorder: Recorder,
        clock: Callable[[], float] = time.time,
        end_with_tracees: bool = True,
    ) -> None:
        self.req = request
        self.procs = processes
        self.writer = writer
        self.progress = progress
        self.output = output
        self.niceness = niceness
        self.recorder = recorder
        self.clock = clock
        self.end_with_tracees = end_with_tracees

        self.exercise: ExerciseProcess | None = None
        self.target_pid: int | None = None
        self.started = time.monotonic()

        # Boundaries are appended by the calling thread and read by the worker. The timestamp is
        # taken under the lock, and the worker refreshes its copy under the lock before each
        # chunk it reads, so a line stamped at or after a boundary can never be read before the
        # boundary is visible (strace stamps a line before writing it).
        self.lock = threading.Lock()
        self.boundaries: list[Boundary] = []
        self.counts = SessionCounts()
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
        return self.recorder.outcome(self)

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
        if not self.procs.wait(REAP_TIMEOUT):
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
        if not self.end_with_tracees or self.procs.exited() or self.target_pid is None:
            return False
        if self.procs.target_alive(self.target_pid):
            return False
        if self.procs.tracees_running():
            return False
        if not self.procs.wait(1.0):
            self.strace_lingered = True
            self.procs.kill_tracer()
            self.procs.wait(REAP_TIMEOUT)
        return True

    def _strace_exited(self) -> bool:
        return self.procs.exited()

    def _find_target_pid(self) -> int | None:
        if self.target_pid is None:
            self.target_pid = self.recorder.target_pid(self)
        return self.target_pid

    def first_event_pid(self) -> int | None:
        """The traced program's pid: the pid of the first event recorded (its execve), waiting
        up to 10 seconds for it.

        Not the tracer's child list in /proc: strace forks short-lived children of its own at
        startup to probe ptrace features, so its first child is not always the target.
        """
        end = time.monotonic() + 10.0
        while self.counts.first_pid is None and time.monotonic() < end:
            if self.procs.exited() or self.worker_error is not None:
                break
            time.sleep(0.01)
        return self.counts.first_pid

    def _add_boundary(self, phase: Phase) -> None:
        with self.lock:
            self.boundaries.append((self.clock(), phase))

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
            self.recorder.record(self)
        except BaseException as e:  # handed to the calling thread, which re-raises it
            self.worker_error = e
            self.wake.set()

    def lines(self) -> Iterator[str]:
        """Lines of strace's output as it grows; ends when strace has exited and all is read."""
        next_report = time.monotonic() + PROGRESS_EVERY
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
                    self.report()
                    next_report = time.monotonic() + PROGRESS_EVERY

    def _refresh_boundaries(self) -> None:
        with self.lock:
            self._seen = list(self.boundaries)

    def phased(self, event: Event) -> Event:
        """``event`` stamped with the phase its timestamp falls in."""
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

    def report(self, *, force: bool = False) -> None:
        """Send a progress report when there is news (always with ``force``)."""
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

    def write_boundaries(self) -> None:
        """Record the run's phase boundaries on the writer (once, when the run is over)."""
        for ts, phase in self.boundaries:
            self.writer.add_boundary(ts, phase)

    def traced_outcome(self, tracer: str = "strace") -> TraceOutcome:
        """The outcome of a run whose events came from ``tracer``: the boundaries written, the
        target's exit code from its exit event (the tracer's own status when there is none),
        and :class:`TracerError` when the tracer failed without recording a call."""
        self.write_boundaries()
        rc = self.procs.returncode()
        if self.counts.syscalls == 0 and rc not in (0, None) and self.interrupt is None:
            raise TracerError(
                f"{tracer} could not trace {self.req.argv[0]} ({tracer} exit status "
                f"{rc}); see {tracer}'s message on stderr",
                hint="strace needs ptrace(2): check kernel.yama.ptrace_scope, and in a "
                "container CAP_SYS_PTRACE and a seccomp profile that allows ptrace",
            )
        exit_code: int | None
        texit = self.counts.target_exit
        if texit is not None:
            exit_code = texit.code if texit.code is not None else _signal_number(texit.signal)
        else:
            exit_code = rc
        return self.result(exit_code)

    def result(self, exit_code: int | None) -> TraceOutcome:
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


def _signal_number(name: str | None) -> int | None:
    if name is None:
        return None
    try:
        return -int(signal.Signals[name])
    except KeyError:
        return None
