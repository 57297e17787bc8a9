"""The seccomp audit record parser, on records from a real kernel (traces/recorded/audit)."""

from __future__ import annotations

import contextlib
import ctypes
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seccompgen import syscalls
from seccompgen.errors import ParseError
from seccompgen.parsing.audit import (
    AUDIT_ARCHES,
    AuditLineParser,
    AuditRecord,
    SeccompAction,
    parse_audit_lines,
    parse_payload,
)

RECORDED = Path(__file__).resolve().parents[3] / "traces" / "recorded" / "audit"
PROBE_CALLS = {"getppid", "getpgid", "sysinfo", "uname"}


def _lines(name: str) -> list[str]:
    return (RECORDED / name).read_text(encoding="utf-8").splitlines(keepends=True)


def _parse(name: str) -> tuple[list[AuditRecord], AuditLineParser]:
    parser = AuditLineParser(name)
    return list(parser.parse(_lines(name))), parser


def _by_pid(records: list[AuditRecord]) -> list[list[AuditRecord]]:
    groups: dict[int, list[AuditRecord]] = {}
    for r in records:
        groups.setdefault(r.pid, []).append(r)
    return list(groups.values())


def _check_scenario(records: list[AuditRecord]) -> None:
    """The runs of record.sh, in order: see traces/README.md."""
    runs = _by_pid(records)
    assert len(runs) == 6
    amd64, i386, errno_run, trap_run, kill_run, shell_run = runs
    assert [r.name for r in amd64] == ["getppid", "getpgid", "sysinfo", "uname"]
    assert {(r.arch, r.action, r.comm) for r in amd64} == {
        ("x86_64", SeccompAction.LOG, "auditprobe-amd6")  # comm is cut to 15 bytes
    }
    # The 386 Go runtime calls uname once at start-up, then main makes the four calls.
    assert [r.name for r in i386] == ["uname", "getppid", "getpgid", "sysinfo", "uname"]
    assert {r.arch for r in i386} == {"x86"}
    assert [(r.name, r.action) for r in errno_run] == [
        ("getppid", SeccompAction.LOG),
        ("sysinfo", SeccompAction.ERRNO),
    ]
    # The kernel logs the action without SECCOMP_RET_DATA, so the errno is not known.
    assert errno_run[1].errno is None
    assert [(r.name, r.action, r.signal) for r in trap_run] == [("uname", SeccompAction.TRAP, 0)]
    assert [(r.name, r.action, r.signal) for r in kill_run] == [
        ("sysinfo", SeccompAction.KILL_PROCESS, 31)
    ]
    # A comm and exe with a space are hex-encoded by the kernel and decoded here.
    (shell,) = shell_run
    assert shell.comm == "my uname"
    assert shell.exe is not None and shell.exe.endswith("/my uname")
    for r in records:
        assert r.arch is not None and r.name is not None
        assert syscalls.resolve_name(r.arch, r.name) == r.syscall_number
        assert r.uid == 0
        assert r.raw.startswith("audit(") and r.raw.endswith(f"code={r.raw.split('code=')[1]}")
    serials = [r.serial for r in records]
    assert serials == sorted(serials) and len(set(serials)) == len(serials)


def test_netlink_capture_holds_every_record() -> None:
    records, parser = _parse("netlink.txt")
    _check_scenario(records)
    assert parser.stats.skipped == 0


def test_auditd_enriched_log() -> None:
    records, parser = _parse("audit.log")
    _check_scenario(records)
    # auditd's own translation after the GS separator is not part of the record.
    assert all("\x1d" not in r.raw and "SYSCALL=" not in r.raw for r in records)
    assert {"DAEMON_START", "SYSCALL", "PROCTITLE", "DAEMON_END"} <= set(parser.stats.other_types)
    assert parser.stats.other_audit == sum(parser.stats.other_types.values())


