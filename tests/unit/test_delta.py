"""Unit tests of the delta backend's pure parts and of ``--backend auto``'s selection logic."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from seccompgen.errors import TracerError
from seccompgen.events import Phase
from seccompgen.parsing.audit import parse_payload
from seccompgen.profile.build import Mode, build_profile
from seccompgen.profile.model import Action
from seccompgen.registry import AUTO_ORDER, CONTAINER_BACKEND, select_backend
from seccompgen.tracing.backends.delta import DeltaTracer, staging_variant, summarize
from seccompgen.tracing.base import ContainerSpec, TraceRequest


def record(ts: str, pid: int, number: int, comm: str = "app") -> str:
    return (
        f"audit({ts}:1): auid=4294967295 uid=0 gid=0 ses=4294967295 pid={pid} "
        f'comm="{comm}" exe="/app" sig=0 arch=c000003e syscall={number} compat=0 '
        "ip=0x4a1b2c code=0x7ffc0000"
    )


def test_staging_variant_logs_by_default_and_keeps_only_allow_rules() -> None:
    enforce = build_profile(["read", "write", "execve"], ["x86_64"], Mode.ENFORCE).profile
    assert any(r.action is Action.ERRNO for r in enforce.syscalls)  # the ENOSYS rule
    staged = staging_variant(enforce)
    assert staged.default_action is Action.LOG and staged.default_errno_ret is None
    assert [r.action for r in staged.syscalls] == [Action.ALLOW]
    assert staged.syscalls[0].names == ("execve", "exit", "exit_group", "read", "write")
    assert staged.architectures == enforce.architectures


def test_summarize_counts_per_process_and_phase() -> None:
    boundaries = [(100.0, Phase.STARTUP), (101.0, Phase.EXERCISE), (102.0, Phase.SHUTDOWN)]
    records = [
        parse_payload(record("100.500", 7, 39)),  # getpid, startup
        parse_payload(record("101.200", 7, 39)),  # getpid, exercise
        parse_payload(record("101.300", 7, 39)),
        parse_payload(record("101.400", 8, 39, comm="child")),
        parse_payload(record("102.000", 7, 82)),  # rename, at the shutdown boundary
    ]
    misses = summarize(records, boundaries)
    got = [(m.name, m.pid, m.comm, m.phase, m.count) for m in misses]
    assert got == [
        ("getpid", 7, "app", Phase.STARTUP, 1),
        ("getpid", 7, "app", Phase.EXERCISE, 2),
        ("getpid", 8, "child", Phase.EXERCISE, 1),
        ("rename", 7, "app", Phase.SHUTDOWN, 1),
    ]


def test_delta_without_a_profile_is_unavailable_and_refuses_containers() -> None:
    reason = DeltaTracer().unavailable_reason()
    assert reason is not None and "profile" in reason
    request = TraceRequest(argv=("x",), workload="w", container=ContainerSpec())
    with pytest.raises(TracerError, match="container backend"):
        DeltaTracer().run(request, None, lambda p: None)  # type: ignore[arg-type]


def available(*names: str) -> Callable[[str], str | None]:
    def check(name: str) -> str | None:
        return None if name in names else f"no {name} here"

    return check


def test_auto_prefers_ebpf() -> None:
    request = TraceRequest(argv=("x",), workload="w")
    name, reason = select_backend(request, availability=available("ebpf", "strace", "ptrace"))
    assert (name, reason) == ("ebpf", "ebpf: root, kernel BTF and tracefs available")


def test_auto_falls_back_in_order_with_the_reasons() -> None:
    request = TraceRequest(argv=("x",), workload="w")
    name, reason = select_backend(request, availability=available("strace", "ptrace"))
    assert (name, reason) == ("strace", "strace: ebpf unavailable: no ebpf here")
    name, reason = select_backend(request, availability=available("ptrace"))
    assert name == "ptrace"
    assert reason == "ptrace: ebpf unavailable: no ebpf here; strace unavailable: no strace here"


def test_auto_with_nothing_available_is_an_error() -> None:
    request = TraceRequest(argv=("x",), workload="w")
    with pytest.raises(TracerError) as info:
        select_backend(request, availability=available())
    for name in AUTO_ORDER:
        assert f"no {name} here" in info.value.message


def test_auto_sends_container_requests_to_the_container_backend() -> None:
    request = TraceRequest(argv=("x",), workload="w", container=ContainerSpec(image="app:1"))
    name, _reason = select_backend(request, availability=available("ebpf", "strace"))
    assert name == CONTAINER_BACKEND
