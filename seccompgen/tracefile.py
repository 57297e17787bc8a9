"""The trace file format: one recorded run of a workload, as JSON Lines.

A trace file is UTF-8 text with one JSON object per line (``docs/trace-format.md`` is the full
reference):

1. a **header** (``"k": "header"``): format name and version, trace id, workload, arch, backend,
   the traced command's argv, start time, host, seccompgen version and the phase boundaries known
   when tracing started;
2. one object per **event**, in the order the tracer saw them: ``"k": "sys"`` (a system call),
   ``"sig"`` (a delivered signal) or ``"exit"`` (a thread or process ended);
3. a **footer** (``"k": "footer"``): whether the trace is complete, why not (``"interrupted"``,
   ``"timeout"``, ...), the event counts and the final phase boundaries.

The format is streaming-friendly: a writer appends one line per event and never seeks, and a
reader needs one line of memory. A file without a footer is an incomplete trace (the recorder was
killed); its events are still valid, and a truncated last line is tolerated as the trace's end.

:class:`TraceWriter` writes to a temporary file next to the destination and renames it into place
only when closed, so a reader never sees a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Self

from seccompgen import __version__
from seccompgen.errors import TraceFileError
from seccompgen.events import Event, ExitEvent, Phase, SignalEvent, SyscallEvent

FORMAT_NAME: Final = "seccompgen-trace"
"""The ``format`` value of every trace file header."""

FORMAT_VERSION: Final = 1
"""The format version this module writes and the highest it reads."""

_KIND_HEADER: Final = "header"
_KIND_FOOTER: Final = "footer"
_KIND_SYSCALL: Final = "sys"
_KIND_SIGNAL: Final = "sig"
_KIND_EXIT: Final = "exit"

# Large writes keep the cost per event low when a tracer emits tens of thousands of events a second.
_WRITE_BUFFER = 1 << 20

Boundary = tuple[float, Phase]
"""A phase boundary: events at or after ``timestamp`` (seconds since the epoch) are in ``phase``."""


@dataclass(frozen=True, slots=True)
class TraceHeader:
    """The first line of a trace file: what was traced, where, when and by what.

    ``command`` is the traced argv. ``started`` is an ISO 8601 time with a UTC offset or ``Z``
    (``2026-11-28T07:40:00+00:00``). ``boundaries`` are the phase boundaries known when tracing
    started; the footer holds the final list (see :attr:`TraceFooter.boundaries`).
    """

    trace_id: str
    workload: str
    arch: str
    backend: str
    command: tuple[str, ...]
    started: str
    host: str
    seccompgen_version: str
    boundaries: tuple[Boundary, ...] = ()
    version: int = FORMAT_VERSION

    @classmethod
    def new(
        cls,
        *,
        workload: str,
        arch: str,
        backend: str,
        command: Sequence[str],
        boundaries: Sequence[Boundary] = (),
    ) -> TraceHeader:
        """A header for a trace starting now on this host, with a fresh uuid4 trace id."""
        return cls(
            trace_id=uuid.uuid4().hex,
            workload=workload,
            arch=arch,
            backend=backend,
            command=tuple(command),
            started=datetime.now(UTC).isoformat(),
            host=socket.gethostname(),
            seccompgen_version=__version__,
            boundaries=tuple(boundaries),
        )


@dataclass(frozen=True, slots=True)
class TraceFooter:
    """The last line of a complete-or-not trace file.

    ``complete`` is false when tracing stopped early; ``reason`` then says why (``"interrupted"``,
    ``"timeout"``, ``"killed"``, ``"error: ..."``). The counts are per event kind; ``distinct`` is
    the number of distinct system call names. ``boundaries`` is the final list of phase boundaries.
    """

    complete: bool
    reason: str | None
    syscalls: int
    signals: int
    exits: int
    distinct: int
    ended: datetime
    boundaries: tuple[Boundary, ...] = ()

    @property
    def events(self) -> int:
        """All events in the trace."""
        return self.syscalls + self.signals + self.exits


# ---------------------------------------------------------------------------------------------
# encoding


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat()


def _boundaries_to_json(boundaries: Sequence[Boundary]) -> list[list[Any]]:
    return [[ts, phase.value] for ts, phase in boundaries]


def _header_to_json(h: TraceHeader) -> dict[str, Any]:
    return {
        "k": _KIND_HEADER,
        "format": FORMAT_NAME,
        "version": h.version,
        "trace_id": h.trace_id,
        "workload": h.workload,
        "arch": h.arch,
        "backend": h.backend,
        "command": list(h.command),
        "started": h.started,
        "host": h.host,
        "seccompgen": h.seccompgen_version,
        "boundaries": _boundaries_to_json(h.boundaries),
    }


def _footer_to_json(f: TraceFooter) -> dict[str, Any]:
    return {
        "k": _KIND_FOOTER,
        "complete": f.complete,
        "reason": f.reason,
        "events": {"syscall": f.syscalls, "signal": f.signals, "exit": f.exits},
        "distinct": f.distinct,
        "ended": _iso(f.ended),
        "boundaries": _boundaries_to_json(f.boundaries),
    }


def _event_to_json(event: Event, arch: str) -> dict[str, Any]:
    # Key order is fixed so that the same events always give byte-identical lines.
    if isinstance(event, SyscallEvent):
        d: dict[str, Any] = {
            "k": _KIND_SYSCALL,
            "ts": event.timestamp,
            "pid": event.pid,
            "tid": event.tid,
            "ph": event.phase.value,
            "name": event.name,
            "ret": event.ret,
            "err": event.errno,
            "args": list(event.args),
        }
        # Most processes run in the header's arch; only the exceptions (an i386 process on an
        # x86_64 host, say) carry their own, which keeps lines short.
        if event.arch != arch:
            d["arch"] = event.arch
        return d
    if isinstance(event, SignalEvent):
        return {
            "k": _KIND_SIGNAL,
            "ts": event.timestamp,
            "pid": event.pid,
            "tid": event.tid,
            "ph": event.phase.value,
            "sig": event.signal,
        }
    return {
        "k": _KIND_EXIT,
        "ts": event.timestamp,
        "pid": event.pid,
        "tid": event.tid,
        "ph": event.phase.value,
        "code": event.code,
        "signal": event.signal,
    }


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False) + "\n"


# ---------------------------------------------------------------------------------------------
# writing


@dataclass
class _Counts:
    syscalls: int = 0
    signals: int = 0
    exits: int = 0
    names: set[str] = field(default_factory=set)


class TraceWriter:
    """Writes one trace file; use :meth:`create`, then :meth:`write` each event, then :meth:`close`.

    As a context manager, leaving the ``with`` block normally closes the trace as complete (unless
    :meth:`close` was already called); leaving it with an exception closes it as incomplete, with
    ``reason`` ``"interrupted"`` for ``KeyboardInterrupt`` and ``"error: <type>: <message>"``
    otherwise. Every event written before the exception is kept. The exception propagates.
    """

    def __init__(self, path: Path, tmp_path: Path, stream: IO[str], header: TraceHeader) -> None:
        """Use :meth:`create`; this wraps an already opened temporary file."""
        self.path = path
        self.header = header
        self._tmp_path = tmp_path
        self._stream = stream
        self._arch = header.arch
        self._counts = _Counts()
        self._boundaries: list[Boundary] = list(header.boundaries)
        self._footer: TraceFooter | None = None

    @classmethod
    def create(cls, path: Path, header: TraceHeader) -> TraceWriter:
        """Start a trace that will be saved as ``path``; writes the header line at once.

        The data goes to a temporary file in the same directory (so the final rename is atomic,
        rename(2) within one file system) and appears under ``path`` only on :meth:`close`.
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError as e:
            raise TraceFileError(
                f"cannot create a trace file in {path.parent}: {e.strerror}",
                hint="choose a writable trace store directory",
            ) from e
        stream = os.fdopen(fd, "w", encoding="utf-8", buffering=_WRITE_BUFFER)
        writer = cls(path, Path(tmp), stream, header)
        try:
            stream.write(_dumps(_header_to_json(header)))
        except BaseException:
            writer._discard()
            raise
        return writer

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.closed:
            return
        if exc is None:
            self.close(complete=True, reason=None)
        elif isinstance(exc, KeyboardInterrupt):
            self.close(complete=False, reason="interrupted")
        else:
            self.close(complete=False, reason=f"error: {type(exc).__name__}: {exc}"[:200])

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._footer is not None

    @property
    def footer(self) -> TraceFooter | None:
        """The footer written by :meth:`close`, or None while the trace is open."""
        return self._footer

    @property
    def events(self) -> int:
        """Events written so far."""
        c = self._counts
        return c.syscalls + c.signals + c.exits

    @property
    def distinct(self) -> int:
        """Distinct system call names written so far."""
        return len(self._counts.names)

    @property
    def boundaries(self) -> tuple[Boundary, ...]:
        """The phase boundaries the footer will record."""
        return tuple(self._boundaries)

    def add_boundary(self, timestamp: float, phase: Phase) -> None:
        """Record that ``phase`` started at ``timestamp`` (seconds since the epoch)."""
        self._boundaries.append((timestamp, phase))
        self._boundaries.sort(key=lambda b: (b[0], b[1].order))

    def write(self, event: Event, count: int = 1) -> None:
        """Append one event, or ``count`` identical system call events as one line.

        ``count`` > 1 is for backends that count calls instead of recording each one (the
        ``ebpf`` backend); it is written as the line's ``n`` and read back as that many events.
        """
        if self._footer is not None:
            raise ValueError(f"trace {self.path} is already closed")
        if count < 1 or (count > 1 and not isinstance(event, SyscallEvent)):
            raise ValueError(f"count {count} is invalid for {type(event).__name__}")
        c = self._counts
        if isinstance(event, SyscallEvent):
            c.syscalls += count
            c.names.add(event.name)
        elif isinstance(event, SignalEvent):
            c.signals += 1
        else:
            c.exits += 1
        d = _event_to_json(event, self._arch)
        if count > 1:
            d["n"] = count
        self._stream.write(_dumps(d))

    def close(self, complete: bool, reason: str | None) -> TraceFooter:
        """Write the footer, flush to disk and rename the file into place; returns the footer."""
        if self._footer is not None:
            return self._footer
        c = self._counts
        footer = TraceFooter(
            complete=complete,
            reason=reason,
            syscalls=c.syscalls,
            signals=c.signals,
            exits=c.exits,
            distinct=len(c.names),
            ended=datetime.now(UTC),
            boundaries=tuple(self._boundaries),
        )
        try:
            self._stream.write(_dumps(_footer_to_json(footer)))
            self._stream.flush()
            # fsync before rename: otherwise a crash can leave the new name pointing at an empty
            # file on some file systems (see rename(2) and the ext4 data=ordered discussions).
            os.fsync(self._stream.fileno())
            self._stream.close()
            os.replace(self._tmp_path, self.path)
        except OSError as e:
            self._discard()
            raise TraceFileError(
                f"cannot save trace file {self.path}: {e.strerror}",
                hint="check free space and permissions of the trace store",
            ) from e
        self._footer = footer
        return footer

    def discard(self) -> None:
        """Drop the trace: nothing appears under ``path`` (for input rejected as a whole)."""
        self._discard()
        self._footer = TraceFooter(
            complete=False,
            reason="discarded",
            syscalls=0,
            signals=0,
            exits=0,
            distinct=0,
            ended=datetime.now(UTC),
        )

    def _discard(self) -> None:
        with contextlib.suppress(OSError):
            self._stream.close()
        self._tmp_path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# reading


