"""The ebpf backend: count the target's system calls in the kernel.

Instead of stopping the target at every call (strace, ptrace(2)), BPF programs count calls in
BPF maps, and only the totals cross into user space, once a second for progress and at the end
for the trace. The target runs far closer to its native speed than under strace; the cost left
is the raw_syscalls tracepoints, which every system call on the machine passes through while
they are enabled (``benchmarks/overhead/run.py`` measures it).

Two engines count the same things into the same
:class:`~seccompgen.tracing.bpf.counts.BpftraceState`, so the trace file is the same for both:

- ``"bpf"`` (the default): programs built and loaded by seccompgen itself through bpf(2)
  (:mod:`seccompgen.tracing.bpf.counter`, assembled by :mod:`seccompgen.tracing.bpf.asm` and
  loaded by :mod:`seccompgen.tracing.bpf.loader`), which increment per-CPU map values in
  place: one map lookup per counted call and no map update. The launcher
  (:data:`~seccompgen.tracing.bpf.launchers.BPF_LAUNCHER`) forks the target's process, which
  waits on a FIFO until its pid is armed in the ``track`` map and then execs the target; the
  phase is a map value written at each boundary. The launcher stays the leader of the session
  and waits, as strace and bpftrace do, so the target is not a session or group leader and may
  call ``setsid()``.
- ``"bpftrace"``: a bpftrace(8) program
  (:func:`~seccompgen.tracing.bpf.bpftrace.bpftrace_script`), used when asked for, or by
  ``engine="auto"`` when the built-in programs cannot be loaded. bpftrace 0.17 has no in-place
  map increment, so each counted call costs a lookup and an update.

What each probe counts is described with the bpftrace program
(:mod:`seccompgen.tracing.bpf.bpftrace`); the bpf engine's programs count the same.

Process layout (bpftrace engine): bpftrace starts the target itself (``-c``), which it does only
after every probe is attached, and exits when it exits. ``-c`` splits its command on spaces
without quoting, so the command is a small Python launcher
(:data:`~seccompgen.tracing.bpf.launchers.LAUNCHER`) that reads the real argv and environment
from a file, makes a marker call that starts tracking
(:data:`~seccompgen.tracing.bpf.bpftrace.MARKER`, an unknown prctl(2) option that fails with
EINVAL), and execs the target: the target's own ``execve`` is its first counted call, as with
strace, and nothing of the launcher is counted. The same
marker, made by seccompgen with a phase number and the run's random token, moves the BPF program
to the next phase, right after the phase boundary is recorded and before the exercise starts or
SIGTERM is sent, so whatever the exercise or the signal causes is counted in the new phase.

The lifecycle (exercise, phases, SIGTERM, grace, SIGKILL, Ctrl-C, progress) is the
:class:`~seccompgen.tracing.session.Session`'s, driven through
:class:`~seccompgen.tracing.host.HostProcesses` as for strace; only the
:class:`~seccompgen.tracing.session.Recorder` that reads the tracer's output differs.

Trace file: one ``"sys"`` line per (process, thread, syscall, phase, outcome) with its count in
``n`` (see ``docs/trace-format.md``, "Counted traces"), plus the sampled argument tuples.
Calls are counted, not recorded: their order, each call's return value and each call's time are
not kept (the first-seen time of each key is).

Limits: the syscall numbers are the native arch's (raw_syscalls reports the compat number for a
32-bit process on a 64-bit kernel); BPF maps hold at most
:data:`~seccompgen.tracing.bpf.counts.MAP_KEYS_MAX` keys each.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

from seccompgen.errors import SyscallTableError, TracerError
from seccompgen.events import ExitEvent, Phase
from seccompgen.tracefile import TraceWriter
from seccompgen.tracing.base import TraceOutcome, TraceProgress, TraceRequest
from seccompgen.tracing.bpf.bpftrace import MARKER, NOT_FOUND_MESSAGE, bpftrace_script
from seccompgen.tracing.bpf.counts import (
    ARGS_SAMPLES,
    MAP_KEYS_MAX,
    PHASE_NUMBER,
    PHASES,
    BpftraceState,
    counted_events,
    exit_status,
    watched_args,
    watched_numbers,
)
from seccompgen.tracing.bpf.launchers import BPF_LAUNCHER, LAUNCHER
from seccompgen.tracing.bpf.preconditions import (
    BTF_PATH,
    ENGINES,
    TRACEFS_DIRS,
    precondition_problem,
)
from seccompgen.tracing.host import (
    HostProcesses,
    require_host,
    resolve_target,
    session_members,
    signal_pid,
)
from seccompgen.tracing.session import PROGRESS_EVERY, ExerciseProcess, Session

if TYPE_CHECKING:
    from seccompgen.tracing.bpf.counter import BpfCounter

NAME: Final = "ebpf"

_READ_EVERY: Final = 1.0  # seconds between reads of the counts map for progress


# --------------------------------------------------------------------------- processes


def _set_phase(phase: Phase, token: int) -> None:
    """Make the marker call that moves the BPF program of run ``token`` to ``phase``."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(
        ctypes.c_int(MARKER),
        ctypes.c_ulong(PHASE_NUMBER[phase]),
        ctypes.c_ulong(token),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )


