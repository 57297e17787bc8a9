"""Events shared by every layer: what a tracer saw, one record at a time.

Tracer backends and parsers produce these; the trace file stores them; the graph consumes them.
Architecture names are libseccomp's (``x86_64``, ``x86``, ``x32``, ``aarch64``, ...), the same
names ``seccompgen.syscalls`` and ``profile.model.Arch`` use.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Phase(str, Enum):
    """When in a workload's life a syscall happened. Order matters: earlier phases sort first."""

    STARTUP = "startup"  # from exec until the exercise starts (or until SIGTERM, with no exercise)
    EXERCISE = "exercise"  # while the exercise command runs against the workload
    SHUTDOWN = "shutdown"  # from the moment SIGTERM is sent (or first seen) until the last exit

    @property
    def order(self) -> int:
        return _PHASE_ORDER[self]


_PHASE_ORDER = {Phase.STARTUP: 0, Phase.EXERCISE: 1, Phase.SHUTDOWN: 2}


@dataclass(frozen=True, slots=True)
class SyscallEvent:
    """One completed (or abandoned) system call.

    ``pid`` is the thread-group id (the process), ``tid`` the thread that made the call; they are
    equal on a process's main thread. ``ret`` is the return value, ``None`` when the call never
    returned (strace's ``= ?``). ``errno`` is the symbolic error (``ENOENT``, ``ERESTARTSYS``) when
    the call failed, else ``None``. ``args`` holds the raw numeric value of each argument that was
    printed as a plain number and ``None`` for strings, structures, arrays and anything else.
    """

    name: str
    arch: str
    pid: int
    tid: int
    ret: int | None
    errno: str | None
    timestamp: float | None
    args: tuple[int | None, ...]
    phase: Phase = Phase.STARTUP

    @property
    def failed(self) -> bool:
        return self.errno is not None


@dataclass(frozen=True, slots=True)
class SignalEvent:
    """A signal delivered to a thread (strace's ``--- SIGURG {...} ---``)."""

    signal: str
    pid: int
    tid: int
    timestamp: float | None
    phase: Phase = Phase.STARTUP


@dataclass(frozen=True, slots=True)
class ExitEvent:
    """A thread or process ended: ``code`` for ``exited with N``, ``signal`` for ``killed by``."""

    pid: int
    tid: int
    code: int | None
    signal: str | None
    timestamp: float | None
    phase: Phase = Phase.STARTUP


Event = SyscallEvent | SignalEvent | ExitEvent