class _Malformed(Exception):
    """A line is not what the format says; converted to TraceFileError with file and line."""


def _get(
    d: dict[str, Any], key: str, kind: type | tuple[type, ...], *, nullable: bool = False
) -> Any:
    try:
        v = d[key]
    except KeyError:
        raise _Malformed(f"missing key {key!r}") from None
    if v is None and nullable:
        return None
    # bool is an int subclass; a JSON true where a number belongs is still an error.
    if not isinstance(v, kind) or (isinstance(v, bool) and bool not in _as_tuple(kind)):
        raise _Malformed(f"key {key!r} has the wrong type ({type(v).__name__})")
    return v


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _phase(d: dict[str, Any], key: str) -> Phase:
    v = _get(d, key, str)
    try:
        return Phase(v)
    except ValueError:
        raise _Malformed(f"unknown phase {v!r}") from None


def _float(v: int | float, what: str) -> float:
    # A JSON integer can exceed the float range (1e309 is valid JSON; float() overflows).
    try:
        return float(v)
    except OverflowError:
        raise _Malformed(f"{what} ({len(str(v))} digits) is out of range") from None


def _timestamp(d: dict[str, Any]) -> float | None:
    v = _get(d, "ts", (int, float), nullable=True)
    return None if v is None else _float(v, "timestamp")


