"""profile.build: allowlist profiles and the seccomp rules they must obey."""

from __future__ import annotations

import pytest
from _rules import missing_tool
from hypothesis import given, settings
from hypothesis import strategies as st

from seccompgen import syscalls
from seccompgen.errors import ProfileError
from seccompgen.profile.build import (
    ENOSYS,
    Mode,
    build_profile,
    check_enforce_default,
    enosys_fallbacks,
    is_unconfined,
    process_exit_names,
    process_exits,
    refused_exits,
    require_confinement,
    runc_answer,
    runc_enosys_boundary,
    same_effect,
    shared_arg_indexes,
)
from seccompgen.profile.diff import allowed_names
from seccompgen.profile.model import Action, Arch, ArgCondition, Operator, Profile, SyscallRule
from seccompgen.schema import validate_profile_data

ARCH = syscalls.native_arch()
EXITS = frozenset({"exit", "exit_group"})


def test_enforce_profile() -> None:
    result = build_profile(["write", "read", "read", "exit_group"], [ARCH], Mode.ENFORCE)
    p = result.profile
    assert p.default_action is Action.ERRNO
    assert p.default_errno_ret == 1
    assert p.architectures == (Arch(syscalls.ARCHES[ARCH]),)
    assert len(p.syscalls) == 2
    assert p.syscalls[0].action is Action.ALLOW
    # exit was not seen, but a process must be able to end: it is allowed all the same.
    assert p.syscalls[0].names == ("exit", "exit_group", "read", "write")
    assert result.always == ("exit",)
    assert (p.syscalls[1].action, p.syscalls[1].errno_ret) == (Action.ERRNO, 38)
    assert p.syscalls[1].names == result.enosys
    assert result.unknown == ()


def test_log_profile() -> None:
    result = build_profile(["read"], [ARCH], Mode.LOG)
    p = result.profile
    assert p.default_action is Action.LOG
    assert p.default_errno_ret is None
    assert p.syscalls[0].names == ("exit", "exit_group", "read")
    assert result.always == ("exit", "exit_group")


def test_unknown_names_are_left_out_with_a_reason() -> None:
    result = build_profile(["read", "frobnicate", "syscall_0x3fff"], ["x86_64"], Mode.ENFORCE)
    assert result.profile.syscalls[0].names == ("exit", "exit_group", "read")
    reasons = dict(result.unknown)
    assert set(reasons) == {"frobnicate", "syscall_0x3fff"}
    assert "x86_64" in reasons["frobnicate"]
    assert syscalls.libseccomp_version() in reasons["frobnicate"]


def test_strace_placeholder_resolved_by_number() -> None:
    number = syscalls.resolve_name("x86_64", "pidfd_getfd")
    assert number is not None
    result = build_profile(["read", f"syscall_{number:#x}"], ["x86_64"], Mode.ENFORCE)
    assert result.profile.syscalls[0].names == ("exit", "exit_group", "pidfd_getfd", "read")


def test_placeholder_meaning_different_calls_per_arch_is_refused() -> None:
    name = "syscall_0x3"  # close on x86_64, read on x86
    assert syscalls.resolve_number("x86_64", 3) != syscalls.resolve_number("x86", 3)
    result = build_profile(["write", name], ["x86_64", "x86"], Mode.ENFORCE)
    assert name in dict(result.unknown)
    assert [a.value for a in result.profile.architectures] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]


def test_name_known_on_one_arch_only_is_kept() -> None:
    # socketcall exists on x86 but not x86_64: a runtime uses it where it exists.
    result = build_profile(["socketcall"], ["x86_64", "x86"], Mode.ENFORCE)
    assert result.profile.syscalls[0].names == ("exit", "exit_group", "socketcall")


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
    assert allowed_names(profile, arch=ARCH) == frozenset(names) | EXITS
    assert refused_exits(profile, ARCH) == ()


# --------------------------------------------------------------------------- ENOSYS-aware denies

RUNTIME = ["read", "write", "exit_group", "execve", "futex", "mmap", "clone", "getrandom"]


def _rules_naming(profile: Profile, name: str) -> list[SyscallRule]:
    return [r for r in profile.syscalls if name in r.names]


