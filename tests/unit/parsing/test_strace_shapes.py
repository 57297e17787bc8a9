"""Every strace output shape in tests/data/strace-shapes (real recordings, see its README.md).

Each file is parsed exactly or refused with file:line and a reason.  Expectations come from the
recorded programs' sources (tests/data/strace-shapes/src) and from the lines themselves, read
here with plain string operations independent of the parser.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from seccompgen.errors import ParseError
from seccompgen.events import Event, ExitEvent, SignalEvent, SyscallEvent
from seccompgen.parsing import LogFile, ParseStats, ff_pid, parse_strace, parse_strace_ff

SHAPES = Path(__file__).resolve().parents[3] / "tests" / "data" / "strace-shapes"
SINGLE = sorted(p.name for p in SHAPES.glob("*.strace"))
FF = sorted(p.name for p in SHAPES.glob("ff_*"))
# "PID " / "PID<comm> " / "[pid PID] " prefixes, then an optional timestamp
LEAD = re.compile(r"^(?:\[pid +(\d+)(?:<[^>]*>)?\] |(\d+)(?:<[^>]*>)? +)? *(?:[\d.:]+ +)?")


def lines_of(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(f)


def parse(name: str) -> tuple[list[Event], ParseStats]:
    stats = ParseStats()
    with open(SHAPES / name, encoding="utf-8", newline="") as fh:
        return list(parse_strace(fh, source=name, stats=stats)), stats


def ff_files(name: str) -> list[LogFile]:
    out = []
    for path in sorted((SHAPES / name).iterdir()):
        pid = ff_pid(path.name)
        assert pid is not None
        out.append(LogFile(f"{name}/{path.name}", pid, lines_of(path)))
    return out


def parse_ff(name: str) -> tuple[list[Event], ParseStats]:
    stats = ParseStats()
    return list(parse_strace_ff(ff_files(name), stats=stats)), stats


def calls(events: list[Event]) -> list[SyscallEvent]:
    return [e for e in events if isinstance(e, SyscallEvent)]


def exits(events: list[Event]) -> list[ExitEvent]:
    return [e for e in events if isinstance(e, ExitEvent)]


def signals(events: list[Event]) -> list[str]:
    return [e.signal for e in events if isinstance(e, SignalEvent)]


def body(line: str) -> str:
    return LEAD.sub("", line).strip()


def expected_counts(lines: list[str]) -> tuple[int, int, int]:
    """(calls, signals, exits) read off the lines: a call is a line that ends one (complete or
    resumed), a start that never resumes counts when its thread ends or the input does."""
    n_calls = n_sig = n_exit = 0
    for line in lines:
        if not line.endswith("\n"):
            continue  # cut short: left out
        b = body(line)
        if b.startswith("--- SIG"):
            n_sig += 1
        elif b.startswith("+++") and "superseded" not in b:
            n_exit += 1
        elif (
            b
            and not b.startswith(("---", "+++", "[ Process", "> ", "strace: "))
            and not b.endswith(("<unfinished ...>", "...>"))
            and "strace: Process" not in b
        ):
            n_calls += 1
    return n_calls, n_sig, n_exit


@pytest.mark.parametrize("name", SINGLE)
def test_every_recorded_file_parses_with_the_counts_its_lines_give(name: str) -> None:
    lines = lines_of(SHAPES / name)
    events, stats = parse(name)
    n_calls, n_sig, n_exit = expected_counts(lines)
    unfinished = [e for e in calls(events) if e.ret is None]
    # a call ended with "= ?" is a line of its own; a start never resumed adds one event
    never_resumed = len(calls(events)) - n_calls
    assert 0 <= never_resumed <= len(unfinished)
    assert stats.signals == len(signals(events)) == n_sig
    assert stats.exits == len(exits(events)) == n_exit
    assert stats.lines == len(lines)
    assert not [w for w in stats.warnings if "resumed without a start" in w]
    if name != "diskfull_f_ttt.strace":
        assert never_resumed == 0 and not stats.truncated_last_line


@pytest.mark.parametrize("name", FF)
def test_every_ff_run_parses_as_one_trace(name: str) -> None:
    files = ff_files(name)
    events, stats = parse_ff(name)
    n_calls = n_sig = n_exit = 0
    for f in files:
        c, s, x = expected_counts(list(f.lines))
        n_calls, n_sig, n_exit = n_calls + c, n_sig + s, n_exit + x
    assert len(calls(events)) >= n_calls and stats.signals == n_sig and stats.exits == n_exit
    assert not [w for w in stats.warnings if "resumed without a start" in w]
    times = [e.timestamp for e in events]
    if name.endswith("_nots"):  # no timestamps: the files one after another, in pid order
        assert times == [None] * len(times)
        assert [e.tid for e in events] == sorted(e.tid for e in events)
    else:  # merged by time across the files (-ttt, -tt)
        assert all(t is not None for t in times) and times == sorted(times)  # type: ignore[type-var]
    leader = min(f.pid for f in files)
    # one process: every thread's events carry the leader's pid, each file's its own tid
    assert {e.pid for e in events} == {leader}
    assert {e.tid for e in events} == {f.pid for f in files}  # each file's own thread


def test_ff_threads_were_their_own_processes_when_parsed_file_by_file() -> None:
    """What one thread table across the files fixes: alone, a thread's file names no group."""
    files = ff_files("ff_go_threads")
    alone = [e.pid for f in files for e in parse_strace(f.lines, default_pid=f.pid)]
    assert len(set(alone)) == len(files)
    assert {e.pid for e in parse_ff("ff_go_threads")[0]} == {min(f.pid for f in files)}


