"""The Go runtime safety net, proven under enforcement on a real Docker engine.

A profile emitted from a startup-only trace of the example service (no load, SIGTERM right
after start) plus the safety net must pass ``verify`` under a sustained loopback load with a
pprof CPU profile taken during it: the calls the load and the profiler add (preemption signals,
profiling timers, scavenger, new threads) come from the safety net, not from the trace.

Measured here: the same run also passes *without* the safety net, because the Go runtime
tolerates EPERM on these paths (a refused timer_create or setitimer leaves the CPU profile empty
but answers 200; a refused madvise keeps the memory); verify sees a service that keeps working.
The calls that crash when refused (rt_sigreturn after a signal, exit of a locked thread) are
the ones the safety net exists for; see tests/integration/test_go_rare_paths.py for the proof
that each listed call is made on its path.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from _support import free_port, sg

pytestmark = [pytest.mark.docker, pytest.mark.go, pytest.mark.strace, pytest.mark.root]


def test_startup_only_profile_plus_safety_net_survives_load_and_profiling(
    tmp_path: Path, build_example: Callable[[str], Path]
) -> None:
    service = build_example("httpservice")
    loadgen = build_example("loadgen")
    port = free_port()
    addr = f"127.0.0.1:{port}"

    traced = sg(
        "trace", str(service), "-w", "svc", "--duration", "1", "--", "-addr", addr, cwd=tmp_path
    )
    assert traced.returncode == 0, traced.stdout + traced.stderr
    profile_path = tmp_path / "svc.json"
    emitted = sg("emit", "-w", "svc", "-o", str(profile_path), cwd=tmp_path)
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr
    assert "required by the Go runtime, not observed" in emitted.stdout
    profile = json.loads(profile_path.read_text())
    [allow] = [r for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW"]
    graph = json.loads(sg("graph", "--format", "json", "-w", "svc", cwd=tmp_path).stdout)
    observed = set(graph["workloads"]["svc"]["syscalls"])
    # The trace saw no profiler: its timers are in the profile only through the safety net.
    assert "timer_create" not in observed and "timer_create" in allow["names"]

    base = f"http://{addr}"
    exercise = (
        f"{loadgen} -c 4 -d 4s {base}/healthz & "
        f"{sys.executable} -m seccompgen.exercise.prober --requests 1 -- "
        f"'{base}/debug/pprof/profile?seconds=2' && wait"
    )
    verified = sg(
        "verify",
        str(profile_path),
        str(service),
        "--network",
        "host",
        "--exercise",
        exercise,
        "--",
        "-addr",
        addr,
        cwd=tmp_path,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
