"""aarch64 profiles: the arm64 build of the example service, traced under qemu-user, makes the
calls ``emit --arch aarch64`` predicts from the x86_64 build's strace trace.

Both builds run the same exercise (loadgen against /healthz and /debug/pprof/ on 127.0.0.1).
The x86_64 trace's names go through the translation table (seccompgen/data/arch-translation.json);
the arm64 trace's names are the guest's own, logged by ``qemu-aarch64-static -strace``. The allowed
sets must be equal apart from the differences below, which the README explains ("aarch64
profiles"); a difference not listed there fails the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _support import free_port, sg

from seccompgen import syscalls
from seccompgen.events import SyscallEvent
from seccompgen.inspect import inspect_binary, reachable_syscalls
from seccompgen.tracefile import read_trace
from seccompgen.tracing.gobuild import build_go

pytestmark = [pytest.mark.go, pytest.mark.strace, pytest.mark.qemu, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: In the x86_64 trace only: strace records the traced program's own execve; qemu-user loads the
#: guest program itself, so the guest never calls execve. (In a container the runtime's execve
#: of the workload runs under the filter on either architecture; the runtime block allows it.)
ONLY_X86_64 = {"execve"}
#: In the qemu trace only: qemu 7.2 gives an aarch64 guest no vDSO, so Go's nanotime and
#: walltime fall back to the clock_gettime system call; on arm64 hardware they read the clock
#: through the vDSO (Go runtime/vdso_linux_arm64.go), as the x86_64 build does on this host.
ONLY_QEMU = {"clock_gettime"}


def _allowed(path: Path) -> set[str]:
    profile: dict[str, Any] = json.loads(path.read_text())
    return {
        n
        for rule in profile["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW"
        for n in rule["names"]
    }


def _trace(store: Path, work: Path, loadgen: Path, workload: str, *target: str) -> None:
    port = free_port()
    load = (
        f"{loadgen} -c 4 -d 2s http://127.0.0.1:{port}/healthz http://127.0.0.1:{port}/debug/pprof/"
    )
    proc = sg("trace", "--store", str(store), "--workload", workload, "--exercise", load,
              *target, "--", "-addr", f"127.0.0.1:{port}", cwd=work, timeout=300)  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "target exit status: 0" in proc.stdout, out
    assert "warning: the exercise command exited" not in out, out


def _emit(store: Path, work: Path, workload: str, *extra: str) -> tuple[set[str], str]:
    out = work / f"{workload}{'-'.join(('', *extra)).replace('--', '')}.json"
    proc = sg("emit", "--store", str(store), "-w", workload, "--arch", "aarch64", "-o", str(out),
              *extra, cwd=work)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(out.read_text())["architectures"] == ["SCMP_ARCH_AARCH64"]
    return _allowed(out), proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def traced(build_example: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with one exercised run of each build: workloads ``x86_64`` and ``arm64``."""
    work = tmp_path_factory.mktemp("arm64")
    store = work / "traces"
    loadgen = build_example("loadgen")
    native = build_example("httpservice")
    arm64 = build_go(EXAMPLES / "httpservice", work / "httpservice-arm64", goarch="arm64")
    _trace(store, work, loadgen, "x86_64", str(native))
    _trace(store, work, loadgen, "arm64", "--emulate", "aarch64", str(arm64))
    return store


def test_the_qemu_trace_is_an_aarch64_trace(traced: Path) -> None:
    (path,) = sorted((traced / "arm64").glob("*.trace.jsonl"))
    trace = read_trace(path)
    assert trace.header.arch == "aarch64"
    assert trace.header.backend == "qemu"
    names = {e.name for e in trace if isinstance(e, SyscallEvent)}
    assert {"openat", "epoll_pwait", "accept4"} <= names
    assert not names & {"open", "stat", "epoll_wait", "arch_prctl"}


def test_the_arm64_build_makes_what_emit_arch_aarch64_predicts(traced: Path) -> None:
    work = traced.parent
    observed = ("--runtime", "none", "--go-runtime", "off")
    predicted, said = _emit(traced, work, "x86_64", *observed)
    measured, _ = _emit(traced, work, "arm64", *observed)
    # The numbers the README's table shows.
    seen = {w: len(_observed(traced, w)) for w in ("x86_64", "arm64")}
    print(
        f"observed: {seen}; profiles for aarch64: from x86_64 {len(predicted)}, "
        f"from arm64 {len(measured)}"
    )
    assert predicted - measured == ONLY_X86_64, sorted(predicted - measured)
    assert measured - predicted == ONLY_QEMU, sorted(measured - predicted)
    # The x86_64 program sets its thread-local storage with arch_prctl; arm64 has no such call.
    assert "warning: arch_prctl has no counterpart on aarch64" in said


def test_the_profile_for_aarch64_covers_the_arm64_build(traced: Path) -> None:
    """With the runtime block and the Go safety net, as emit writes it by default, the profile
    made for aarch64 from the x86_64 trace allows every call the arm64 build made, except the
    clock reads a real arm64 host answers from the vDSO."""
    predicted, _ = _emit(traced, traced.parent, "x86_64")
    measured, _ = _emit(traced, traced.parent, "arm64", "--runtime", "none", "--go-runtime", "off")
    assert measured - predicted == ONLY_QEMU
    defaults, _ = _emit(traced, traced.parent, "arm64")
    print(
        f"profiles for aarch64 with defaults: from x86_64 {len(predicted)}, "
        f"from arm64 {len(defaults)}"
    )


def _observed(store: Path, workload: str) -> set[str]:
    (path,) = sorted((store / workload).glob("*.trace.jsonl"))
    return {e.name for e in read_trace(path) if isinstance(e, SyscallEvent)}


def test_the_arm64_package_data_covers_what_the_arm64_build_made(
    traced: Path, build_example: Callable[[str], Path]
) -> None:
    """Static reachability (pclntab functions -> go-packages-syscalls.json) of each build covers
    what its trace saw, with one explained exception per architecture."""
    arm64 = reachable_syscalls(inspect_binary(traced.parent / "httpservice-arm64"))
    assert all(syscalls.resolve_name("aarch64", n) is not None for n in arm64)
    assert {"accept4", "epoll_pwait", "openat", "newfstatat"} <= set(arm64)
    assert not {"epoll_wait", "arch_prctl", "dup2"} & set(arm64)
    # arm64: rt_sigreturn is made by the kernel's signal trampoline in the vDSO, which Go does
    # not link (runtime/os_linux.go setsig sets sa_restorer on 386 and amd64 only).
    assert _observed(traced, "arm64") - set(arm64) == {"rt_sigreturn"}
    # x86_64: execve is strace starting the program, not a call the program makes.
    native = reachable_syscalls(inspect_binary(build_example("httpservice")))
    assert _observed(traced, "x86_64") - set(native) == {"execve"}
