"""qemu-user's ``-strace`` log: the system calls an emulated (guest) program makes.

qemu's user-mode emulator (``qemu-aarch64-static -strace -D FILE PROGRAM``) logs each system
call of the guest as it hands it to the host kernel, with the guest's own numbers and names
(qemu's ``linux-user/strace.c``, ``print_syscall`` and ``print_syscall_ret``):

* ``PID name(args)`` is written when the call starts and `` = RET`` (or
  `` = -1 errno=N (text)``) when it returns, followed by a newline. ``PID`` is ``getpid()``, the
  same for every thread, so calls cannot be told apart by thread.
* Threads share the log, so another thread's call can come between a start and its return:
  ``1 futex(...WAIT...)1 futex(...WAKE...) = 0`` and, later, a return on a line of its own,
  `` = 0``. Such a return cannot be matched to its call; the call is kept with no return value
  (like strace's ``= ?``).
* A signal taken is ``--- SIGURG {si_signo=SIGURG, ...} ---``, with no pid, at the start of a
  line or right after an unfinished call.
* A call qemu has no name for is ``PID Unknown syscall N``; it becomes ``syscall_N``, which
  :func:`seccompgen.syscalls.canonical_name` resolves through libseccomp like strace's
  placeholders.
* There are no timestamps; events get ``None`` and the session's current phase.

Arguments are printed symbolically in qemu's own style and strings unescaped, so none are kept
(``args`` is empty, as for a backend that records names only: argument rules then stay off).
An unescaped ``"`` inside a printed path can hide the rest of that line; the counters say so.

qemu's internal return codes are not errors the guest sees (``linux-user/target_errno_defs.h``):
``QEMU_ESIGRETURN`` (513) is how rt_sigreturn returns, ``QEMU_ERESTARTSYS`` (512) a call the
emulator restarts, printed here as the kernel's ``ERESTARTSYS``.
"""

from __future__ import annotations

import errno as errno_module
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from seccompgen.events import Event, SignalEvent, SyscallEvent

# The start of one call: "PID name(" (print_syscall: qemu_log("%d ", getpid()), then the name).
_ENTRY = re.compile(r"(\d+) ([A-Za-z_][A-Za-z0-9_]*)\(")
# "PID Unknown syscall N" (print_syscall, for a number missing from qemu's table).
_UNKNOWN = re.compile(r"(\d+) Unknown syscall (\d+)\s*$")
# print_syscall_ret: " = -1 errno=N (text)" or " = VALUE", then optional decoration, then "\n".
_RET = re.compile(r" = (?:-1 errno=(\d+) \(.*|(0x[0-9a-fA-F]+|-?\d+)\b.*)$")
# print_taken_signal: "--- SIGNAME {si_signo=...} ---".
_SIGNAL = re.compile(r"--- (SIG[A-Z0-9+\-]+|\d+) (?:\{.*?\} )?---")

_QEMU_ERESTARTSYS = 512
_QEMU_ESIGRETURN = 513


@dataclass
class QemuParseStats:
    """Counters filled while parsing; final once the event iterator is exhausted."""

    lines: int = 0
    syscalls: int = 0
    signals: int = 0
    unmatched_returns: int = 0
    """Returns printed apart from their call (another thread's output came between)."""
    skipped: int = 0
    """Lines, or ends of lines, that are not qemu's strace output."""
    examples: list[str] = field(default_factory=list)


def _close_paren(line: str, start: int) -> int | None:
    """The index just past the ``)`` closing the argument list that starts at ``start``."""
    depth = 1
    quoted = False
    for i in range(start, len(line)):
        c = line[i]
        if quoted:
            if c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _errno_name(number: int) -> str:
    if number == _QEMU_ERESTARTSYS:
        return "ERESTARTSYS"
    return errno_module.errorcode.get(number, f"E{number}")


def parse_qemu_strace(
    lines: Iterable[str],
    *,
    arch: str = "aarch64",
    stats: QemuParseStats | None = None,
) -> Iterator[Event]:
    """Parse qemu-user ``-strace`` lines into events, in output order.

    ``arch`` is the guest's architecture (libseccomp name); ``stats`` receives the counters.
    """
    st = stats if stats is not None else QemuParseStats()
    pid = 0
    for raw in lines:
        st.lines += 1
        line = raw.rstrip("\n")
        pos = 0
        while pos < len(line):
            unknown = _UNKNOWN.match(line, pos)
            if unknown:
                pid = int(unknown.group(1))
                st.syscalls += 1
                yield SyscallEvent(
                    f"syscall_{unknown.group(2)}", arch, pid, pid, None, None, None, ()
                )
                break
            entry = _ENTRY.match(line, pos)
            if entry:
                pid = int(entry.group(1))
                end = _close_paren(line, entry.end())
                ret: int | None = None
                err: str | None = None
                if end is None:
                    pos = len(line)  # the argument list runs to the end of what was written
                else:
                    pos = end
                    result = _RET.match(line, end)
                    if result:
                        pos = len(line)
                        if result.group(1) is not None:
                            number = int(result.group(1))
                            if number != _QEMU_ESIGRETURN:
                                ret, err = -number, _errno_name(number)
                        else:
                            ret = int(result.group(2), 0)
                st.syscalls += 1
                yield SyscallEvent(entry.group(2), arch, pid, pid, ret, err, None, ())
                continue
            signal = _SIGNAL.match(line, pos)
            if signal:
                st.signals += 1
                yield SignalEvent(signal.group(1), pid, pid, None)
                pos = signal.end()
                continue
            if _RET.match(line, pos):
                st.unmatched_returns += 1
                break
            if line[pos:].strip():
                st.skipped += 1
                if len(st.examples) < 5:
                    st.examples.append(line[pos:][:200])
            break
