"""BPF without a toolchain: a small assembler (``asm``) and loader (``loader``), the in-kernel
system call counter built with them (``counter``), which the ebpf backend's default engine
loads, and the counts both of the backend's engines fold (``counts``)."""
