"""Property tests: any text either parses or raises ParseError; well-formed lines keep order."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seccompgen.errors import ParseError
from seccompgen.events import SyscallEvent
from seccompgen.parsing import parse_strace
from seccompgen.parsing._args import parse_args, scalar, split_args

RECORDED = Path(__file__).resolve().parents[3] / "traces" / "recorded"
REAL_LINES = [
    line
    for name in ("go_f_ttt_raw.strace", "go_stderr_tt_T.strace", "py_threads.strace")
    for line in (RECORDED / name).read_text(encoding="utf-8").splitlines(keepends=True)[:300]
]


def outcome(lines: list[str]) -> None:
    try:
        for _ in parse_strace(lines, source="fuzz"):
            pass
    except ParseError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_parses_or_raises_parse_error(text: str) -> None:
    outcome(text.splitlines(keepends=True))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(REAL_LINES), min_size=1, max_size=20),
    st.integers(min_value=0, max_value=10_000),
    st.lists(st.tuples(st.integers(0, 10_000), st.characters(codec="utf-8")), max_size=5),
)
def test_mutated_real_lines_parse_or_raise_parse_error(
    lines: list[str], cut: int, flips: list[tuple[int, str]]
) -> None:
    text = "".join(lines)
    chars = list(text[: cut % (len(text) + 1)])
    for pos, ch in flips:
        if chars:
            chars[pos % len(chars)] = ch
    outcome("".join(chars).splitlines(keepends=True))


names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
numbers = st.integers(min_value=-(2**63), max_value=2**64 - 1)
arg = st.one_of(
    numbers.map(lambda n: (str(n), n)),
    st.integers(0, 2**64 - 1).map(lambda n: (hex(n), n)),
    st.text(alphabet='ab,c"\\) ={}', max_size=8).map(
        lambda s: ('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"', None)
    ),
    st.just(("{st_mode=S_IFREG|0644, st_size=3}", None)),
    st.just(("[1, 2]", None)),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 4), names, st.lists(arg, max_size=6), st.integers(-4095, 2**31)),
        min_size=1,
        max_size=30,
    )
)
def test_generated_well_formed_lines_keep_order_and_count(
    calls: list[tuple[int, str, list[tuple[str, int | None]], int]],
) -> None:
    lines = []
    for i, (tid, name, args, ret) in enumerate(calls):
        printed = ", ".join(text for text, _ in args)
        lines.append(f"[pid {tid:5d}] {1700000000 + i}.000001 {name}({printed}) = {ret}\n")
    events = list(parse_strace(lines))
    assert len(events) == len(calls)
    for ev, (tid, name, args, ret) in zip(events, calls, strict=True):
        assert isinstance(ev, SyscallEvent)
        assert (ev.tid, ev.name, ev.ret) == (tid, name, ret)
        assert ev.args == tuple(value for _, value in args)
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)  # type: ignore[type-var]


def test_split_respects_quotes_brackets_and_comments() -> None:
    text = r'3, "a, \"b\", c"..., {x=1, y=[2, 3]}, 0x7ffd /* 39 vars, really */, foo(1, 2), ...'
    assert len(split_args(text)) == 6
    assert parse_args(text) == (3, None, None, 0x7FFD, None, None)
    assert parse_args("") == ()
    assert parse_args("3</tmp/a, b>, 4") == (3, 4)


def test_scalar_forms() -> None:
    assert scalar("0644") == 0o644
    assert scalar("-100") == -100
    assert scalar("0x1f") == 31
    assert scalar("NULL") == 0
    assert scalar("0") == 0
    for text in ("AT_FDCWD", "O_RDONLY|O_CLOEXEC", '"0"', "8e3", "0x", "--1", "0b1", "1_000"):
        assert scalar(text) is None
