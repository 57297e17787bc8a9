"""Streaming parser for strace(1) text output: lines in, :mod:`seccompgen.events` out.

Input is what ``strace -f`` prints (:func:`parse_strace`), or the files of one
``strace -ff -o PREFIX`` run (:func:`parse_strace_ff`), with any of the timestamp options
``-ttt`` / ``-tt`` / ``-t`` / ``-r``, with or without ``-T``, ``-y``/``-yy``, ``-Y``, ``-k``,
any ``-X`` style and ``-s`` length, written to stderr or with ``-o FILE``, by strace 5.x or 6.x
(the shapes, recorded: tests/data/strace-shapes/README.md).

Recognised lines (strace(1), section "DESCRIPTION"):

* ``NAME(ARGS) = RET [ERRNO (text)] [(decoration)] [<seconds>]`` -> :class:`SyscallEvent`
* ``NAME(ARGS <unfinished ...>`` then ``<... NAME resumed>ARGS) = RET`` (``-f``, another thread
  printed in between): one event, emitted when the call resumes, with the arguments of both
  halves and the *start* line's timestamp.
* ``NAME(ARGS <detached ...>``: the call was in progress when strace detached; emitted with
  ``ret=None``.
* ``NAME(ARGS <pid changed to L ...>``, later ``+++ superseded by execve in pid T +++`` and
  ``<... NAME resumed>`` under pid L: an execve(2) by thread T, which takes the pid of its
  leader L; one event, as for ``<unfinished ...>``.
* `` > lib(fn+0x10) [0x...]`` (``-k``): a stack frame of the call above; skipped.
* ``--- SIGxxx {...} ---`` -> :class:`SignalEvent`; ``--- stopped by SIGSTOP ---`` is skipped.
* ``+++ exited with N +++`` / ``+++ killed by SIGxxx [(core dumped)] +++`` -> :class:`ExitEvent`.
* ``[ Process PID=N runs in 32 bit mode. ]`` (also ``64 bit`` and ``x32``): thread N and the
  threads and processes it creates from then on have arch ``x86`` / ``x86_64`` / ``x32``.
* ``NAME`` ``???`` (``???( <unfinished ...>``, ``<... ??? resumed>...``): a call strace could not
  name (it prints ``???`` when it cannot read which call a stopped thread is in; seen as Go
  programs exit under ``-f``).  A name-less call cannot go into a profile: such lines are
  skipped (counted in ``ParseStats.skipped``, one warning naming the first).
* ``strace: ...`` diagnostics (``Process N attached``, ``detached``, others) are skipped. On
  stderr strace may print one in the middle of a call's line; the call then continues on the
  next line, and the two halves are joined.

Pids.  ``[pid  N] `` (stderr) and ``N  `` (``-o FILE``) prefixes give the *thread* id (with
``-Y``: ``[pid  N<comm>] `` and ``N<comm> ``).  A line
without a prefix (a single traced process, the first lines of ``-f`` on stderr, or a ``-ff``
file) belongs to ``default_pid`` (the pid of a ``-ff`` file, see :func:`ff_pid`), or to pid 0
when that is not given.  Thread groups are tracked from the clone family: when ``clone``,
``clone3``, ``fork`` or ``vfork`` returns N in thread T and the flags contain ``CLONE_THREAD``
(0x10000, clone(2)), N joins T's thread group, otherwise N leads a new one.  A thread seen
before its creator's call returned is put in the creator's group when exactly one
``CLONE_THREAD`` clone is in progress, else in its own group until the call returns.

Timestamps.  ``-ttt`` gives seconds since the epoch; ``-tt``/``-t`` give seconds since
midnight (a jump back of more than 12 hours is taken as the next day); ``-r`` gives the
time since the previous line, summed here into seconds since the first line.  Which one is
decided at the first timestamp: a plain number below 1e8 is relative.

Phases.  ``boundaries`` is a sorted sequence of ``(timestamp, Phase)``: an event whose
timestamp is ``>=`` a boundary's is in that boundary's phase (before the first one:
``STARTUP``; an event without a timestamp keeps the phase of the event before it).  With no
boundaries, events are ``STARTUP`` until the first ``SIGTERM`` or ``SIGINT`` signal event,
which and everything after it (in output order) is ``SHUTDOWN``.

Calls still unfinished when the input ends, or when their thread exits, are emitted then with
``ret=None``: the kernel saw them, so a profile must allow them.

Bad input raises :class:`seccompgen.errors.ParseError` naming the line, and nothing else does.

A cut-short last line.  strace ends every line it writes with a newline, so when the input's
lines keep their newlines (a file, or a list in which one line ends in a newline), a *last*
line without one is a line strace never finished writing (it was killed, or its disk filled
up).  That line is left out whatever it holds, with a warning naming it, and
``ParseStats.truncated_last_line`` is set; every event before it is kept.  It is left out even
when it happens to read as a complete line, because a cut can make one: ``= 32`` cut after
``= 3``, ``ENOENT`` after ``ENO``, ``exited with 13`` after ``exited with 1``.  Lines given
without newlines (``str.splitlines()``) cannot show a cut: each of them must parse.

Size: this module stays one piece because ``_parse`` is one generator: its per-line loop, the
closures sharing its state (calls in progress, the thread table, the phase window, the clock),
and the line grammar and event-building fast path that loop uses belong together, and splitting
the loop would add a function call per line on the hot path (``benchmarks/parser`` measures it).
What is separable lives beside it: the ``-ff`` input in :mod:`~seccompgen.parsing.strace_ff`,
timestamps, return values and clone flags in :mod:`~seccompgen.parsing.strace_values`, and
argument decoding in :mod:`~seccompgen.parsing._args`.
"""

