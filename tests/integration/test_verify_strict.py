"""verify --strict: a workload that survives refused calls passes plain verify but fails strict.

The example service keeps answering when the Go runtime's profiling timer is refused (Go
tolerates EPERM from timer_create/setitimer: the CPU profile comes back empty, with a 200), so
a profile from a startup-only trace without the Go safety net passes ``verify`` under a load
that takes a CPU profile. ``--strict`` repeats the run under the staging variant and fails,
naming the calls the profile refuses.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from _support import free_port, sg

pytestmark = [pytest.mark.docker, pytest.mark.go, pytest.mark.strace, pytest.mark.root]

# Calls Go makes to take a CPU profile (runtime/pprof: per-thread timers since Go 1.18, the
# process-wide ITIMER_PROF before that).
PROFILING_TIMERS = {"timer_create", "timer_settime", "timer_delete", "setitimer"}


def test_strict_fails_a_profile_the_workload_only_survives(
    tmp_path: Path, build_example: Callable[[str], Path]
) -> None:
    service = build_example("httpservice")
    loadgen = build_example("loadgen")
    addr = f"127.0.0.1:{free_port()}"
    traced = sg(
        "trace", str(service), "-w", "svc", "--duration", "1", "--", "-addr", addr, cwd=tmp_path
    )
    assert traced.returncode == 0, traced.stdout + traced.stderr
    profile_path = tmp_path / "svc.json"
    emitted = sg("emit", "-w", "svc", "--no-go-runtime", "-o", str(profile_path), cwd=tmp_path)
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr
    [allow] = [
        r
        for r in json.loads(profile_path.read_text())["syscalls"]
        if r["action"] == "SCMP_ACT_ALLOW"
    ]
    assert not PROFILING_TIMERS & set(allow["names"])

    base = f"http://{addr}"
    exercise = (
        f"{loadgen} -c 2 -d 3s {base}/healthz & "
        f"{sys.executable} -m seccompgen.exercise.prober --requests 1 -- "
        f"'{base}/debug/pprof/profile?seconds=1' && wait"
    )
    verify = ["verify", str(profile_path), str(service), "--network", "host"]
    verify += ["--exercise", exercise]
    plain = sg(*verify, "--", "-addr", addr, cwd=tmp_path)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "PASS" in plain.stdout

    strict = sg(*verify, "--strict", "--", "-addr", addr, cwd=tmp_path)
    out = strict.stdout + strict.stderr
    assert strict.returncode == 1, out
    assert "FAIL (strict)" in strict.stdout and "the workload kept working" in strict.stdout
    refused = {
        line.split()[0]
        for line in strict.stdout.splitlines()
        if line.startswith("  ") and " workload: " in line
    }
    assert refused & PROFILING_TIMERS, out
    assert "Traceback" not in out
    records = tmp_path / "svc.denied.audit"
    # SECCOMP_RET_LOG is 0x7ffc0000 (seccomp(2)): the staging run logged, did not refuse
    assert records.is_file() and "code=0x7ffc0000" in records.read_text()
    assert f"seccompgen learn --from {records}" in strict.stdout


def test_strict_passes_when_nothing_is_refused(
    tmp_path: Path, build_example: Callable[[str], Path]
) -> None:
    program = build_example("batch")
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("one\ntwo\nthree\n")
    args = ["--", "-in", str(data / "in.txt"), "-out", str(data / "out.txt")]
    traced = sg("trace", str(program), "-w", "batch", *args, cwd=tmp_path)
    assert traced.returncode == 0, traced.stdout + traced.stderr
    profile_path = tmp_path / "batch.json"
    emitted = sg("emit", "-w", "batch", "-o", str(profile_path), cwd=tmp_path)
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr
    (data / "out.txt").unlink()
    strict = sg(
        "verify", str(profile_path), str(program), "--strict", "-V", f"{data}:/data",
        "--", "-in", "/data/in.txt", "-out", "/data/out.txt", cwd=tmp_path,
    )  # fmt: skip
    assert strict.returncode == 0, strict.stdout + strict.stderr
    assert "PASS" in strict.stdout and "strict: the staging variant logged no call" in strict.stdout
