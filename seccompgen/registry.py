"""The one place that maps backend names to tracer classes.

Host backends live one per module in :mod:`seccompgen.tracing.backends`, the container backends
in :mod:`seccompgen.containers`; the registry sits above both. Adding a host backend is a new
module there and one line in :data:`_BACKENDS` (see docs/architecture.md).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from seccompgen.errors import TracerError
from seccompgen.tracing.base import Tracer, TraceRequest

if TYPE_CHECKING:
    from seccompgen.profile.model import Profile

#: The backend that traces inside a container (``--container`` / ``--image``); it is chosen by
#: those options, not by ``--backend``, which picks among the host backends.
CONTAINER_BACKEND = "container"

Log = Callable[[str], None]


def _plain(module: str, cls: str) -> Callable[[Log | None], Tracer]:
    """The constructor of a backend class that takes no arguments, imported on first use."""

    def make(log: Log | None) -> Tracer:
        tracer: Tracer = getattr(importlib.import_module(module), cls)()
        return tracer

    return make


#: Environment variable choosing the ebpf backend's engine: ``auto`` (default: the built-in BPF
#: counter, else bpftrace), ``bpf`` or ``bpftrace``.
EBPF_ENGINE_ENV = "SECCOMPGEN_EBPF_ENGINE"


def _ebpf(log: Log | None) -> Tracer:
    from seccompgen.tracing.backends.ebpf import EbpfTracer
    from seccompgen.tracing.bpf.preconditions import ENGINES

    engine = os.environ.get(EBPF_ENGINE_ENV, "") or "auto"
    if engine not in (*ENGINES, "auto"):
        raise TracerError(
            f"{EBPF_ENGINE_ENV}={engine!r} is not an ebpf engine",
            hint=f"use auto, {', '.join(ENGINES)}, or unset it",
        )
    return EbpfTracer(engine=engine, log=log)


def _container(log: Log | None) -> Tracer:
    from seccompgen.containers.container import ContainerTracer

    return ContainerTracer(log=log)


# Constructors, not instances, so that importing the registry costs nothing per backend.
_BACKENDS: dict[str, Callable[[Log | None], Tracer]] = {
    "strace": _plain("seccompgen.tracing.backends.strace", "StraceTracer"),
    "ptrace": _plain("seccompgen.tracing.backends.ptrace", "PtraceTracer"),
    "ebpf": _ebpf,
}
_ALL: dict[str, Callable[[Log | None], Tracer]] = {**_BACKENDS, CONTAINER_BACKEND: _container}

#: The backend that re-checks a program against a known profile
#: (``seccompgen.tracing.backends.delta``).
#: It needs that profile, so it is built with :func:`get_delta_tracer`, not :func:`get_tracer`.
DELTA_BACKEND = "delta"

#: ``--backend auto``: host backends that record every call, fastest first. ebpf counts calls in
#: the kernel with no stop; strace stops twice per call but formats in C; the ptrace backend
#: stops once per call and decodes it in Python.
AUTO_ORDER: tuple[str, ...] = ("ebpf", "strace", "ptrace")


def backend_names() -> list[str]:
    """The names of the host backends (what ``--backend`` offers), sorted."""
    return sorted(_BACKENDS)


def get_tracer(name: str, *, log: Log | None = None) -> Tracer:
    """A new tracer for backend ``name``; :class:`TracerError` for an unknown name.

    ``log`` receives status lines from backends that prepare something before tracing (the
    container backend: image builds, container creation).
    """
    try:
        factory = _ALL[name]
    except KeyError:
        raise TracerError(
            f"unknown tracer backend {name!r}",
            hint=f"choose one of: {', '.join(sorted(_ALL))}",
        ) from None
    return factory(log)


def get_delta_tracer(
    known: Path | Profile, *, container: bool = False, log: Log | None = None
) -> Tracer:
    """A delta-mode tracer checking against ``known`` (a profile file or a loaded profile).

    ``container``: the workload runs in a Docker container that the engine starts under the
    staging profile (:mod:`seccompgen.containers.delta`); else on the host under the
    launcher (:mod:`seccompgen.tracing.backends.delta`). ``log`` receives the container's
    status lines.
    :class:`~seccompgen.errors.ProfileError` when the file cannot be read as a profile.
    """
    from seccompgen.profile.model import load_profile

    profile = load_profile(known) if isinstance(known, Path) else known
    if container:
        from seccompgen.containers.delta import ContainerDeltaTracer

        return ContainerDeltaTracer(profile, log=log)
    from seccompgen.tracing.backends.delta import DeltaTracer

    return DeltaTracer(profile)


#: The backend that runs a program built for another architecture under qemu-user's -strace
#: (``trace --emulate ARCH``, :mod:`seccompgen.tracing.backends.qemu`); chosen by that option.
EMULATE_BACKEND = "qemu"


def get_emulating_tracer(arch: str) -> Tracer:
    """A tracer that runs ``arch`` programs under qemu-user (:class:`TracerError` for an
    architecture with no emulator)."""
    from seccompgen.tracing.backends.qemu import QemuTracer

    return QemuTracer(arch)


def emulated_arches() -> tuple[str, ...]:
    """The architectures ``trace --emulate`` can run."""
    from seccompgen.tracing.backends.qemu import EMULATORS

    return tuple(sorted(EMULATORS))


def _availability(name: str) -> str | None:
    return get_tracer(name).unavailable_reason()


def select_backend(
    request: TraceRequest, *, availability: Callable[[str], str | None] | None = None
) -> tuple[str, str]:
    """``--backend auto``: the fastest backend that records the whole request here, and why.

    A container request (``request.container`` set) always gets the container backend. Otherwise
    the first available of :data:`AUTO_ORDER`; the reason names the chosen backend's
    preconditions, or why each faster one was passed over. ``availability(name)`` returns why
    a backend cannot run (None: it can); by default the backend's own ``unavailable_reason``.
    :class:`TracerError` when none can run.
    """
    if request.container is not None:
        return CONTAINER_BACKEND, f"{CONTAINER_BACKEND}: the request runs in a container"
    check = availability or _availability
    passed: list[str] = []
    for name in AUTO_ORDER:
        problem = check(name)
        if problem is None:
            why = _AVAILABLE_BECAUSE.get(name, "available")
            if passed:
                why = "; ".join(passed)
            return name, f"{name}: {why}"
        passed.append(f"{name} unavailable: {problem}")
    raise TracerError(
        "no tracer backend can run here: " + "; ".join(passed),
        hint="install strace (apt-get install strace), or run as root for the ebpf backend",
    )


_AVAILABLE_BECAUSE = {
    "ebpf": "root, kernel BTF and tracefs available",
    "strace": "strace available",
    "ptrace": "python-ptrace available",
}