from __future__ import annotations

import io
import os
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from types import ModuleType
from typing import cast

from seccompgen.errors import ParseError
from seccompgen.events import Event, ExitEvent, Phase, SignalEvent, SyscallEvent
from seccompgen.parsing._args import ArgTuple, parse_args
from seccompgen.parsing.strace_ff import (
    Cut,
    FfMerge,
    LogFile,
    Marker,
    Switch,
    ends_line,
    ff_pid,
    merge_by_time,
)
from seccompgen.parsing.strace_values import Clock, clone_flags_thread, ret_value, seconds

__all__ = [
    "LogFile",
    "ParseStats",
    "ThreadTable",
    "ff_pid",
    "merge_by_time",
    "parse_strace",
    "parse_strace_ff",
]

ThreadTable = dict[str, tuple[int, int, str]]
"""What is known about each thread: ``str(tid) -> (tid, thread-group id, arch)``.

Keyed by the decimal text strace prints, so the hot path needs no ``int()``.  Pass one table
to several :func:`parse_strace` calls (the files of one ``strace -ff`` run) to share it.
"""


@dataclass(slots=True)
class ParseStats:
    """Counters filled while parsing; final once the event iterator is exhausted or closed."""

    lines: int = 0
    syscalls: int = 0
    signals: int = 0
    exits: int = 0
    skipped: int = 0
    truncated_last_line: bool = False
    warnings: list[str] = field(default_factory=list)


# --- line grammar -------------------------------------------------------------------------
# The hot path: one regex for a complete call, optionally a resumed one.  Groups:
#   1 pid in "[pid  N] " (stderr), 2 bare pid "N  " (-o FILE), 3 timestamp, 4 name,
#   5 name of "<... NAME resumed>", 6 arguments, 7 return value, 8 errno.
# ARGS is greedy, so the *last* ") = " on the line ends it: strace prints the return value
# after everything else, and only the errno text, ``(decoration)`` and ``<-T time>`` follow.
# With -Y (--decode-pids=comm, strace 5.15+) the pid carries the thread's command name:
# "[pid  N<comm>] " and "N<comm> ".
_PREFIX = r"(?:\[pid +(\d+)(?:<[^>\n]*>)?\] |(\d+)(?:<[^>\n]*>)? +)? *(?:(\d[\d.:]*) +)?"
_RET = r" += (0x[0-9a-f]+|-?\d+|\?)(?: (E[A-Z0-9_]+))?"
_CALL = re.compile(
    _PREFIX + r"(?:([a-z_][a-z0-9_]*)\(|<\.\.\. ([a-z_][a-z0-9_]*) resumed>)(.*)\)" + _RET
)

# The second most common line under -f: a call start another thread's output interrupted.
_START = re.compile(_PREFIX + r"([a-z_][a-z0-9_]*)\((.*) ?<unfinished \.\.\.>\n?$")
_HEAD = re.compile(_PREFIX + r"(.*?)\s*$")
# "<pid changed to N ...>" ends the start of an execve(2) made by a non-leader thread under -ff
# (or when another thread printed in between); it resumes as "<... execve resumed>" under pid N,
# the leader's, after "+++ superseded by execve in pid T +++" (strace src/strace.c,
# maybe_switch_tcbs; execve(2): the calling thread takes the thread group leader's pid).
_UNFINISHED = re.compile(
    r"([a-z_][a-z0-9_]*)\((.*) ?<(unfinished|detached|pid changed to \d+) \.\.\.>$"
)
# A call cut off by its thread's exit (another thread's exit_group): "... <unfinished ...>) = ?"
_CUT_OFF = re.compile(
    r"(?:<\.\.\. ([a-z_][a-z0-9_]*) resumed>|([a-z_][a-z0-9_]*)\()(.*?) ?<unfinished \.\.\.>\)"
    + _RET
)
_RESUMED_DETACHED = re.compile(r"<\.\.\. ([a-z_][a-z0-9_]*) resumed>(.*) ?<detached \.\.\.>$")
_SIGNAL = re.compile(r"--- (SIG[A-Z0-9+-]+|SIGRT_\d+|\w+) \{.*\} ---$")
_STOPPED = re.compile(r"--- stopped by (\w+) ---$")
_EXITED = re.compile(r"\+\+\+ exited with (\d+) \+\+\+$")
_KILLED = re.compile(r"\+\+\+ killed by (\w+)(?: \(core dumped\))? \+\+\+$")
_SUPERSEDED = re.compile(r"\+\+\+ superseded by execve in pid (\d+) \+\+\+$")
# strace -k: the stack of the call printed above, one frame a line (" > lib(fn+0x10) [0x...]").
_FRAME = re.compile(r"> ")
_PERSONALITY = re.compile(r"\[ Process PID=(\d+) runs in (64 bit|32 bit|x32) mode\. \]$")
# strace's own messages start with its argv[0] ("strace", "/usr/bin/strace").
_DIAG = re.compile(r"(?:/[\w.+-]+)*/?strace: ")
# On stderr a diagnostic can land inside a call's line (strace(1): output is not buffered);
# the path of argv[0] before "strace:" is not part of the call.
_SPLICED = re.compile(r"(.*?)((?:/[\w.+-]+)*/?strace: Process \d+ (?:attached|detached).*)$")