class _EbpfProcesses(HostProcesses):
    """bpftrace as the tracer process; the phase moves at the exercise and at SIGTERM.

    ``set_phase`` tells the BPF program (bpftrace engine: the marker call with ``token``).
    """

    def __init__(
        self,
        token: int,
        set_phase: Callable[[Phase], None] | None = None,
        gate: Path | None = None,
    ) -> None:
        super().__init__(gate)
        self.phase = Phase.STARTUP
        self.token = token
        self.set_phase = set_phase

    def _advance(self, phase: Phase) -> None:
        if phase.order > self.phase.order:
            self.phase = phase
            if self.set_phase is not None:
                self.set_phase(phase)
            else:
                _set_phase(phase, self.token)

    def start_exercise(self, command: str, target_pid: int | None) -> ExerciseProcess:
        self._advance(Phase.EXERCISE)
        return super().start_exercise(command, target_pid)

    def signal_target(self, pid: int, sig: int) -> None:
        if sig == signal.SIGTERM:
            self._advance(Phase.SHUTDOWN)
        super().signal_target(pid, sig)


class _BpftraceRecorder:
    """The bpftrace engine's :class:`~seccompgen.tracing.session.Recorder`: folds bpftrace's
    map prints into counted events."""

    def __init__(
        self,
        *,
        arch: str,
        name_of: Callable[[int], str | None],
        watched: Mapping[int, tuple[int, ...]],
    ) -> None:
        self.arch = arch
        self.name_of = name_of
        self.watched = watched
        self.state = BpftraceState()
        # CLOCK_MONOTONIC (bpf_ktime_get_ns, time.monotonic) to the wall clock of the trace.
        self.wall_offset = time.time() - time.monotonic()

    def record(self, session: Session) -> None:
        state = self.state
        counts = session.counts
        known: dict[int, str | None] = {}
        for line in session.lines():
            what = state.feed(line)
            if what == "start" and counts.first_pid is None:
                counts.first_pid = state.started[0][0]
            elif what == "exit":
                pid, code, ph, ns = state.exits[-1]
                ev = self._exit_event(pid, code, ph, ns)
                if pid == counts.first_pid and counts.target_exit is None:
                    counts.target_exit = ev
            elif what == "@n":
                counts.syscalls = sum(state.counts.values())
                for _pid, _tid, nr, _ph in state.counts:
                    if nr not in known:
                        known[nr] = self.name_of(nr)
                        name = known[nr]
                        if name is not None and name not in counts.names:
                            counts.names.add(name)
                            counts.fresh.append(name)
        self._write_all(session)
        session.report(force=True)

    def target_pid(self, session: Session) -> int | None:
        return session.first_event_pid()

    def _exit_event(self, pid: int, code: int, ph: int, ns: int) -> ExitEvent:
        status, sig = exit_status(code)
        ts = round(ns / 1e9 + self.wall_offset, 6)
        return ExitEvent(pid, pid, status, sig, ts, PHASES.get(ph, Phase.SHUTDOWN))

    def _write_all(self, session: Session) -> None:
        if len(self.state.distinct) >= MAP_KEYS_MAX:
            self.state.distinct_full = True
        total = 0
        names: set[str] = set()
        for event, n in counted_events(
            self.state,
            arch=self.arch,
            name_of=self.name_of,
            wall_offset=self.wall_offset,
            watched=self.watched,
        ):
            session.writer.write(event, n)
            total += n
            names.add(event.name)
        if not self.state.distinct_full:
            # Every distinct value of the watched arguments is in the events just written;
            # with the map full some may be missing, and the footer then says nothing (the
            # values count as a sample).
            every: dict[str, tuple[int, ...]] = {}
            for nr, indexes in self.watched.items():
                name = self.name_of(nr)
                if name is not None:
                    every[name] = indexes
            session.writer.note_every_value(every)
        for pid, code, ph, ns in self.state.exits:
            session.writer.write(self._exit_event(pid, code, ph, ns))
        counts = session.counts
        counts.syscalls = total
        counts.fresh.extend(sorted(names - counts.names))
        counts.names |= names

    def outcome(self, session: Session) -> TraceOutcome:
        rc = session.procs.returncode()
        if not self.state.started and rc not in (0, None) and session.interrupt is None:
            req = session.req
            where = f" (in {req.stderr})" if req.stderr is not None else ""
            raise TracerError(
                f"bpftrace could not trace {req.argv[0]} (bpftrace exit status {rc}); "
                f"see bpftrace's message on stderr{where}",
                hint="check the ebpf preconditions: root, kernel BTF, tracefs mounted",
            )
        return session.traced_outcome()


