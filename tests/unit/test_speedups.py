"""The compiled inner loops (seccompgen._speedups) give exactly what the pure-Python loops give.

Every comparison runs the same input twice, once with the compiled scanner and fold and once
with them switched off through the modules' ``_COMPILED`` flags, and requires equal event lists,
equal ``ParseStats``, equal graph JSON, or the same ``ParseError`` (message and line).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from _rules import missing_tool
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import seccompgen.graph.fold as graph_mod
import seccompgen.parsing.strace as strace_mod
from seccompgen.errors import ParseError
from seccompgen.events import Event, ExitEvent, Phase, SignalEvent, SyscallEvent
from seccompgen.graph import SyscallGraph
from seccompgen.parsing import LogFile, ParseStats, ff_pid, parse_strace, parse_strace_ff

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "traces" / "recorded"
SHAPES = ROOT / "tests" / "data" / "strace-shapes"
TRACES = sorted(RECORDED.glob("*.strace")) + sorted(SHAPES.glob("*.strace"))
FF_FILES = sorted((RECORDED / "go_ff").iterdir())
FF_RUNS = [RECORDED / "go_ff", *sorted(SHAPES.glob("ff_*"))]

try:
    from seccompgen import _speedups
except ImportError:  # pragma: no cover - a build without a C compiler
    _speedups = None  # type: ignore[assignment]


@pytest.fixture
def compiled_extension() -> None:
    """The compiled extension, by the project's rule for a missing tool: skipped on a
    developer's machine built without a C compiler, a failure under CI (which builds it)."""
    if _speedups is None:
        missing_tool("seccompgen._speedups is not built (no C compiler at install)")


needs_compiled = pytest.mark.usefixtures("compiled_extension")


@contextmanager
def compiled(on: bool) -> Iterator[None]:
    """Switch the compiled scanner and fold on or off for the duration."""
    saved = strace_mod._COMPILED, graph_mod._COMPILED
    strace_mod._COMPILED = graph_mod._COMPILED = on
    try:
        yield
    finally:
        strace_mod._COMPILED, graph_mod._COMPILED = saved


@contextmanager
def counting_scanner() -> Iterator[list[int]]:
    """Count the lines the compiled scanner takes: [lines taken, calls]."""
    assert _speedups is not None
    real = _speedups.scan
    taken = [0, 0]

    class Wrapper:
        fold_chunk = staticmethod(_speedups.fold_chunk)

        @staticmethod
        def scan(batch: list[str], i: int, *rest: Any) -> int:
            j = real(batch, i, *rest)
            taken[0] += j - i
            taken[1] += 1
            return j

    saved = strace_mod._speedups
    strace_mod._speedups = Wrapper  # type: ignore[assignment]
    try:
        yield taken
    finally:
        strace_mod._speedups = saved


Outcome = tuple[list[Event], ParseStats] | tuple[str, int | None, list[Event]]


def parse_outcome(lines: Iterable[str], **kwargs: Any) -> Outcome:
    """Events and counters, or the ParseError text and line with the events before it."""
    stats = ParseStats()
    seen: list[Event] = []
    try:
        for ev in parse_strace(lines, source="t", stats=stats, **kwargs):
            seen.append(ev)
    except ParseError as e:
        return str(e), e.line, seen
    return seen, stats


def both(fn: Callable[[], Any]) -> tuple[Any, Any]:
    with compiled(True):
        fast = fn()
    with compiled(False):
        pure = fn()
    return fast, pure


def graph_json(events: Iterable[Event]) -> str:
    g = SyscallGraph()
    g.add_events("w", events)
    return g.to_json()


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


# ---------------------------------------------------------------------------------------------
# The module is there when it must be


def test_ci_builds_the_compiled_module() -> None:
    # CI installs from a clean clone; the compiled path must have been built there, or every
    # differential test below would be skipped without anyone noticing.
    if not os.environ.get("CI") and _speedups is None:
        pytest.skip("seccompgen._speedups is not built; CI requires it")
    import seccompgen._speedups as mod

    assert callable(mod.scan) and callable(mod.fold_chunk)
    assert strace_mod._speedups is mod and graph_mod._speedups is mod


@needs_compiled
@pytest.mark.parametrize(("value", "expected"), [("1", False), ("0", True), ("", True)])
def test_seccompgen_pure_selects_the_python_loops(value: str, expected: bool) -> None:
    code = (
        "import seccompgen.graph.fold as g, seccompgen.parsing.strace as s; "
        "print(s._COMPILED, g._COMPILED)"
    )
    env = dict(os.environ, SECCOMPGEN_PURE=value)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [str(expected), str(expected)]


