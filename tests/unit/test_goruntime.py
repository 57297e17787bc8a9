"""The Go runtime safety net: its data, and telling Go workloads from others by their programs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from seccompgen.events import SyscallEvent
from seccompgen.goruntime import go_runtime_entries, go_runtime_names, workloads_are_go
from seccompgen.store import TraceStore
from seccompgen.syscalls import known_names
from seccompgen.tracefile import TraceHeader, TraceWriter


def test_every_entry_names_known_syscalls_with_a_reason_and_source() -> None:
    entries = go_runtime_entries("x86_64")
    assert entries
    known = known_names("x86_64")
    for entry in entries:
        assert entry.reason and entry.source and entry.path
        assert set(entry.names) <= known, entry
    names = go_runtime_names("x86_64")
    assert names["rt_sigreturn"] == ("asynchronous preemption", "signal delivery")
    assert names["epoll_pwait"] == ("network poller wait",)
    assert names["restart_syscall"] == ("interrupted sleeps resumed",)
    # The arm64 port makes the same calls on these paths (proven under qemu-aarch64-static, all
    # but restart_syscall, which is from the kernel source: go-runtime.json says why).
    assert go_runtime_names("aarch64") == names
    assert "sys_linux_arm64.s" in go_runtime_entries("aarch64")[0].source
    assert go_runtime_names("riscv64") == {}  # no data for other architectures


def _store_with_trace(root: Path, program: str, backend: str = "strace") -> TraceStore:
    store = TraceStore(root)
    header = TraceHeader.new(workload="w", arch="x86_64", backend=backend, command=[program])
    path = store.new_trace_path("w", header.trace_id, "20260101T000000Z")
    with TraceWriter.create(path, header) as writer:
        writer.write(SyscallEvent("read", "x86_64", 1, 1, 0, None, 1.0, ()))
    return store


def test_a_non_go_program_is_recognised(tmp_path: Path) -> None:
    assert workloads_are_go(_store_with_trace(tmp_path, "/bin/ls"), ["w"]) is False


def test_unknown_when_nothing_can_be_inspected(tmp_path: Path) -> None:
    assert workloads_are_go(_store_with_trace(tmp_path / "a", "/no/such/app"), ["w"]) is None
    imported = _store_with_trace(tmp_path / "b", "/bin/ls", backend="import")
    assert workloads_are_go(imported, ["w"]) is None


@pytest.mark.go
def test_a_go_program_is_recognised(tmp_path: Path, build_example: Callable[[str], Path]) -> None:
    store = _store_with_trace(tmp_path, str(build_example("batch")))
    assert workloads_are_go(store, ["w"]) is True


def test_entries_follow_the_go_version_of_the_binary() -> None:
    every = go_runtime_names("x86_64")
    old = go_runtime_names("x86_64", ["go1.17.13"])
    new = go_runtime_names("x86_64", ["go1.27.3"])
    # Per-thread profiling timers came with Go 1.18; setitimer is older.
    assert "timer_create" in every and "timer_create" in new and "timer_create" not in old
    assert "setitimer" in old
    assert new == every
    assert go_runtime_names("x86_64", ["go1.12"]) == {}  # before asynchronous preemption
    # An unreadable version (a devel build) keeps every path: the safe side.
    assert go_runtime_names("x86_64", ["devel +abc"]) == every


@pytest.mark.go
def test_versions_of_traced_go_programs(
    tmp_path: Path, build_example: Callable[[str], Path]
) -> None:
    import subprocess

    from seccompgen.goruntime import workload_go_versions
    from seccompgen.tracing.gobuild import find_go

    store = _store_with_trace(tmp_path, str(build_example("batch")))
    go = find_go()
    assert go is not None
    toolchain = subprocess.run(
        [str(go), "env", "GOVERSION"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert workload_go_versions(store, ["w"]) == (True, (toolchain,))
