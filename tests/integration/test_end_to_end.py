"""trace -> emit -> validate on the example HTTP service, with real strace and a loopback load."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from _support import free_port

pytestmark = [pytest.mark.strace, pytest.mark.go, pytest.mark.slow]


def seccompgen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seccompgen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_service_trace_emit_validate(tmp_path: Path, build_example: Callable[[str], Path]) -> None:
    service = build_example("httpservice")
    loadgen = build_example("loadgen")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    exercise = f"{loadgen} -c 4 -d 2s {url}/healthz {url}/debug/pprof/"

    traced = seccompgen(
        "trace",
        str(service),
        "--workload",
        "svc",
        "--exercise",
        exercise,
        "--",
        "-addr",
        f"127.0.0.1:{port}",
        cwd=tmp_path,
    )
    assert traced.returncode == 0, traced.stdout + traced.stderr
    assert "trace complete" in traced.stdout
    assert "seccompgen emit --workload svc --mode log" in traced.stdout
    # The default store is ./traces under the current directory.
    assert (tmp_path / "traces" / "graph.json").is_file()

    emitted = seccompgen("emit", "--workload", "svc", cwd=tmp_path)
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr
    enforce = tmp_path / "profiles" / "svc.json"
    profile = json.loads(enforce.read_text())
    [rule] = [r for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW"]
    names = rule["names"]
    for needed in ["bind", "listen", "accept4", "epoll_pwait", "execve", "exit_group"]:
        if needed == "epoll_pwait":
            assert any(n.startswith("epoll_") for n in names), names
        else:
            assert needed in names, names
    assert len(names) <= 60, f"{len(names)} syscalls: {names}"

    staged = seccompgen("emit", "--workload", "svc", "--mode", "log", cwd=tmp_path)
    assert staged.returncode == 0, staged.stderr
    staging = tmp_path / "profiles" / "svc.log.json"
    assert json.loads(staging.read_text())["defaultAction"] == "SCMP_ACT_LOG"

    checked = seccompgen("validate", str(enforce), str(staging), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    shown = seccompgen("graph", "--workload", "svc", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "shutdown" in shown.stdout and "accept4" in shown.stdout
