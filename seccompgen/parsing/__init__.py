"""Pure parsers: tracer text in, :mod:`seccompgen.events` out. No subprocess, no files opened."""

from __future__ import annotations

from seccompgen.parsing.strace import ParseStats, ThreadTable, ff_pid, merge_by_time, parse_strace

__all__ = ["ParseStats", "ThreadTable", "ff_pid", "merge_by_time", "parse_strace"]
