"""Tracing: run a target program and record what it does as a stream of events.

``base`` is the contract every backend satisfies (:class:`~seccompgen.tracing.base.Tracer`);
``backends/`` holds one module per host backend; ``bpf/`` the BPF assembler and counter the
ebpf backend loads; ``audit`` the kernel audit listener; ``elf`` and ``gobuild`` read and build
programs. :mod:`seccompgen.registry` is the one place that maps a backend name to its class.
"""
