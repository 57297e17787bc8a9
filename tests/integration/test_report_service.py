"""The report of a real trace: the example service under strace, exercised by the built-in
prober (health checks and a CPU profile), then stopped with SIGTERM."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _rules import missing_tool
from _support import free_port

from seccompgen.events import Phase
from seccompgen.exercise.prober import exercise_command
from seccompgen.goruntime import go_runtime_names
from seccompgen.graph import SyscallGraph
from seccompgen.report import build_report, render_dot, render_image, render_json, render_text

pytestmark = [pytest.mark.strace, pytest.mark.go, pytest.mark.slow]

PROFILING = {"setitimer", "timer_create", "timer_settime", "timer_delete"}


def need_dot() -> None:
    """Skip without Graphviz's dot, or fail when ``CI`` is set (CI installs graphviz)."""
    if shutil.which("dot") is None:
        reason = "Graphviz's dot is not on PATH (apt-get install graphviz)"
        missing_tool(reason)


def test_report_of_a_probed_service(
    build_example: Callable[[str], Path], run_trace: Callable[..., Any], tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    exercise = exercise_command(
        [f"{base}/healthz", f"{base}/debug/pprof/profile?seconds=1"], requests=2
    )
    probe_out = tmp_path / "probe.out"
    run = run_trace(
        [build_example("httpservice"), "-addr", f"127.0.0.1:{port}"],
        workload="api",
        exercise=f"{exercise} > {probe_out}",
        timeout=120,
    )
    assert run.outcome.complete and run.outcome.exercise_exit_code == 0, probe_out.read_text()
    assert f"{base}/healthz: 2 request(s); 200: 2" in probe_out.read_text()

    graph = SyscallGraph()
    graph.add_events("api", run.events, source_id=run.reader.header.trace_id)
    net = go_runtime_names("x86_64")
    observed = set(graph.syscalls(["api"]))
    report = build_report(
        graph,
        ["api"],
        go_runtime={n: p for n, p in net.items() if n not in observed},
        runtime_names=(),
        unobserved=None,
        safety_net=net,
    )
    (w,) = report.workloads
    assert w.phases_seen == (Phase.STARTUP, Phase.EXERCISE, Phase.SHUTDOWN)
    calls = {c.name: c for c in w.syscalls}
    # The prober's CPU profile request made the service start the profiling timers, during the
    # exercise and not before.
    assert set(calls) >= PROFILING
    assert all(calls[n].first_phase is Phase.EXERCISE for n in PROFILING)
    assert Phase.EXERCISE in calls["accept4"].phases

    startup_only = {s.name: s for s in w.startup_only}
    assert "execve" in startup_only and not startup_only["execve"].needed_later_by
    assert not startup_only.keys() & {n for n, c in calls.items() if c.phases != (Phase.STARTUP,)}
    assert not {a.name for a in report.go_additions} & observed

    doc = json.loads(render_json(report))
    assert {c["name"] for c in doc["workloads"][0]["syscalls"]} == observed
    assert "seen only at startup" in render_text(report)

    need_dot()
    svg = render_image(render_dot(report), "svg").decode()
    assert "timer_create" in svg and "<svg" in svg
