"""The host tracer backends, one module per backend.

Each module defines one class that satisfies :class:`seccompgen.tracing.base.Tracer`; the
registry (:mod:`seccompgen.registry`) maps the backend's name to it.
"""
