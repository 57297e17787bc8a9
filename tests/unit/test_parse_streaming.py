"""parse_strace on a live source: each event comes out before the next line is asked for.

The strace backend feeds the parser a generator that tails strace's output while the target
runs; the tracer needs the first events (the target's execve) before any more output exists.
"""

from __future__ import annotations

from collections.abc import Iterator

from seccompgen.events import SyscallEvent
from seccompgen.parsing import parse_strace

LINES = [
    '100 1795851413.000001 execve("/app", ["/app"], 0x7ffd /* 1 var */) = 0\n',
    "100 1795851413.000002 brk(NULL) = 0x4a5000\n",
    "100 1795851413.000003 getpid() = 100\n",
]


def test_events_come_out_before_more_lines_are_read() -> None:
    asked: list[int] = []

    def live() -> Iterator[str]:
        for i, line in enumerate(LINES):
            asked.append(i)
            yield line

    events = parse_strace(live(), source="live")
    for i, ev in enumerate(events):
        assert isinstance(ev, SyscallEvent)
        # Line i was parsed into this event; line i + 1 has not been asked for yet.
        assert asked == list(range(i + 1)), (i, asked)
    assert asked == [0, 1, 2]


def test_a_list_gives_the_same_events() -> None:
    def live() -> Iterator[str]:
        yield from LINES

    assert list(parse_strace(live())) == list(parse_strace(list(LINES)))