def _parse_boundaries(v: Any) -> tuple[Boundary, ...]:
    if not isinstance(v, list):
        raise _Malformed("'boundaries' is not a list")
    out: list[Boundary] = []
    for item in v:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or isinstance(item[0], bool)
            or not isinstance(item[0], int | float)
            or not isinstance(item[1], str)
        ):
            raise _Malformed(f"bad boundary {item!r}: want [timestamp, phase]")
        try:
            out.append((_float(item[0], "boundary timestamp"), Phase(item[1])))
        except ValueError:
            raise _Malformed(f"unknown phase {item[1]!r} in boundaries") from None
    return tuple(out)


def _parse_datetime(d: dict[str, Any], key: str) -> datetime:
    v = _get(d, key, str)
    try:
        ts = datetime.fromisoformat(v)
    except ValueError:
        raise _Malformed(f"{key!r} is not an ISO 8601 time: {v!r}") from None
    if ts.tzinfo is None:
        raise _Malformed(f"{key!r} has no time zone: {v!r}")
    return ts.astimezone(UTC)


def _parse_header(d: dict[str, Any]) -> TraceHeader:
    if d.get("k") != _KIND_HEADER or d.get("format") != FORMAT_NAME:
        raise _Malformed(f"not a {FORMAT_NAME} header")
    version = _get(d, "version", int)
    if version > FORMAT_VERSION or version < 1:
        raise _Malformed(
            f"format version {version} is not supported (this seccompgen reads up to "
            f"{FORMAT_VERSION})"
        )
    command = _get(d, "command", list)
    if not all(isinstance(a, str) for a in command):
        raise _Malformed("'command' must be a list of strings")
    started = _get(d, "started", str)
    _parse_datetime(d, "started")  # validate only: the header keeps the text as written
    for key in ("trace_id", "workload"):
        if not _get(d, key, str):
            # The store keys the graph by trace id and names the workload node after this.
            raise _Malformed(f"{key!r} is empty")
    return TraceHeader(
        trace_id=_get(d, "trace_id", str),
        workload=_get(d, "workload", str),
        arch=_get(d, "arch", str),
        backend=_get(d, "backend", str),
        command=tuple(command),
        started=started,
        host=_get(d, "host", str),
        seccompgen_version=_get(d, "seccompgen", str),
        boundaries=_parse_boundaries(d.get("boundaries", [])),
        version=version,
    )


