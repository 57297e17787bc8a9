"""Architecture names and syscall name <-> number tables, read from libseccomp.

Container runtimes (runc, crun) resolve the names in a seccomp profile with libseccomp, so the
names and numbers here come from the same library, through ctypes. The library is loaded lazily,
once, in :func:`_lib`; a missing ``libseccomp.so.2`` becomes a :class:`SyscallTableError`.

Architecture names are libseccomp's (``x86_64``, ``x86``, ``x32``, ``aarch64``, ``arm``, ...), the
names ``seccomp_arch_resolve_name(3)`` accepts and the ones :mod:`seccompgen.events` uses.

Two libseccomp details shape the tables:

* x32 syscall numbers carry the ``__X32_SYSCALL_BIT`` (``0x40000000``): libseccomp returns
  ``read`` on x32 as ``0x40000000`` and resolves numbers only with the bit set.
* For a name that has no syscall of its own on an architecture, libseccomp returns a negative
  *pseudo-syscall* number (``__PNR_*`` in ``seccomp-syscalls.h``), e.g. ``socket`` on x86 is
  ``-101`` because it is multiplexed through ``socketcall(2)``. The kernel never sees such a
  number, so names known only by a pseudo number are not "known" here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import re
from collections.abc import Mapping
from types import MappingProxyType

from seccompgen.errors import SyscallTableError

_LIBRARY = "libseccomp.so.2"

ARCHES: Mapping[str, str] = MappingProxyType(
    {
        "x86": "SCMP_ARCH_X86",
        "x86_64": "SCMP_ARCH_X86_64",
        "x32": "SCMP_ARCH_X32",
        "arm": "SCMP_ARCH_ARM",
        "aarch64": "SCMP_ARCH_AARCH64",
        "loongarch64": "SCMP_ARCH_LOONGARCH64",
        "m68k": "SCMP_ARCH_M68K",
        "mips": "SCMP_ARCH_MIPS",
        "mips64": "SCMP_ARCH_MIPS64",
        "mips64n32": "SCMP_ARCH_MIPS64N32",
        "mipsel": "SCMP_ARCH_MIPSEL",
        "mipsel64": "SCMP_ARCH_MIPSEL64",
        "mipsel64n32": "SCMP_ARCH_MIPSEL64N32",
        "ppc": "SCMP_ARCH_PPC",
        "ppc64": "SCMP_ARCH_PPC64",
        "ppc64le": "SCMP_ARCH_PPC64LE",
        "s390": "SCMP_ARCH_S390",
        "s390x": "SCMP_ARCH_S390X",
        "sh": "SCMP_ARCH_SH",
        "sheb": "SCMP_ARCH_SHEB",
        "parisc": "SCMP_ARCH_PARISC",
        "parisc64": "SCMP_ARCH_PARISC64",
        "riscv64": "SCMP_ARCH_RISCV64",
    }
)
"""libseccomp arch name -> runtime-spec ``SCMP_ARCH_*`` name, for every arch the spec lists."""

ARCH_NAMES: Mapping[str, str] = MappingProxyType({v: k for k, v in ARCHES.items()})
"""OCI ``SCMP_ARCH_*`` name -> libseccomp architecture name (the inverse of :data:`ARCHES`)."""

# __X32_SYSCALL_BIT, arch/x86/include/uapi/asm/unistd.h; libseccomp keeps it in x32 numbers.
X32_SYSCALL_BIT = 0x40000000

KERNEL_ERRNOS: Mapping[int, str] = MappingProxyType(
    {
        512: "ERESTARTSYS",
        513: "ERESTARTNOINTR",
        514: "ERESTARTNOHAND",
        515: "ENOIOCTLCMD",
        516: "ERESTART_RESTARTBLOCK",
    }
)
"""Kernel-internal error numbers a traced call can show at its exit, before the kernel restarts
it (include/linux/errno.h); strace prints them by these names, Python's errno module does not
know them."""

# Where each architecture's syscall numbers start (the kernel's __NR_Linux offsets for MIPS:
# arch/mips/include/uapi/asm/unistd.h: o32 4000, n64 5000, n32 6000).
_NUMBER_BASE: Mapping[str, int] = MappingProxyType(
    {
        "x32": X32_SYSCALL_BIT,
        "mips": 4000,
        "mipsel": 4000,
        "mips64": 5000,
        "mipsel64": 5000,
        "mips64n32": 6000,
        "mipsel64n32": 6000,
    }
)
# No table goes past a few hundred entries yet (x86_64 ends near 460, x32's compat block at 547);
# 1024 leaves room for future syscalls without making enumeration slow.
_NUMBER_SPAN = 1024
# ARM private syscalls (breakpoint, cacheflush, usr26, usr32, set_tls, get_tls) live at
# __ARM_NR_BASE = 0x0f0000 (arch/arm/include/uapi/asm/unistd.h).
_ARM_PRIVATE_BASE = 0x0F0000
_ARM_PRIVATE_SPAN = 0x800

# strace prints a syscall it has no name for as ``syscall_0x1b6`` (strace >= 5.x, hexadecimal)
# or ``syscall_438`` (older releases); see strace(1) and strace's syscall.c ("syscall_%#lx").
_STRACE_UNKNOWN = re.compile(r"^syscall_(0x[0-9a-fA-F]+|[0-9]+)$")

# strace names that differ from libseccomp's for the same syscall (strace's syscallent.h tables
# vs libseccomp's syscalls.csv). Applied only when libseccomp does not know the strace name.
_STRACE_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        # ARM syscall 341 is "sync_file_range2" in the kernel's arch/arm/tools/syscall.tbl, which
        # strace follows; libseccomp names it "arm_sync_file_range" on arm (and keeps
        # "sync_file_range2" for ppc, where the two names agree).
        "sync_file_range2": "arm_sync_file_range",
    }
)


class _Version(ctypes.Structure):
    # struct scmp_version from seccomp.h
    _fields_ = (
        ("major", ctypes.c_uint),
        ("minor", ctypes.c_uint),
        ("micro", ctypes.c_uint),
    )


class _LibSeccomp:
    """The few libseccomp entry points this module needs, with ctypes signatures set."""

    def __init__(self, lib: ctypes.CDLL, libc: ctypes.CDLL) -> None:
        self.arch_resolve_name = lib.seccomp_arch_resolve_name
        self.arch_resolve_name.argtypes = [ctypes.c_char_p]
        self.arch_resolve_name.restype = ctypes.c_uint32
        self.arch_native = lib.seccomp_arch_native
        self.arch_native.argtypes = []
        self.arch_native.restype = ctypes.c_uint32
        self.resolve_name_arch = lib.seccomp_syscall_resolve_name_arch
        self.resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
        self.resolve_name_arch.restype = ctypes.c_int
        # Returns a strdup()ed string the caller must free(3) (seccomp_syscall_resolve_name(3)),
        # so keep it as a raw pointer instead of letting ctypes copy and leak it.
        self.resolve_num_arch = lib.seccomp_syscall_resolve_num_arch
        self.resolve_num_arch.argtypes = [ctypes.c_uint32, ctypes.c_int]
        self.resolve_num_arch.restype = ctypes.c_void_p
        self.version = lib.seccomp_version
        self.version.argtypes = []
        self.version.restype = ctypes.POINTER(_Version)
        self.free = libc.free
        self.free.argtypes = [ctypes.c_void_p]
        self.free.restype = None


@functools.cache
def _lib() -> _LibSeccomp:
    """Load libseccomp once; the only place the library is opened."""
    try:
        lib = ctypes.CDLL(_LIBRARY)
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return _LibSeccomp(lib, libc)
    except (OSError, AttributeError) as e:
        raise SyscallTableError(
            f"cannot load {_LIBRARY}: {e}",
            hint="install libseccomp2 (apt-get install libseccomp2)",
        ) from e


def _arch_token(arch: str) -> int:
    if arch not in ARCHES:
        raise SyscallTableError(
            f"unknown architecture {arch!r}",
            hint=f"use one of: {', '.join(sorted(ARCHES))}",
        )
    token = int(_lib().arch_resolve_name(arch.encode()))
    if token == 0:
        raise SyscallTableError(
            f"architecture {arch!r} is not supported by libseccomp {libseccomp_version()}",
            hint="install a newer libseccomp2",
        )
    return token


def arch_supported(arch: str) -> bool:
    """Whether the installed libseccomp knows ``arch`` (2.5.x lacks e.g. ``loongarch64``)."""
    if arch not in ARCHES:
        return False
    return int(_lib().arch_resolve_name(arch.encode())) != 0


def libseccomp_version() -> str:
    """The installed libseccomp version, ``major.minor.micro``."""
    v = _lib().version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


@functools.cache
def native_arch() -> str:
    """The libseccomp name of the architecture this Python runs on (``x86_64`` on amd64 hosts)."""
    token = int(_lib().arch_native())
    for name in ARCHES:
        if int(_lib().arch_resolve_name(name.encode())) == token:
            return name
    raise SyscallTableError(f"libseccomp reports an unknown native architecture token {token:#x}")


def _number_ranges(arch: str) -> list[range]:
    base = _NUMBER_BASE.get(arch, 0)
    ranges = [range(base, base + _NUMBER_SPAN)]
    if arch == "arm":
        ranges.append(range(_ARM_PRIVATE_BASE, _ARM_PRIVATE_BASE + _ARM_PRIVATE_SPAN))
    return ranges


def _raw_resolve_number(token: int, number: int) -> str | None:
    lib = _lib()
    ptr = lib.resolve_num_arch(token, number)
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode("ascii")
    finally:
        lib.free(ptr)


@functools.cache
def _table(arch: str) -> Mapping[str, int]:
    """name -> kernel syscall number for ``arch``, enumerated through libseccomp."""
    token = _arch_token(arch)
    table: dict[str, int] = {}
    for numbers in _number_ranges(arch):
        for number in numbers:
            name = _raw_resolve_number(token, number)
            if name is not None:
                table.setdefault(name, number)
    return MappingProxyType(table)


def known_names(arch: str) -> frozenset[str]:
    """Every syscall name libseccomp maps to a real (non-negative) number on ``arch``."""
    return frozenset(_table(arch))


def resolve_name(arch: str, name: str) -> int | None:
    """The kernel syscall number of ``name`` on ``arch``, or ``None`` if there is none.

    libseccomp's negative pseudo-syscall numbers give ``None``, except where the same name also
    has a real number on the arch (``socket`` on x86 is both ``-101``, via ``socketcall``, and
    359 since Linux 4.3); then the real number is returned.
    """
    number = int(_lib().resolve_name_arch(_arch_token(arch), name.encode()))
    if number >= 0:
        return number
    return _table(arch).get(name)


def resolve_number(arch: str, number: int) -> str | None:
    """The libseccomp name of syscall ``number`` on ``arch``, or ``None``.

    Negative (pseudo-syscall) numbers give ``None``: the kernel never reports them. On x32 a
    number without the x32 bit is taken as the table index and the bit is added.
    """
    if number < 0:
        return None
    if arch == "x32" and number < X32_SYSCALL_BIT:
        number |= X32_SYSCALL_BIT
    if number > 0x7FFFFFFF:
        return None
    return _raw_resolve_number(_arch_token(arch), number)


def canonical_name(arch: str, strace_name: str) -> str | None:
    """Translate a syscall name as strace prints it into libseccomp's name for ``arch``.

    Returns the libseccomp name, or ``None`` when libseccomp has no syscall for it on ``arch``.
    Handles strace's placeholders for unnumbered syscalls (``syscall_0x1b6``, ``syscall_438``)
    by resolving the number, so a newer libseccomp than strace still names the call.
    """
    match = _STRACE_UNKNOWN.match(strace_name)
    if match:
        return resolve_number(arch, int(match.group(1), 0))
    if strace_name in _table(arch):
        return strace_name
    alias = _STRACE_ALIASES.get(strace_name)
    if alias is not None and alias in _table(arch):
        return alias
    return None
