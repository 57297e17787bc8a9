"""The delta backend: re-check a program against a known profile, recording only what it misses.

Instead of stopping the target at every system call (strace, ptrace) the target runs at full
speed under the *staging* variant of a known profile: its ``SCMP_ACT_ALLOW`` rules with
``SCMP_ACT_LOG`` as the default action. The kernel runs the calls the profile allows as usual
and writes one audit record (type 1326) for each call it does not list, then runs that call too
(``SECCOMP_RET_LOG``, seccomp(2)). Those records are read from the audit netlink multicast group
with :class:`~seccompgen.tracing.audit.AuditListener` (lossless, root or ``CAP_AUDIT_READ``) and
written to the trace as events: the trace holds the misses, nothing else.

The filter is installed by the host launcher (``python -m seccompgen.enforce --fork FIFO
PROFILE -- ARGV``, :mod:`seccompgen.enforce`): in the child it forks (which waits on the FIFO
until its pid is known here), libseccomp builds and loads it right before ``execve(2)``, so only
that ``execve`` runs under it before the program does. Filters are inherited by every thread
and child (seccomp(2): "the filter is inherited by children created by fork(2) and clone(2),
and preserved across execve(2)"), so the whole process tree is covered.

Which records belong to the run, and why this way:

* the action must be ``log``: only a ``SCMP_ACT_LOG`` filter produces it (other processes'
  ``KILL``/``ERRNO`` records are never the target's);
* the record's pid (the kernel logs the thread-group id, ``audit_log_task``) must be the target
  or a descendant. The launcher starts in a new session (setsid(2)) and forks the target, so
  the target and its children share the launcher's session id unless they call setsid(2)
  themselves (which they may: the launcher, not the target, leads the session). A record
  from an unknown pid is attributed when ``/proc/PID/stat`` shows that session, or when the pid
  was seen among the children of a known process (``/proc/PID/task/TID/children``, proc(5),
  polled every :data:`~seccompgen.tracing.missfeed.CHILD_POLL` seconds). A record whose
  process had already exited and was never seen is counted in
  :attr:`DeltaOutcome.unattributed`, not written: it cannot be told apart from another
  workload running under a LOG profile at the same time.

Phases come from time boundaries as in the other backends, taken on the audit stamp's own
clock. The kernel stamps a seccomp record when it is logged with the coarse wall clock
(``audit_log_start`` in kernel/audit.c: ``ktime_get_coarse_real_ts64``, advanced once per tick,
4 ms at ``HZ=250``, and seen lagging ``gettimeofday`` by up to 6 ms) printed to the millisecond.
Boundaries stamped with ``gettimeofday`` would put the first calls an exercise drives, made a
few milliseconds after its start, before it. So boundaries are read from the same clock
(``CLOCK_REALTIME_COARSE``, clock_gettime(2)) and cut to the millisecond: a call made after a
boundary never gets an earlier stamp; one made in the same tick just before it counts in the
later phase.

The lifecycle (exercise, duration, SIGTERM, ``grace``, SIGKILL, Ctrl-C, timeout, progress) is the
:class:`~seccompgen.tracing.session.Session`'s, driven through a
:class:`~seccompgen.tracing.session.ProcessSide` whose "tracer" is the target itself and whose
output file receives the audit records as they arrive (:class:`MissFeed`, :func:`run_delta`);
:class:`DeltaRecorder` turns them into events.
:mod:`seccompgen.containers.delta` runs the same in a container, with the filter
installed by the Docker engine instead of the launcher.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Protocol

from seccompgen.errors import ParseError, TracerError
from seccompgen.events import Event, Phase
from seccompgen.parsing.audit import AuditLineParser, AuditRecord
from seccompgen.profile.model import Action, Profile, load_profile
from seccompgen.tracefile import TraceWriter
from seccompgen.tracing.audit import seccomp_logging_problem
from seccompgen.tracing.base import TraceOutcome, TraceProgress, TraceRequest
from seccompgen.tracing.host import (
    HostProcesses,
    base_env,
    require_host,
    resolve_target,
    session_members,
)
from seccompgen.tracing.missfeed import MissFeed
from seccompgen.tracing.session import ProcessSide, Session, TextRecorder

NAME: Final = "delta"
"""The backend name (``--backend delta``, trace headers)."""

#: clock_gettime(2)'s coarse real-time clock (include/uapi/linux/time.h); Python names it on
#: some platforms only.
CLOCK_REALTIME_COARSE: Final = 5
#: Seconds to wait after the end for records still in kauditd's queue.
SETTLE: Final = 0.3
_REAP_TIMEOUT: Final = 10.0


def staging_variant(profile: Profile) -> Profile:
    """``profile``'s allowlist with ``SCMP_ACT_LOG`` as the default: what the delta run loads.

    Only ``SCMP_ACT_ALLOW`` rules are kept: a rule that refuses (the ENOSYS rule of an enforce
    profile, an ``SCMP_ACT_ERRNO`` rule) would change what the program sees; in the staging
    variant those calls are logged and allowed like any other miss.
    """
    return replace(
        profile,
        default_action=Action.LOG,
        default_errno_ret=None,
        syscalls=tuple(r for r in profile.syscalls if r.action is Action.ALLOW),
    )


@dataclass(frozen=True, slots=True)
class Miss:
    """A syscall the known profile does not allow, as seen in one process and phase.

    ``count`` is the number of audit records (one per call) for this ``(name, arch, pid, comm,
    phase)``; ``comm`` is the process's command name at the time of the call (None if unknown).
    """

    name: str
    arch: str
    pid: int
    comm: str | None
    phase: Phase
    count: int


@dataclass(frozen=True, slots=True)
class DeltaOutcome(TraceOutcome):
    """A :class:`TraceOutcome` with what the delta run found.

    ``misses`` are sorted by name, pid, phase. ``runtime`` are the calls a container
    runtime's init made under the filter before its ``execve`` of the workload
    (:func:`seccompgen.runtime.is_runtime_init`): the profile's runtime block covers those, not
    the workload's allowlist, so they are neither misses nor written to the trace.
    ``unattributed`` counts LOG records from processes that had exited before they could be
    attributed to the run (see the module docstring); ``unknown`` counts records whose syscall
    number has no name here; ``overruns`` counts audit socket overflows (records lost).
    """

    misses: tuple[Miss, ...] = ()
    runtime: tuple[Miss, ...] = ()
    unattributed: int = 0
    unknown: int = 0
    overruns: int = 0

    @property
    def new_names(self) -> tuple[str, ...]:
        """The distinct syscall names the profile missed, sorted."""
        return tuple(sorted({m.name for m in self.misses}))


class DeltaTracer:
    """Re-check a program against ``profile`` (see the module docstring).

    ``profile`` is the known profile (enforce or log form; its staging variant is loaded), or
    None, in which case the backend reports itself unavailable. ``python`` is the interpreter
    that runs the launcher (default: this one).
    """

    name = NAME

    def __init__(
        self,
        profile: Profile | None = None,
        *,
        python: str = sys.executable,
        tmp_dir: Path | None = None,
    ) -> None:
        self.profile = profile
        self.python = python
        self.tmp_dir = tmp_dir

    @classmethod
    def from_file(cls, path: Path) -> DeltaTracer:
        """A tracer for the profile stored at ``path`` (:class:`ProfileError` if unreadable)."""
        return cls(load_profile(path))

    def unavailable_reason(self) -> str | None:
        """None when a profile is set, the caller is root and seccomp logging is on."""
        if self.profile is None:
            return "the delta backend needs the known profile to check against"
        if os.geteuid() != 0:
            return (
                "the delta backend reads the kernel's audit feed, which needs CAP_AUDIT_READ; "
                "run as root"
            )
        return seccomp_logging_problem()

    def run(
        self,
        request: TraceRequest,
        writer: TraceWriter,
        progress: Callable[[TraceProgress], None],
    ) -> DeltaOutcome:
        """Run ``request`` under the staging profile; see :meth:`Tracer.run`.

        The events written are the misses (``ret`` and ``errno`` unknown, ``tid`` = pid, no
        arguments: an audit record carries none of them). ``progress`` counts misses.
        """
        require_host(
            request, NAME, hint="use `seccompgen verify` to check a profile in a container"
        )
        problem = self.unavailable_reason()
        if problem is not None or self.profile is None:
            raise TracerError(f"the delta backend cannot run: {problem}")
        target = resolve_target(request)
        with tempfile.TemporaryDirectory(prefix="seccompgen-delta-", dir=self.tmp_dir) as tmp:
            profile_path = Path(tmp) / "staging.json"
            profile_path.write_text(
                json.dumps(staging_variant(self.profile).to_dict()), encoding="utf-8"
            )
            output = Path(tmp) / "audit.out"
            output.touch()
            fifo = Path(tmp) / "go"
            os.mkfifo(fifo, 0o600)
            cmd = [
                self.python,
                "-m",
                "seccompgen.enforce",
                "--fork",
                str(fifo),
                str(profile_path),
                "--",
                str(target),
                *request.argv[1:],
            ]
            return run_delta(cmd, _DeltaProcesses(output, fifo), request, writer, progress)


class DeltaSide(ProcessSide, Protocol):
    """Where a delta run's target runs: a :class:`ProcessSide` whose "tracer" is the target,
    with the :class:`MissFeed` that writes its records to the output the lifecycle tails."""

    feed: MissFeed

    @property
    def pid(self) -> int | None:
        """The target's pid as :meth:`ProcessSide.signal_target` takes it, once started."""
        ...


