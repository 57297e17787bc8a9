"""A log whose last line strace never finished (killed, disk full): cut at every byte.

The rule (seccompgen.parsing.strace, module docstring): strace ends every line with a newline, so
a last line without one is left out, whatever it holds, with a warning naming the file and line;
every event before it is kept.  Each test cuts a real recording at every byte of one line and
requires exactly the events of the log that ends before that line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import seccompgen.parsing.strace as strace_mod
from seccompgen import pipeline
from seccompgen.errors import ParseError
from seccompgen.events import Event
from seccompgen.parsing import LogFile, ParseStats, ff_pid, parse_strace, parse_strace_ff
from seccompgen.store import TraceStore
from seccompgen.tracefile import read_trace

ROOT = Path(__file__).resolve().parents[3]
RECORDED = ROOT / "traces" / "recorded"
SHAPES = ROOT / "tests" / "data" / "strace-shapes"


@contextmanager
def compiled(on: bool) -> Iterator[None]:
    saved = strace_mod._COMPILED
    strace_mod._COMPILED = on and strace_mod._speedups is not None
    try:
        yield
    finally:
        strace_mod._COMPILED = saved


def read_lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(f)


def parse_text(text: str, source: str = "log") -> tuple[list[Event], ParseStats]:
    """Parse ``text`` as a file would be read (lines keep their newlines)."""
    stats = ParseStats()
    return list(parse_strace(text.splitlines(keepends=True), source=source, stats=stats)), stats


def first_line(lines: list[str], predicate: str) -> int:
    """Index of the first line containing ``predicate`` (the recordings have them all)."""
    return next(i for i, line in enumerate(lines) if predicate in line)


# (recording, the text that picks the line to cut: the log is taken as ending with that line)
CASES = [
    # -f -o, "PID TS": the compiled scanner's and the fast path's lines
    ("traces/recorded/go_f_ttt_raw.strace", "<unfinished ...>"),
    ("traces/recorded/go_f_ttt_raw.strace", "resumed>"),
    ("traces/recorded/go_f_ttt_raw.strace", 'read(3, "'),
    ("traces/recorded/go_f_ttt_raw.strace", "--- SIG"),
    ("traces/recorded/go_f_ttt_raw.strace", "+++ exited"),
    # stderr, "[pid N] HH:MM:SS.us", -T, a strace message spliced into a call line
    ("traces/recorded/go_stderr_tt_T.strace", "[pid "),
    ("traces/recorded/go_stderr_tt_T.strace", "strace: Process"),
    ("traces/recorded/go_stderr_tt_T.strace", "ENOENT"),
    # -r relative timestamps, -T
    ("traces/recorded/py_threads.strace", "access("),
    # -yy, quoted paths with spaces, '"' and '>'
    ("tests/data/strace-shapes/fds_yy.strace", 'dir/with space \\"quote\\" >gt<'),
]


@pytest.mark.parametrize("compiled_on", [True, False], ids=["compiled", "pure"])
@pytest.mark.parametrize(
    ("name", "pick"), CASES, ids=[f"{n.rsplit('/', 1)[1]}:{p}" for n, p in CASES]
)
def test_every_cut_of_a_line_drops_only_that_line(name: str, pick: str, compiled_on: bool) -> None:
    lines = read_lines(ROOT / name)
    at = first_line(lines, pick)
    head = "".join(lines[:at])
    line = lines[at]
    with compiled(compiled_on):
        expected, _ = parse_text(head)
        complete, _ = parse_text(head + line)
        if "strace: Process" not in line:  # a spliced line's call goes on in the next line
            assert complete != expected  # the line matters, so leaving it out is seen
        for cut in range(1, len(line)):  # len(line) - 1: all of it but its newline
            events, stats = parse_text(head + line[:cut], source=name)
            assert events == expected, (cut, line[:cut])
            assert stats.truncated_last_line
            assert any(
                w.startswith(f"{name}:{at + 1}: last line cut short") for w in stats.warnings
            )


@pytest.mark.parametrize("compiled_on", [True, False], ids=["compiled", "pure"])
def test_every_cut_of_the_real_last_line(compiled_on: bool) -> None:
    lines = read_lines(RECORDED / "go_f_ttt_raw.strace")
    head, last = "".join(lines[:-1]), lines[-1]
    with compiled(compiled_on):
        expected, _ = parse_text(head)
        for cut in range(1, len(last)):
            events, stats = parse_text(head + last[:cut])
            assert events == expected
            assert stats.warnings[-1].startswith(f"log:{len(lines)}: last line cut short")


def test_an_open_file_is_read_the_same_way(tmp_path: Path) -> None:
    lines = read_lines(SHAPES / "strings_tt_T.strace")
    path = tmp_path / "cut.strace"
    path.write_text("".join(lines[:-1]) + lines[-1][:7], encoding="utf-8")
    stats = ParseStats()
    with open(path, encoding="utf-8", newline="") as fh:  # a one-line file has no line before
        events = list(parse_strace(fh, source=str(path), stats=stats))
    assert events == parse_text("".join(lines[:-1]))[0]
    assert stats.warnings == [
        f"{path}:{len(lines)}: last line cut short (no newline at its end), left out: "
        + repr(lines[-1][:7])
    ]
    path.write_text(lines[0][:20], encoding="utf-8")  # the only line, cut
    stats = ParseStats()
    with open(path, encoding="utf-8", newline="") as fh:
        assert list(parse_strace(fh, source=str(path), stats=stats)) == []
    assert stats.truncated_last_line and stats.warnings[0].startswith(f"{path}:1: last line cut")


def test_a_complete_looking_cut_is_left_out_too() -> None:
    """A cut can read as a complete line with another value: '= 32' cut after '= 3'."""
    lines = read_lines(SHAPES / "strings_tt_T.strace")
    at = first_line(lines, "= -1 ENOENT")
    cut = lines[at][: lines[at].index("ENOENT") + 3]  # "... = -1 ENO"
    events, stats = parse_text("".join(lines[:at]) + cut)
    assert events == parse_text("".join(lines[:at]))[0] and stats.truncated_last_line


def test_garbage_in_the_middle_still_refuses() -> None:
    lines = read_lines(SHAPES / "strings_tt_T.strace")
    broken = "".join(lines[:5]) + lines[5][:20] + "\n" + "".join(lines[6:])
    with pytest.raises(ParseError) as info:
        parse_text(broken, source="x.strace")
    assert "x.strace:6:" in str(info.value) and "not strace output" in str(info.value)


def test_lines_without_newlines_cannot_show_a_cut() -> None:
    """str.splitlines() input: nothing tells a cut, so the last line must parse like any other."""
    lines = [line.rstrip("\n") for line in read_lines(SHAPES / "strings_tt_T.strace")]
    stats = ParseStats()
    complete = list(parse_strace(lines, stats=stats))
    assert not stats.truncated_last_line
    assert complete == parse_text("\n".join(lines) + "\n")[0]
    with pytest.raises(ParseError, match=f":{len(lines)}: not strace output"):
        list(parse_strace([*lines[:-1], lines[-1][:9]]))


def ff_files(folder: Path, replace: dict[str, str] | None = None) -> list[LogFile]:
    out = []
    for path in sorted(folder.iterdir()):
        text = (replace or {}).get(path.name, path.read_text(encoding="utf-8"))
        pid = ff_pid(path.name)
        assert pid is not None
        out.append(LogFile(path.name, pid, text.splitlines(keepends=True)))
    return out


def parse_ff(files: list[LogFile]) -> tuple[list[Event], ParseStats]:
    stats = ParseStats()
    return list(parse_strace_ff(files, stats=stats)), stats


@pytest.mark.parametrize("compiled_on", [True, False], ids=["compiled", "pure"])
def test_every_cut_of_each_ff_files_last_line(compiled_on: bool) -> None:
    """-ff: each file's last line cut at every byte, the execve start of a thread included."""
    folder = SHAPES / "ff_thread_execve"
    with compiled(compiled_on):
        for path in sorted(folder.iterdir()):
            lines = read_lines(path)
            head = "".join(lines[:-1])
            expected, _ = parse_ff(ff_files(folder, {path.name: head}))
            for cut in range(1, len(lines[-1])):
                events, stats = parse_ff(ff_files(folder, {path.name: head + lines[-1][:cut]}))
                assert events == expected, (path.name, cut)
                assert f"{path.name}:{len(lines)}: last line cut short" in "\n".join(stats.warnings)