def test_unobserved_clone3_gets_an_errno_38_rule() -> None:
    result = build_profile(RUNTIME, ["x86_64"], Mode.ENFORCE)
    rules = _rules_naming(result.profile, "clone3")
    assert len(rules) == 1
    assert rules[0].action is Action.ERRNO and rules[0].errno_ret == ENOSYS == 38
    assert "clone3" in result.enosys
    assert runc_answer(result.profile, "x86_64", "clone3") == (Action.ERRNO, 38)
    # Everything else that was not seen still gets the default, EPERM.
    assert runc_answer(result.profile, "x86_64", "mount") == (Action.ERRNO, 1)
    assert validate_profile_data(result.profile.to_dict(), source="built") == []


def test_observed_clone3_is_allowed_not_denied() -> None:
    result = build_profile([*RUNTIME, "clone3"], ["x86_64"], Mode.ENFORCE)
    rules = _rules_naming(result.profile, "clone3")
    assert [r.action for r in rules] == [Action.ALLOW]
    assert "clone3" not in result.enosys
    assert "clone3" in allowed_names(result.profile, arch="x86_64")


def test_enosys_names_come_from_the_bundled_list_and_appear_once() -> None:
    listed = {e.name for e in enosys_fallbacks()}
    assert {"clone3", "faccessat2", "openat2", "close_range", "rseq", "statx"} <= listed
    for entry in enosys_fallbacks():
        assert entry.reason and entry.source
    result = build_profile([*RUNTIME, "statx"], ["x86_64"], Mode.ENFORCE)
    known = {n for n in listed if syscalls.resolve_name("x86_64", n) is not None}
    assert set(result.enosys) == known - {"statx"}
    every = [n for r in result.profile.syscalls for n in r.names]
    assert len(every) == len(set(every))


def test_enosys_can_be_switched_off() -> None:
    result = build_profile(RUNTIME, ["x86_64"], Mode.ENFORCE, enosys=False)
    assert result.enosys == ()
    assert [r.action for r in result.profile.syscalls] == [Action.ALLOW]
    assert all(r.eperm_instead == () for r in result.runtime_enosys)


def test_log_profile_keeps_fallback_syscalls_logged() -> None:
    # A staging profile changes no result: clone3 falls to the LOG default like any unseen call.
    result = build_profile(RUNTIME, ["x86_64"], Mode.LOG)
    assert result.enosys == ()
    assert _rules_naming(result.profile, "clone3") == []
    assert result.runtime_enosys == ()  # runc adds no stub under a permissive default
    assert runc_answer(result.profile, "x86_64", "clone3") == (Action.LOG, None)


def test_runc_boundary_is_the_highest_named_number_of_any_rule() -> None:
    profile = Profile(
        Action.ERRNO,
        (Arch.X86_64,),
        (
            SyscallRule(("read", "write"), Action.ALLOW),
            SyscallRule(("getrandom",), Action.ERRNO, errno_ret=38),
            SyscallRule(("no_such_call",), Action.ALLOW),
        ),
        default_errno_ret=1,
    )
    assert runc_enosys_boundary(profile, "x86_64") == (318, "getrandom")
    assert runc_answer(profile, "x86_64", "mount") == (Action.ERRNO, 1)  # 165 <= 318
    assert runc_answer(profile, "x86_64", "bpf") == (Action.ERRNO, 38)  # 321 > 318
    # No stub when the default is permissive or already ENOSYS (runc generatePatch).
    for default, errno in ((Action.LOG, None), (Action.ALLOW, None), (Action.ERRNO, 38)):
        other = Profile(default, (Arch.X86_64,), profile.syscalls, default_errno_ret=errno)
        assert runc_enosys_boundary(other, "x86_64") is None


