"""strace -ff runs (one file per thread) parsed as one trace: parse_strace_ff and import."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from seccompgen._cli import cli
from seccompgen.errors import ParseError
from seccompgen.events import Event, Phase, SignalEvent, SyscallEvent
from seccompgen.parsing import LogFile, ParseStats, ff_pid, parse_strace, parse_strace_ff

ROOT = Path(__file__).resolve().parents[3]
GO_FF = ROOT / "traces" / "recorded" / "go_ff"  # echoserver: SIGTERM to itself, shuts down
SHAPES = ROOT / "tests" / "data" / "strace-shapes"


def files_of(folder: Path, edit: str | None = None) -> list[LogFile]:
    out = []
    for path in sorted(folder.iterdir()):
        text = path.read_text(encoding="utf-8")
        if edit == "no-timestamps":
            text = re.sub(r"(?m)^\d+\.\d+ ", "", text)
        out.append(LogFile(path.name, ff_pid(path.name) or 0, text.splitlines(keepends=True)))
    return out


def sigterm_index(events: list[Event]) -> int:
    return next(
        i for i, e in enumerate(events) if isinstance(e, SignalEvent) and e.signal == "SIGTERM"
    )


def test_sigterm_in_one_thread_starts_shutdown_for_every_thread() -> None:
    events = list(parse_strace_ff(files_of(GO_FF)))
    at = sigterm_index(events)
    term = events[at]
    assert {e.phase for e in events[:at]} == {Phase.STARTUP}
    assert {e.phase for e in events[at:]} == {Phase.SHUTDOWN}
    later_elsewhere = [e for e in events[at:] if e.tid != term.tid]
    assert later_elsewhere  # other threads' files have calls after it: shutdown too
    # parsed file by file, each file had its own phase: the other threads stayed in startup
    alone = [e for f in files_of(GO_FF) for e in parse_strace(f.lines, default_pid=f.pid)]
    stayed = [
        e
        for e in alone
        if e.tid != term.tid and e.timestamp and term.timestamp and e.timestamp > term.timestamp
    ]
    assert stayed and {e.phase for e in stayed} == {Phase.STARTUP}


def test_without_timestamps_files_are_read_in_pid_order_with_a_phase_each() -> None:
    files = files_of(GO_FF, "no-timestamps")
    events = list(parse_strace_ff(list(reversed(files))))  # the given order does not matter
    assert [e.tid for e in events] == sorted(e.tid for e in events)
    term = events[sigterm_index(events)]
    for e in events:
        if e.tid != term.tid:
            assert e.phase is Phase.STARTUP  # no time says when the other threads' calls ran
    timed = list(parse_strace_ff(files_of(GO_FF)))
    assert {(e.pid, e.tid) for e in events} == {(e.pid, e.tid) for e in timed}  # same groups


def test_events_are_in_time_order_across_files_with_their_own_line_numbers() -> None:
    files = files_of(GO_FF)
    events = list(parse_strace_ff(files))
    times = [e.timestamp for e in events]
    assert times == sorted(times)  # type: ignore[type-var]
    tids = [e.tid for e in events]
    assert sum(a != b for a, b in itertools.pairwise(tids)) > len(files)  # interleaved
    calls = [e for e in events if isinstance(e, SyscallEvent)]
    per_file = sum(
        isinstance(e, SyscallEvent) for f in files for e in parse_strace(f.lines, default_pid=f.pid)
    )
    assert len(calls) == per_file
    # a bad line names its own file and line number
    bad = files_of(GO_FF)
    second = bad[1]
    lines = list(second.lines)
    lines[2] = "garbage\n"
    bad[1] = LogFile(second.source, second.pid, lines)
    with pytest.raises(ParseError) as info:
        list(parse_strace_ff(bad, stats=ParseStats()))
    assert f"{second.source}:3:" in str(info.value) and "not strace output" in str(info.value)


def test_cli_import_of_a_ff_run_with_cut_files(tmp_path: Path) -> None:
    """`seccompgen import out/app.*`: one trace, each cut file named with its line."""
    logs = sorted((SHAPES / "ff_killed").iterdir())
    result = CliRunner().invoke(
        cli, ["import", *map(str, logs), "-w", "svc", "--store", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    cut = [p for p in logs if not p.read_text(encoding="utf-8").endswith("\n")]
    for path in cut:
        n = len(path.read_text(encoding="utf-8").splitlines())
        assert f"warning: {path}:{n}: last line cut short" in result.output
    total = len(list(parse_strace_ff(files_of(SHAPES / "ff_killed"))))
    assert f"imported {total:,} syscalls" in result.output  # the count includes signals