@pytest.mark.parametrize(
    "name", ["ff_go_threads", "ff_go_threads_tt", "ff_go_threads_nots", "ff_5.10_threads"]
)
def test_go_thread_call_is_the_workers(name: str) -> None:
    """examples/threadonly makes sysinfo(2) only on a thread other than the main one."""
    events, _ = parse_ff(name)
    (sysinfo,) = [e for e in calls(events) if e.name == "sysinfo"]
    assert sysinfo.ret == 0 and sysinfo.tid != sysinfo.pid
    clones = {e.ret for e in calls(events) if e.name == "clone"}
    assert sysinfo.tid in clones


@pytest.mark.parametrize(
    "name",
    [
        "thread_execve_f.strace",
        "thread_execve_stderr.strace",
        "strace5.10_thread_execve.strace",
        "ff_thread_execve",
    ],
)
def test_execve_by_a_thread_is_one_call_under_the_leaders_pid(name: str) -> None:
    """src/thread_execve.c: the leader pauses; its second thread runs execve("/bin/true")."""
    events, stats = parse_ff(name) if name.startswith("ff_") else parse(name)
    execs = [e for e in calls(events) if e.name == "execve"]
    assert [e.ret for e in execs] == [0, 0]
    (clone,) = [e for e in calls(events) if e.name == "clone3"]
    (pause,) = [e for e in calls(events) if e.name == "pause"]
    assert pause.ret is None and pause.pid == clone.pid  # the leader, ended by the exec
    thread_exec = execs[1]
    # one event with the start's arguments (path, argv, envp)
    assert len(thread_exec.args) == 3 and thread_exec.pid == clone.pid
    after = calls(events)[calls(events).index(thread_exec) + 1 :]
    assert after and {e.tid for e in after} == {thread_exec.tid}  # /bin/true, alone
    (exit_,) = exits(events)
    assert exit_.code == 0
    assert stats.skipped >= 1  # "+++ superseded by execve in pid N +++"


def test_unknown_syscall_numbers() -> None:
    """src/unknown_syscalls.c: 335 and 999 (no x86_64 call), 0x40000000|39 (x32 getpid), -1,
    each in its own child.  strace 6.1 names them syscall_0x<hex>; the x32 one it decodes as
    getpid.  The sandbox this was recorded in answered 335 with EPERM and then SIGILL."""
    events, _ = parse("unknown_syscalls.strace")
    names = [e.name for e in calls(events)]
    for n in ("syscall_0x14f", "syscall_0x3e7", "syscall_0xffffffffffffffff"):
        assert names.count(n) == 1
    by = {e.name: e for e in calls(events)}
    assert by["syscall_0x3e7"].errno == "ENOSYS" and by["syscall_0x3e7"].ret == -1
    assert by["syscall_0x3e7"].args[:3] == (1, 2, 3)
    children = [e.ret for e in calls(events) if e.name == "clone"]
    assert len(children) == 4
    ends = {e.tid: e for e in exits(events)}
    assert set(children) < set(ends)
    assert Counter(signals(events))["SIGCHLD"] == 4
    raw, _ = parse("unknown_syscalls_raw.strace")
    assert Counter(e.name for e in calls(raw)) == Counter(names)
    old, _ = parse("strace5.10_unknown.strace")
    assert {"syscall_0x14f", "syscall_0x3e7"} <= {e.name for e in calls(old)}