# ---------------------------------------------------------------------------------------------
# Recorded traces


@needs_compiled
def test_the_scanner_takes_nearly_every_line_of_a_go_f_o_ttt_trace() -> None:
    # Guards the differential tests against passing because the scanner declines everything.
    lines = read_lines(RECORDED / "go_f_ttt_raw.strace")
    with compiled(True), counting_scanner() as taken:
        list(parse_strace(lines))
    unusual = sum(1 for x in lines if "+++" in x or "---" in x or "clone" in x or "???" in x)
    assert taken[0] >= len(lines) - unusual - 60
    assert any("<unfinished ...>" in x for x in lines)


@needs_compiled
@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.name)
def test_recorded_traces_parse_and_fold_the_same(path: Path) -> None:
    lines = read_lines(path)
    fast, pure = both(lambda: parse_outcome(lines))
    assert fast == pure
    fast_json, pure_json = both(lambda: graph_json(parse_strace(lines)))
    assert fast_json == pure_json


@needs_compiled
def test_strace_ff_files_parse_and_fold_the_same() -> None:
    def run() -> tuple[list[Outcome], str]:
        threads: dict[str, tuple[int, int, str]] = {}
        outcomes = [
            parse_outcome(read_lines(p), default_pid=ff_pid(p.name), threads=threads)
            for p in FF_FILES
        ]
        g = SyscallGraph()
        for p in FF_FILES:
            g.add_events(p.name, parse_strace(read_lines(p), default_pid=ff_pid(p.name)))
        return outcomes, g.to_json()

    fast, pure = both(run)
    assert fast == pure


@needs_compiled
@pytest.mark.parametrize("folder", FF_RUNS, ids=lambda p: p.name)
def test_strace_ff_runs_parse_the_same(folder: Path) -> None:
    """parse_strace_ff (merged lines, file markers, cut last lines) on both paths."""

    def run() -> tuple[list[Event], list[str], int]:
        stats = ParseStats()
        files = [
            LogFile(p.name, ff_pid(p.name) or 0, read_lines(p)) for p in sorted(folder.iterdir())
        ]
        return list(parse_strace_ff(files, stats=stats)), stats.warnings, stats.lines

    fast, pure = both(run)
    assert fast == pure


