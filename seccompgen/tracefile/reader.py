"""Reading a trace file back: every line checked against the format, the footer's counts against
the events, and a truncated last line taken as the end (see :mod:`seccompgen.tracefile`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from seccompgen.errors import TraceFileError
from seccompgen.events import Event, ExitEvent, Phase, SignalEvent, SyscallEvent
from seccompgen.tracefile.format import (
    ALLOW_VERSION,
    FORMAT_NAME,
    FORMAT_VERSION,
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
    if d.get("k") != KIND_HEADER or d.get("format") != FORMAT_NAME:
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
        allowed=_get(counts, "allow", int) if "allow" in counts else 0,
        every_value=_parse_every_value(d["every_value"]) if "every_value" in d else None,
    )


def _parse_every_value(v: Any) -> tuple[tuple[str, tuple[int, ...]], ...]:
    if not isinstance(v, dict):
        raise _Malformed("'every_value' must be an object of name -> argument indexes")
    out = []
    for name, indexes in v.items():
        if not isinstance(indexes, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < 6 for i in indexes
        ):
            raise _Malformed(f"'every_value' of {name!r} must be a list of indexes 0..5")
        out.append((str(name), tuple(sorted(set(indexes)))))
    return tuple(sorted(out))


def _parse_allow(d: dict[str, Any], arch: str) -> tuple[str, str]:
    name = _get(d, "name", str)
    if not name:
        raise _Malformed("'name' is empty")
    return name, _get(d, "arch", str) if "arch" in d else arch


def _parse_event(d: dict[str, Any], arch: str) -> Event:
    kind = d.get("k")
    if kind == KIND_SYSCALL:
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
    if kind == KIND_SIGNAL:
        return SignalEvent(
            signal=_get(d, "sig", str),
            pid=_get(d, "pid", int),
            tid=_get(d, "tid", int),
            timestamp=_timestamp(d),
            phase=_phase(d, "ph"),
        )
    if kind == KIND_EXIT:
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
        self._allowed: list[tuple[str, str]] = []
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

    def allowed(self) -> tuple[tuple[str, str], ...]:
        """The ``(name, arch)`` of every ``"allow"`` line (a trace imported from a profile), in
        file order; reads the file through (raising as iterating does) unless the header's
        version predates allow lines, which then gives ``()`` at once."""
        if self.header.version < ALLOW_VERSION:
            return ()
        for _ in self:
            pass
        return tuple(self._allowed)

    def every_value(self) -> dict[str, frozenset[int]]:
        """The footer's ``every_value`` (name -> argument indexes whose every distinct value
        the trace holds), reading the file through unless the footer was read; empty when the
        footer is missing or says nothing (for a backend that samples arguments: samples
        only)."""
        if self.footer is None:
            for _ in self:
                pass
        if self.footer is None or self.footer.every_value is None:
            return {}
        return {name: frozenset(ix) for name, ix in self.footer.every_value}

    def _error(self, line: int, message: str) -> TraceFileError:
        return TraceFileError(
            f"{self.path}:{line}: {message}",
            hint=f"the file is not a valid {FORMAT_NAME} v{FORMAT_VERSION} trace; "
            "re-record it or remove it from the store",
        )

    def __iter__(self) -> Iterator[Event]:
        self.footer = None
        self.truncated = False
        self._allowed = []
        arch = self.header.arch
        counts = [0, 0, 0, 0]
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
                        if d.get("k") == KIND_FOOTER:
                            self.footer = self._check_footer(_parse_footer(d), counts, names)
                            continue
                        if d.get("k") == KIND_ALLOW and self.header.version >= ALLOW_VERSION:
                            # Not an event: allowed() hands them out.
                            self._allowed.append(_parse_allow(d, arch))
                            counts[3] += 1
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
        if seen != tuple(counts[:3]) or footer.distinct != len(names):
            raise _Malformed(
                f"footer counts {seen} (distinct {footer.distinct}) do not match the "
                f"{tuple(counts[:3])} events (distinct {len(names)}) in the file"
            )
        if footer.allowed != counts[3]:
            raise _Malformed(
                f"footer allow count {footer.allowed} does not match the {counts[3]} allow "
                "lines in the file"
            )
        return footer


def read_trace(path: Path) -> TraceReader:
    """Open a trace file; raises :class:`~seccompgen.errors.TraceFileError` if the header is bad."""
    return TraceReader(path)