@pytest.mark.parametrize("x", ["raw", "abbrev", "verbose"])
def test_signals_and_xlat_styles(x: str) -> None:
    """src/signals.c: SIGUSR1 (handled), SIGUSR2 (ignored, still reported), a child exiting 7
    (not followed without -f: seen only as SIGCHLD)."""
    events, _ = parse(f"signals_X{x}.strace")
    assert signals(events) == ["SIGUSR1", "SIGUSR2", "SIGCHLD"]
    assert [e.code for e in exits(events)] == [0]
    raw, _ = parse("signals_Xraw.strace")
    # the same calls and errors whatever the xlat style (results differ: addresses move)
    assert [(e.name, e.errno) for e in calls(events)] == [(e.name, e.errno) for e in calls(raw)]
    kill = next(e for e in calls(raw) if e.name == "kill")
    assert kill.args[1] == 12  # SIGUSR2


def test_killed_by_signals() -> None:
    events, _ = parse("signals_segv.strace")
    assert signals(events)[-1] == "SIGSEGV"
    assert exits(events)[-1].signal == "SIGSEGV" and exits(events)[-1].code is None
    assert "(core dumped)" in lines_of(SHAPES / "signals_segv.strace")[-1]
    events, _ = parse("kill9_sh.strace")
    assert [e.signal for e in exits(events)].count("SIGKILL") == 1


def test_filters_and_seccomp_bpf() -> None:
    events, _ = parse("filter_signal.strace")
    assert {e.name for e in calls(events)} == {"openat", "close", "kill"}
    assert signals(events) == ["SIGCHLD"]  # -e signal=SIGCHLD
    events, _ = parse("trace_none.strace")
    assert calls(events) == [] and signals(events) == ["SIGUSR1", "SIGUSR2", "SIGCHLD"]
    events, _ = parse("seccomp_bpf_file.strace")
    assert {"execve", "openat", "vfork", "wait4", "exit_group"} <= {e.name for e in calls(events)}
    assert "read" not in {e.name for e in calls(events)}


STRINGS = [
    "strings_t.strace",
    "strings_tt_T.strace",
    "strings_ttt_T.strace",
    "strings_r.strace",
    "strings_s0.strace",
    "strings_s4096.strace",
    "strings_xx.strace",
]


@pytest.mark.parametrize("name", STRINGS)
def test_timestamps_times_and_strings(name: str) -> None:
    """src/strings.c writes 46 escaped bytes, 300 bytes, then nothing."""
    events, _ = parse(name)
    writes = [(e.ret, e.args[0], e.args[2]) for e in calls(events) if e.name == "write"]
    assert writes == [(46, 1, 46), (300, 1, 300), (0, 1, 0)]
    times = [e.timestamp for e in events]
    if "_t" in name or "_r" in name:
        assert all(t is not None for t in times) and times == sorted(times)  # type: ignore[type-var]
    else:
        assert times == [None] * len(times)
    if name == "strings_r.strace":  # -r: summed from 0
        assert times[0] == 0.0 and times[-1] < 5  # type: ignore[operator]
    if name == "strings_t.strace":  # -t: whole seconds since midnight
        assert all(t == int(t) for t in times)  # type: ignore[arg-type]
    first, _ = parse(STRINGS[0])
    assert [(e.name, e.errno) for e in calls(events)] == [(e.name, e.errno) for e in calls(first)]


