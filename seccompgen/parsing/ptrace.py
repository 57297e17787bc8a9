"""The ptrace tracer's records -> events (pure: lines in, events out; no tracee, no files).

The ptrace backend's tracer process (:mod:`seccompgen.tracing.backends.ptrace`) writes one text
line per event; the struct layouts it copies out of the kernel (``struct ptrace_syscall_info``)
are defined here, next to the decoder that reads them back, so writer and reader share one
definition.
"""

from __future__ import annotations

import errno as errno_module
import functools
import signal
import struct
from collections.abc import Iterable, Iterator
from typing import Final

from seccompgen.errors import ParseError
from seccompgen.events import Event, ExitEvent, SignalEvent, SyscallEvent
from seccompgen.syscalls import KERNEL_ERRNOS, X32_SYSCALL_BIT, resolve_number

# ptrace(2): PTRACE_GET_SYSCALL_INFO's ``op`` values (include/uapi/linux/ptrace.h).
PTRACE_SYSCALL_INFO_ENTRY: Final = 1
PTRACE_SYSCALL_INFO_EXIT: Final = 2
PTRACE_SYSCALL_INFO_SECCOMP: Final = 3

# struct ptrace_syscall_info (include/uapi/linux/ptrace.h): op, 3 pad bytes, arch,
# instruction_pointer, stack_pointer, then a union: entry/seccomp {nr, args[6]} (seccomp adds
# ret_data), exit {rval (signed), is_error}.
INFO_SIZE: Final = 88
INFO_HEAD: Final = struct.Struct("=B3xIQQ")
INFO_ENTRY: Final = struct.Struct("=Q6Q")
INFO_EXIT: Final = struct.Struct("=qB")

# AUDIT_ARCH_* (include/uapi/linux/audit.h) -> libseccomp's architecture names.
AUDIT_ARCHES: Final = {
    0xC000003E: "x86_64",
    0x40000003: "x86",
    0xC00000B7: "aarch64",
    0x40000028: "arm",
    0xC00000F3: "riscv64",
    0x80000016: "s390x",
    0x80000015: "ppc64",
    0xC0000015: "ppc64le",
}

_MAX_ARGS: Final = 6


# Record lines, fields separated by one space:
#   s TS PID TID ENTRY_HEX [EXIT_HEX]   a call; ENTRY_HEX is struct ptrace_syscall_info at the
#                                       seccomp stop, EXIT_HEX its exit part (rval, is_error)
#   g TS PID TID SIGNO                  a signal delivered to TID
#   x TS PID TID CODE SIGNO             TID ended: CODE for an exit, SIGNO for a fatal signal
# Empty CODE/SIGNO/EXIT_HEX fields are written as "-".


# C types of 32-bit signed arguments: the kernel reads only the low 32 bits of their register,
# so -100 (AT_FDCWD) passed as an int may come with a clear upper half.
_INT32_TYPES: Final = frozenset({"int", "pid_t", "clockid_t", "key_t", "mqd_t", "timer_t"})


@functools.cache
def _arg_spec(name: str) -> tuple[bool, ...]:
    """One flag per argument of ``name``: True for a 32-bit signed C type."""
    try:
        from ptrace.syscall.prototypes import SYSCALL_PROTOTYPES  # type: ignore[import-untyped]
    except ImportError:
        return (False,) * _MAX_ARGS
    proto = SYSCALL_PROTOTYPES.get(name)
    if proto is None:
        return (False,) * _MAX_ARGS
    return tuple(ctype in _INT32_TYPES for ctype, _ in proto[1][:_MAX_ARGS])


def arg_count(name: str) -> int:
    """How many arguments ``name`` takes, from python-ptrace's prototypes; 6 when unknown."""
    return len(_arg_spec(name))


@functools.cache
def _name(arch: str, nr: int) -> str | None:
    return resolve_number(arch, nr)


def errno_name(number: int) -> str:
    """The symbolic name of error ``number`` (``ENOENT``), kernel-internal ones included."""
    name = errno_module.errorcode.get(number) or KERNEL_ERRNOS.get(number)
    return name if name is not None else f"ERRNO_{number}"


def _signed(value: int, int32: bool) -> int:
    # Registers are unsigned 64-bit; syscall(2) arguments are C longs (ints for int-typed
    # parameters), so -100 (AT_FDCWD) reads as -100, as strace -X raw prints it.
    if int32:
        value &= 0xFFFFFFFF
        return value - (1 << 32) if value >= 1 << 31 else value
    return value - (1 << 64) if value >= 1 << 63 else value


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"SIG{number}"


def decode_records(lines: Iterable[str], *, source: str = "<ptrace>") -> Iterator[Event]:
    """Decode the tracer's record lines (see the format above) into events.

    Pure: no tracee, no files. Calls whose number libseccomp cannot name on their architecture
    are skipped, as the strace parser skips strace's ``???``. A malformed line raises
    :class:`ParseError`, except a last line cut short (no newline) by a killed tracer.
    """
    for line_no, line in enumerate(lines, 1):
        if not line.endswith("\n"):
            break  # the tracer died mid-line: what it wrote before is complete
        fields = line.split()
        try:
            kind = fields[0]
            ts = float(fields[1])
            pid = int(fields[2])
            tid = int(fields[3])
            if kind == "s":
                event = _decode_call(fields, ts, pid, tid)
                if event is not None:
                    yield event
            elif kind == "g":
                yield SignalEvent(_signal_name(int(fields[4])), pid, tid, ts)
            elif kind == "x":
                code = None if fields[4] == "-" else int(fields[4])
                sig = None if fields[5] == "-" else _signal_name(int(fields[5]))
                yield ExitEvent(pid, tid, code, sig, ts)
            else:
                raise ValueError(f"unknown record kind {kind!r}")
        except (IndexError, ValueError, struct.error) as e:
            raise ParseError(
                f"malformed ptrace record {line.strip()!r}: {e}",
                source=source,
                line=line_no,
            ) from e


def _decode_call(fields: list[str], ts: float, pid: int, tid: int) -> SyscallEvent | None:
    info = bytes.fromhex(fields[4])
    op, audit_arch, _, _ = INFO_HEAD.unpack_from(info)
    if op not in (PTRACE_SYSCALL_INFO_SECCOMP, PTRACE_SYSCALL_INFO_ENTRY):
        raise ValueError(f"not an entry record (op {op})")
    nr, *args = INFO_ENTRY.unpack_from(info, INFO_HEAD.size)
    arch = AUDIT_ARCHES.get(audit_arch)
    if arch is None:
        return None
    if arch == "x86_64" and nr & X32_SYSCALL_BIT:
        arch = "x32"
    name = _name(arch, nr)
    if name is None:
        return None
    ret: int | None = None
    err: str | None = None
    if len(fields) > 5 and fields[5] != "-":
        rval, is_error = INFO_EXIT.unpack(bytes.fromhex(fields[5]))
        if is_error:
            ret, err = -1, errno_name(-rval)
        else:
            ret = rval
    spec = _arg_spec(name)
    return SyscallEvent(
        name, arch, pid, tid, ret, err, ts, tuple(map(_signed, args[: len(spec)], spec))
    )