class _BpfProcesses(_EbpfProcesses):
    """The bpf engine's processes: the launcher is the tracer process, its child the target.

    The launcher (:data:`BPF_LAUNCHER`) forks a child that blocks reading the ``fifo`` (the
    gate of :class:`HostProcesses`) until its pid is armed in the ``track`` map, then execs the
    target (:attr:`target`).
    """

    def __init__(self, counter: BpfCounter, fifo: Path) -> None:
        super().__init__(0, lambda phase: counter.set_phase(PHASE_NUMBER[phase]), fifo)
        self.counter = counter

    def arm(self, pid: int) -> None:
        self.counter.arm(pid)

    def kill_tracees(self) -> None:
        st = self.strace
        if st is None:
            return
        for pid in session_members(st.pid):
            signal_pid(pid, signal.SIGKILL)


class _BpfRecorder(_BpftraceRecorder):
    """The bpf engine's :class:`~seccompgen.tracing.session.Recorder`: reads the counter's maps
    while the target runs, and all of them at the end."""

    def __init__(
        self,
        *,
        counter: BpfCounter,
        processes: _BpfProcesses,
        arch: str,
        name_of: Callable[[int], str | None],
        watched: Mapping[int, tuple[int, ...]],
    ) -> None:
        super().__init__(arch=arch, name_of=name_of, watched=watched)
        self.counter = counter
        self.processes = processes

    def target_pid(self, session: Session) -> int | None:
        # The launcher's child becomes the target by execve: its pid is the target's.
        target = self.processes.target
        if target:
            session.counts.first_pid = target
            return target
        return None

    def record(self, session: Session) -> None:
        try:
            self._poll_maps(session)
        except OSError as e:  # a failed bpf(2) read: the counts are not to be trusted
            raise TracerError(
                f"cannot read the in-kernel counts: {e}",
                hint="the trace of this run is incomplete; run it again, or use the "
                "bpftrace engine",
            ) from e

    def _poll_maps(self, session: Session) -> None:
        counts = session.counts
        state = self.state
        known: dict[int, str | None] = {}
        next_read = 0.0
        while not session.strace_done.wait(PROGRESS_EVERY):
            if time.monotonic() >= next_read:
                self.counter.read_counts(state)
                next_read = time.monotonic() + _READ_EVERY
                counts.syscalls = sum(state.counts.values())
                for _pid, _tid, nr, _ph in state.counts:
                    if nr not in known:
                        known[nr] = name = self.name_of(nr)
                        if name is not None and name not in counts.names:
                            counts.names.add(name)
                            counts.fresh.append(name)
            session.report()
        self.counter.read_all(state)
        for pid, code, ph, ns in state.exits:
            if pid == counts.first_pid and counts.target_exit is None:
                counts.target_exit = self._exit_event(pid, code, ph, ns)
        self._write_all(session)
        session.report(force=True)

    def outcome(self, session: Session) -> TraceOutcome:
        rc = session.procs.returncode()
        if session.counts.syscalls == 0 and rc not in (0, None) and session.interrupt is None:
            req = session.req
            where = f" (in {req.stderr})" if req.stderr is not None else ""
            raise TracerError(
                f"the launcher could not run {req.argv[0]} (exit status {rc}); see its "
                f"message on stderr{where}",
            )
        return session.traced_outcome()


