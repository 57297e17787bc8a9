"""Return values strace prints in octal (umask's previous mask) parse on every path."""

from __future__ import annotations

import pytest

import seccompgen.parsing.strace as strace_parser
from seccompgen.events import SyscallEvent
from seccompgen.parsing import parse_strace
from seccompgen.parsing.strace_values import ret_int

# As strace -f -ttt -X raw printed them for os.umask(0o22), os.umask(0o77), os.umask(0).
LINES = [
    "29551 1796526079.263323 umask(022)      = 022\n",
    "29551 1796526079.263391 umask(077)      = 022\n",
    "29551 1796526079.263401 umask(000)      = 077\n",
]


@pytest.mark.parametrize("fast", [True, False])
def test_umask_returns_are_octal(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(strace_parser, "_FAST_PATH", fast)
    events = [e for e in parse_strace(LINES, source="t") if isinstance(e, SyscallEvent)]
    assert [(e.name, e.args[0], e.ret) for e in events] == [
        ("umask", 0o22, 0o22),
        ("umask", 0o77, 0o22),
        ("umask", 0, 0o77),
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("000", 0), ("17", 17), ("-1", -1), ("0x7f", 0x7F), ("022", 0o22), ("-022", -0o22)],
)
def test_ret_int_reads_each_base_strace_prints(text: str, value: int) -> None:
    assert ret_int(text) == value