@pytest.mark.parametrize("extra", [[], ["statx"], ["memfd_create", "bpf"]])
def test_enosys_rule_changes_eperm_only_as_reported(extra: list[str]) -> None:
    names = [*RUNTIME, *extra]
    with_rule = build_profile(names, ["x86_64"], Mode.ENFORCE)
    without = build_profile(names, ["x86_64"], Mode.ENFORCE, enosys=False)
    (report,) = with_rule.runtime_enosys
    eperm, enosys = (Action.ERRNO, 1), (Action.ERRNO, 38)
    moved_to_enosys, moved_to_eperm, other = set(), set(), set()
    for name in syscalls.known_names("x86_64"):
        before = runc_answer(without.profile, "x86_64", name)
        after = runc_answer(with_rule.profile, "x86_64", name)
        if before == after:
            continue
        if after == enosys and before == eperm:
            moved_to_enosys.add(name)
        elif after == eperm and before == enosys:
            moved_to_eperm.add(name)
        else:
            other.add(name)
    assert other == set()
    assert moved_to_enosys <= set(with_rule.enosys)
    assert moved_to_eperm == set(report.eperm_instead)
    assert not moved_to_eperm & set(with_rule.enosys)
    # Above the boundary runc still answers ENOSYS, and the report names those calls.
    for name in report.above:
        assert runc_answer(with_rule.profile, "x86_64", name) == enosys


def test_boundary_does_not_depend_on_the_workloads_highest_call() -> None:
    small = build_profile(["read", "exit_group"], ["x86_64"], Mode.ENFORCE)
    large = build_profile([*RUNTIME, "memfd_create", "bpf"], ["x86_64"], Mode.ENFORCE)
    assert small.runtime_enosys[0].highest == large.runtime_enosys[0].highest
    assert small.runtime_enosys[0].above == large.runtime_enosys[0].above


# --------------------------------------------------------------------------- a process can end


def test_exit_syscalls_come_from_the_bundled_list_with_reason_and_source() -> None:
    entries = process_exits()
    assert {e.name for e in entries} == EXITS
    assert process_exit_names() == tuple(e.name for e in entries)
    for entry in entries:
        assert syscalls.resolve_name("x86_64", entry.name) is not None
        assert entry.reason
        assert "src/runtime/" in entry.source and "glibc" in entry.source


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("arches", [["x86_64"], ["x86_64", "x86"], ["aarch64"]])
def test_every_built_profile_lets_a_process_end(mode: Mode, arches: list[str]) -> None:
    if not all(syscalls.arch_supported(a) for a in arches):
        missing_tool(f"libseccomp {syscalls.libseccomp_version()} lacks one of {arches}")
    result = build_profile(["read", "write"], arches, mode)
    assert result.always == ("exit", "exit_group")
    for arch in arches:
        assert allowed_names(result.profile, arch=arch) >= EXITS
        assert refused_exits(result.profile, arch) == ()
    # Not on the ENOSYS list either: exactly one rule names each, and it allows.
    for name in EXITS:
        assert [r.action for r in _rules_naming(result.profile, name)] == [Action.ALLOW]


def test_observed_exits_are_not_reported_as_added() -> None:
    result = build_profile(["read", "exit", "exit_group"], [ARCH], Mode.ENFORCE)
    assert result.always == ()
    assert allowed_names(result.profile, arch=ARCH) >= EXITS


def test_the_exit_rule_does_not_hide_an_empty_trace() -> None:
    # An allowlist of nothing but the exits would still stop the workload at its execve.
    with pytest.raises(ProfileError, match="no syscalls to allow"):
        build_profile(["frobnicate"], [ARCH], Mode.ENFORCE)


def test_refused_exits_names_what_a_runtime_answers() -> None:
    denied = Profile(
        Action.ERRNO,
        (),
        (SyscallRule(("read", "exit", "openat"), Action.ALLOW),),
        default_errno_ret=1,
    )
    assert refused_exits(denied, "x86_64") == (("exit_group", Action.ERRNO, 1),)
    # Above the highest number the profile names runc's stub answers ENOSYS: refused all the same.
    low = Profile(Action.ERRNO, (), (SyscallRule(("read", "exit"), Action.ALLOW),))
    assert refused_exits(low, "x86_64") == (("exit_group", Action.ERRNO, ENOSYS),)
    trapped = Profile(
        Action.ERRNO,
        (),
        (
            SyscallRule(("read", "exit"), Action.ALLOW),
            SyscallRule(("exit_group",), Action.KILL_PROCESS),
        ),
    )
    assert refused_exits(trapped, "x86_64") == (("exit_group", Action.KILL_PROCESS, None),)
    logged = Profile(Action.LOG, (), (SyscallRule(("read",), Action.ALLOW),))
    assert refused_exits(logged, "x86_64") == ()
