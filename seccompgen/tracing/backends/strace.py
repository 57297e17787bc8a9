"""The strace backend: run the target under ``strace -f`` and stream its output into the trace.

strace (strace(1)) follows every thread and child (``-f``), stamps each line with the wall clock
(``-ttt``, the same clock as :func:`time.time`, so phase boundaries recorded here line up with
its timestamps) and prints constants as raw numbers (``-X raw``). Its output goes to a temporary
file that the session tails while the target runs, feeding the lines through
:func:`seccompgen.parsing.strace.parse_strace` and each event to the :class:`TraceWriter`.

The lifecycle (phases, exercise, SIGTERM, grace, SIGKILL, Ctrl-C, progress) is the
:class:`~seccompgen.tracing.session.Session`'s; strace runs as a child of seccompgen in a new
session (:class:`~seccompgen.tracing.host.HostProcesses`), or as process 1 of a container
(:mod:`seccompgen.containers.container`, through :func:`run_traced`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from seccompgen.errors import TracerError
from seccompgen.tracefile import TraceWriter
from seccompgen.tracing.base import TraceOutcome, TraceProgress, TraceRequest
from seccompgen.tracing.host import (
    HostProcesses,
    base_env,
    require_host,
    resolve_target,
    tracer_environment,
)
from seccompgen.tracing.session import ProcessSide, Session, TextRecorder

NOT_FOUND_MESSAGE: Final = (
    "strace not found on PATH; install strace (apt-get install strace) or use --backend "
    "with another tracer"
)

# strace(1) options, and why each one is here:
#   -f        follow threads (clone) and children (fork/vfork): Go runs syscalls on many threads
#   -ttt      wall-clock timestamps with microseconds: events are placed into phases by time
#   -X raw    print constants as numbers: less formatting work, and the parser wants numbers
#   -q        suppress attach/detach and personality messages; -qq would also drop the
#             "+++ exited with N +++" lines that the exit events and exit code come from
#   -s 0      print no string contents: the events keep no strings, and less text is less work
#   -o FILE   one output file, lines prefixed by pid (the format parse_strace reads)
STRACE_OPTIONS: Final = ("-f", "-ttt", "-X", "raw", "-q", "-s", "0")


class StraceTracer:
    """Trace with strace(1). See the module docstring for the process and thread layout.

    ``strace`` is the strace command (looked up on PATH). ``niceness`` is the nice increment of
    the worker thread that parses and writes while the target runs (0 disables it).
    ``tmp_dir`` holds strace's raw output during the run (default: the system temp dir).
    """

    name = "strace"

    def __init__(
        self,
        *,
        strace: str = "strace",
        niceness: int = 10,
        tmp_dir: Path | None = None,
        arch: str | None = None,
    ) -> None:
        self.strace = strace
        self.niceness = niceness
        self.tmp_dir = tmp_dir
        self.arch = arch

    def unavailable_reason(self) -> str | None:
        """None when strace is on PATH, else how to install it."""
        return None if shutil.which(self.strace) else NOT_FOUND_MESSAGE

    def command(self, request: TraceRequest, output: Path) -> list[str]:
        """The strace command line for ``request`` writing to ``output``."""
        strace = shutil.which(self.strace)
        if strace is None:
            raise TracerError(NOT_FOUND_MESSAGE)
        unset = ["-E", "TZ"] if "TZ" not in base_env(request) else []
        return [strace, *STRACE_OPTIONS, *unset, "-o", str(output), "--", *request.argv]

    @staticmethod
    def environment(request: TraceRequest) -> dict[str, str]:
        """strace's environment (see :func:`seccompgen.tracing.host.tracer_environment`)."""
        return tracer_environment(request)

    def run(
        self,
        request: TraceRequest,
        writer: TraceWriter,
        progress: Callable[[TraceProgress], None],
    ) -> TraceOutcome:
        """Trace ``request``; see :meth:`seccompgen.tracing.base.Tracer.run`.

        Ctrl-C (SIGINT) while tracing is handled, not re-raised: the target gets SIGTERM, then
        SIGKILL after ``grace`` seconds (at once on a second Ctrl-C), every complete event is
        written, and the outcome is incomplete with reason ``"interrupted"``. SIGTERM to
        seccompgen is handled the same way with reason ``"terminated"``. (Handlers can only be
        installed from the main thread; elsewhere signals keep their usual effect, and the
        processes are still cleaned up before the exception propagates.)

        ``progress`` is called from the worker thread, about every half second.
        """
        require_host(request, "strace")
        resolve_target(request)
        arch = self.arch or writer.header.arch
        with tempfile.TemporaryDirectory(prefix="seccompgen-strace-", dir=self.tmp_dir) as tmp:
            output = Path(tmp) / "strace.out"
            output.touch()
            cmd = self.command(request, output)
            return run_traced(
                cmd,
                request=request,
                writer=writer,
                progress=progress,
                output=output,
                processes=HostProcesses(),
                niceness=self.niceness,
                arch=arch,
            )


def run_traced(
    cmd: Sequence[str],
    *,
    request: TraceRequest,
    writer: TraceWriter,
    progress: Callable[[TraceProgress], None],
    output: Path,
    processes: ProcessSide,
    niceness: int = 10,
    arch: str | None = None,
) -> TraceOutcome:
    """Run strace as ``cmd`` on ``processes`` and trace ``request`` from its output ``output``.

    ``cmd`` must make strace write to ``output`` (as seen from where it runs) with
    :data:`STRACE_OPTIONS`; this function tails ``output`` on the host. See
    :meth:`StraceTracer.run` for the lifecycle, signals and outcome.
    """
    from seccompgen.parsing.strace import parse_strace

    the_arch = arch or writer.header.arch
    session = Session(
        request=request,
        writer=writer,
        progress=progress,
        output=output,
        niceness=niceness,
        processes=processes,
        recorder=TextRecorder(lambda lines: parse_strace(lines, source=str(output), arch=the_arch)),
    )
    return session.run(cmd)
