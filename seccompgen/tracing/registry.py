"""The one place that maps backend names to tracer classes."""

from __future__ import annotations

from collections.abc import Callable

from seccompgen.errors import TracerError
from seccompgen.tracing.base import Tracer

#: The backend that traces inside a container (``--container`` / ``--image``); it is chosen by
#: those options, not by ``--backend``, which picks among the host backends.
CONTAINER_BACKEND = "container"

Log = Callable[[str], None]


def _strace(log: Log | None) -> Tracer:
    from seccompgen.tracing.strace import StraceTracer

    return StraceTracer()


def _container(log: Log | None) -> Tracer:
    from seccompgen.tracing.container import ContainerTracer

    return ContainerTracer(log=log)


# Constructors, not instances, so that importing the registry costs nothing per backend.
_BACKENDS: dict[str, Callable[[Log | None], Tracer]] = {
    "strace": _strace,
    "ptrace": lambda log: __import__("seccompgen.tracing.ptrace", fromlist=["_"]).PtraceTracer(),
    "ebpf": lambda log: __import__("seccompgen.tracing.ebpf", fromlist=["EbpfTracer"]).EbpfTracer(),
}
_ALL: dict[str, Callable[[Log | None], Tracer]] = {**_BACKENDS, CONTAINER_BACKEND: _container}


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
