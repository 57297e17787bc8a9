"""The qemu backend: run a program built for another architecture under qemu-user's ``-strace``.

``qemu-aarch64-static -strace -D FILE PROGRAM ARGS`` (Debian's qemu-user-static) emulates an arm64
program on this host and logs every system call the *guest* makes, with the guest's own names
(``openat``, ``newfstatat``, ``epoll_pwait``), to FILE; the session tails FILE through
:func:`seccompgen.parsing.qemu.parse_qemu_strace`, as the strace backend tails strace's output.
The trace is labelled with the guest's architecture (``aarch64``).

What this proves and what it does not: the names are the guest program's, so the profile built
from them is the arm64 program's. Enforcement cannot be checked here: a seccomp filter on this
host sees qemu's own (x86_64) system calls, not the guest's. qemu-user follows no child
processes: a program the guest executes runs outside the log.

The lifecycle (phases, exercise, SIGTERM, grace, SIGKILL, Ctrl-C, progress) is the
:class:`~seccompgen.tracing.session.Session`'s. qemu is the target process itself: the pid it
prints is its own, signals sent to it are delivered to the guest, and its exit status is the
guest's.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from seccompgen.errors import TracerError
from seccompgen.events import Event
from seccompgen.parsing.qemu import QemuParseStats, parse_qemu_strace
from seccompgen.tracefile import TraceWriter
from seccompgen.tracing.base import TraceOutcome, TraceProgress, TraceRequest
from seccompgen.tracing.elf import read_elf
from seccompgen.tracing.host import HostProcesses, require_host, resolve_target
from seccompgen.tracing.session import Session, TextRecorder

#: libseccomp architecture -> (qemu-user commands, first found is used; ELF machine it runs).
EMULATORS: Final = {
    "aarch64": (("qemu-aarch64-static", "qemu-aarch64"), "aarch64"),
}
PACKAGE: Final = "qemu-user-static"

# qemu-user options (qemu-user(1)):
#   -strace   log the guest's system calls (linux-user/strace.c)
#   -D FILE   write the log to FILE instead of stderr, so the program's stderr stays its own
QEMU_OPTIONS: Final = ("-strace",)


def emulator(arch: str) -> str | None:
    """The qemu-user command for ``arch`` found on PATH, or None."""
    commands, _ = EMULATORS[arch]
    for command in commands:
        found = shutil.which(command)
        if found is not None:
            return found
    return None


def check_program(path: Path, arch: str) -> None:
    """Refuse a program that is not an ``arch`` ELF executable, in one line."""
    if arch not in EMULATORS:
        raise TracerError(
            f"cannot emulate {arch}", hint=f"emulated architectures: {', '.join(EMULATORS)}"
        )
    try:
        data = path.read_bytes()
    except OSError as e:
        raise TracerError(f"cannot read {path}: {e.strerror or e}") from e
    info = read_elf(data, name=str(path))
    want = EMULATORS[arch][1]
    if info.machine != want:
        raise TracerError(
            f"{path} is built for {info.machine}, not {want}: --emulate {arch} runs {want} "
            "programs only; trace it without --emulate"
        )


class QemuTracer:
    """Trace an emulated program with qemu-user's ``-strace`` (see the module docstring)."""

    name = "qemu"

    def __init__(
        self, arch: str = "aarch64", *, niceness: int = 10, tmp_dir: Path | None = None
    ) -> None:
        if arch not in EMULATORS:
            raise TracerError(
                f"cannot emulate {arch}", hint=f"emulated architectures: {', '.join(EMULATORS)}"
            )
        self.arch = arch
        self.niceness = niceness
        self.tmp_dir = tmp_dir
        self.stats = QemuParseStats()

    def unavailable_reason(self) -> str | None:
        """None when the emulator is on PATH, else how to install it."""
        if emulator(self.arch) is not None:
            return None
        commands, _ = EMULATORS[self.arch]
        return f"{commands[0]} not found on PATH; install {PACKAGE} (apt-get install {PACKAGE})"

    def command(self, request: TraceRequest, output: Path) -> list[str]:
        """The qemu command line for ``request`` logging to ``output``."""
        qemu = emulator(self.arch)
        if qemu is None:
            raise TracerError(self.unavailable_reason() or f"no emulator for {self.arch}")
        return [qemu, *QEMU_OPTIONS, "-D", str(output), *request.argv]

    def run(
        self,
        request: TraceRequest,
        writer: TraceWriter,
        progress: Callable[[TraceProgress], None],
    ) -> TraceOutcome:
        """Trace ``request``; see :meth:`seccompgen.tracing.base.Tracer.run`."""
        require_host(request, "qemu", hint="an emulated program runs on the host only")
        program = resolve_target(request)
        check_program(program, self.arch)
        arch = self.arch

        def parse(lines: Iterator[str]) -> Iterator[Event]:
            return parse_qemu_strace(lines, arch=arch, stats=self.stats)

        with tempfile.TemporaryDirectory(prefix="seccompgen-qemu-", dir=self.tmp_dir) as tmp:
            output = Path(tmp) / "qemu.strace"
            output.touch()
            session = Session(
                request=request,
                writer=writer,
                progress=progress,
                output=output,
                niceness=self.niceness,
                processes=HostProcesses(),
                recorder=_QemuRecorder(parse),
            )
            return session.run(self.command(request, output))


class _QemuRecorder(TextRecorder):
    """A text recorder whose failures name qemu, not strace."""

    def outcome(self, session: Session) -> TraceOutcome:
        return session.traced_outcome("qemu")