def _load_benchmark() -> Any:
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks/parser/run.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@needs_compiled
def test_a_benchmark_style_trace_with_phase_boundaries_is_the_same(tmp_path: Path) -> None:
    # The benchmark's construction: a recording repeated with renumbered pids and shifted
    # timestamps.  Phase boundaries inside it move the scanner's phase window several times.
    bench = _load_benchmark()
    base = read_lines(RECORDED / "go_f_ttt_raw.strace")
    path = tmp_path / "big.strace"
    bench.build(base, 12_000, path)
    lines = read_lines(path)
    stamps = [float(x.split()[1]) for x in lines]
    bounds = [
        (stamps[len(stamps) // 5], Phase.EXERCISE),
        (stamps[len(stamps) // 2], Phase.SHUTDOWN),
        (stamps[3 * len(stamps) // 5], Phase.EXERCISE),
    ]
    for boundaries in ([], bounds):

        def parsed(b: list[tuple[float, Phase]] = boundaries) -> Outcome:
            return parse_outcome(lines, boundaries=b)

        def folded(b: list[tuple[float, Phase]] = boundaries) -> str:
            return graph_json(parse_strace(lines, boundaries=b))

        fast, pure = both(parsed)
        assert fast == pure
        if boundaries:  # the window moved through every phase
            assert {e.phase for e in fast[0] if isinstance(e, SyscallEvent)} == set(Phase)
        fast_json, pure_json = both(folded)
        assert fast_json == pure_json


# ---------------------------------------------------------------------------------------------
# Generated input: mutations of real lines


REAL_LINES = [
    line
    for name in ("go_f_ttt_raw.strace", "py_threads_raw.strace", "handwritten_forms.strace")
    for line in read_lines(RECORDED / name)
]
STAMP = re.compile(r"[0-9]+(?:\.[0-9]+)?")
FIRST = "100 1700000000.000001 getpid() = 100\n"  # fixes the clock to -ttt: the scanner's mode


@st.composite
def mutated_line(draw: st.DrawFn) -> str:
    line = draw(st.sampled_from(REAL_LINES))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(
            st.sampled_from(
                ["insert", "delete", "replace", "truncate", "spaces", "number", "unicode", "tab"]
            )
        )
        pos = draw(st.integers(0, max(len(line) - 1, 0)))
        if kind == "insert":
            line = line[:pos] + draw(st.sampled_from(list(" ()<>=,.-x0\"'{[/*E?"))) + line[pos:]
        elif kind == "delete":
            line = line[:pos] + line[pos + 1 :]
        elif kind == "replace":
            line = line[:pos] + draw(st.characters(max_codepoint=0x7F)) + line[pos + 1 :]
        elif kind == "truncate":
            line = line[:pos]
        elif kind == "spaces":
            line = line.replace(" ", draw(st.sampled_from(["  ", "   ", ""])), 1)
        elif kind == "number":
            big = draw(
                st.sampled_from(
                    [
                        "18446744073709551615",
                        "18446744073709551616",
                        "0xffffffffffffffff",
                        "0x10000000000000000",
                        "-9223372036854775808",
                        "9223372036854775807",
                        "0777777777777777777777",
                        "00",
                        "0755",
                        "1" * 40,
                    ]
                )
            )
            digit = next((i for i in range(pos, len(line)) if line[i].isdigit()), None)
            if digit is not None:
                line = line[:digit] + big + line[digit + 1 :]
        elif kind == "unicode":
            line = (
                line[:pos] + draw(st.sampled_from(["é", "\u00b2", "\u0663", "\x85"])) + line[pos:]
            )
        else:
            line = line[:pos] + "\t" + line[pos + 1 :]
    return line


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(mutated_line(), st.sampled_from(REAL_LINES)), min_size=1, max_size=30),
    st.booleans(),
)
@needs_compiled
def test_mutated_real_lines_give_the_same_outcome(lines: list[str], boundaries: bool) -> None:
    lines = [FIRST, *lines]
    kwargs: dict[str, Any] = {}
    if boundaries:
        words = [x.split() for x in lines]
        stamps = sorted(float(w[1]) for w in words if len(w) > 1 and STAMP.fullmatch(w[1]))
        if stamps:
            kwargs["boundaries"] = [(stamps[len(stamps) // 2], Phase.EXERCISE)]
    fast, pure = both(lambda: parse_outcome(lines, **kwargs))
    assert fast == pure
    if isinstance(fast[0], list) and not isinstance(fast[0], str):
        fast_json, pure_json = both(lambda: graph_json(parse_strace(lines, **kwargs)))
        assert fast_json == pure_json


pids = st.sampled_from(["7", "8", "100", "0100", "4194304"])
stamps = st.sampled_from(
    ["1700000000.000002", "1700000000.5", "1700000001", "1.7e9", "1700000000.1234567890123456789"]
)
names = st.sampled_from(["read", "futex", "clone", "clone3", "vfork", "_x", "Read", "???", "1a"])
arg_texts = st.sampled_from(
    [
        "",
        "   ",
        "3, 0x7ffd, 4096",
        "NULL, 0x0, -1, 0644, 08, 0x, 0XF",
        '3, "a) = 1", 7',
        "{flags=0x10000, exit_signal=0}, 88",
        "3</a, b>, 4",
        "3<x> , 4",
        "x /* 1 var */, 2",
        "[1, 2], (3, 4",
        "'\\'', 5",
        "-0, -0x10, -07",
    ]
)
rets = st.sampled_from(
    ["0", "-1 EAGAIN (Resource temporarily unavailable)", "?", "0x7f00", "0xA", "0755",
     "-0", "12 E", "3 Ex", "1 <0.000010>", "99999999999999999999", "0x1ffffffffffffffff"]
)  # fmt: skip
spacing = st.sampled_from([" ", "  ", "          "])


@st.composite
def shaped_line(draw: st.DrawFn) -> str:
    pid, ts, name = draw(pids), draw(stamps), draw(names)
    a, ret, sp = draw(arg_texts), draw(rets), draw(spacing)
    pad = draw(st.sampled_from([" ", "  ", "     "]))
    body = draw(
        st.sampled_from(
            [
                f"{name}({a}){sp}= {ret}",
                f"{name}({a} <unfinished ...>",
                f"<... {name} resumed>{a}){sp}= {ret}",
                f"{name}({a} <unfinished ...>) = ?",
                "+++ exited with 0 +++",
                "--- SIGTERM {si_signo=SIGTERM} ---",
            ]
        )
    )
    return f"{pid}{pad}{ts} {body}" + draw(st.sampled_from(["\n", "", "\r\n"]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(shaped_line(), min_size=1, max_size=30))
@needs_compiled
def test_generated_call_shapes_give_the_same_outcome(lines: list[str]) -> None:
    lines = [FIRST, *lines]
    fast, pure = both(lambda: parse_outcome(lines))
    assert fast == pure


@needs_compiled
def test_a_read_error_keeps_the_events_and_line_number_of_line_by_line_reading() -> None:
    good = read_lines(RECORDED / "go_f_ttt_raw.strace")[:300]

    def source() -> Iterator[str]:
        yield from good
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    fast, pure = both(lambda: parse_outcome(source()))
    assert fast == pure
    assert isinstance(fast[0], str) and fast[1] == 300 and len(fast[2]) > 100


@needs_compiled
def test_a_bad_line_fails_with_the_same_line_number() -> None:
    lines = read_lines(RECORDED / "go_f_ttt_raw.strace")[:500]
    lines[400] = "this is not strace output\n"
    fast, pure = both(lambda: parse_outcome(lines))
    assert fast == pure
    assert fast[1] == 401


# ---------------------------------------------------------------------------------------------
# The fold on generated events


tids = st.integers(1, 4)
syscall_events = st.builds(
    SyscallEvent,
    name=st.sampled_from(["read", "write", "futex", "mmap"]),
    arch=st.sampled_from(["x86_64", "x86"]),
    pid=st.just(1),
    tid=tids,
    ret=st.just(0),
    errno=st.sampled_from([None, None, "EAGAIN"]),
    timestamp=st.none(),
    args=st.lists(st.one_of(st.none(), st.integers(-(2**64), 2**64)), max_size=4).map(tuple),
    phase=st.sampled_from(list(Phase)),
)
other_events = st.one_of(
    st.builds(
        ExitEvent, pid=st.just(1), tid=tids, code=st.just(0), signal=st.none(), timestamp=st.none()
    ),
    st.builds(SignalEvent, signal=st.just("SIGURG"), pid=st.just(1), tid=tids, timestamp=st.none()),
)
event_lists = st.lists(st.one_of(syscall_events, syscall_events, syscall_events, other_events))


class OddName(str):
    """A str subclass as a name: the fold hands such events to the Python loop."""


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_lists, st.sampled_from([(1, 1), (3, 2), (4096, 512)]), st.booleans())
@needs_compiled
def test_the_compiled_fold_gives_the_same_graph(
    events: list[Event], sizes: tuple[int, int], odd: bool
) -> None:
    if odd and events:
        # one event the compiled fold must decline, somewhere in the middle
        ev = events[len(events) // 2]
        if isinstance(ev, SyscallEvent):
            events[len(events) // 2] = SyscallEvent(
                OddName(ev.name), ev.arch, ev.pid, ev.tid, ev.ret, ev.errno, ev.timestamp,
                ev.args, ev.phase,
            )  # fmt: skip
    chunk, flush = sizes

    def run() -> tuple[str, Any, Any]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(graph_mod, "_CHUNK", chunk)
            mp.setattr(graph_mod, "_ARG_TUPLES_FLUSH", flush)
            total, contribution = graph_mod.fold_events(events)
            # dict order too: it decides the order of nodes and edges in the graph
            return (graph_json(events), total, list(contribution.transitions.items()))

    fast, pure = both(run)
    assert fast == pure


@needs_compiled
def test_the_fold_declines_events_it_cannot_read() -> None:
    assert _speedups is not None
    good = SyscallEvent("read", "x86_64", 1, 1, 0, None, None, (1,), Phase.STARTUP)
    odd = SyscallEvent(OddName("read"), "x86_64", 1, 1, 0, None, None, (1,), Phase.STARTUP)
    counts: dict[Any, int] = {}
    transitions: dict[Any, int] = {}
    arg_tuples: dict[str, set[tuple[int | None, ...]]] = {}
    last: dict[int, str] = {}
    i = _speedups.fold_chunk([good, good, odd, good], 0, counts, transitions, arg_tuples, last)
    assert i == 2
    assert counts == {("read", "x86_64", Phase.STARTUP, None): 2}
    assert transitions == {("read", "read"): 1}
    assert arg_tuples == {"read": {(1,)}}
