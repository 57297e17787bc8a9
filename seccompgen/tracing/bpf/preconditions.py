"""What the ebpf backend needs of this machine: :func:`precondition_problem` names the first
thing missing, and what to do about it."""

from __future__ import annotations

import os
import platform
import resource
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from seccompgen.tracing.bpf.bpftrace import NOT_FOUND_MESSAGE

ENGINES: Final = ("bpf", "bpftrace")
"""The counting engines: the built-in one loaded through bpf(2), and bpftrace(8)."""

TRACEFS_DIRS: Final = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))
"""Where tracefs is mounted: its own mount point, or under debugfs on older systems."""

BTF_PATH: Final = Path("/sys/kernel/btf/vmlinux")
"""The kernel's BTF (CONFIG_DEBUG_INFO_BTF)."""

_MEMLOCK_NEEDED: Final = 64 << 20  # bytes; the maps here take a few MiB, with margin


def _kernel_version(release: str) -> tuple[int, int]:
    parts = release.split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


def precondition_problem(
    *,
    engine: str = "bpf",
    bpftrace: str = "bpftrace",
    euid: int | None = None,
    btf: Path = BTF_PATH,
    tracefs_dirs: Iterable[Path] = TRACEFS_DIRS,
    kernel_release: str | None = None,
    memlock: tuple[int, int] | None = None,
    python: str | None = None,
) -> tuple[str, str] | None:
    """The first precondition the ebpf backend misses here, as ``(message, hint)``, or None.

    ``engine`` is ``"bpf"`` (the built-in counter, :mod:`seccompgen.tracing.bpf.counter`) or
    ``"bpftrace"``. Checked in order: bpftrace on PATH (bpftrace engine only); root (loading
    BPF programs and attaching tracepoints needs CAP_BPF and CAP_PERFMON, bpf(2)); kernel BTF
    (the exit status is read from ``task_struct`` at the offset BTF gives); tracefs mounted
    (tracepoint ids and record layouts come from ``events/``); on kernels before 5.11, which
    charge BPF maps to RLIMIT_MEMLOCK instead of the memory cgroup, a memlock limit large
    enough; a launcher path without spaces (bpftrace engine only: its ``-c`` splits on
    spaces). The keyword arguments replace what is read from this machine (for tests).
    """
    if engine not in ENGINES:
        return f"unknown ebpf engine {engine!r}", f"use one of {', '.join(ENGINES)}"
    if engine == "bpftrace" and shutil.which(bpftrace) is None:
        return NOT_FOUND_MESSAGE, "or trace with --backend strace"
    uid = os.geteuid() if euid is None else euid
    if uid != 0:
        return (
            "the ebpf backend needs root (loading BPF programs needs CAP_BPF and CAP_PERFMON)",
            "run seccompgen as root (sudo), or use --backend strace",
        )
    if not btf.exists():
        return (
            f"kernel BTF is missing ({btf}); it locates the exit status in task_struct",
            "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian's is), or --backend strace",
        )
    if not any((d / "events" / "raw_syscalls").is_dir() for d in tracefs_dirs):
        return (
            "tracefs is not mounted (no /sys/kernel/tracing/events/raw_syscalls)",
            "mount it: mount -t tracefs nodev /sys/kernel/tracing (in a container: run it "
            "privileged, or bind-mount the host's /sys/kernel/tracing)",
        )
    release = platform.release() if kernel_release is None else kernel_release
    if _kernel_version(release) < (5, 11):
        soft, _hard = resource.getrlimit(resource.RLIMIT_MEMLOCK) if memlock is None else memlock
        if soft != resource.RLIM_INFINITY and soft < _MEMLOCK_NEEDED:
            return (
                f"the locked-memory limit (RLIMIT_MEMLOCK, {soft} bytes) is too low for BPF "
                f"maps on kernel {release} (before 5.11 maps are charged to it)",
                "raise it: ulimit -l unlimited (or LimitMEMLOCK=infinity in a systemd unit)",
            )
    exe = sys.executable if python is None else python
    if engine == "bpftrace" and (not exe or " " in exe):
        return (
            f"the Python interpreter path {exe!r} is empty or has a space; bpftrace -c "
            "splits its command on spaces",
            "run seccompgen from a Python installed under a path without spaces",
        )
    return None
