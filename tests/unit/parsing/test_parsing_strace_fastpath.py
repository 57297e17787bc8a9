"""The str-method fast path of parse_strace gives exactly what its regular expressions give."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seccompgen.parsing.strace as strace_parser
from seccompgen.errors import ParseError
from seccompgen.events import Event
from seccompgen.parsing import ParseStats, parse_strace

RECORDED = Path(__file__).resolve().parents[3] / "traces" / "recorded"


@contextmanager
def regex_path_only() -> Iterator[None]:
    saved = strace_parser._FAST_PATH
    strace_parser._FAST_PATH = False
    try:
        yield
    finally:
        strace_parser._FAST_PATH = saved


def outcome(lines: list[str]) -> tuple[list[Event], ParseStats] | str:
    """Events and counters, or the ParseError text."""
    stats = ParseStats()
    try:
        return list(parse_strace(lines, source="t", stats=stats)), stats
    except ParseError as e:
        return str(e)


def both(lines: list[str]) -> tuple[object, object]:
    fast = outcome(lines)
    with regex_path_only():
        slow = outcome(lines)
    return fast, slow


def test_the_fast_path_is_on_for_strace_o_ttt_lines() -> None:
    # Every line of this -o FILE -ttt trace but its first goes through the fast path: with it on
    # the parser must not reach _CALL at all after the first line.
    lines = (RECORDED / "go_f_ttt_raw.strace").read_text(encoding="utf-8").splitlines(True)
    calls = 0
    real = strace_parser._CALL

    class Counting:
        def match(self, line: str) -> object:
            nonlocal calls
            calls += 1
            return real.match(line)

    strace_parser._CALL = Counting()  # type: ignore[assignment]
    try:
        list(parse_strace(lines))
    finally:
        strace_parser._CALL = real
    others = sum(1 for x in lines if "+++" in x or "---" in x or "resumed> <unfinished" in x)
    assert calls <= 1 + others + 10


@pytest.mark.parametrize(
    "name", ["go_f_ttt_raw.strace", "py_threads_raw.strace", "py_threads.strace", "sh_kill9.strace"]
)
def test_recorded_traces_parse_the_same_on_both_paths(name: str) -> None:
    lines = (RECORDED / name).read_text(encoding="utf-8").splitlines(True)
    fast, slow = both(lines)
    assert fast == slow


pids = st.integers(1, 4_194_304).map(str)
pads = st.sampled_from([" ", "  ", "    ", "\t", ""])
stamps = st.sampled_from(["1700000000.000001", "1700000000.5", "1700000001", "17.0.0", ".5", "1e9"])
names = st.sampled_from(["read", "clone", "clone3", "_x", "Read", "???", "1a", "a b", ""])
args = st.sampled_from(
    [
        "",
        "3, 0x7ffd, 4096",
        '3, "a) = 1", 7',
        "0x1200011, NULL",
        "{flags=0x10000, exit_signal=0}, 88",
        "3</a, b>, 4",
        "x /* 1 var */",
        "\u00b2, 1",
    ]
)
rets = st.sampled_from(
    ["0", "-1 EAGAIN (Resource temporarily unavailable)", "?", "0x7f00", "0755", "12 <0.000010>"]
)
spacing = st.sampled_from([" ", "  ", "          "])
ends = st.sampled_from(["\n", "", "\r\n", "\n\n"])


@st.composite
def line(draw: st.DrawFn) -> str:
    pid, pad, ts, name = draw(pids), draw(pads), draw(stamps), draw(names)
    a, ret, sp, end = draw(args), draw(rets), draw(spacing), draw(ends)
    body = draw(
        st.sampled_from(
            [
                f"{name}({a}){sp}= {ret}",
                f"{name}({a} <unfinished ...>",
                f"<... {name} resumed>{a}){sp}= {ret}",
                f"{name}({a} <unfinished ...>) = ?",
                f"<... {name} resumed> <unfinished ...>) = ?",
                "+++ exited with 0 +++",
                "--- SIGURG {si_signo=SIGURG} ---",
            ]
        )
    )
    return f"{pid}{pad} {ts} {body}{end}"


@settings(max_examples=400, deadline=None)
@given(
    st.lists(line(), min_size=1, max_size=25),
    st.sampled_from(["", "1 1700000000.1 getpid() = 1\n"]),
)
def test_generated_lines_parse_the_same_on_both_paths(lines: list[str], first: str) -> None:
    # ``first`` fixes the clock to -ttt, which is when the fast path starts
    fast, slow = both(([first] if first else []) + lines)
    assert fast == slow
