"""Pure parsers: tracer text in, :mod:`seccompgen.events` out. No subprocess, no files opened."""

from __future__ import annotations

from seccompgen.parsing.strace import (
    LogFile,
    ParseStats,
    ThreadTable,
    ff_pid,
    merge_by_time,
    parse_strace,
    parse_strace_ff,
)

__all__ = [
    "LogFile",
    "ParseStats",
    "ThreadTable",
    "ff_pid",
    "merge_by_time",
    "parse_strace",
    "parse_strace_ff",
]
