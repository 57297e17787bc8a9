"""The ebpf backend's in-kernel side, without a toolchain.

``asm`` (the instruction set and an assembler) and ``loader`` (bpf(2): maps, program load,
tracepoints, BTF) build the in-kernel system call counter, ``counter``, which the default
engine loads; ``bpftrace`` is the other engine's bpftrace(8) program. Both engines fold their
counts into ``counts``, which turns them into trace events; ``launchers`` start the target,
``preconditions`` check what the machine must offer. Nothing here imports the backend
(:mod:`seccompgen.tracing.backends.ebpf`), which runs the session.
"""
