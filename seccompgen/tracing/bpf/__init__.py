"""BPF without a toolchain: a small assembler and loader (``asm``) and the in-kernel system call
counter built with it (``counter``), which the ebpf backend's default engine loads."""
