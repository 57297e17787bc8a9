"""syscalls: libseccomp tables, checked against the running kernel and libseccomp itself."""

from __future__ import annotations

import ctypes
import os
import platform
import re
import threading

import pytest

from seccompgen import syscalls
from seccompgen.errors import SyscallTableError

# uname -m -> libseccomp arch name, for the hosts tests run on.
_MACHINE_TO_ARCH = {"x86_64": "x86_64", "aarch64": "aarch64", "riscv64": "riscv64"}

SUPPORTED = [a for a in syscalls.ARCHES if syscalls.arch_supported(a)]


def _libc_syscall(number: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return int(libc.syscall(ctypes.c_long(number)))


def test_native_arch_matches_uname() -> None:
    assert syscalls.native_arch() == _MACHINE_TO_ARCH[platform.machine()]


def test_native_numbers_are_the_kernels() -> None:
    # Calling the kernel with the number libseccomp gives proves the number is right.
    arch = syscalls.native_arch()
    getpid = syscalls.resolve_name(arch, "getpid")
    gettid = syscalls.resolve_name(arch, "gettid")
    assert getpid is not None and gettid is not None
    assert _libc_syscall(getpid) == os.getpid()
    assert _libc_syscall(gettid) == threading.get_native_id()


def test_arches_map_both_ways() -> None:
    assert syscalls.ARCHES["x86_64"] == "SCMP_ARCH_X86_64"
    assert syscalls.ARCHES["aarch64"] == "SCMP_ARCH_AARCH64"
    for name, scmp in syscalls.ARCHES.items():
        assert syscalls.ARCH_NAMES[scmp] == name
        assert scmp.startswith("SCMP_ARCH_")


@pytest.mark.parametrize("arch", SUPPORTED)
def test_known_names_round_trip(arch: str) -> None:
    names = syscalls.known_names(arch)
    assert len(names) > 200
    for name in names:
        number = syscalls.resolve_name(arch, name)
        assert number is not None and number >= 0
        assert syscalls.resolve_number(arch, number) == name


def test_x32_numbers_carry_the_x32_bit() -> None:
    read = syscalls.resolve_name("x32", "read")
    assert read == syscalls.X32_SYSCALL_BIT | 0
    assert syscalls.resolve_number("x32", read) == "read"
    # a bare table index is taken as x32's numbering
    assert syscalls.resolve_number("x32", 0) == "read"
    assert "read" in syscalls.known_names("x32")


def test_pseudo_syscalls_are_not_known() -> None:
    # socketcall(2) exists only on 32-bit ABIs; libseccomp gives x86_64 a negative number.
    assert syscalls.resolve_name("x86_64", "socketcall") is None
    assert "socketcall" not in syscalls.known_names("x86_64")
    assert "socketcall" in syscalls.known_names("x86")
    assert syscalls.resolve_number("x86_64", -1) is None
    assert syscalls.resolve_number("x86_64", -101) is None


def test_name_with_pseudo_and_real_number_resolves_to_real() -> None:
    # x86 socket() is multiplexed via socketcall (pseudo number) and direct since Linux 4.3.
    number = syscalls.resolve_name("x86", "socket")
    assert number is not None and number > 0
    assert syscalls.resolve_number("x86", number) == "socket"
    assert "socket" in syscalls.known_names("x86")


def test_unknown_name_and_number() -> None:
    assert syscalls.resolve_name("x86_64", "no_such_syscall") is None
    assert syscalls.resolve_number("x86_64", 0x3FFF) is None


def test_arm_private_syscalls_are_enumerated() -> None:
    # ARM's private calls live at __ARM_NR_BASE (0x0f0000), far above the main table.
    number = syscalls.resolve_name("arm", "cacheflush")
    assert number is not None and number >= 0x0F0000
    assert "cacheflush" in syscalls.known_names("arm")


def test_canonical_name() -> None:
    arch = syscalls.native_arch()
    assert syscalls.canonical_name(arch, "openat") == "openat"
    number = syscalls.resolve_name(arch, "pidfd_getfd")
    assert number is not None
    assert syscalls.canonical_name(arch, f"syscall_{number:#x}") == "pidfd_getfd"
    assert syscalls.canonical_name(arch, f"syscall_{number}") == "pidfd_getfd"
    assert syscalls.canonical_name(arch, "syscall_0x3fff") is None
    assert syscalls.canonical_name(arch, "not_a_syscall") is None
    assert syscalls.canonical_name("x86_64", "socketcall") is None


def test_canonical_name_translates_strace_arm_name() -> None:
    expected = syscalls.resolve_number("arm", 341)
    assert syscalls.canonical_name("arm", "sync_file_range2") == expected == "arm_sync_file_range"


def test_version() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", syscalls.libseccomp_version())


def test_unknown_arch_raises() -> None:
    with pytest.raises(SyscallTableError, match="unknown architecture 'vax'"):
        syscalls.known_names("vax")


def test_missing_library_explains_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syscalls, "_LIBRARY", "libseccomp-missing-for-test.so.0")
    syscalls._lib.cache_clear()
    try:
        with pytest.raises(SyscallTableError) as info:
            syscalls.libseccomp_version()
        assert "apt-get install libseccomp2" in info.value.explain()
    finally:
        monkeypatch.undo()
        syscalls._lib.cache_clear()
    assert syscalls.libseccomp_version()