def _parse_footer(d: dict[str, Any]) -> TraceFooter:
    counts = _get(d, "events", dict)
    return TraceFooter(
        complete=_get(d, "complete", bool),
        reason=_get(d, "reason", str, nullable=True),
        syscalls=_get(counts, "syscall", int),
        signals=_get(counts, "signal", int),
        exits=_get(counts, "exit", int),
        distinct=_get(d, "distinct", int),
        ended=_parse_datetime(d, "ended"),
        boundaries=_parse_boundaries(d.get("boundaries", [])),
    )


def _parse_event(d: dict[str, Any], arch: str) -> Event:
    kind = d.get("k")
    if kind == _KIND_SYSCALL:
        args = _get(d, "args", list)
        for a in args:
            if a is not None and (isinstance(a, bool) or not isinstance(a, int)):
                raise _Malformed(f"argument {a!r} is neither an integer nor null")
        return SyscallEvent(
            name=_get(d, "name", str),
            arch=_get(d, "arch", str) if "arch" in d else arch,
            pid=_get(d, "pid", int),
            tid=_get(d, "tid", int),
            ret=_get(d, "ret", int, nullable=True),
            errno=_get(d, "err", str, nullable=True),
            timestamp=_timestamp(d),
            args=tuple(args),
            phase=_phase(d, "ph"),
        )
    if kind == _KIND_SIGNAL:
        return SignalEvent(
            signal=_get(d, "sig", str),
            pid=_get(d, "pid", int),
            tid=_get(d, "tid", int),
            timestamp=_timestamp(d),
            phase=_phase(d, "ph"),
        )
    if kind == _KIND_EXIT:
        return ExitEvent(
            pid=_get(d, "pid", int),
            tid=_get(d, "tid", int),
            code=_get(d, "code", int, nullable=True),
            signal=_get(d, "signal", str, nullable=True),
            timestamp=_timestamp(d),
            phase=_phase(d, "ph"),
        )
    raise _Malformed(f"unknown record kind {kind!r}")


def _repeat(d: dict[str, Any]) -> int:
    """How many calls a ``"sys"`` line stands for: its ``n`` (a counting backend), else 1."""
    if "n" not in d:
        return 1
    n = _get(d, "n", int)
    if n < 1:
        raise _Malformed(f"'n' must be a positive count, not {n}")
    return int(n)


def _no_constant(name: str) -> float:
    # json.loads accepts NaN and Infinity, which are not JSON (RFC 8259) and which the writer
    # never produces (allow_nan=False).
    raise _Malformed(f"{name} is not a JSON number")