_PERSONALITY_ARCH = {"64 bit": "x86_64", "32 bit": "x86", "x32": "x32"}
_CLONES = frozenset({"clone", "clone3", "fork", "vfork"})
_SHUTDOWN_SIGNALS = frozenset({"SIGTERM", "SIGINT"})
_ARGS_CACHE_MAX = 1 << 16
# The fast path (see parse_strace) reads what follows "= " with this, the same pattern as _RET.
_RET_TAIL = re.compile(r"(0x[0-9a-f]+|-?\d+|\?)(?: (E[A-Z0-9_]+))?")
_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_TS_CHARS = "0123456789."
_TAIL_CACHE_MAX = 1 << 12
_NAME_CACHE_MAX = 1 << 12
_UNFINISHED_NL = "<unfinished ...>\n"
# A call strace could not name: it prints "???" when it cannot tell which system call a
# stopped thread is in (strace src/syscall.c; seen as a Go program exits under -f).
_UNKNOWN_CALL = re.compile(r"\?\?\?\(|<\.\.\. \?\?\? resumed>")
_MAX_WARNINGS = 100
_EXPECTED = (
    "not strace output: expected 'NAME(args) = RET', '--- SIGNAL {...} ---' or "
    "'+++ exited with N +++', optionally after a pid and a timestamp"
)
_HINT = "give the text strace writes with -o FILE (or to stderr), one call per line"

# Building frozen slotted dataclasses through their generated __init__ costs one
# object.__setattr__ call per field.  The hot path instead fills an instance of a plain slotted
# class with the very same slots (ordinary attribute stores, which CPython specialises for
# slots) and then assigns ``__class__``: Python allows that between classes whose instance
# layouts are identical (same base, same ``__slots__``; "Customizing class creation" in the
# language reference, ``__class__`` assignment).  The result is an ordinary SyscallEvent, frozen
# from then on.  The slot descriptors' ``__set__`` (the same store, but one call per field) is
# the slower fallback used for rare lines.
_new = object.__new__
_S = [SyscallEvent.__dict__[f].__set__ for f in SyscallEvent.__slots__]
_SLOTS_IN_ORDER = ("name", "arch", "pid", "tid", "ret", "errno", "timestamp", "args", "phase")
assert tuple(SyscallEvent.__slots__) == _SLOTS_IN_ORDER, "SyscallEvent fields changed"
_set_name, _set_arch, _set_pid, _set_tid, _set_ret, _set_errno, _set_ts, _set_args, _set_ph = _S


class _EventBuilder:
    """Same slots as :class:`SyscallEvent`, mutable; see the comment above."""

    __slots__ = _SLOTS_IN_ORDER
    name: str
    arch: str
    pid: int
    tid: int
    ret: int | None
    errno: str | None
    timestamp: float | None
    args: ArgTuple
    phase: Phase


def _builder_works() -> bool:
    """Whether ``__class__`` assignment turns a builder into an equal SyscallEvent here."""
    b = _new(_EventBuilder)
    b.name, b.arch, b.pid, b.tid, b.ret, b.errno = "read", "x86_64", 1, 2, 3, None
    b.timestamp, b.args, b.phase = 1.5, (4, None), Phase.EXERCISE
    try:
        b.__class__ = SyscallEvent  # type: ignore[assignment]
    except TypeError:  # pragma: no cover - another Python's layout rules
        return False
    ev: object = b
    return ev == SyscallEvent("read", "x86_64", 1, 2, 3, None, 1.5, (4, None), Phase.EXERCISE)


_BUILDER_WORKS = _builder_works()
_FAST_PATH = True  # tests turn it off to compare with the regular-expression path

# The compiled line scanner (seccompgen/_speedups.c), when the extension was built and
# SECCOMPGEN_PURE is unset (or "0").  It takes the lines the fast path below would take, with
# the same results, and declines every other line; see the module docstring.
_speedups: ModuleType | None
try:
    from seccompgen import _speedups
except ImportError:  # built without a C compiler: the pure-Python path does everything
    _speedups = None
_COMPILED = _speedups is not None and os.environ.get("SECCOMPGEN_PURE", "") in ("", "0")
_BATCH = 4096  # lines read per batch; the scanner runs over a batch, so memory stays bounded


