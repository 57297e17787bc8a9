"""profile.diff: comparing allowlists, against Docker's default profile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seccompgen.profile.diff import allowed_names, diff_profiles, docker_default_profile
from seccompgen.profile.model import Action, Arch, Profile, SyscallRule

RAW_DEFAULT = Path(__file__).parents[3] / "seccompgen" / "data" / "docker-default-seccomp.json"


def _raw_allowed(raw: dict[str, Any], docker_arch: str | None) -> set[str]:
    """Independent reading of Docker's file: ALLOW rules that need no capability and apply."""
    names: set[str] = set()
    for rule in raw["syscalls"]:
        inc = rule.get("includes") or {}
        exc = rule.get("excludes") or {}
        if rule["action"] != "SCMP_ACT_ALLOW" or inc.get("caps"):
            continue
        if inc.get("arches") and docker_arch not in inc["arches"]:
            continue
        if exc.get("arches") and (docker_arch is None or docker_arch in exc["arches"]):
            continue
        names.update(rule["names"])
    return names


def test_docker_default_is_the_bundled_file() -> None:
    raw = json.loads(RAW_DEFAULT.read_text())
    profile = docker_default_profile()
    assert profile.default_action.value == raw["defaultAction"]
    assert len(profile.syscalls) == len(raw["syscalls"])


def test_allowed_names_of_docker_default() -> None:
    raw = json.loads(RAW_DEFAULT.read_text())
    profile = docker_default_profile()
    assert allowed_names(profile) == _raw_allowed(raw, None)
    assert allowed_names(profile, arch="x86_64") == _raw_allowed(raw, "amd64")
    assert allowed_names(profile, arch="aarch64") == _raw_allowed(raw, "arm64")
    # capability-gated calls are not counted, arch-specific ones only on their arch
    assert "mount" not in allowed_names(profile, arch="x86_64")
    assert "arch_prctl" in allowed_names(profile, arch="x86_64")
    assert "arch_prctl" not in allowed_names(profile, arch="aarch64")


def test_small_profile_against_docker_default() -> None:
    raw = json.loads(RAW_DEFAULT.read_text())
    mine = {"read", "write", "exit_group", "mount", "kexec_load", "arch_prctl"}
    small = Profile(
        default_action=Action.ERRNO,
        default_errno_ret=1,
        architectures=(Arch.X86_64,),
        syscalls=(SyscallRule(names=tuple(sorted(mine)), action=Action.ALLOW),),
    )
    docker = _raw_allowed(raw, "amd64")
    diff = diff_profiles(small, docker_default_profile(), arch="x86_64")
    assert diff.a_count == len(mine)
    assert diff.b_count == len(docker)
    assert set(diff.common) == mine & docker
    assert set(diff.removed) == mine - docker
    assert set(diff.added) == docker - mine
    assert {"mount", "kexec_load"} <= set(diff.removed)
    assert list(diff.added) == sorted(diff.added)
    assert len(diff.common) + len(diff.removed) == diff.a_count
    assert len(diff.common) + len(diff.added) == diff.b_count


def test_non_allow_rules_are_not_counted() -> None:
    p = Profile(
        default_action=Action.ALLOW,
        architectures=(),
        syscalls=(SyscallRule(names=("ptrace",), action=Action.ERRNO),),
    )
    assert allowed_names(p) == frozenset()
