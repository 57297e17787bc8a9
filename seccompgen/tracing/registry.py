"""The one place that maps backend names to tracer classes."""

from __future__ import annotations

from collections.abc import Callable

from seccompgen.errors import TracerError
from seccompgen.tracing.base import Tracer


def _strace() -> Tracer:
    from seccompgen.tracing.strace import StraceTracer

    return StraceTracer()


# Constructors, not instances, so that importing the registry costs nothing per backend.
_BACKENDS: dict[str, Callable[[], Tracer]] = {
    "strace": _strace,
}


def backend_names() -> list[str]:
    """The names of every backend, sorted."""
    return sorted(_BACKENDS)


def get_tracer(name: str) -> Tracer:
    """A new tracer for backend ``name``; :class:`TracerError` for an unknown name."""
    try:
        factory = _BACKENDS[name]
    except KeyError:
        raise TracerError(
            f"unknown tracer backend {name!r}",
            hint=f"choose one of: {', '.join(backend_names())}",
        ) from None
    return factory()