def _syscall_event(
    name: str,
    arch: str,
    pid: int,
    tid: int,
    ret: int | None,
    errno: str | None,
    timestamp: float | None,
    args: ArgTuple,
    phase: Phase,
) -> SyscallEvent:
    ev: SyscallEvent = _new(SyscallEvent)
    _set_name(ev, name)
    _set_arch(ev, arch)
    _set_pid(ev, pid)
    _set_tid(ev, tid)
    _set_ret(ev, ret)
    _set_errno(ev, errno)
    _set_ts(ev, timestamp)
    _set_args(ev, args)
    _set_ph(ev, phase)
    return ev


_INF = float("inf")


def parse_strace_ff(
    files: Sequence[LogFile],
    *,
    arch: str = "x86_64",
    boundaries: Sequence[tuple[float, Phase]] = (),
    stats: ParseStats | None = None,
    threads: ThreadTable | None = None,
) -> Iterator[Event]:
    """Parse the files of one ``strace -ff`` run (``PREFIX.PID``, one per thread) as one trace.

    With ``-ff`` each file holds the lines of one thread, and its lines carry no pid.  A call
    never continues in another thread's file, with one exception: an execve(2) made by a
    thread other than the leader starts in that thread's file (``execve(... <pid changed to
    L ...>``) and ends in the leader's (``+++ superseded by execve in pid T +++`` then ``<...
    execve resumed>) = 0``), because the thread takes the leader's pid.  Thread groups come from
    the clone calls in the creators' files.  So the files are parsed as one input, with one
    thread table, one table of calls in progress and one phase: their lines are merged by
    timestamp when every file has absolute ones (``-t``, ``-tt``, ``-ttt``; the order
    strace's own ``strace-log-merge`` gives), and read one file after another in pid order
    otherwise (``-r`` or no timestamps: no order across files can be known; the
    first-SIGTERM phase rule then applies per file).  Each file's cut-short last line (a killed
    strace leaves one in every file whose thread was inside a call) is left out with a warning,
    as in :func:`parse_strace`; messages name the file and its own line number.
    """
    ordered = sorted(files, key=lambda f: f.pid)
    merged = FfMerge(ordered)
    return _parse(
        merged,
        [(f.source, f.pid) for f in ordered],
        arch=arch,
        boundaries=boundaries,
        stats=stats,
        threads=threads,
        read_ahead=True,
        file_input=False,  # FfMerge marks each file's cut-short last line itself
        phase_per_file=not merged.timed,
    )


def parse_strace(
    lines: Iterable[str],
    *,
    source: str = "<input>",
    arch: str = "x86_64",
    boundaries: Sequence[tuple[float, Phase]] = (),
    default_pid: int | None = None,
    stats: ParseStats | None = None,
    threads: ThreadTable | None = None,
) -> Iterator[Event]:
    """Parse strace text lines into events, lazily, in output order.

    ``source`` names the input in errors; ``arch`` is the arch of processes with no
    personality switch; ``boundaries`` assigns phases (see the module docstring);
    ``default_pid`` is the pid of lines without a pid prefix (0 when None); ``stats``, when
    given, receives the counters; ``threads`` may be shared between parses.  For the files of
    one ``strace -ff`` run use :func:`parse_strace_ff`, which also shares pending calls, phases
    and time order across the files.
    Raises :class:`ParseError` on a line that is not strace output.
    """
    return _parse(
        lines,
        [(source, default_pid)],
        arch=arch,
        boundaries=boundaries,
        stats=stats,
        threads=threads,
        read_ahead=isinstance(lines, (list, tuple, io.IOBase)),
        file_input=isinstance(lines, io.IOBase),
    )


