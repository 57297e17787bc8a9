"""The files of one ``strace -ff -o PREFIX`` run (``PREFIX.PID``, one per thread) as one input
for the strace parser: their pids, their lines merged by timestamp (or one file after another),
and the markers that travel with the lines (see :func:`seccompgen.parsing.strace.parse_strace_ff`).
"""

from __future__ import annotations

import heapq
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain

from seccompgen.events import Event
from seccompgen.parsing.strace_values import Clock

_FF_NAME = re.compile(r".*\.(\d+)$")


def ff_pid(filename: str) -> int | None:
    """The pid in the name of a ``strace -ff -o PREFIX`` output file (``PREFIX.PID``), or None."""
    m = _FF_NAME.fullmatch(os.path.basename(filename))
    return int(m.group(1)) if m else None


def merge_by_time(streams: Sequence[Iterator[Event]]) -> Iterator[Event]:
    """Merge per-process event streams (the files of ``strace -ff``) by timestamp.

    Each stream must already be in time order (strace writes each file in order).  An event
    without a timestamp sorts with the last timestamp seen in its own stream, and ties keep
    stream order and then order within the stream, so the merge is stable.
    """

    def keyed(index: int, stream: Iterator[Event]) -> Iterator[tuple[float, int, int, Event]]:
        last = float("-inf")
        for seq, ev in enumerate(stream):
            ts = ev.timestamp
            if ts is not None:
                last = ts
            yield (last, index, seq, ev)

    for _key, _index, _seq, ev in heapq.merge(*(keyed(i, s) for i, s in enumerate(streams))):
        yield ev


@dataclass(frozen=True)
class LogFile:
    """One file of a ``strace -ff -o PREFIX`` run: its name (for messages), pid and lines."""

    source: str
    pid: int
    lines: Iterable[str]


# The timestamp at the start of a -ff line (no pid prefix there).
_FF_TS = re.compile(r" *(\d[\d.:]*) ")


class FfMerge:
    """The lines of several ``-ff`` files as one input for the parser (see
    :func:`~seccompgen.parsing.strace.parse_strace_ff`).

    Yields a :class:`Switch` before each run of lines from one file, and a :class:`Cut` in
    place of a file's last line when it has no newline.
    """

    def __init__(self, files: Sequence[LogFile]) -> None:
        self.streams: list[Iterator[str]] = []
        modes = set()
        for f in files:
            it = iter(f.lines)
            first = next(it, None)
            m = _FF_TS.match(first) if first is not None else None
            modes.add(Clock().first(m.group(1)) if m is not None else "")
            self.streams.append(chain((first,), it) if first is not None else it)
        self.timed = len(modes) == 1 and modes <= {"epoch", "clock"}

    def __iter__(self) -> Iterator[str | Marker]:
        keyed = [self._keyed(i, it) for i, it in enumerate(self.streams)]
        merged = heapq.merge(*keyed) if self.timed else chain.from_iterable(keyed)
        current = -1
        for _key, index, _seq, item in merged:
            if index != current:
                yield Switch(index)
                current = index
            yield item

    def _keyed(
        self, index: int, lines: Iterator[str]
    ) -> Iterator[tuple[float, int, int, str | Marker]]:
        """(sort key, file index, line index, item): the key is the line's time, or the last
        time seen in this file for a line without one."""
        clock = Clock()
        key = float("-inf")
        seq = 0
        line = next(lines, None)
        while line is not None:
            following = next(lines, None)
            item: str | Marker = line
            if following is None and not line.endswith("\n"):
                item = Cut(line)
            if self.timed:
                m = _FF_TS.match(line)
                if m is not None:
                    text = m.group(1)
                    try:
                        if not clock.mode:
                            clock.first(text)
                        key = float(text) if clock.mode == "epoch" else clock.convert(text)
                    except ValueError:
                        pass  # a malformed time: the parser reports the line itself
            yield (key, index, seq, item)
            seq += 1
            line = following


class Marker:
    """An item of the parser's input that is not a line (see :mod:`seccompgen.parsing.strace`)."""

    __slots__ = ()


class Switch(Marker):
    """The lines after this one come from file ``index`` (of a ``-ff`` run)."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class Cut(Marker):
    """A last line without its newline: left out, with a warning."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def ends_line(item: str | Marker) -> bool:
    return not isinstance(item, str) or item.endswith("\n")
