"""Tracer backends: run a target program and record what it does as a stream of events.

Every backend satisfies :class:`seccompgen.tracing.base.Tracer`; :func:`registry.get_tracer` is
the one place that maps a backend name to its class. ``gobuild`` builds the Go example programs
that tests, the demo and the benchmarks trace.
"""
