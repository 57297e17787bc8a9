"""Seccomp profiles: the model, building one from traced names, rendering, and diffs."""

from seccompgen.profile.build import BuildResult, Mode, build_profile
from seccompgen.profile.diff import (
    ProfileDiff,
    allowed_names,
    diff_profiles,
    docker_default_profile,
)
from seccompgen.profile.emit import render, write_profile
from seccompgen.profile.model import (
    Action,
    Arch,
    ArgCondition,
    Operator,
    Profile,
    RuleFilter,
    SyscallRule,
    load_profile,
)

__all__ = [
    "Action",
    "Arch",
    "ArgCondition",
    "BuildResult",
    "Mode",
    "Operator",
    "Profile",
    "ProfileDiff",
    "RuleFilter",
    "SyscallRule",
    "allowed_names",
    "build_profile",
    "diff_profiles",
    "docker_default_profile",
    "load_profile",
    "render",
    "write_profile",
]
