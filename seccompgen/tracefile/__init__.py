"""The trace file format: one recorded run of a workload, as JSON Lines.

A trace file is UTF-8 text with one JSON object per line (``docs/trace-format.md`` is the full
reference):

1. a **header** (``"k": "header"``): format name and version, trace id, workload, arch, backend,
   the traced command's argv, start time, host, seccompgen version and the phase boundaries known
   when tracing started;
2. one object per **event**, in the order the tracer saw them: ``"k": "sys"`` (a system call),
   ``"sig"`` (a delivered signal) or ``"exit"`` (a thread or process ended); or, in a trace
   imported from a profile (format version 2), one ``"k": "allow"`` line per syscall name the
   profile allows (no count, time or phase: :meth:`TraceReader.allowed`);
3. a **footer** (``"k": "footer"``): whether the trace is complete, why not (``"interrupted"``,
   ``"timeout"``, ...), the event counts and the final phase boundaries.

The format is streaming-friendly: a writer appends one line per event and never seeks, and a
reader needs one line of memory. A file without a footer is an incomplete trace (the recorder was
killed); its events are still valid, and a truncated last line is tolerated as the trace's end.

:class:`TraceWriter` writes to a temporary file next to the destination and renames it into place
only when closed, so a reader never sees a half-written file under the final name.

The package: :mod:`~seccompgen.tracefile.format` (header, footer, line kinds),
:mod:`~seccompgen.tracefile.writer` (:class:`TraceWriter`) and
:mod:`~seccompgen.tracefile.reader` (:class:`TraceReader`, :func:`read_trace`).
"""

from __future__ import annotations

from seccompgen.tracefile.format import (
    ALLOW_VERSION,
    FORMAT_NAME,
    FORMAT_VERSION,
    Boundary,
    TraceFooter,
    TraceHeader,
)
from seccompgen.tracefile.reader import TraceReader, read_trace
from seccompgen.tracefile.writer import TraceWriter

__all__ = [
    "ALLOW_VERSION",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Boundary",
    "TraceFooter",
    "TraceHeader",
    "TraceReader",
    "TraceWriter",
    "read_trace",
]