def imported(tmp_path: Path, logs: list[Path]) -> tuple[list[Event], pipeline.ImportSummary]:
    store = TraceStore(tmp_path / "store")
    summary = pipeline.import_logs(
        pipeline.ImportOptions(logs=tuple(logs), workload="cut", store=store, arch="x86_64")
    )
    return list(read_trace(summary.path)), summary


def test_import_of_every_cut_of_the_last_line(tmp_path: Path) -> None:
    """`seccompgen import` (pipeline.import_logs): a warning naming the file and line, the
    events of the uncut log minus that line, and the trace marked incomplete."""
    lines = read_lines(SHAPES / "strings_tt_T.strace")
    base = tmp_path / "base.strace"
    base.write_text("".join(lines[:-2]), encoding="utf-8")
    expected, _ = imported(tmp_path / "b", [base])
    log = tmp_path / "app.strace"
    last = lines[-2]  # the exit_group line; the last is "+++ exited with 0 +++"
    for cut in range(1, len(last)):
        log.write_text("".join(lines[:-2]) + last[:cut], encoding="utf-8")
        events, summary = imported(tmp_path / str(cut), [log])
        assert [(type(e), e) for e in events] == [(type(e), e) for e in expected], cut
        assert summary.truncated and not read_trace(summary.path).complete
        assert summary.warnings == (
            f"{log}:{len(lines) - 1}: last line cut short (no newline at its end), left out: "
            + repr(last[:cut] if cut <= 60 else last[:57] + "..."),
        )


def test_import_of_ff_files_cut_by_a_killed_strace(tmp_path: Path) -> None:
    """strace -ff killed with SIGKILL: most files end inside a call; all the rest is kept."""
    folder = SHAPES / "ff_killed"
    logs = sorted(folder.iterdir())
    events, summary = imported(tmp_path, logs)
    cut = [p for p in logs if not p.read_text(encoding="utf-8").endswith("\n")]
    assert len(cut) >= 2 and summary.truncated
    for path in cut:
        n = len(read_lines(path))
        assert any(w.startswith(f"{path}:{n}: last line cut short") for w in summary.warnings)
    expected_files = [
        LogFile(str(p), ff_pid(p.name) or 0, read_lines(p)[: -1 if p in cut else None])
        for p in logs
    ]
    assert events == list(parse_strace_ff(expected_files))