@pytest.mark.parametrize("name", ["fds_y.strace", "fds_yy.strace", "strace5.10_fds_yy.strace"])
def test_fd_decorations(name: str) -> None:
    """-y/-yy: '3</a dir/with space \\"quote\\" \\76gt\\74.txt>' (strace escapes < and >) and
    sockets ('3<TCP:[127.0.0.1:41729]>'); the numbers are what a profile's arguments need."""
    events, _ = parse(name)
    text = "".join(lines_of(SHAPES / name))
    assert 'with space \\"quote\\"' in text
    c = calls(events)
    (hello,) = [e for e in c if e.name == "read" and e.ret == 6]  # "hello\n"
    around = c[c.index(hello) - 1 : c.index(hello) + 2]
    assert [(e.name, e.ret, e.args[0]) for e in around] == [
        ("openat", 3, None),  # AT_FDCWD
        ("read", 6, 3),
        ("close", 0, 3),
    ]
    socks = [e.ret for e in c if e.name == "socket"]
    assert socks == [3, 4]
    assert [e.args[0] for e in c if e.name in ("bind", "listen", "getsockname")] == [3, 3, 3]
    assert [e.ret for e in c if e.name == "accept"] == [5]


@pytest.mark.parametrize("name", ["stack_k.strace", "stack_k_write.strace"])
def test_stack_frames_are_skipped(name: str) -> None:
    lines = lines_of(SHAPES / name)
    frames = [line for line in lines if line.startswith(" > ")]
    assert frames
    events, stats = parse(name)
    without = [line for line in lines if not line.startswith(" > ")]
    assert events == list(parse_strace(without))
    assert stats.skipped == len(frames)


def test_decode_pids_comm() -> None:
    """-Y: "PID<comm> " prefixes read as "PID "."""
    events, _ = parse("decode_pids_Y.strace")
    plain = [
        re.sub(r"^(\d+)<[^>]*>", r"\1", line) for line in lines_of(SHAPES / "decode_pids_Y.strace")
    ]
    ref = list(parse_strace(plain))
    assert [(type(e), e.pid, e.tid) for e in events] == [(type(e), e.pid, e.tid) for e in ref]
    assert [e.name for e in calls(events)] == [e.name for e in calls(ref)]
    assert len({e.pid for e in events}) == 2  # sh and the /bin/true it forks


def test_32_bit_personality() -> None:
    """A 64-bit sh runs a 32-bit program: with -e quiet=none strace says so, and the calls
    after the line get arch x86.  Under -o strace is quiet by default and says nothing."""
    events, _ = parse("compat32_quietnone.strace")
    marker = next(
        line for line in lines_of(SHAPES / "compat32_quietnone.strace") if "32 bit mode" in line
    )
    pid = int(marker.split()[0])
    c = calls(events)
    compat = [e for e in c if e.tid == pid and e.arch == "x86"]
    assert {"mmap2", "set_thread_area", "getppid"} <= {e.name for e in compat}
    assert all(e.arch == "x86_64" for e in c if e.tid != pid)
    quiet, _ = parse("compat32_from_sh.strace")
    assert {e.arch for e in calls(quiet)} == {"x86_64"}  # nothing told the parser otherwise


def test_interleaved_processes() -> None:
    events, _ = parse("sh_pipeline_interleaved.strace")
    pids = {e.pid for e in events}
    children = {e.ret for e in calls(events) if e.name in ("clone", "fork", "vfork", "clone3")}
    assert children and children <= pids
    assert len(exits(events)) == len(pids)


def test_a_full_disk_cuts_the_last_line() -> None:
    lines = lines_of(SHAPES / "diskfull_f_ttt.strace")
    assert not lines[-1].endswith("\n")
    events, stats = parse("diskfull_f_ttt.strace")
    assert events == list(parse_strace(lines[:-1]))
    shown = lines[-1][:57] + "..." if len(lines[-1]) > 60 else lines[-1]
    assert stats.truncated_last_line
    assert stats.warnings == [
        f"diskfull_f_ttt.strace:{len(lines)}: last line cut short (no newline at its end), "
        f"left out: {shown!r}"
    ]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        # strace never prints "<... resumed>" without the name (src/syscall.c,
        # print_syscall_resume, every release): not a shape strace writes
        ("5 read(0,  <unfinished ...>\n5 <... resumed>) = 0\n", "x:2:"),
        ('5 read(0, "", 1) = 0\nhello\n5 close(0) = 0\n', "x:2:"),
    ],
)
def test_shapes_strace_does_not_write_are_refused(text: str, where: str) -> None:
    with pytest.raises(ParseError) as info:
        list(parse_strace(text.splitlines(keepends=True), source="x"))
    assert where in str(info.value) and "not strace output" in str(info.value)
