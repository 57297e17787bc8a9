"""The dangerous-syscall probe, natively as root and under profiles loaded by seccompgen.enforce.

The enforce profile is generated the way a user would: trace ``probe -dry`` (the Go runtime and
the harness, no dangerous call) with strace and build the profile from the names seen. Under it,
every call the root baseline can make must be denied. Docker's default profile, applied the same
way for a container with Docker's default capabilities, is printed beside it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from seccompgen.enforce import resolve_docker_rules, run_under_profile
from seccompgen.profile.build import Mode, build_profile
from seccompgen.profile.diff import docker_default_profile
from seccompgen.profile.model import Profile
from seccompgen.syscalls import native_arch

pytestmark = [pytest.mark.go, pytest.mark.root]

Verdicts = dict[str, tuple[str, str]]
# Fewer runtime signals, so the traced and the enforced runs make the same calls.
ENV = {**os.environ, "GODEBUG": "asyncpreemptoff=1"}


def _parse(stdout: str) -> Verdicts:
    out: Verdicts = {}
    for line in stdout.splitlines():
        row = json.loads(line)
        assert set(row) == {"syscall", "errno", "verdict"}, row
        out[row["syscall"]] = (row["errno"], row["verdict"])
    return out


def _under(profile: Profile, probe: Path) -> Verdicts:
    proc = run_under_profile(profile, [str(probe)], env=ENV)
    assert proc.returncode == 0, proc.stderr
    return _parse(proc.stdout)


@pytest.fixture(scope="module")
def probe(build_example: Callable[[str], Path]) -> Path:
    # Root (the baseline's premise) is enforced by the module's `root` marker rule.
    return build_example("probe")


@pytest.fixture(scope="module")
def baseline(probe: Path) -> Verdicts:
    import subprocess

    proc = subprocess.run([str(probe)], capture_output=True, text=True, timeout=60, check=True)
    return _parse(proc.stdout)


def test_root_baseline_reaches_the_kernel(baseline: Verdicts) -> None:
    # Calls every Linux build has: as root they must get past the syscall entry.
    for name in ("mount", "umount2", "unshare", "setns", "chroot", "pivot_root", "personality"):
        assert baseline[name][1] == "allowed", (name, baseline[name])
    assert baseline["chroot"][0] == "ENOENT"
    assert baseline["setns"][0] == "EBADF"


@pytest.mark.strace
def test_generated_profile_denies_every_dangerous_call(
    probe: Path, baseline: Verdicts, run_trace: Callable[..., object]
) -> None:
    run = run_trace([probe, "-dry"], env=ENV)
    names = run.names()  # type: ignore[attr-defined]
    assert names and not names & set(baseline), names & set(baseline)
    result = build_profile(sorted(names), [native_arch()], Mode.ENFORCE)
    ours = _under(result.profile, probe)
    docker = _under(resolve_docker_rules(docker_default_profile()), probe)

    reachable = sorted(n for n, (_, v) in baseline.items() if v == "allowed")
    lines = [f"{'syscall':<18} {'root, no seccomp':<18} {'generated':<12} docker default"]
    for name in baseline:
        lines.append(
            f"{name:<18} {baseline[name][0]:<18} {ours[name][0]:<12} {docker[name][0]}"
            + ("   <- docker allows" if docker[name][1] == "allowed" and name in reachable else "")
        )
    print("\n" + "\n".join(lines))

    assert reachable, baseline
    assert {n: ours[n] for n in reachable if ours[n][1] != "denied"} == {}
    # The generated profile answers with the default EPERM (none of these is a fallback call).
    assert {ours[n][0] for n in reachable} == {"EPERM"}
    # Docker's default profile is a denylist with exceptions: it lets some of them through.
    docker_allowed = {n for n in reachable if docker[n][1] == "allowed"}
    assert "personality" in docker_allowed  # allowed for the query value 0xffffffff
    assert docker["mount"][1] == "denied"  # needs CAP_SYS_ADMIN