def run_delta(
    cmd: Sequence[str],
    side: DeltaSide,
    request: TraceRequest,
    writer: TraceWriter,
    progress: Callable[[TraceProgress], None],
) -> DeltaOutcome:
    """Run ``cmd`` on ``side`` through the lifecycle and sum up what its feed found."""
    parser = _MissParser()
    # The target is the process the side waits for: its exit ends the run (children left in its
    # session are ended by sweep()), and boundaries take the audit records' clock.
    session = Session(
        request=request,
        writer=writer,
        progress=progress,
        output=side.feed.output,
        niceness=0,
        processes=side,
        recorder=DeltaRecorder(parser.parse, side),
        clock=audit_clock,
        end_with_tracees=False,
    )
    outcome = session.run(cmd)
    return _delta_outcome(outcome, parser, side.feed, session.boundaries)


class _MissParser:
    """Audit payload lines -> events; keeps the records for the outcome's per-process counts."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self.unknown = 0

    def parse(self, lines: Iterator[str]) -> Iterator[Event]:
        parser = AuditLineParser("<audit netlink>")
        for line in lines:
            try:
                record = parser.feed(line)
            except ParseError:
                continue  # the reader only writes records the listener parsed already
            if record is None:
                continue
            event = record.to_event()
            if event is None:
                self.unknown += 1
                continue
            self.records.append(record)
            yield event


class DeltaRecorder(TextRecorder):
    """The audit records the feed writes -> events, with two differences from a tracer's text:
    the target's pid is the launcher's child (it execs the program), not the pid of the first
    event (a delta run may have no event at all); and an empty result is the expected good
    case, not a sign that tracing failed."""

    def __init__(self, parse: Callable[[Iterator[str]], Iterator[Event]], side: DeltaSide) -> None:
        super().__init__(parse)
        self.side = side

    def target_pid(self, session: Session) -> int | None:
        return self.side.pid

    def outcome(self, session: Session) -> TraceOutcome:
        session.write_boundaries()
        return session.result(session.procs.returncode())


def audit_clock() -> float:
    """Now, as the kernel would stamp an audit record (see the module docstring)."""
    return math.floor(time.clock_gettime(CLOCK_REALTIME_COARSE) * 1000) / 1000


def _phase_at(ts: float, boundaries: Sequence[tuple[float, Phase]]) -> Phase:
    phase = Phase.STARTUP
    for bts, bphase in boundaries:
        if ts >= bts:
            phase = bphase
        else:
            break
    return phase


def _delta_outcome(
    outcome: TraceOutcome,
    parser: _MissParser,
    feed: MissFeed,
    boundaries: Sequence[tuple[float, Phase]],
) -> DeltaOutcome:
    return DeltaOutcome(
        complete=outcome.complete,
        reason=outcome.reason,
        events=outcome.events,
        distinct=outcome.distinct,
        exit_code=outcome.exit_code,
        exercise_exit_code=outcome.exercise_exit_code,
        boundaries=outcome.boundaries,
        misses=summarize(parser.records, boundaries),
        runtime=summarize(feed.aside, boundaries),
        unattributed=feed.unattributed,
        unknown=parser.unknown,
        overruns=feed.overruns,
    )


def summarize(
    records: Iterable[AuditRecord], boundaries: Sequence[tuple[float, Phase]]
) -> tuple[Miss, ...]:
    """Count ``records`` per ``(name, arch, pid, comm, phase)``; phases from ``boundaries``.

    Records without a syscall name or arch are left out. Sorted by name, pid, phase, comm.
    """
    order = {p: i for i, p in enumerate(Phase)}
    counts: Counter[tuple[str, str, int, str | None, Phase]] = Counter()
    for r in records:
        if r.name is None or r.arch is None:
            continue
        counts[(r.name, r.arch, r.pid, r.comm, _phase_at(r.timestamp, boundaries))] += 1
    keys = sorted(counts, key=lambda k: (k[0], k[2], order[k[4]], k[3] or "", k[1]))
    return tuple(
        Miss(n, a, pid, comm, ph, counts[(n, a, pid, comm, ph)]) for n, a, pid, comm, ph in keys
    )


def _session_id(pid: int) -> int | None:
    """Field 6 of ``/proc/PID/stat`` (proc(5)), or None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[3]) if len(fields) > 3 else None