def _loads(line: str) -> dict[str, Any]:
    try:
        obj = json.loads(line, parse_constant=_no_constant)
    except json.JSONDecodeError:
        raise
    except ValueError as e:
        # An integer longer than sys.get_int_max_str_digits() (CVE-2020-10735).
        raise _Malformed(str(e).split(";")[0]) from None
    except RecursionError:
        raise _Malformed("nested too deeply") from None
    if not isinstance(obj, dict):
        raise _Malformed("a line must be a JSON object")
    return obj


class TraceReader:
    """A trace file opened for reading: :attr:`header` at once, events by iterating.

    Each iteration re-reads the file from the start. :attr:`footer` is None until an iteration
    reaches the end, and stays None for an incomplete file (no footer, or a truncated last line,
    which is taken as the end of the trace). Any other malformed line raises
    :class:`~seccompgen.errors.TraceFileError` naming the file and line.
    """

    def __init__(self, path: Path) -> None:
        """Open ``path`` and read its header; use :func:`read_trace`."""
        self.path = Path(path)
        self.footer: TraceFooter | None = None
        self.truncated = False
        """True when the last line was cut short (the writer died mid-line)."""
        try:
            with self.path.open("r", encoding="utf-8") as f:
                first = f.readline()
        except OSError as e:
            raise TraceFileError(f"cannot read trace file {self.path}: {e.strerror}") from e
        except UnicodeDecodeError as e:
            raise self._error(1, f"not UTF-8 text ({e.reason})") from e
        if not first:
            raise self._error(1, "empty file, no trace header")
        try:
            self.header = _parse_header(_loads(first))
        except (json.JSONDecodeError, _Malformed) as e:
            raise self._error(1, f"bad header: {e}") from e

    @property
    def complete(self) -> bool:
        """True when the footer has been read and says the trace is complete."""
        return self.footer is not None and self.footer.complete

    @property
    def boundaries(self) -> tuple[Boundary, ...]:
        """The final phase boundaries (the footer's once read, else the header's)."""
        return self.footer.boundaries if self.footer is not None else self.header.boundaries

    def _error(self, line: int, message: str) -> TraceFileError:
        return TraceFileError(
            f"{self.path}:{line}: {message}",
            hint=f"the file is not a valid {FORMAT_NAME} v{FORMAT_VERSION} trace; "
            "re-record it or remove it from the store",
        )

    def __iter__(self) -> Iterator[Event]:
        self.footer = None
        self.truncated = False
        arch = self.header.arch
        counts = [0, 0, 0]
        names: set[str] = set()
        try:
            with self.path.open("r", encoding="utf-8") as f:
                f.readline()
                lineno = 1
                for line in f:
                    lineno += 1
                    if self.footer is not None:
                        raise self._error(lineno, "data after the footer")
                    try:
                        d = _loads(line)
                    except (json.JSONDecodeError, _Malformed) as e:
                        if not line.endswith("\n"):
                            # The writer died mid-line: everything before is intact.
                            self.truncated = True
                            return
                        raise self._error(lineno, f"not a JSON object: {e}") from e
                    try:
                        if d.get("k") == _KIND_FOOTER:
                            self.footer = self._check_footer(_parse_footer(d), counts, names)
                            continue
                        event = _parse_event(d, arch)
                    except _Malformed as e:
                        raise self._error(lineno, str(e)) from e
                    if isinstance(event, SyscallEvent):
                        try:
                            n = _repeat(d)
                        except _Malformed as e:
                            raise self._error(lineno, str(e)) from e
                        counts[0] += n
                        names.add(event.name)
                        for _ in range(n):
                            yield event
                        continue
                    if isinstance(event, SignalEvent):
                        counts[1] += 1
                    else:
                        counts[2] += 1
                    yield event
        except OSError as e:
            raise TraceFileError(f"cannot read trace file {self.path}: {e.strerror}") from e
        except UnicodeDecodeError as e:
            raise TraceFileError(f"{self.path}: not UTF-8 text ({e.reason})") from e

    @staticmethod
    def _check_footer(footer: TraceFooter, counts: list[int], names: set[str]) -> TraceFooter:
        seen = (footer.syscalls, footer.signals, footer.exits)
        if seen != tuple(counts) or footer.distinct != len(names):
            raise _Malformed(
                f"footer counts {seen} (distinct {footer.distinct}) do not match the "
                f"{tuple(counts)} events (distinct {len(names)}) in the file"
            )
        return footer


def read_trace(path: Path) -> TraceReader:
    """Open a trace file; raises :class:`~seccompgen.errors.TraceFileError` if the header is bad."""
    return TraceReader(path)