def _parse(
    lines: Iterable[str | Marker],
    files: Sequence[tuple[str, int | None]],
    *,
    arch: str,
    boundaries: Sequence[tuple[float, Phase]],
    stats: ParseStats | None,
    threads: ThreadTable | None,
    read_ahead: bool,
    file_input: bool,
    phase_per_file: bool = False,
) -> Iterator[Event]:
    """The parser behind :func:`parse_strace` and :func:`parse_strace_ff`.

    ``lines`` holds the lines of ``files`` (source name, pid of unprefixed lines); with more
    than one file a :class:`~seccompgen.parsing.strace_ff.Switch` marker precedes the lines of
    the file they come from, and a :class:`~seccompgen.parsing.strace_ff.Cut` marker stands for a
    file's cut-short last line.  ``read_ahead`` allows reading lines in batches (the input is
    all there); ``file_input`` says the lines keep their newlines, so a last line without one was
    cut short; ``phase_per_file`` keeps the shutdown-by-signal phase per file (files read one
    after another, without timestamps).
    """
    st = stats if stats is not None else ParseStats()
    fast_allowed = _BUILDER_WORKS and _FAST_PATH
    table: ThreadTable = threads if threads is not None else {}
    source, default_pid = files[0]
    dkey = str(default_pid if default_pid is not None else 0)
    clock = Clock()
    # Per file (one, or the files of one -ff run): its clock, lines read so far and, with
    # phase_per_file, its (phase, shutdown_by_signal).
    f_clock = [clock] + [Clock() for _ in files[1:]]
    f_lines = [0] * len(files)
    f_phase: list[tuple[Phase, bool]] = []
    current = 0
    args_cache: dict[str, ArgTuple] = {}
    # tid key -> (name, args text, timestamp) of a call printed "<unfinished ...>"
    pending: dict[str, tuple[str, str, float | None]] = {}
    bound_ts = [b[0] for b in boundaries]
    bound_ph = [b[1] for b in boundaries]
    phase = Phase.STARTUP
    # [lo, hi) is the time window in which ``phase`` holds; without boundaries it is forever.
    lo = float("-inf")
    hi = bound_ts[0] if bound_ts else float("inf")
    shutdown_by_signal = not bound_ts

    n_lines = n_sys = n_sig = n_exit = n_skip = 0
    carry: str | None = None
    alias_free = (
        [True] if default_pid is None else []
    )  # the unprefixed-process alias is still to be found
    line = ""
    match = _CALL.match
    start_match = _START.match
    cache_get = args_cache.get
    table_get = table.get
    unfinished_marker = "<unfinished ...>"
    # Memo tables of the fast path, bounded like args_cache so memory stays flat.
    tail_cache: dict[str, tuple[int | None, str | None]] = {}
    tail_get = tail_cache.get
    names: dict[str, bool] = {}
    names_get = names.get
    # The fast path reads "PID TS ..." lines (strace -f -o FILE with -ttt); it is on once the
    # first timestamp shows -ttt and while no line is being joined (``carry``).
    fast = False
    n_unknown = 0
    ts: float | None
    first_unknown = ""
    new_event = _new
    builder = _EventBuilder
    event_class = SyscallEvent

    def warn(message: str, where: str | None = None) -> None:
        """Keep a warning about the current line, or the one ``where`` ("source:line") names."""
        if len(st.warnings) < _MAX_WARNINGS:
            st.warnings.append(f"{where or f'{source}:{n_lines}'}: {message}")
        elif len(st.warnings) == _MAX_WARNINGS:
            st.warnings.append(f"{source}: further warnings not shown")

    def thread(key: str) -> tuple[int, int, str]:
        """Table entry for a thread seen for the first time."""
        tid = int(key)
        group = tid
        tarch = arch
        threading_clones = [
            k for k, (nm, a, _t) in pending.items() if nm in _CLONES and clone_flags_thread(a)
        ]
        if len(threading_clones) == 1:
            parent = table.get(threading_clones[0])
            if parent is not None:
                group, tarch = parent[1], parent[2]
        elif alias_free and key != dkey and dkey in table:
            # strace -f on stderr omits "[pid N] " while only one process is traced, and adds
            # it from the first clone on; the first prefixed thread that no clone announced
            # is that process, so it keeps the group its unprefixed lines had.
            alias_free.clear()
            parent = table[dkey]
            group, tarch = parent[1], parent[2]
        info = (tid, group, tarch)
        table[key] = info
        return info

    def orphan(key: str, name: str) -> tuple[str, str, float | None] | None:
        """The start of a call thread ``key`` resumes without one of its own, or None.

        On stderr, strace prints no "[pid N] " while it traces one process; a call that process
        started unprefixed may resume prefixed once a clone made strace print pids (the clone
        call itself, typically): that start is taken, and the prefix becomes the process's.
        """
        if alias_free and key != dkey:
            start = pending.get(dkey)
            if start is not None and start[0] == name:
                del pending[dkey]
                alias_free.clear()
                parent = table.get(dkey)
                if parent is not None:
                    table[key] = (int(key), parent[1], parent[2])
                return start
        warn(f"{name} resumed without a start")
        return None

    def phase_at(ts: float | None) -> Phase:
        nonlocal lo, hi, phase
        if ts is None or lo <= ts < hi:
            return phase
        i = bisect_right(bound_ts, ts)
        phase = bound_ph[i - 1] if i > 0 else Phase.STARTUP
        lo = bound_ts[i - 1] if i > 0 else float("-inf")
        hi = bound_ts[i] if i < len(bound_ts) else float("inf")
        return phase

    def args_of(text: str) -> ArgTuple:
        a = cache_get(text)
        if a is None:
            a = parse_args(text)
            if len(args_cache) >= _ARGS_CACHE_MAX:
                args_cache.clear()  # keep memory flat on traces with endless distinct pointers
            args_cache[text] = a
        return a

    def note_clone(info: tuple[int, int, str], name: str, args_text: str, ret: int | None) -> None:
        if ret is None or ret <= 0:
            return
        if name in ("clone", "clone3") and clone_flags_thread(args_text):
            table[str(ret)] = (ret, info[1], info[2])
        else:
            table[str(ret)] = (ret, ret, info[2])

    def timestamp(text: str | None) -> float | None:
        nonlocal fast
        if text is None:
            return None
        if not clock.mode:
            fast = clock.first(text) == "epoch" and fast_allowed and carry is None
        if clock.mode == "epoch":
            return seconds(text)
        return clock.convert(text)

    def flush(key: str, info: tuple[int, int, str]) -> Iterator[Event]:
        """Emit a call of thread ``key`` that will never resume."""
        nonlocal n_sys
        start = pending.pop(key, None)
        if start is not None:
            n_sys += 1
            ts = start[2]
            yield _syscall_event(
                start[0], info[2], info[1], info[0], None, None, ts, args_of(start[1]), phase_at(ts)
            )

    # Lines are read in batches so the compiled scanner can take runs of them in one call.
    # A read error (an undecodable byte) is kept until the lines read before it are parsed,
    # so events and the line number in the error are what line-by-line reading gives.
    scan = _speedups.scan if _speedups is not None and _COMPILED else None
    # Only input that is all there (a list, an open file) is read ahead: a generator may be a
    # live tail of a running strace's output (the strace backend), where waiting for a full
    # batch would hold back events the tracer needs now (the target's first execve, phases).
    batch_size = _BATCH if read_ahead else 1
    # Markers (-ff input) travel with the lines; the code below tells them apart by class.
    source_lines: Iterator[str] = iter(cast(Iterable[str], lines))
    # Whether the lines keep their newlines (a file's do; so do a list's once one is seen
    # ending in one): then a last line without one was cut short.
    keeps_newlines = file_input
    batch: list[str] = []
    read_error: Exception | None = None
    bi = n_batch = 0
    out: list[Event] = []

    try:
        while True:
            if bi >= n_batch:
                if read_error is not None:
                    raise read_error
                batch = []
                try:
                    batch.extend(islice(source_lines, batch_size))
                except Exception as exc:
                    read_error = exc
                bi, n_batch = 0, len(batch)
                if not n_batch:
                    if read_error is not None:
                        raise read_error
                    break
                last = batch[-1]
                if last.__class__ is str and not last.endswith("\n"):
                    final = n_batch < batch_size  # islice stopped early: the input ended
                    if not final and read_error is None:  # a full batch: look one line ahead
                        try:
                            following = next(source_lines, None)
                        except Exception as exc:
                            read_error = exc
                        else:
                            final = following is None
                            if following is not None:
                                source_lines = chain((following,), source_lines)
                    before = batch[-2] if n_batch > 1 else None
                    if before is not None:
                        keeps_newlines = keeps_newlines or ends_line(before)
                    if final and read_error is None and keeps_newlines:
                        # strace ends every line with a newline; see the module docstring
                        batch[-1] = cast(str, Cut(last))
                keeps_newlines = keeps_newlines or ends_line(batch[-1])
            if scan is not None and fast:
                # The compiled scanner takes what it can prove the fast path below would
                # take, and stops at the first line it declines; that line goes on below.
                j = scan(batch, bi, out, table, pending, lo, hi, phase)
                if j > bi:
                    n_lines += j - bi
                    bi = j
                    if out:
                        n_sys += len(out)
                        yield from out
                        out.clear()
                    if bi >= n_batch:
                        continue
            line = batch[bi]
            bi += 1
            n_lines += 1
            # --- fast path: "PID TS NAME(ARGS) = RET...", "PID TS <... NAME resumed>ARGS) = RET..."
            # and "PID TS NAME(ARGS <unfinished ...>", read with str methods.  It takes a line
            # only when every check below shows that the regular expressions further down
            # would match it with the same groups; any other line falls through to them.
            if fast and line.__class__ is str and line.isascii() and line.find("\n", 0, -1) < 0:
                try:
                    key, ts_text, rest = line.split(" ", 2)
                except ValueError:
                    rest = ""
                else:
                    if not ts_text:  # strace pads the pid to five columns ("%-5u ")
                        ts_text, _, rest = rest.lstrip(" ").partition(" ")
                if (
                    rest
                    and key.isdigit()
                    and ts_text
                    and len(ts_text) < 64  # as the compiled scanner: longer is left to seconds
                    and not ts_text.strip(_TS_CHARS)
                    and ts_text[0] != "."
                ):
                    if rest.endswith(_UNFINISHED_NL):
                        name, paren, args_text = rest.partition("(")
                        valid = names_get(name)
                        if valid is None:
                            if len(names) >= _NAME_CACHE_MAX:
                                names.clear()
                            valid = names[name] = _NAME.fullmatch(name) is not None
                        if paren and valid:
                            # as _START: the call starts here and resumes later
                            info = table_get(key)
                            if info is None:
                                info = thread(key)
                            if key in pending:  # a start without its resume: keep it
                                yield from flush(key, info)
                            pending[key] = (name, args_text[:-17], float(ts_text))
                            continue
                    elif unfinished_marker not in rest:
                        if rest.startswith("<... "):
                            e = rest.find(" resumed>", 5)
                            name = rest[5:e] if e > 5 else ""
                            astart = e + 9
                        else:
                            e = rest.find("(")
                            name = rest[:e] if e > 0 else ""
                            astart = e + 1
                        valid = names_get(name)
                        if valid is None:
                            if len(names) >= _NAME_CACHE_MAX:
                                names.clear()
                            valid = names[name] = _NAME.fullmatch(name) is not None
                        # _CALL's greedy "(.*)\) +=" ends the arguments at the last " = "
                        # that follows ")" and spaces: the last " = " on the line, if valid.
                        q = rest.rfind(" = ")
                        p = q - 1
                        while p >= astart and rest[p] == " ":
                            p -= 1
                        if valid and p >= astart and rest[p] == ")":
                            # the timestamp before the return value, as below, so that bad
                            # input fails with the same message on both paths
                            ts = float(ts_text)
                            tail = rest[q + 3 :]
                            rv = tail_get(tail)
                            if rv is None:
                                rm = _RET_TAIL.match(tail)
                                if rm is not None:
                                    ret_text, errno_text = rm.groups()
                                    rv = (ret_value(ret_text), errno_text)
                                    if len(tail_cache) >= _TAIL_CACHE_MAX:
                                        tail_cache.clear()
                                    tail_cache[tail] = rv
                            if rv is not None:
                                args_text = rest[astart:p]
                                info = table_get(key)
                                if info is None:
                                    info = thread(key)
                                if astart > e + 1:  # "<... NAME resumed>"
                                    start = pending.pop(key, None)
                                    if start is None or start[0] != name:
                                        start = orphan(key, name)
                                    if start is not None:
                                        args_text = start[1] + args_text
                                        ts = start[2]
                                a = cache_get(args_text)
                                if a is None:
                                    a = args_of(args_text)
                                if ts is not None and not lo <= ts < hi:
                                    phase_at(ts)
                                n_sys += 1
                                b = new_event(builder)
                                b.name = name
                                b.arch = info[2]
                                b.pid = info[1]
                                b.tid = info[0]
                                b.ret = rv[0]
                                b.errno = rv[1]
                                b.timestamp = ts
                                b.args = a
                                b.phase = phase
                                b.__class__ = event_class  # type: ignore[assignment]
                                yield b  # type: ignore[misc]
                                if name in _CLONES:
                                    note_clone(info, name, args_text, rv[0])
                                continue

            if line.__class__ is not str:
                item = cast(Marker, line)
                if isinstance(item, Switch):  # the next lines come from another -ff file
                    n_lines -= 1
                    f_lines[current] = n_lines
                    f_clock[current] = clock
                    if phase_per_file:
                        while len(f_phase) < len(files):
                            f_phase.append((Phase.STARTUP, not bound_ts))
                        f_phase[current] = (phase, shutdown_by_signal)
                    current = item.index
                    source, pid_of_file = files[current]
                    dkey = str(pid_of_file if pid_of_file is not None else 0)
                    n_lines = f_lines[current]
                    clock = f_clock[current]
                    if phase_per_file:
                        phase, shutdown_by_signal = f_phase[current]
                    fast = fast_allowed and clock.mode == "epoch" and carry is None
                    continue
                # Cut: strace ends every line with a newline, so a last line without one is
                # a line it did not finish writing (killed, or its disk full).  Left out
                # whatever it holds: cut short, "= 32" reads as "= 3" and "ENOENT" as "ENO".
                text = cast(Cut, item).text
                st.truncated_last_line = True
                shown = text if len(text) <= 60 else text[:57] + "..."
                warn(f"last line cut short (no newline at its end), left out: {shown!r}")
                continue
            if carry is not None:
                line = carry + line
                carry = None
                fast = fast_allowed and clock.mode == "epoch"
            m = match(line)
            if m is not None and unfinished_marker not in line:
                # --- hot path: a complete (or resumed) call --------------------------------
                p1, p2, ts_text, name, rname, args_text, ret_text, errno = m.groups()
                key = p1 or p2 or dkey
                info = table_get(key)
                if info is None:
                    info = thread(key)
                if ts_text is None:
                    ts = None
                elif clock.mode == "epoch":
                    ts = float(ts_text)
                else:
                    ts = timestamp(ts_text)
                if name is None:  # "<... NAME resumed>"
                    name = rname
                    start = pending.pop(key, None)
                    if start is None or start[0] != name:
                        start = orphan(key, name)
                    if start is not None:
                        args_text = start[1] + args_text
                        ts = start[2]  # the resumed line's own time is not used
                if ts == _INF:
                    seconds(ts_text or "")  # raises: the time is used, and it is out of range
                a = cache_get(args_text)
                if a is None:
                    a = args_of(args_text)
                ret = ret_value(ret_text)
                if ts is not None and not lo <= ts < hi:
                    phase_at(ts)
                n_sys += 1
                ev = _new(SyscallEvent)
                _set_name(ev, name)
                _set_arch(ev, info[2])
                _set_pid(ev, info[1])
                _set_tid(ev, info[0])
                _set_ret(ev, ret)
                _set_errno(ev, errno)
                _set_ts(ev, ts)
                _set_args(ev, a)
                _set_ph(ev, phase)
                yield ev
                if name in _CLONES:
                    note_clone(info, name, args_text, ret)
                continue

            um = start_match(line)
            if um is not None:  # "NAME(ARGS <unfinished ...>": remember it until it resumes
                p1, p2, ts_text, name, args_text = um.groups()
                key = p1 or p2 or dkey
                info = table_get(key)
                if info is None:
                    info = thread(key)
                if key in pending:  # a start without its resume: keep it
                    yield from flush(key, info)
                pending[key] = (name, args_text, timestamp(ts_text))
                continue

            # --- everything else --------------------------------------------------------
            text = line.rstrip("\n")
            if not text.strip():
                n_skip += 1
                continue
            if _DIAG.match(text):
                n_skip += 1
                continue
            spliced = _SPLICED.match(text) if "strace: Process" in text else None
            if spliced is not None and spliced.group(1):
                # "...CLONE_SETTLS/usr/bin/strace: Process 8092 attached" + next line ", tls=...)"
                carry = spliced.group(1)
                fast = False
                n_skip += 1
                continue
            head = _HEAD.match(text)
            if head is None:  # pragma: no cover - _HEAD matches any line
                raise ParseError(_EXPECTED, source=source, line=n_lines, hint=_HINT)
            p1, p2, ts_text, body = head.groups()
            key = p1 or p2 or dkey
            if _UNKNOWN_CALL.match(body):
                # "???( <unfinished ...>" / "<... ??? resumed>": no name to put in a profile.
                # Skipped whole, so a call of this thread still pending stays pending.
                n_skip += 1
                n_unknown += 1
                first_unknown = first_unknown or f"{source}:{n_lines}"
                continue
            info = table_get(key)
            ts = timestamp(ts_text)
            um = _UNFINISHED.match(body)
            if um is not None:
                if info is None:
                    info = thread(key)
                name, args_text, how = um.groups()
                yield from flush(key, info)  # a start without its resume: keep it
                if how != "detached":  # "unfinished", or "pid changed to N" (see _SUPERSEDED)
                    pending[key] = (name, args_text, ts)
                else:  # strace detached while the call was in progress
                    n_sys += 1
                    yield _syscall_event(
                        name, info[2], info[1], info[0], None, None, ts, args_of(args_text),
                        phase_at(ts),
                    )  # fmt: skip
                continue
            rm = _CUT_OFF.match(body) or _RESUMED_DETACHED.match(body)
            if rm is not None:
                if info is None:
                    info = thread(key)
                name = rm.group(1) or rm.group(2)
                args_text = rm.group(3) if rm.re is _CUT_OFF else rm.group(2)
                start = pending.pop(key, None) if rm.group(1) else None
                if rm.group(2) and rm.re is _CUT_OFF:
                    yield from flush(key, info)
                if start is not None and start[0] == name:
                    args_text = start[1] + args_text
                    ts = start[2]
                n_sys += 1
                yield _syscall_event(
                    name,
                    info[2],
                    info[1],
                    info[0],
                    None,
                    None,
                    ts,
                    args_of(args_text),
                    phase_at(ts),
                )
                continue
            sm = _SIGNAL.match(body)
            if sm is not None:
                if info is None:
                    info = thread(key)
                sig = sm.group(1)
                if shutdown_by_signal and sig in _SHUTDOWN_SIGNALS:
                    phase = Phase.SHUTDOWN
                    shutdown_by_signal = False
                n_sig += 1
                yield SignalEvent(sig, info[1], info[0], ts, phase_at(ts))
                continue
            em = _EXITED.match(body)
            km = None if em is not None else _KILLED.match(body)
            if em is not None or km is not None:
                if info is None:
                    info = thread(key)
                yield from flush(key, info)
                n_exit += 1
                code = int(em.group(1)) if em is not None else None
                signal = km.group(1) if km is not None else None
                yield ExitEvent(info[1], info[0], code, signal, ts, phase_at(ts))
                continue
            pm = _PERSONALITY.match(body)
            if pm is not None:
                pkey = pm.group(1)
                pinfo = table_get(pkey) or thread(pkey)
                table[pkey] = (pinfo[0], pinfo[1], _PERSONALITY_ARCH[pm.group(2)])
                n_skip += 1
                continue
            xm = _SUPERSEDED.match(body)
            if xm is not None:
                # Thread T of this process called execve(2) and now has this pid (the old
                # leader is gone); strace prints the rest of T's execve under this pid next.
                if info is None:
                    info = thread(key)
                yield from flush(key, info)  # the old leader's call, ended by the exec
                start = pending.pop(xm.group(1), None)
                if start is not None:
                    pending[key] = start
                n_skip += 1
                continue
            if _STOPPED.match(body) or _FRAME.match(body):
                n_skip += 1
                continue
            if _DIAG.match(body):
                n_skip += 1
                warn(body)
                continue
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise ParseError(f"{_EXPECTED}; got {shown!r}", source=source, line=n_lines, hint=_HINT)

        if carry is not None:  # input ended right after a spliced diagnostic
            st.truncated_last_line = True
            warn("input ended inside a call line that a strace message interrupted")
        if n_unknown:
            warn(
                f"skipped {n_unknown} line(s) of calls strace could not name ('???'), the first "
                "here; they are not in the profile",
                first_unknown,
            )
        for key in list(pending):
            info = table_get(key) or thread(key)
            yield from flush(key, info)
    except ParseError:
        raise
    except Exception as e:  # contract: bad input never raises anything but ParseError
        raise ParseError(
            f"cannot parse strace line ({type(e).__name__}: {e})", source=source, line=n_lines
        ) from e
    finally:
        f_lines[current] = n_lines
        st.lines += sum(f_lines)
        st.syscalls += n_sys
        st.signals += n_sig
        st.exits += n_exit
        st.skipped += n_skip
