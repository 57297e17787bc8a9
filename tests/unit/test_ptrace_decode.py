"""The ptrace backend's record decoding: struct ptrace_syscall_info bytes -> events, no tracee."""

from __future__ import annotations

import struct

import pytest

from seccompgen.errors import ParseError
from seccompgen.events import ExitEvent, SignalEvent, SyscallEvent
from seccompgen.parsing.ptrace import (
    PTRACE_SYSCALL_INFO_EXIT,
    PTRACE_SYSCALL_INFO_SECCOMP,
    arg_count,
    decode_records,
    errno_name,
)
from seccompgen.syscalls import resolve_name

X86_64 = 0xC000003E
I386 = 0x40000003


def entry(arch: int, nr: int, *args: int) -> str:
    """Hex of struct ptrace_syscall_info at a seccomp stop (include/uapi/linux/ptrace.h)."""
    regs = [*args, *[0] * (6 - len(args))]
    raw = struct.pack("=B3xIQQ", PTRACE_SYSCALL_INFO_SECCOMP, arch, 0x401000, 0x7FFF0000)
    raw += struct.pack("=Q6QI", nr, *regs, 0) + b"\0" * 4
    return raw.hex()


def exit_part(rval: int, is_error: bool) -> str:
    return struct.pack("=qB", rval, is_error).hex()


def nr(name: str, arch: str = "x86_64") -> int:
    number = resolve_name(arch, name)
    assert number is not None
    return number


def test_call_with_result_args_and_signed_values() -> None:
    at_fdcwd = (1 << 32) - 100  # an int argument whose register's upper half is clear
    info = entry(X86_64, nr("openat"), at_fdcwd, 0x4000, 0x80000, 0, 7, 9)
    line = f"s 1700000000.5 10 11 {info} {exit_part(3, False)}\n"
    [event] = decode_records([line])
    assert event == SyscallEvent(
        "openat", "x86_64", 10, 11, 3, None, 1700000000.5, (-100, 0x4000, 0x80000, 0)
    )


def test_failed_call_gets_errno_name_and_minus_one() -> None:
    line = f"s 1.0 5 5 {entry(X86_64, nr('openat'), 1, 2)} {exit_part(-2, True)}\n"
    [event] = decode_records([line])
    assert isinstance(event, SyscallEvent)
    assert (event.ret, event.errno, event.failed) == (-1, "ENOENT", True)


def test_entry_only_record_has_no_result_and_all_args_when_prototype_unknown() -> None:
    line = f"s 2.0 5 6 {entry(X86_64, nr('getpid'))} -\n"
    [event] = decode_records([line])
    assert isinstance(event, SyscallEvent)
    assert event.name == "getpid" and event.ret is None and event.errno is None
    assert event.args == ()  # getpid takes none, per python-ptrace's prototypes
    assert arg_count("no_such_call") == 6


def test_other_architectures_x32_and_i386() -> None:
    x32 = entry(X86_64, nr("read", "x32"), 0, 0, 0)
    i386 = entry(I386, nr("read", "x86"), 0, 0, 0)
    events = list(decode_records([f"s 1 1 1 {x32} -\n", f"s 1 1 1 {i386} -\n"]))
    assert [(e.name, e.arch) for e in events if isinstance(e, SyscallEvent)] == [
        ("read", "x32"),
        ("read", "x86"),
    ]


def test_unknown_numbers_and_arches_are_skipped() -> None:
    lines = [f"s 1 1 1 {entry(X86_64, 4000)} -\n", f"s 1 1 1 {entry(0x1234, 0)} -\n"]
    assert list(decode_records(lines)) == []


def test_signals_and_exits() -> None:
    events = list(decode_records(["g 3.0 7 8 23\n", "x 4.0 7 8 0 -\n", "x 5.0 7 7 - 9\n"]))
    assert events == [
        SignalEvent("SIGURG", 7, 8, 3.0),
        ExitEvent(7, 8, 0, None, 4.0),
        ExitEvent(7, 7, None, "SIGKILL", 5.0),
    ]


def test_kernel_internal_errnos_have_strace_names() -> None:
    assert errno_name(512) == "ERESTARTSYS"
    assert errno_name(516) == "ERESTART_RESTARTBLOCK"
    assert errno_name(11) == "EAGAIN"
    assert errno_name(9999) == "ERRNO_9999"


def test_a_truncated_last_line_ends_the_stream_and_garbage_is_an_error() -> None:
    good = f"s 1 1 1 {entry(X86_64, nr('read'))} -\n"
    assert len(list(decode_records([good, "s 1 1 1 0300"]))) == 1
    with pytest.raises(ParseError, match="src:2"):
        list(decode_records([good, "q 1 1 1\n"], source="src"))
    exit_op = bytearray.fromhex(entry(X86_64, 0))
    exit_op[0] = PTRACE_SYSCALL_INFO_EXIT
    with pytest.raises(ParseError, match="not an entry record"):
        list(decode_records([f"s 1 1 1 {exit_op.hex()} -\n"]))
