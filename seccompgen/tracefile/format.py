"""The parts of a trace file every reader and writer agrees on: the format name and version, the
line kinds, and the header and footer (see :mod:`seccompgen.tracefile`)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from seccompgen import __version__
from seccompgen.events import Phase

FORMAT_NAME: Final = "seccompgen-trace"
"""The ``format`` value of every trace file header."""

FORMAT_VERSION: Final = 2
"""The highest format version the reader reads."""

BASE_VERSION: Final = 1
"""The version the writer writes for a trace of events (readable by every seccompgen)."""

ALLOW_VERSION: Final = 2
"""The first version with ``"allow"`` lines (a profile's allowances, ``import --spo``). Only
traces that hold them say so, so traces of runs stay readable by older seccompgen releases."""

KIND_HEADER: Final = "header"
KIND_FOOTER: Final = "footer"
KIND_SYSCALL: Final = "sys"
KIND_SIGNAL: Final = "sig"
KIND_EXIT: Final = "exit"
KIND_ALLOW: Final = "allow"


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
    version: int = BASE_VERSION

    @classmethod
    def new(
        cls,
        *,
        workload: str,
        arch: str,
        backend: str,
        command: Sequence[str],
        boundaries: Sequence[Boundary] = (),
        version: int = BASE_VERSION,
    ) -> TraceHeader:
        """A header for a trace starting now on this host, with a fresh uuid4 trace id.

        ``version`` :data:`ALLOW_VERSION` for a trace that will hold ``"allow"`` lines."""
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
            version=version,
        )


@dataclass(frozen=True, slots=True)
class TraceFooter:
    """The last line of a complete-or-not trace file.

    ``complete`` is false when tracing stopped early; ``reason`` then says why (``"interrupted"``,
    ``"timeout"``, ``"killed"``, ``"error: ..."``). The counts are per event kind; ``distinct`` is
    the number of distinct system call names made. ``boundaries`` is the final list of phase
    boundaries. ``allowed`` counts the ``"allow"`` lines (names an imported profile allows; they
    are not events).
    """

    complete: bool
    reason: str | None
    syscalls: int
    signals: int
    exits: int
    distinct: int
    ended: datetime
    boundaries: tuple[Boundary, ...] = ()
    allowed: int = 0
    every_value: tuple[tuple[str, tuple[int, ...]], ...] | None = None
    """For a trace whose arguments were sampled (a counting backend): the ``(name, argument
    indexes)`` whose every distinct value the trace holds; None when the writer said nothing
    (see :meth:`~seccompgen.tracefile.TraceWriter.note_every_value`)."""

    @property
    def events(self) -> int:
        """All events in the trace."""
        return self.syscalls + self.signals + self.exits
