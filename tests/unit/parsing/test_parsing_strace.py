"""The strace parser on strace output recorded from real programs (traces/recorded)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from seccompgen.errors import ParseError
from seccompgen.events import Event, ExitEvent, Phase, SignalEvent, SyscallEvent
from seccompgen.parsing import ParseStats, ThreadTable, ff_pid, merge_by_time, parse_strace

RECORDED = Path(__file__).resolve().parents[3] / "traces" / "recorded"
PREFIX = re.compile(r"^(?:\[pid +(\d+)\] |(\d+) +)?")


def lines_of(name: str) -> list[str]:
    with open(RECORDED / name, encoding="utf-8") as f:
        return list(f)


def parse(name: str, **kw: object) -> tuple[list[Event], ParseStats]:
    stats = ParseStats()
    events = list(parse_strace(lines_of(name), source=name, stats=stats, **kw))  # type: ignore[arg-type]
    return events, stats


def calls(events: list[Event]) -> list[SyscallEvent]:
    return [e for e in events if isinstance(e, SyscallEvent)]


def body(line: str) -> str:
    """The line without its pid prefix and timestamp, worked out independently of the parser."""
    rest = PREFIX.sub("", line).lstrip()
    return re.sub(r"^[\d.:]+ +", "", rest)


@pytest.mark.parametrize(
    "name", ["go_f_ttt_raw.strace", "py_threads_raw.strace", "py_threads.strace", "sh_segv.strace"]
)
def test_every_call_line_becomes_one_event(name: str) -> None:
    lines = lines_of(name)
    bodies = [body(line) for line in lines]
    expected_calls = sum(
        1
        for b in bodies
        if not b.startswith(("---", "+++", "[")) and not b.rstrip().endswith("<unfinished ...>")
    )
    events, stats = parse(name)
    assert stats.lines == len(lines)
    assert len(calls(events)) == stats.syscalls == expected_calls
    assert stats.exits == sum(b.startswith("+++") for b in bodies)
    assert stats.signals == sum(b.startswith("--- SIG") for b in bodies)


def test_go_threads_share_the_process_pid_and_children_get_their_own() -> None:
    lines = lines_of("go_f_ttt_raw.strace")
    main = int(lines[0].split()[0])
    true_child = next(int(x.split()[0]) for x in lines if 'execve("/bin/true"' in x)
    evs = calls(parse("go_f_ttt_raw.strace")[0])
    tids_by_pid: dict[int, set[int]] = {}
    for e in evs:
        tids_by_pid.setdefault(e.pid, set()).add(e.tid)
    assert len(tids_by_pid[main]) > 3  # the Go runtime's threads
    assert tids_by_pid[true_child] == {true_child}
    assert {e.arch for e in evs} == {"x86_64"}


def test_resumed_call_joins_both_halves_and_keeps_start_time() -> None:
    lines = lines_of("go_f_ttt_raw.strace")
    i = next(i for i, x in enumerate(lines) if "clone(" in x and x.endswith("<unfinished ...>\n"))
    tid, start_ts = lines[i].split()[:2]
    resumed = next(x for x in lines[i:] if x.startswith(tid) and "<... clone resumed>" in x)
    child = int(resumed.rsplit("= ", 1)[1])
    ev = next(
        e for e in calls(parse("go_f_ttt_raw.strace")[0]) if e.name == "clone" and e.ret == child
    )
    assert ev.timestamp == float(start_ts)
    tls = int(re.search(r"tls=(0x[0-9a-f]+)", resumed).group(1), 16)  # type: ignore[union-attr]
    # clone's named fields go to their kernel argument indexes: flags 0, the stack 1; tls is
    # not placed (its index differs between ABIs), so it is not recorded.
    start = lines[i]
    flags = int(re.search(r"flags=(0x[0-9a-f]+)", start).group(1), 16)  # type: ignore[union-attr]
    stack = int(re.search(r"child_stack=(0x[0-9a-f]+)", start).group(1), 16)  # type: ignore[union-attr]
    assert ev.args == (flags, stack, None)
    assert flags & 0x10000  # CLONE_THREAD: a Go runtime thread
    assert ev.tid == int(tid) and tls > 0


def test_raw_arguments_are_numbers_and_everything_else_is_none() -> None:
    evs = calls(parse("go_f_ttt_raw.strace")[0])
    mmap = next(e for e in evs if e.name == "mmap")
    assert mmap.args == (0, 262144, 0x3, 0x22, -1, 0)
    assert mmap.ret == 0x7F46F2699000
    openat = next(e for e in evs if e.name == "openat")
    assert openat.args == (-100, None, 0)  # AT_FDCWD, a path, O_RDONLY under -X raw


def test_decoded_output_errno_and_decorated_returns() -> None:
    evs = calls(parse("ls_single_yy.strace")[0])
    hostname = next(
        e for e in evs if e.name == "openat" and e.ret is not None and e.ret >= 0 and e == e
    )
    assert hostname.args[0] is None  # AT_FDCWD</path> is symbolic
    opened = [e for e in evs if e.name == "openat" and e.ret == 3]
    assert opened, "'= 3</etc/...>' returns parse as 3"
    enoent = [e for e in calls(parse("ls_single_r.strace")[0]) if e.errno == "ENOENT"]
    assert enoent and all(e.ret == -1 and e.failed for e in enoent)


def test_unknown_and_digit_names() -> None:
    evs = calls(parse("py_unknown_syscall.strace")[0])
    unknown = next(e for e in evs if e.name == "syscall_0x1c3")
    assert unknown.args[:2] == (1, 2) and unknown.errno == "EFAULT"
    assert any(e.name == "syscall_0x3e7" and e.errno == "ENOSYS" for e in evs)
    names = {e.name for e in evs} | {e.name for e in calls(parse("go_f_ttt_raw.strace")[0])}
    names |= {e.name for e in calls(parse("py_threads.strace")[0])}
    for n in ("faccessat2", "pipe2", "accept4", "epoll_create1", "prlimit64", "clone3", "wait4",
              "pread64", "rt_sigreturn"):  # fmt: skip
        assert n in names


def test_clone3_and_raw_clone_flags_decide_thread_groups() -> None:
    for name in ("py_threads_raw.strace", "py_threads.strace"):
        lines = lines_of(name)
        main = int(lines[0].split()[0])
        evs = calls(parse(name)[0])
        made = {e.ret: e.name for e in evs if e.name in ("clone3", "clone", "vfork") and e.ret}
        groups = {e.tid: e.pid for e in evs}
        for child, how in made.items():
            if how == "clone3":  # glibc pthread_create: CLONE_THREAD
                assert groups[child] == main
            elif child in groups:  # fork() and vfork() children are processes
                assert groups[child] == child


def test_relative_timestamps_are_summed() -> None:
    lines = lines_of("ls_single_r.strace")
    total = sum(float(x.split()[0]) for x in lines)
    events, _ = parse("ls_single_r.strace")
    assert events[-1].timestamp == pytest.approx(total)
    assert all(e.pid == 0 and e.tid == 0 for e in events)
    events, _ = parse("ls_single_r.strace", default_pid=77)
    assert {e.pid for e in events} == {77}


def test_stderr_prefixes_spliced_diagnostics_and_unprefixed_start() -> None:
    lines = lines_of("go_stderr_tt_T.strace")
    spliced = sum(1 for x in lines if "strace: Process" in x and not x.startswith("/"))
    assert spliced > 0
    events, stats = parse("go_stderr_tt_T.strace")
    evs = calls(events)
    clones = [e for e in evs if e.name == "clone"]
    assert clones and all(e.ret and e.ret > 0 and len(e.args) == 3 for e in clones)
    true_child = next(int(PREFIX.match(x).group(1)) for x in lines if 'execve("/bin/true"' in x)  # type: ignore[union-attr]
    # Unprefixed lines are pid 0; the main thread keeps that group once strace adds "[pid N]".
    others = {e.pid for e in evs} - {0}
    assert true_child in others
    assert all({e.tid for e in evs if e.pid == p} == {p} for p in others)  # fork/vfork children
    assert len({e.tid for e in evs if e.pid == 0}) > 3
    assert stats.skipped == sum(1 for x in lines if "strace: Process" in x)
    # the 07:36:53.761684-style clock becomes seconds since midnight
    h, m, s = lines[0].split()[0].split(":")
    assert events[0].timestamp == pytest.approx(int(h) * 3600 + int(m) * 60 + float(s))


def test_personality_switch_sets_arch() -> None:
    lines = lines_of("sh_exec32_quietnone.strace")
    pid32 = int(re.search(r"PID=(\d+) runs in 32 bit", "".join(lines)).group(1))  # type: ignore[union-attr]
    switch = next(i for i, x in enumerate(lines) if "runs in 32 bit" in x)
    evs = calls(parse("sh_exec32_quietnone.strace")[0])
    go = [e for e in evs if e.pid == pid32]
    exec_at = next(i for i, e in enumerate(go) if e.name == "execve")
    assert {e.arch for e in go[:exec_at]} == {"x86_64"}  # the forked shell before it executes
    assert {e.arch for e in go[exec_at + 1 :]} == {"x86"}
    assert any(e.name == "set_thread_area" for e in go)
    assert len({e.tid for e in go}) > 1  # threads created in 32-bit mode inherit it
    first_line_after = body(lines[switch + 1])
    assert not first_line_after.startswith("[")
    back64 = int(re.search(r"PID=(\d+) runs in 64 bit", "".join(lines)).group(1))  # type: ignore[union-attr]
    after = [e for e in evs if e.tid == back64 and e.name != "execve"]
    assert after and {e.arch for e in after} == {"x86_64"}
    events, _ = parse("handwritten_forms.strace")
    assert {e.arch for e in calls(events) if e.pid == 5001} == {"x32"}
    restarted = calls(events)[1]
    assert restarted.errno == "ERESTARTNOINTR" and restarted.ret is None
    assert calls(events)[-1].pid == 5002  # fork child: own group


def test_signals_exits_and_restarts() -> None:
    events, stats = parse("sleep_stopcont.strace")
    sigs = [e.signal for e in events if isinstance(e, SignalEvent)]
    assert sigs == ["SIGSTOP", "SIGCONT"]
    evs = calls(events)
    interrupted = next(e for e in evs if e.errno == "ERESTART_RESTARTBLOCK")
    assert interrupted.name == "clock_nanosleep" and interrupted.ret is None
    assert any(e.name == "restart_syscall" and e.ret == 0 for e in evs)
    assert stats.skipped == 1  # "--- stopped by SIGSTOP ---"
    exit_group = next(e for e in evs if e.name == "exit_group")
    assert exit_group.ret is None and exit_group.errno is None
    killed = [e for e in parse("sh_kill9.strace")[0] if isinstance(e, ExitEvent)]
    assert [(k.code, k.signal) for k in killed] == [(None, "SIGKILL")]
    dumped = [e for e in parse("sh_segv.strace")[0] if isinstance(e, ExitEvent)]
    assert [(k.code, k.signal) for k in dumped] == [(None, "SIGSEGV")]
    go = parse("go_f_ttt_raw.strace")[0]
    assert any(isinstance(e, SyscallEvent) and e.errno == "ERESTARTSYS" for e in go)
    assert {e.code for e in go if isinstance(e, ExitEvent)} == {0}


def test_attach_and_detach() -> None:
    events, stats = parse("attach_sleep.strace")
    assert calls(events)[0].name == "restart_syscall" and stats.skipped == 1
    events, stats = parse("detach_sleep.strace")
    (ev,) = calls(events)
    assert ev.name == "restart_syscall" and ev.ret is None
    assert stats.skipped == 2 and not stats.truncated_last_line


def test_phases_default_rule_and_boundaries() -> None:
    events, _ = parse("go_f_ttt_raw.strace")
    term = next(
        i for i, e in enumerate(events) if isinstance(e, SignalEvent) and e.signal == "SIGTERM"
    )
    assert all(e.phase is Phase.STARTUP for e in events[:term])
    assert all(e.phase is Phase.SHUTDOWN for e in events[term:])
    kill = next(e for e in calls(events) if e.name == "kill")
    assert kill.phase is Phase.STARTUP
    stamps = sorted(e.timestamp for e in events if e.timestamp is not None)
    b1, b2 = stamps[len(stamps) // 3], stamps[2 * len(stamps) // 3]
    bounded, _ = parse(
        "go_f_ttt_raw.strace", boundaries=[(b1, Phase.EXERCISE), (b2, Phase.SHUTDOWN)]
    )
    for e in bounded:
        assert e.timestamp is not None
        want = (
            Phase.STARTUP
            if e.timestamp < b1
            else Phase.EXERCISE
            if e.timestamp < b2
            else Phase.SHUTDOWN
        )
        assert e.phase is want


def test_ff_files_with_shared_thread_table_and_merge() -> None:
    files = sorted((RECORDED / "go_ff").iterdir(), key=lambda p: ff_pid(p.name) or 0)
    main = ff_pid(files[0].name)
    assert main is not None and ff_pid("trace.strace") is None
    table: ThreadTable = {}
    streams = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            streams.append(
                iter(
                    list(parse_strace(fh, source=f.name, default_pid=ff_pid(f.name), threads=table))
                )
            )
    total = sum(
        len(
            list(
                parse_strace(
                    f.read_text(encoding="utf-8").splitlines(True), default_pid=ff_pid(f.name)
                )
            )
        )
        for f in files
    )
    merged = list(merge_by_time(streams))
    assert len(merged) == total
    stamps = [e.timestamp for e in merged]
    assert stamps == sorted(stamps)  # type: ignore[type-var]
    child = next(ff_pid(f.name) for f in files if 'execve("/bin/true"' in f.read_text())
    pids = Counter(e.pid for e in merged)
    assert set(pids) - {child} <= {main} | {p for p in pids if pids[p] <= 2}


def test_merge_by_time_is_stable_without_timestamps() -> None:
    a = [SyscallEvent("read", "x86_64", 1, 1, 0, None, None, ()) for _ in range(3)]
    b = [SyscallEvent("write", "x86_64", 2, 2, 0, None, None, ()) for _ in range(2)]
    merged = list(merge_by_time([iter(a), iter(b)]))
    assert [e.name for e in calls(merged)] == ["read"] * 3 + ["write"] * 2


def test_truncated_last_line_is_ignored() -> None:
    text = "".join(lines_of("go_f_ttt_raw.strace"))
    complete, _ = parse("go_f_ttt_raw.strace")
    last_start = text.rstrip("\n").rfind("\n") + 1
    prev_start = text[: last_start - 1].rfind("\n") + 1
    cut = text[: prev_start + (last_start - prev_start) // 2]  # half of the second-to-last line
    stats = ParseStats()
    events = list(parse_strace(cut.splitlines(keepends=True), stats=stats))
    assert stats.truncated_last_line
    assert events == complete[: len(events)]
    assert len(events) >= len(complete) - 3


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}, indent=2) + "\n",
        "hello world\nthis is not a trace\n",
        "execve(\n",
    ],
)
def test_not_strace_output_raises_parse_error(text: str) -> None:
    with pytest.raises(ParseError) as info:
        list(parse_strace(text.splitlines(keepends=True), source="input.txt"))
    assert info.value.line == 1 and info.value.source == "input.txt"
    assert "not strace output" in str(info.value) and "NAME(args) = RET" in str(info.value)


def test_bad_line_in_the_middle_names_its_line_number() -> None:
    lines = lines_of("sh_kill9.strace")
    lines.insert(10, "garbage in the middle\n")
    with pytest.raises(ParseError) as info:
        list(parse_strace(lines, source="x.strace"))
    assert info.value.line == 11
    assert str(info.value).startswith("x.strace:11: not strace output")


def test_unnamed_calls_are_skipped_with_a_warning() -> None:
    lines = lines_of("go_f_ttt_raw.strace")
    tid = lines[-1].split()[0]
    ts = lines[-1].split()[1]
    # strace prints "???" for a call it cannot name, here as the Go program's threads exit
    unknown = [
        f"{tid} {ts} ???( <unfinished ...>\n",
        f"{tid} {ts} <... ??? resumed>) = ?\n",
        f"[pid {tid}] {ts} ???() = ?\n",
    ]
    at = next(i for i, x in enumerate(lines) if x.endswith("<unfinished ...>\n"))
    mixed = lines[: at + 1] + unknown + lines[at + 1 :]
    stats = ParseStats()
    events = list(parse_strace(mixed, source="go.strace", stats=stats))
    plain, plain_stats = parse("go_f_ttt_raw.strace")
    assert events == plain  # a real call in progress in that thread is still joined with its end
    assert stats.skipped == plain_stats.skipped + len(unknown)
    assert stats.lines == len(mixed)
    assert not any(isinstance(e, SyscallEvent) and "?" in e.name for e in events)
    (warning,) = [w for w in stats.warnings if "???" in w]
    assert warning.startswith(f"go.strace:{at + 2}: skipped {len(unknown)} line")


def test_events_are_plain_frozen_syscall_events() -> None:
    ev = calls(parse("go_f_ttt_raw.strace")[0])[-1]
    assert type(ev) is SyscallEvent
    with pytest.raises(AttributeError):  # dataclasses.FrozenInstanceError
        ev.name = "other"  # type: ignore[misc]
    rebuilt = SyscallEvent(
        ev.name, ev.arch, ev.pid, ev.tid, ev.ret, ev.errno, ev.timestamp, ev.args, ev.phase
    )
    assert rebuilt == ev and hash(rebuilt) == hash(ev)


# Found by tests/fuzz: a mutated line carried a 5000-digit hex argument; the parser kept it as
# an int, and writing the event as JSON (trace file, graph) then failed with ValueError.
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("0x" + "f" * 5000, None),
        ("0" + "7" * 5000, None),
        ("9" * 5000, None),
        ("0x10000000000000000", None),
        ("18446744073709551616", None),
        ("-9223372036854775809", None),
        ("0xffffffffffffffff", 0xFFFFFFFFFFFFFFFF),
        ("18446744073709551615", 0xFFFFFFFFFFFFFFFF),
        ("-9223372036854775808", -(1 << 63)),
    ],
)
def test_arguments_wider_than_a_register_are_not_values(args: str, expected: int | None) -> None:
    from seccompgen.tracefile.writer import _dumps, _event_to_json

    for line in (f"read({args}, 1) = 0\n", f"7 1700000000.000001 read({args}, 1) = 0\n"):
        (event,) = list(parse_strace([line]))
        assert isinstance(event, SyscallEvent) and event.args == (expected, 1)
        assert json.loads(_dumps(_event_to_json(event, "x86_64")))["args"][0] == expected


@pytest.mark.parametrize("ret", ["0x" + "f" * 5000, "0x10000000000000000", "-9223372036854775809"])
def test_a_return_value_wider_than_a_register_is_a_parse_error(ret: str) -> None:
    for line in (f"read(1) = {ret}\n", f"7 1700000000.000001 read(1) = {ret}\n"):
        with pytest.raises(ParseError, match="wider than a 64-bit register"):
            list(parse_strace([line]))


# Found by benchmarks/fuzz: a 400-digit timestamp read as float('inf'), which the trace writer
# then refused (JSON has no infinity) with ValueError.
@pytest.mark.parametrize(
    "lines",
    [
        ["7 " + "9" * 400 + " read(1) = 0\n"],
        ["7 1700000000.1 getpid() = 7\n", "7 " + "9" * 400 + " read(1) = 0\n"],
        ["7 " + "9" * 400 + " read(1 <unfinished ...>\n"],
        ["7 0.1 getpid() = 7\n", "7 " + "9" * 400 + " read(1) = 0\n"],
        ["7 10:00:00.1 getpid() = 7\n", "7 10:00:" + "9" * 400 + " read(1) = 0\n"],
    ],
    ids=["epoch-first", "epoch", "unfinished", "relative", "clock"],
)
def test_an_infinite_timestamp_is_a_parse_error(lines: list[str]) -> None:
    with pytest.raises(ParseError, match=r"timestamp .* is out of range") as info:
        list(parse_strace(lines))
    assert info.value.line == len(lines)


def test_a_resumed_line_s_own_timestamp_is_not_read() -> None:
    # Found by benchmarks/fuzz: the compiled scanner never reads the time of a resumed line
    # (the call keeps its start's), so an out-of-range one there must not fail the pure path.
    import seccompgen.parsing.strace as strace_mod

    lines = [
        "8079  1795851413.726387 rt_sigprocmask(0x2, ~[],  <unfinished ...>\n",
        "8079  1" + "0" * 700 + ".5 <... rt_sigprocmask resumed>[], 8) = 0\n",
    ]
    saved = strace_mod._COMPILED
    try:
        for compiled in (True, False):
            strace_mod._COMPILED = compiled and saved
            (event,) = list(parse_strace(lines))
            assert isinstance(event, SyscallEvent)
            assert (event.timestamp, event.args) == (1795851413.726387, (2, None, None, 8))
    finally:
        strace_mod._COMPILED = saved