# --------------------------------------------------------------------------- the tracer


class EbpfTracer:
    """Trace by counting system calls in the kernel (see the module docstring).

    ``engine`` is ``"bpf"`` (the built-in counter, :mod:`seccompgen.tracing.bpf.counter`),
    ``"bpftrace"``, or ``"auto"``: the built-in counter, or bpftrace when the counter cannot
    be loaded here (the reason is kept in :attr:`fallback_reason`). ``bpftrace`` is the
    bpftrace command (looked up on PATH); ``args_samples`` bounds the argument tuples kept per
    key (:data:`ARGS_SAMPLES`); ``tmp_dir`` holds the launcher's files (and the bpftrace
    engine's script and output) during the run (default: the system temp dir).
    """

    name = NAME

    def __init__(
        self,
        *,
        engine: str = "auto",
        bpftrace: str = "bpftrace",
        args_samples: int = ARGS_SAMPLES,
        tmp_dir: Path | None = None,
        arch: str | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if engine not in (*ENGINES, "auto"):
            raise ValueError(f"unknown ebpf engine {engine!r}; use auto, {', '.join(ENGINES)}")
        self.engine = engine
        self.bpftrace = bpftrace
        self.args_samples = args_samples
        self.tmp_dir = tmp_dir
        self.arch = arch
        self.log = log
        """Receives one line when ``"auto"`` falls back to bpftrace, saying why."""
        self.engine_used: str | None = None
        """The engine of the last run (``"bpf"`` or ``"bpftrace"``)."""
        self.fallback_reason: str | None = None
        """Why ``"auto"`` fell back to bpftrace in the last run, else None."""

    def _problem(self) -> tuple[str, str] | None:
        engine = "bpf" if self.engine == "auto" else self.engine
        return precondition_problem(engine=engine, bpftrace=self.bpftrace)

    def unavailable_reason(self) -> str | None:
        """None when every precondition holds, else the first one missing and what to do."""
        problem = self._problem()
        return None if problem is None else f"{problem[0]}; {problem[1]}"

    def run(
        self,
        request: TraceRequest,
        writer: TraceWriter,
        progress: Callable[[TraceProgress], None],
    ) -> TraceOutcome:
        """Trace ``request``; see :meth:`seccompgen.tracing.base.Tracer.run`.

        Ctrl-C and SIGTERM are handled as in the strace backend. ``progress`` is called from a
        worker thread about every half second, with the counts read last (once a second).
        """
        require_host(request, NAME)
        problem = self._problem()
        if problem is not None:
            raise TracerError(problem[0], hint=problem[1])
        target = resolve_target(request)
        arch = self.arch or writer.header.arch
        self.fallback_reason = None
        if self.engine == "bpftrace":
            return self._run_bpftrace(request, writer, progress, target, arch)
        from seccompgen.tracing.bpf.counter import BpfCounter
        from seccompgen.tracing.bpf.loader import BpfError

        tracefs = next(d for d in TRACEFS_DIRS if (d / "events" / "raw_syscalls").is_dir())
        try:
            counter = BpfCounter(
                tracefs=tracefs,
                btf=BTF_PATH,
                execve_nr=_number(arch, "execve"),
                args_samples=self.args_samples,
                max_keys=MAP_KEYS_MAX,
            )
        except BpfError as e:
            fallback = precondition_problem(engine="bpftrace", bpftrace=self.bpftrace)
            if self.engine == "bpf" or fallback is not None:
                hint = "check the ebpf preconditions: root, kernel BTF, tracefs mounted"
                if self.engine == "auto" and fallback is not None:
                    hint += f" (the bpftrace engine is no way out either: {fallback[0]})"
                raise TracerError(f"cannot load the in-kernel counter: {e}", hint=hint) from e
            self.fallback_reason = f"cannot load the in-kernel counter: {e}"
            if self.log is not None:
                self.log(f"ebpf: {self.fallback_reason}; counting with bpftrace instead (slower)")
            return self._run_bpftrace(request, writer, progress, target, arch)
        with (
            counter,
            tempfile.TemporaryDirectory(prefix="seccompgen-ebpf-", dir=self.tmp_dir) as tmp,
        ):
            self.engine_used = "bpf"
            watched = _watched(arch)
            counter.watch(watched)
            d = Path(tmp)
            launcher = d / "launch.py"
            launcher.write_text(BPF_LAUNCHER)
            spec = d / "target.json"
            fifo = d / "go"
            os.mkfifo(fifo, 0o600)
            env = dict(request.env) if request.env is not None else dict(os.environ)
            spec.write_text(
                json.dumps({"path": str(target), "argv": list(request.argv), "env": env})
            )
            processes = _BpfProcesses(counter, fifo)
            name_of = _syscall_names(arch)
            session = Session(
                request=request,
                writer=writer,
                progress=progress,
                output=spec,
                niceness=10,
                processes=processes,
                recorder=_BpfRecorder(
                    counter=counter,
                    processes=processes,
                    arch=arch,
                    name_of=name_of,
                    watched=watched,
                ),
            )
            return session.run(
                [sys.executable or "python3", "-I", "-S", str(launcher), str(spec), str(fifo)]
            )

    def _run_bpftrace(
        self,
        request: TraceRequest,
        writer: TraceWriter,
        progress: Callable[[TraceProgress], None],
        target: Path,
        arch: str,
    ) -> TraceOutcome:
        """The bpftrace engine's run (see :func:`bpftrace_script`)."""
        problem = precondition_problem(engine="bpftrace", bpftrace=self.bpftrace)
        if problem is not None:
            raise TracerError(problem[0], hint=problem[1])
        self.engine_used = "bpftrace"
        name_of = _syscall_names(arch)
        prctl_nr = _number(arch, "prctl")
        watched = _watched(arch)
        bpftrace = shutil.which(self.bpftrace)
        env_cmd = shutil.which("env")
        if bpftrace is None or env_cmd is None:
            raise TracerError(NOT_FOUND_MESSAGE)
        with tempfile.TemporaryDirectory(prefix="seccompgen-ebpf-", dir=self.tmp_dir) as tmp:
            d = Path(tmp)
            if " " in str(d):
                raise TracerError(
                    f"temporary directory {d} has a space; bpftrace -c splits on spaces",
                    hint="set TMPDIR to a path without spaces",
                )
            token = secrets.randbits(31)
            script = d / "trace.bt"
            script.write_text(
                bpftrace_script(
                    prctl_nr=prctl_nr,
                    own_pid=os.getpid(),
                    token=token,
                    args_samples=self.args_samples,
                    watched=watched,
                )
            )
            launcher = d / "launch.py"
            launcher.write_text(LAUNCHER)
            spec = d / "target.json"
            env = dict(request.env) if request.env is not None else dict(os.environ)
            spec.write_text(
                json.dumps({"path": str(target), "argv": list(request.argv), "env": env})
            )
            output = d / "bpftrace.json"
            output.touch()
            cmd = [
                # bpftrace's settings go through its environment; the target gets its own
                # environment from the launcher's execve.
                env_cmd,
                f"BPFTRACE_MAP_KEYS_MAX={MAP_KEYS_MAX}",
                bpftrace,
                "-f",
                "json",
                "-o",
                str(output),
                "-c",
                f"{sys.executable} -I -S {launcher} {spec}",
                str(script),
            ]
            session = Session(
                request=request,
                writer=writer,
                progress=progress,
                output=output,
                niceness=10,
                processes=_EbpfProcesses(token),
                recorder=_BpftraceRecorder(arch=arch, name_of=name_of, watched=watched),
            )
            return session.run(cmd)


def _syscall_names(arch: str) -> Callable[[int], str | None]:
    from seccompgen.syscalls import resolve_number

    cache: dict[int, str | None] = {}

    def name_of(nr: int) -> str | None:
        if nr not in cache:
            try:
                cache[nr] = resolve_number(arch, nr)
            except SyscallTableError:
                cache[nr] = None
        return cache[nr]

    return name_of


def _watched(arch: str) -> dict[int, tuple[int, ...]]:
    """The watched arguments (:func:`watched_args`) by syscall number on ``arch``."""
    from seccompgen.syscalls import resolve_name

    def number_of(name: str) -> int | None:
        try:
            return resolve_name(arch, name)
        except SyscallTableError:
            return None

    return watched_numbers(watched_args(), number_of)


def _number(arch: str, name: str) -> int:
    from seccompgen.syscalls import resolve_name

    try:
        nr = resolve_name(arch, name)
    except SyscallTableError as e:
        raise TracerError(f"cannot number system calls for {arch}: {e.message}") from e
    if nr is None:
        raise TracerError(f"{name} has no number on {arch}")
    return nr