class _DeltaProcesses(HostProcesses):
    """The target and its :class:`MissFeed`. The launcher (``seccompgen.enforce --fork``)
    starts in a new session and forks the target, which waits on the ``fifo`` (the gate of
    :class:`HostProcesses`) until the feed knows its pid, then loads the filter and execs the
    program; the launcher stays the session leader, so the target may call setsid(2) itself."""

    def __init__(self, output: Path, fifo: Path) -> None:
        super().__init__(fifo)
        # A process of the run that was not seen being forked still belongs to it when it is
        # in the launcher's session (started with setsid(2): the session id is its pid).
        self.feed = MissFeed(
            output,
            lambda pid: self.strace is not None and _session_id(pid) == self.strace.pid,
        )

    @property
    def pid(self) -> int | None:
        """The target's pid (the launcher's child, which execs the program)."""
        return self.target

    # -------------------------------------------------------------------- ProcessSide

    def start(self, cmd: Sequence[str], request: TraceRequest, stack: contextlib.ExitStack) -> None:
        self.feed.open(stack)
        super().start(cmd, request, stack)

    def environment(self, request: TraceRequest) -> dict[str, str] | None:
        # The launcher execs the program with this environment unchanged (execv keeps it), so
        # nothing is added: the interpreter finds seccompgen in its own site-packages.
        return base_env(request)

    def arm(self, pid: int) -> None:
        # The feed knows the target before it loads the filter and runs the program.
        assert self.strace is not None
        self.feed.start(self.strace.pid, pid)

    def target_alive(self, pid: int) -> bool:
        return self.strace is not None and self.strace.poll() is None

    def tracees_running(self) -> bool:
        return self.strace is not None and bool(session_members(self.strace.pid))

    def kill_tracees(self) -> None:
        if self.strace is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.strace.pid, signal.SIGKILL)

    def kill_tracer(self) -> None:
        self.kill_tracees()

    def kill_all(self) -> None:
        self.kill_tracees()
        if self.strace is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.strace.wait(timeout=_REAP_TIMEOUT)
        self.feed.stop()

    def sweep(self) -> None:
        """End what the target left in its session, then collect the last records."""
        if self.strace is not None:
            for pid in session_members(self.strace.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        # kauditd sends records from its own thread: the last calls' records may still be on
        # their way when the target has been reaped.
        time.sleep(SETTLE)
        self.feed.stop()
