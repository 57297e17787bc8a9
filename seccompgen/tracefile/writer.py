"""Writing a trace file: events encoded one JSON line each, into a temporary file renamed into
place on close (see :mod:`seccompgen.tracefile`)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from seccompgen.errors import TraceFileError
from seccompgen.events import Event, Phase, SignalEvent, SyscallEvent
from seccompgen.tracefile.format import (
    ALLOW_VERSION,
    FORMAT_NAME,
    KIND_ALLOW,
    KIND_EXIT,
    KIND_FOOTER,
    KIND_HEADER,
    KIND_SIGNAL,
    KIND_SYSCALL,
    Boundary,
    TraceFooter,
    TraceHeader,
)

# Large writes keep the cost per event low when a tracer emits tens of thousands of events a second.
_WRITE_BUFFER = 1 << 20


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat()


def _boundaries_to_json(boundaries: Sequence[Boundary]) -> list[list[Any]]:
    return [[ts, phase.value] for ts, phase in boundaries]


def _header_to_json(h: TraceHeader) -> dict[str, Any]:
    return {
        "k": KIND_HEADER,
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
    events = {"syscall": f.syscalls, "signal": f.signals, "exit": f.exits}
    if f.allowed:  # only in traces with allow lines: other footers stay as they were
        events["allow"] = f.allowed
    out: dict[str, Any] = {
        "k": KIND_FOOTER,
        "complete": f.complete,
        "reason": f.reason,
        "events": events,
        "distinct": f.distinct,
        "ended": _iso(f.ended),
        "boundaries": _boundaries_to_json(f.boundaries),
    }
    if f.every_value is not None:  # only from counting backends: other footers stay as they were
        out["every_value"] = {name: list(indexes) for name, indexes in f.every_value}
    return out


def _event_to_json(event: Event, arch: str) -> dict[str, Any]:
    # Key order is fixed so that the same events always give byte-identical lines.
    if isinstance(event, SyscallEvent):
        d: dict[str, Any] = {
            "k": KIND_SYSCALL,
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
            "k": KIND_SIGNAL,
            "ts": event.timestamp,
            "pid": event.pid,
            "tid": event.tid,
            "ph": event.phase.value,
            "sig": event.signal,
        }
    return {
        "k": KIND_EXIT,
        "ts": event.timestamp,
        "pid": event.pid,
        "tid": event.tid,
        "ph": event.phase.value,
        "code": event.code,
        "signal": event.signal,
    }


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False) + "\n"


@dataclass
class _Counts:
    syscalls: int = 0
    signals: int = 0
    exits: int = 0
    allowed: int = 0
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
        self._every_value: tuple[tuple[str, tuple[int, ...]], ...] | None = None

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

    def note_every_value(self, every: Mapping[str, Iterable[int]]) -> None:
        """Say that the events written hold every distinct value of these arguments (name ->
        argument indexes), though the backend sampled the rest; the footer records it.

        Counting backends (``ebpf``) call this; a trace without it whose backend samples
        arguments holds samples only (see ``docs/trace-format.md``, "Counted traces")."""
        self._every_value = tuple(
            (name, tuple(sorted(set(indexes)))) for name, indexes in sorted(every.items())
        )

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

    def allow(self, name: str, arch: str | None = None) -> None:
        """Append an ``"allow"`` line: an imported profile allows ``name`` on ``arch`` (default:
        the header's). Not an event: no count, time, thread or phase. Needs a header of version
        :data:`~seccompgen.tracefile.format.ALLOW_VERSION` or later."""
        if self._footer is not None:
            raise ValueError(f"trace {self.path} is already closed")
        if self.header.version < ALLOW_VERSION:
            raise ValueError(f"allow lines need a version {ALLOW_VERSION} header")
        if not name:
            raise ValueError("empty syscall name")
        d: dict[str, Any] = {"k": KIND_ALLOW, "name": name}
        if arch is not None and arch != self._arch:
            d["arch"] = arch
        self._counts.allowed += 1
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
            allowed=c.allowed,
            every_value=self._every_value,
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
