"""The tracer contract: what a backend is asked, what it reports while working, what it returns.

A run has three phases (:class:`~seccompgen.events.Phase`): STARTUP from exec, EXERCISE while the
exercise command runs against the target, SHUTDOWN from the moment SIGTERM is sent. A backend
records each boundary on the :class:`~seccompgen.tracefile.TraceWriter` and stamps each event
with its phase; the caller owns the writer and closes it with the outcome's ``complete`` and
``reason``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from seccompgen.events import Phase
from seccompgen.tracefile import Boundary, TraceWriter


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """Trace inside a container instead of on the host (the ``container`` backend).

    - ``image``: an application image to trace in its own filesystem, with its ENTRYPOINT, CMD,
      environment, working directory and user; the request's ``argv`` then replaces the image's
      CMD (empty: keep it), as ``docker run IMAGE CMD...`` does. None: the request's ``argv[0]``
      is a host program, bind-mounted read-only into the tracer image.
    - ``network``: ``"none"`` (no network at all) or ``"host"`` (the host's network namespace,
      so an exercise on the host reaches the target on 127.0.0.1).
    - ``exercise_in_container``: run the exercise command inside the container (``docker exec``
      of ``/bin/sh -c``) instead of on the host.
    - ``volumes``: bind mounts, ``HOST:CONTAINER[:ro|rw]`` (``docker run -v``), e.g. a batch
      job's input and output directory, as ``seccompgen verify -V`` mounts them.
    - ``engine``: ``"docker"`` or ``"podman"`` (its Docker-compatible API,
      :mod:`seccompgen.containers.podman`).
    """

    image: str | None = None
    network: str = "none"
    exercise_in_container: bool = False
    volumes: tuple[str, ...] = ()
    engine: str = "docker"


@dataclass(frozen=True, slots=True)
class TraceRequest:
    """What to trace and how long.

    - ``argv``: the target command; ``argv[0]`` is the program path.
    - ``exercise``: a shell command (``sh -c``) run on the host against the target once it has
      had ``ready_delay`` seconds to start, with seccompgen's environment plus
      ``SECCOMPGEN_TARGET_PID`` (the target's pid) and the target's ``cwd``.
    - ``duration``: seconds to keep the target running before SIGTERM when there is no exercise,
      or after the exercise finished. With neither, the target runs until it exits by itself.
    - ``timeout``: hard limit in seconds for the whole run; when hit, the target gets SIGTERM,
      ``grace`` seconds, then SIGKILL, and the trace is incomplete with reason ``"timeout"``.
    - ``grace``: seconds between SIGTERM and SIGKILL.
    - ``cwd`` and ``env``: the target's working directory and full environment (None: inherit).
    - ``stdout`` and ``stderr``: files that receive the target's output (None: inherit). The
      tracer's own diagnostics share the target's stderr. The target's stdin is /dev/null.
    - ``container``: where to run it when not on the host (see :class:`ContainerSpec`); only
      the ``container`` backend accepts it.
    """

    argv: tuple[str, ...]
    workload: str
    exercise: str | None = None
    duration: float | None = None
    timeout: float | None = None
    grace: float = 5.0
    ready_delay: float = 0.5
    cwd: Path | None = None
    env: Mapping[str, str] | None = None
    stdout: Path | None = None
    stderr: Path | None = None
    container: ContainerSpec | None = None


@dataclass(frozen=True, slots=True)
class TraceProgress:
    """A progress report, sent about twice a second while tracing.

    ``events`` counts system call events so far, ``distinct`` their distinct names,
    ``new_names`` the names first seen since the previous report (sorted), ``phase`` the current
    phase of the run.
    """

    elapsed: float
    events: int
    distinct: int
    new_names: tuple[str, ...]
    phase: Phase


@dataclass(frozen=True, slots=True)
class TraceOutcome:
    """How a run ended.

    ``complete`` is false when tracing stopped before the target's planned end; ``reason`` then
    is ``"interrupted"`` (Ctrl-C), ``"timeout"`` or ``"killed"`` (the target ignored SIGTERM for
    ``grace`` seconds). ``events`` counts system call events, ``distinct`` their distinct names.
    ``exit_code`` is the target's exit status (negative signal number when a signal killed it,
    as in :mod:`subprocess`; None if unknown); ``exercise_exit_code`` likewise for the exercise
    command (None without one). ``boundaries`` are the phase boundaries of the run.
    """

    complete: bool
    reason: str | None
    events: int
    distinct: int
    exit_code: int | None
    exercise_exit_code: int | None
    boundaries: tuple[Boundary, ...]


class Tracer(Protocol):
    """A tracer backend. Implementations live one per module in this package."""

    name: str
    """The backend name used on the command line and in trace headers."""

    def unavailable_reason(self) -> str | None:
        """Why this backend cannot run here (missing binary, no permission), or None if it can."""
        ...

    def run(
        self,
        request: TraceRequest,
        writer: TraceWriter,
        progress: Callable[[TraceProgress], None],
    ) -> TraceOutcome:
        """Run ``request`` under the tracer, writing every event to ``writer``.

        Raises :class:`~seccompgen.errors.TracerError` when the run cannot start. Ctrl-C during
        the run is not re-raised: the target is stopped, every complete event is saved, and the
        outcome is incomplete with reason ``"interrupted"``.
        """
        ...
