"""The qemu-user ``-strace`` parser, on recorded logs (tests/data/qemu-strace) and small texts."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from seccompgen import syscalls
from seccompgen.events import SignalEvent, SyscallEvent
from seccompgen.parsing.qemu import QemuParseStats, parse_qemu_strace

DATA = Path(__file__).resolve().parents[2] / "data" / "qemu-strace"
RECORDED = sorted(DATA.glob("*.strace"))

# Independent of the parser: every "PID name(" that starts a line or follows a ")".
_STARTS = re.compile(r"(?:^|(?<=\)))(\d+) ([a-z_][a-z0-9_]*)\(", re.M)


def _parse(text: str) -> tuple[list[SyscallEvent], list[SignalEvent], QemuParseStats]:
    stats = QemuParseStats()
    events = list(parse_qemu_strace(text.splitlines(keepends=True), stats=stats))
    calls = [e for e in events if isinstance(e, SyscallEvent)]
    signals = [e for e in events if isinstance(e, SignalEvent)]
    return calls, signals, stats


def test_the_recorded_logs_are_here() -> None:
    assert {p.name for p in RECORDED} == {
        "httpservice_load.strace",
        "rarepaths_preempt_lockexit_signal.strace",
    }


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.name)
def test_every_call_of_a_recorded_log_is_read(path: Path) -> None:
    text = path.read_text()
    calls, _, stats = _parse(text)
    assert stats.skipped == 0, stats.examples
    assert Counter(c.name for c in calls) == Counter(m[1] for m in _STARTS.findall(text))
    assert {c.arch for c in calls} == {"aarch64"}
    assert len({c.pid for c in calls}) == 1  # qemu prints getpid() for every thread
    for name in {c.name for c in calls}:
        assert syscalls.canonical_name("aarch64", name) == name, name
    assert all(c.args == () and c.timestamp is None for c in calls)


def test_the_rare_paths_of_the_go_runtime_show() -> None:
    calls, signals, stats = _parse((DATA / "rarepaths_preempt_lockexit_signal.strace").read_text())
    names = {c.name for c in calls}
    assert {"tgkill", "rt_sigreturn", "exit", "exit_group", "clone", "sigaltstack"} <= names
    assert {"open", "stat", "epoll_wait", "arch_prctl"}.isdisjoint(names)  # arm64 has none
    assert {s.signal for s in signals} == {"SIGURG", "SIGUSR1"}
    assert stats.unmatched_returns > 0  # returns printed apart from their calls
    # rt_sigreturn "returns" qemu's internal QEMU_ESIGRETURN (513): not an error of the guest.
    assert all(c.errno is None for c in calls if c.name == "rt_sigreturn")


def test_a_service_under_load() -> None:
    calls, _, _ = _parse((DATA / "httpservice_load.strace").read_text())
    names = {c.name for c in calls}
    assert {"accept4", "epoll_pwait", "socket", "bind", "listen", "exit_group"} <= names
    again = [c for c in calls if c.errno == "EAGAIN"]
    assert again and all(c.ret == -11 for c in again)


def test_interleaved_calls_signals_and_returns() -> None:
    text = (
        "7 futex(0x4000,FUTEX_PRIVATE_FLAG|FUTEX_WAIT,-1,NULL,NULL,0)"
        "7 futex(0x4000,FUTEX_PRIVATE_FLAG|FUTEX_WAKE,1,NULL,NULL,0) = 1\n"
        "7 nanosleep(87706121338600,0,0,0,1000,20000)--- SIGURG {si_signo=SIGURG, "
        "si_code=SI_TKILL, si_pid=7, si_uid=0} ---\n"
        " = 0\n"
        "--- SIGURG {si_signo=SIGURG, si_code=SI_TKILL, si_pid=7, si_uid=0} ---\n"
        '7 openat(AT_FDCWD,"/tmp/a (b) c",O_RDONLY) = -1 errno=2 (No such file or directory)\n'
        "7 rt_sigreturn(0,-1,257,1,2287904,8388608) = -1 errno=513 (Successful exit from "
        "sigreturn)\n"
        "7 mmap(NULL,4096,PROT_READ,MAP_PRIVATE|MAP_ANONYMOUS,-1,0) = 0x0000005500802000\n"
        "7 clock_gettime(CLOCK_MONOTONIC,0x55) = 0 ({tv_sec = 1,tv_nsec = 2})\n"
        "7 Unknown syscall 451\n"
        "7 nanosleep(1,0,0,0,0,0)7 exit_group(0)\n"
        "7 read(3,0x1,"
    )
    calls, signals, stats = _parse(text)
    assert [(c.name, c.ret, c.errno) for c in calls] == [
        ("futex", None, None),
        ("futex", 1, None),
        ("nanosleep", None, None),
        ("openat", -2, "ENOENT"),
        ("rt_sigreturn", None, None),
        ("mmap", 0x5500802000, None),
        ("clock_gettime", 0, None),
        ("syscall_451", None, None),
        ("nanosleep", None, None),
        ("exit_group", None, None),
        ("read", None, None),
    ]
    assert [s.signal for s in signals] == ["SIGURG", "SIGURG"]
    assert stats.unmatched_returns == 1 and stats.skipped == 0
    # syscall_451 is resolved through libseccomp later, like strace's placeholders.
    assert syscalls.canonical_name("aarch64", "syscall_451") in (None, "cachestat")


def test_text_that_is_not_qemu_output_is_counted() -> None:
    calls, _, stats = _parse("qemu: uncaught target signal 11 (Segmentation fault)\n")
    assert not calls
    assert stats.skipped == 1 and "uncaught target signal" in stats.examples[0]
