"""profile.build: allowlist profiles and the seccomp rules they must obey."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seccompgen import syscalls
from seccompgen.errors import ProfileError
from seccompgen.profile.build import (
    Mode,
    build_profile,
    check_enforce_default,
    is_unconfined,
    require_confinement,
    same_effect,
    shared_arg_indexes,
)
from seccompgen.profile.diff import allowed_names
from seccompgen.profile.model import Action, Arch, ArgCondition, Operator, Profile, SyscallRule
from seccompgen.schema import validate_profile_data

ARCH = syscalls.native_arch()


def test_enforce_profile() -> None:
    result = build_profile(["write", "read", "read", "exit_group"], [ARCH], Mode.ENFORCE)
    p = result.profile
    assert p.default_action is Action.ERRNO
    assert p.default_errno_ret == 1
    assert p.architectures == (Arch(syscalls.ARCHES[ARCH]),)
    assert len(p.syscalls) == 1
    assert p.syscalls[0].action is Action.ALLOW
    assert p.syscalls[0].names == ("exit_group", "read", "write")
    assert result.unknown == ()


def test_log_profile() -> None:
    p = build_profile(["read"], [ARCH], Mode.LOG).profile
    assert p.default_action is Action.LOG
    assert p.default_errno_ret is None
    assert p.syscalls[0].names == ("read",)


def test_unknown_names_are_left_out_with_a_reason() -> None:
    result = build_profile(["read", "frobnicate", "syscall_0x3fff"], ["x86_64"], Mode.ENFORCE)
    assert result.profile.syscalls[0].names == ("read",)
    reasons = dict(result.unknown)
    assert set(reasons) == {"frobnicate", "syscall_0x3fff"}
    assert "x86_64" in reasons["frobnicate"]
    assert syscalls.libseccomp_version() in reasons["frobnicate"]


def test_strace_placeholder_resolved_by_number() -> None:
    number = syscalls.resolve_name("x86_64", "pidfd_getfd")
    assert number is not None
    result = build_profile(["read", f"syscall_{number:#x}"], ["x86_64"], Mode.ENFORCE)
    assert result.profile.syscalls[0].names == ("pidfd_getfd", "read")


def test_placeholder_meaning_different_calls_per_arch_is_refused() -> None:
    name = "syscall_0x3"  # close on x86_64, read on x86
    assert syscalls.resolve_number("x86_64", 3) != syscalls.resolve_number("x86", 3)
    result = build_profile(["write", name], ["x86_64", "x86"], Mode.ENFORCE)
    assert name in dict(result.unknown)
    assert [a.value for a in result.profile.architectures] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]


def test_name_known_on_one_arch_only_is_kept() -> None:
    # socketcall exists on x86 but not x86_64: a runtime uses it where it exists.
    result = build_profile(["socketcall"], ["x86_64", "x86"], Mode.ENFORCE)
    assert result.profile.syscalls[0].names == ("socketcall",)


def test_empty_allowlist_is_refused() -> None:
    with pytest.raises(ProfileError, match="no syscalls to allow"):
        build_profile([], [ARCH], Mode.ENFORCE)
    with pytest.raises(ProfileError, match="no syscalls to allow"):
        build_profile(["not_a_syscall"], [ARCH], Mode.LOG)


def test_bad_arches() -> None:
    with pytest.raises(ProfileError, match="no architecture"):
        build_profile(["read"], [], Mode.ENFORCE)
    with pytest.raises(ProfileError, match="unknown architecture 'amd64'"):
        build_profile(["read"], ["amd64"], Mode.ENFORCE)


def test_same_effect() -> None:
    assert same_effect(Action.ERRNO, None, Action.ERRNO, 1)  # errnoRet defaults to EPERM
    assert not same_effect(Action.ERRNO, 38, Action.ERRNO, 1)
    assert same_effect(Action.KILL, None, Action.KILL_THREAD, None)
    assert not same_effect(Action.KILL_PROCESS, None, Action.KILL_THREAD, None)
    assert same_effect(Action.ALLOW, None, Action.ALLOW, None)
    assert not same_effect(Action.ALLOW, None, Action.LOG, None)


def test_enforce_never_defaults_to_allow() -> None:
    with pytest.raises(ProfileError):
        check_enforce_default(Action.ALLOW)
    with pytest.raises(ProfileError):
        check_enforce_default(Action.LOG)
    check_enforce_default(Action.ERRNO)
    check_enforce_default(Action.KILL_PROCESS)


def test_unconfined() -> None:
    allow_all = Profile(
        Action.ALLOW, (), (SyscallRule(("read",), Action.ALLOW),), default_errno_ret=None
    )
    assert is_unconfined(allow_all)
    with pytest.raises(ProfileError, match="allows every syscall"):
        require_confinement(allow_all)
    deny_one = Profile(Action.ALLOW, (), (SyscallRule(("ptrace",), Action.ERRNO),))
    assert not is_unconfined(deny_one)
    require_confinement(deny_one)


def test_shared_arg_indexes() -> None:
    one = ArgCondition(0, 1, Operator.EQ)
    assert shared_arg_indexes([one, ArgCondition(1, 2, Operator.EQ)]) == ()
    assert shared_arg_indexes([one, ArgCondition(0, 2, Operator.EQ)]) == (0,)


@settings(max_examples=40, deadline=None)
@given(
    names=st.lists(st.sampled_from(sorted(syscalls.known_names(ARCH))), min_size=1, max_size=40),
    mode=st.sampled_from(list(Mode)),
)
def test_built_profiles_are_valid_and_allow_exactly_the_names(names: list[str], mode: Mode) -> None:
    profile = build_profile(names, [ARCH], mode).profile
    for rule in profile.syscalls:
        assert not same_effect(
            rule.action, rule.errno_ret, profile.default_action, profile.default_errno_ret
        )
    assert profile.default_action is not Action.ALLOW
    assert validate_profile_data(profile.to_dict(), source="built") == []
    assert allowed_names(profile, arch=ARCH) == frozenset(names)