@pytest.mark.parametrize("name", ["dmesg.txt", "dmesg_T.txt", "kmsg.txt"])
def test_kernel_log_is_a_rate_limited_subset_of_netlink(name: str) -> None:
    netlink = {r.serial: r for r in _parse("netlink.txt")[0]}
    records, parser = _parse(name)
    assert records, "the kernel log holds the first records of the burst"
    assert len(records) < len(netlink)
    for r in records:
        assert r == netlink[r.serial]
    # Other audit types (the listener's own bind is audited) are skipped, and counted.
    assert {"1300", "1327", "1335"} <= set(parser.stats.other_types)
    assert parser.stats.not_audit >= 1  # the "seccompgen-record: start" marker
    if name != "kmsg.txt":
        assert parser.stats.printk_suppressed > 0


def test_journalctl_prefix() -> None:
    line = next(x for x in _lines("dmesg.txt") if "type=1326" in x)
    body = line[line.index("audit: ") :]
    expected = parse_audit_lines([line])[0][0]
    journal = f"Nov 28 08:39:46 vm kernel: {body}"
    assert parse_audit_lines([journal])[0] == [expected]


def test_x32_numbers_resolve_on_x32() -> None:
    line = _lines("netlink.txt")[0]
    number = syscalls.resolve_name("x32", "getpid")
    assert number is not None and number & syscalls.X32_SYSCALL_BIT
    record = parse_payload(re.sub(r"syscall=\d+", f"syscall={number}", line))
    assert (record.arch, record.name) == ("x32", "getpid")


def test_unknown_number_has_no_name() -> None:
    line = _lines("netlink.txt")[0]
    record = parse_payload(re.sub(r"syscall=\d+", "syscall=999", line))
    assert record.name is None and record.to_event() is None


def test_to_event() -> None:
    record = _parse("netlink.txt")[0][0]
    event = record.to_event()
    assert event is not None
    assert (event.name, event.arch, event.pid, event.tid) == (
        record.name,
        record.arch,
        record.pid,
        record.pid,
    )
    assert event.ret is None and event.errno is None and event.timestamp == record.timestamp


def test_arch_table_matches_libseccomp_tokens() -> None:
    # libseccomp's SCMP_ARCH_* tokens are the kernel's AUDIT_ARCH_* values (seccomp.h).
    lib = ctypes.CDLL("libseccomp.so.2")
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    checked = 0
    for value, name in AUDIT_ARCHES.items():
        token = lib.seccomp_arch_resolve_name(name.encode())
        if token:
            assert token == value, name
            checked += 1
    assert checked >= 15
    assert set(AUDIT_ARCHES.values()) == set(syscalls.ARCHES) - {"x32"}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (r"code=0x[0-9a-f]+", "code=0xzz"),
        (r" syscall=\d+", ""),
        (r"code=0x[0-9a-f]+", "code=0x7ffe0000"),  # no such SECCOMP_RET_* action
        (r"pid=\d+", "pid="),
        (r"audit\(\d+\.\d+:\d+\)", "audit(17958:x)"),
        (r"audit\(.*$", ""),  # type=SECCOMP with no record behind it
    ],
)
def test_malformed_seccomp_lines_raise_with_line_number(old: str, new: str) -> None:
    lines = _lines("audit.log")
    index = next(i for i, x in enumerate(lines) if x.startswith("type=SECCOMP"))
    lines[index] = re.sub(old, new, lines[index], count=1)
    with pytest.raises(ParseError) as info:
        parse_audit_lines(lines, source="audit.log")
    assert info.value.line == index + 1
    assert f"audit.log:{index + 1}:" in str(info.value)


def _check_only_parse_errors(text: str) -> None:
    parser = AuditLineParser("fuzz")
    for line in text.splitlines(keepends=True) or [text]:
        with contextlib.suppress(ParseError):
            parser.feed(line)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fuzz_any_text(text: str) -> None:
    _check_only_parse_errors(text)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        _lines("netlink.txt") + _lines("audit.log") + _lines("dmesg.txt") + _lines("kmsg.txt")
    ),
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=0, max_value=40),
    st.text(max_size=8),
)
def test_fuzz_mutated_real_lines(line: str, at: int, cut: int, insert: str) -> None:
    _check_only_parse_errors(line[:at] + insert + line[at + cut :])
