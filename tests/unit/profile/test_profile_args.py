"""profile.args: argument conditions from observed values, and the runtime semantics they are
judged by (OR within an index, masks, 32-bit arguments)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seccompgen import syscalls
from seccompgen.profile.args import (
    U32,
    U64,
    ArgPlan,
    ObservedArg,
    answer,
    arg_rules,
    describe,
    describe_profile,
    no_bits_rule,
    not_together_rules,
    pair_rules,
    plan_args,
    rule_matches,
    value_rules,
)
from seccompgen.profile.build import EPERM, Mode, build_profile
from seccompgen.profile.model import Action, ArgCondition, Operator, Profile, SyscallRule
from seccompgen.schema import validate_profile_data

ARCH = "x86_64"
BASE = ["read", "write", "exit_group", "openat", "close"]
AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x20000, 0x10000000, 0x40000000
# Go src/runtime/os_linux.go cloneFlags: how the Go runtime starts every thread.
GO_CLONE_FLAGS = 0x100 | 0x200 | 0x400 | 0x800 | 0x40000 | 0x10000
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET = 1, 2, 3, 5
SOCK_NONBLOCK, SOCK_CLOEXEC = 0x800, 0x80000
GO_SOCK = SOCK_NONBLOCK | SOCK_CLOEXEC  # Go src/net/sock_cloexec.go: every socket it opens
TYPE_MASK = U32 & ~GO_SOCK
SIGN_EXTENDED = 0xFFFFFFFF_00000000


def built(
    names: list[str], observed: dict[str, ObservedArg], mode: Mode = Mode.ENFORCE
) -> tuple[ArgPlan, Profile]:
    plan = plan_args(names, observed, arches=[ARCH])
    kept = [n for n in names if n not in plan.enosys_instead]
    return plan, build_profile(kept, [ARCH], mode, conditioned=plan.rules).profile


def seen(*values: int) -> ObservedArg:
    return ObservedArg(frozenset(values), True)


def sock(families: set[int], types: set[int]) -> ObservedArg:
    """What observed_args gathers for socket: the families, and the types at pairIndex 1."""
    return ObservedArg(frozenset(families), True, pair=ObservedArg(frozenset(types), True))


def allowed(profile: Profile, name: str, *args: int) -> bool:
    return answer(profile, ARCH, name, args)[0] is Action.ALLOW


# ------------------------------------------------------------------ OR semantics


def test_one_rule_per_value_each_with_a_single_condition() -> None:
    rules = value_rules(arg_rules()["socket"], [AF_INET, AF_INET6, AF_UNIX])
    assert len(rules) == 3
    assert all(len(r.args) == 1 and r.names == ("socket",) for r in rules)
    assert [r.args[0].value_two for r in rules] == [AF_UNIX, AF_INET, AF_INET6]


def test_conditions_on_one_index_in_one_rule_are_ored_as_runc_installs_them() -> None:
    both = SyscallRule(
        names=("socket",),
        action=Action.ALLOW,
        args=(
            ArgCondition(0, AF_INET, Operator.EQ),
            ArgCondition(0, AF_INET6, Operator.EQ),
            ArgCondition(1, 1, Operator.EQ),
        ),
    )
    # runc adds each condition as its own rule: any one of them lets the call through.
    assert rule_matches(both, [AF_INET6, 99])
    assert rule_matches(both, [AF_NETLINK, 1])
    assert not rule_matches(both, [AF_NETLINK, 2])
    anded = SyscallRule(
        names=("socket",),
        action=Action.ALLOW,
        args=(ArgCondition(0, AF_INET, Operator.EQ), ArgCondition(1, 1, Operator.EQ)),
    )
    assert rule_matches(anded, [AF_INET, 1]) and not rule_matches(anded, [AF_INET, 2])


def test_the_emitted_profile_allows_the_families_seen_and_refuses_the_others() -> None:
    plan, profile = built([*BASE, "socket"], {"socket": seen(AF_INET, AF_INET6)})
    assert plan.conditioned == (
        ("socket", "AF_INET, AF_INET6 (any type: no type value was recorded)"),
    )
    assert allowed(profile, "socket", AF_INET, 1, 0) and allowed(profile, "socket", AF_INET6)
    assert answer(profile, ARCH, "socket", [AF_NETLINK]) == (Action.ERRNO, EPERM)
    unconditional = profile.syscalls[0]
    assert not unconditional.args and "socket" not in unconditional.names
    assert validate_profile_data(profile.to_dict(), source="p") == []


# ------------------------------------------------------------------ AND across indexes


def test_one_rule_per_family_and_type_with_two_anded_conditions() -> None:
    entry = arg_rules()["socket"]
    assert entry.pair_index == 1 and entry.pair_what == "type"
    rules = pair_rules(entry, [AF_INET, AF_UNIX], [SOCK_STREAM | GO_SOCK, SOCK_DGRAM, SOCK_STREAM])
    assert [tuple((c.index, c.value, c.op, c.value_two) for c in r.args) for r in rules] == [
        ((0, U32, Operator.MASKED_EQ, f), (1, TYPE_MASK, Operator.MASKED_EQ, t))
        for f in (AF_UNIX, AF_INET)
        for t in (SOCK_STREAM, SOCK_DGRAM)
    ]
    assert describe(entry, rules) == "AF_INET, AF_UNIX × SOCK_DGRAM, SOCK_STREAM"
    # Two indexes, no index repeated: runc and crun AND them.
    assert rule_matches(rules[0], [AF_UNIX, SOCK_STREAM])
    assert not rule_matches(rules[0], [AF_UNIX, SOCK_DGRAM])


def test_pair_shapes_it_does_not_make_are_spelt_as_comparisons() -> None:
    entry = arg_rules()["socket"]
    rules = pair_rules(entry, [AF_INET, AF_UNIX], [SOCK_STREAM, SOCK_DGRAM])
    # Not every family with every type: the words would claim more than the rules allow.
    assert describe(entry, rules[:3]).startswith("arg0 & 0xffffffff == 0x1 and arg1 & ")
    pinned = SyscallRule(
        names=("socket",),
        action=Action.ALLOW,
        args=(rules[0].args[0], ArgCondition(1, U32, Operator.MASKED_EQ, SOCK_STREAM)),
    )
    assert describe(entry, [pinned]) == "arg0 & 0xffffffff == 0x1 and arg1 & 0xffffffff == 0x1"


def test_socket_types_are_restricted_with_the_flags_left_free() -> None:
    plan, profile = built([*BASE, "socket"], {"socket": sock({AF_INET}, {SOCK_STREAM | GO_SOCK})})
    assert plan.conditioned == (("socket", "AF_INET × SOCK_STREAM"),)
    for flags in (0, SOCK_NONBLOCK, SOCK_CLOEXEC, GO_SOCK):
        assert allowed(profile, "socket", AF_INET, SOCK_STREAM | flags, 0)
    # Sign-extended by a C caller, zero-extended by Go: the kernel reads the same ints.
    assert allowed(profile, "socket", SIGN_EXTENDED | AF_INET, SIGN_EXTENDED | SOCK_STREAM)
    for family, type_ in ((AF_INET, SOCK_DGRAM), (AF_INET, SOCK_RAW), (AF_UNIX, SOCK_STREAM)):
        assert answer(profile, ARCH, "socket", [family, type_ | GO_SOCK]) == (Action.ERRNO, EPERM)
    # A bit the kernel would refuse with EINVAL is not a free flag.
    assert not allowed(profile, "socket", AF_INET, SOCK_STREAM | 0x100)
    assert validate_profile_data(profile.to_dict(), source="p") == []
    assert describe_profile(profile) == (("socket", "AF_INET × SOCK_STREAM"),)


def test_the_type_stays_free_when_the_pairs_are_unknown_or_too_many() -> None:
    families = {AF_UNIX, AF_INET, AF_INET6}
    cases = {
        "more distinct type values than the graph keeps": ObservedArg(
            frozenset(families),
            True,
            pair=ObservedArg(frozenset(), False, "more distinct type values than the graph keeps"),
        ),
        (
            "3 address family values × 6 type values are 18 rules, more than the 16 a pair "
            "list takes"
        ): sock(families, {1, 2, 3, 4, 5, 6 | GO_SOCK, 6}),
    }
    for why, obs in cases.items():
        plan, profile = built([*BASE, "socket"], {"socket": obs})
        assert plan.conditioned == (("socket", f"AF_INET, AF_INET6, AF_UNIX (any type: {why})"),)
        assert all(len(r.args) == 1 for r in plan.rules) and len(plan.rules) == 3
        assert allowed(profile, "socket", AF_INET, SOCK_RAW)
        assert not allowed(profile, "socket", AF_NETLINK, SOCK_STREAM)
    mips = plan_args(["socket"], {"socket": sock({AF_INET}, {2})}, arches=["mipsel"])
    assert mips.conditioned == (
        ("socket", "AF_INET (any type: on mipsel the type values or flags differ)"),
    )


# ------------------------------------------------------------------ masks


def test_clone_refuses_the_namespace_flags_not_observed_as_dockers_default_does() -> None:
    rule = no_bits_rule(arg_rules()["clone"], [GO_CLONE_FLAGS])
    assert rule is not None
    assert rule.args == (ArgCondition(0, 0x7E020000, Operator.MASKED_EQ, 0),)
    observed_net = no_bits_rule(arg_rules()["clone"], [GO_CLONE_FLAGS, CLONE_NEWNET | 17])
    assert observed_net is not None and observed_net.args[0].value == 0x7E020000 & ~CLONE_NEWNET
    assert describe(arg_rules()["clone"], [rule]) == "no namespace flags"
    assert describe(arg_rules()["clone"], [observed_net]) == (
        "none of CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, "
        "CLONE_NEWPID"
    )


def test_clone_conditioned_sends_clone3_to_enosys() -> None:
    plan, profile = built([*BASE, "clone", "clone3"], {"clone": seen(GO_CLONE_FLAGS)})
    assert plan.enosys_instead == ("clone3",)
    assert allowed(profile, "clone", GO_CLONE_FLAGS | 17)
    assert answer(profile, ARCH, "clone", [GO_CLONE_FLAGS | CLONE_NEWUSER]) == (Action.ERRNO, 1)
    assert answer(profile, ARCH, "clone3", []) == (Action.ERRNO, 38)


def test_every_namespace_flag_observed_leaves_clone_unconditioned() -> None:
    plan, _ = built([*BASE, "clone"], {"clone": seen(0x7E020000)})
    assert plan.rules == () and plan.unconditioned[0][0] == "clone"
    assert plan.enosys_instead == ()


def test_write_and_exec_together_are_refused_unless_observed() -> None:
    entry = arg_rules()["mprotect"]
    rules = not_together_rules(entry, [PROT_READ, PROT_READ | PROT_WRITE])
    assert sorted(r.args[0].value_two for r in rules) == [0, PROT_WRITE, PROT_EXEC]
    assert describe(entry, rules) == "never PROT_WRITE|PROT_EXEC together"
    assert not_together_rules(entry, [PROT_READ | PROT_WRITE | PROT_EXEC]) == ()
    _, profile = built([*BASE, "mprotect"], {"mprotect": seen(PROT_READ)})
    assert allowed(profile, "mprotect", 0, 4096, PROT_READ | PROT_EXEC)
    assert not allowed(profile, "mprotect", 0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC)


# ------------------------------------------------------------------ argument width


def test_a_32_bit_argument_is_compared_on_its_low_32_bits() -> None:
    # personality(0xffffffff) queries the persona: Go passes it zero-extended, C sign-extends
    # -1; the kernel reads an unsigned int either way, and so must the rule.
    _, profile = built([*BASE, "personality"], {"personality": seen(-1)})
    rule = next(r for r in profile.syscalls if r.names == ("personality",))
    assert rule.args == (ArgCondition(0, U32, Operator.MASKED_EQ, U32),)
    assert allowed(profile, "personality", 0xFFFFFFFF)
    assert allowed(profile, "personality", U64)
    assert allowed(profile, "personality", -1)
    assert not allowed(profile, "personality", 0)
    assert describe(arg_rules()["personality"], [rule]) == "query (0xffffffff)"


def test_a_64_bit_flag_word_keeps_its_upper_half() -> None:
    _, profile = built([*BASE, "mmap"], {"mmap": seen(PROT_READ | PROT_WRITE)})
    assert allowed(profile, "mmap", 0, 4096, (1 << 40) | PROT_READ)
    assert not allowed(profile, "mmap", 0, 4096, (1 << 40) | PROT_WRITE | PROT_EXEC)


# ------------------------------------------------------------------ what stays unconditioned


def test_names_the_runtime_calls_stay_unconditioned() -> None:
    plan = plan_args(
        ["prctl", "socket"],
        {"prctl": seen(15), "socket": seen(AF_INET)},
        arches=[ARCH],
        runtime_names=["prctl"],
    )
    assert [n for n, _ in plan.conditioned] == ["socket"]
    assert plan.unconditioned == (
        ("prctl", "the container runtime calls it after loading the filter, with its own values"),
    )


def test_go_safety_net_names_keep_a_condition_only_when_it_admits_the_go_runtime() -> None:
    plan = plan_args(["clone", "mmap", "socket"], {}, arches=[ARCH], go_names=["clone", "socket"])
    assert dict(plan.conditioned) == {
        "clone": "no namespace flags",
        "mmap": "never PROT_WRITE|PROT_EXEC together",
    }
    assert (
        dict(plan.unconditioned)["socket"]
        == "added for the Go runtime, whose values were not observed"
    )


def test_open_or_large_sets_stay_unconditioned_with_the_reason() -> None:
    plan = plan_args(
        ["ioctl", "fcntl", "prctl", "personality"],
        {
            "ioctl": ObservedArg(
                frozenset(), False, "more distinct request values than the graph keeps"
            ),
            "fcntl": seen(*range(9)),
            "prctl": ObservedArg(frozenset(), False, "no option values recorded for w"),
        },
        arches=[ARCH],
    )
    why = dict(plan.unconditioned)
    assert why["ioctl"] == "more distinct request values than the graph keeps"
    assert why["fcntl"] == "9 distinct command values, more than the 8 a value list takes"
    assert why["prctl"] == "no option values recorded for w"
    assert why["personality"] == "no persona value was recorded"
    assert plan.rules == ()


def test_clone_stays_unconditioned_where_its_flags_are_another_argument() -> None:
    plan = plan_args(["clone"], {"clone": seen(GO_CLONE_FLAGS)}, arches=[ARCH, "s390x"])
    assert dict(plan.unconditioned)["clone"] == "on s390x its flags argument has another index"


def test_a_log_profile_gets_the_same_conditions() -> None:
    _, profile = built([*BASE, "socket"], {"socket": seen(AF_INET)}, Mode.LOG)
    assert allowed(profile, "socket", AF_INET)
    assert answer(profile, ARCH, "socket", [AF_NETLINK])[0] is Action.LOG
    assert describe_profile(profile) == (("socket", "AF_INET"),)


def test_every_curated_name_is_known_to_libseccomp() -> None:
    for name in arg_rules():
        assert syscalls.resolve_name(ARCH, name) is not None, name


# ------------------------------------------------------------------ property: exactly the values

families32 = st.integers(min_value=-(2**31), max_value=2**32 - 1)
types32 = st.integers(min_value=0, max_value=15)
flag_sets = st.sampled_from([0, SOCK_NONBLOCK, SOCK_CLOEXEC, GO_SOCK])
uppers = st.sampled_from([0, SIGN_EXTENDED])


@settings(max_examples=150, deadline=None)
@given(
    families=st.sets(families32, min_size=1, max_size=4),
    types=st.sets(st.tuples(types32, flag_sets), min_size=1, max_size=4),
    probes=st.lists(st.tuples(families32, types32, flag_sets, uppers, uppers), max_size=20),
)
def test_pair_rules_allow_exactly_the_observed_families_times_types(
    families: set[int],
    types: set[tuple[int, int]],
    probes: list[tuple[int, int, int, int, int]],
) -> None:
    observed = sock(families, {t | f for t, f in types})
    _, profile = built([*BASE, "socket"], {"socket": observed})
    fams, kinds = {f & U32 for f in families}, {t for t, _ in types}
    every = [(f, t, 0, 0, 0) for f in families for t in kinds]
    for family, type_, flags, up0, up1 in [*every, *probes]:
        args = ((family & U32) | up0, type_ | flags | up1, 0)
        # NONBLOCK/CLOEXEC and the upper halves are free; family and type must be observed.
        assert allowed(profile, "socket", *args) == ((family & U32) in fams and type_ in kinds)


values32 = st.integers(min_value=-(2**31), max_value=2**32 - 1)


@settings(max_examples=150, deadline=None)
@given(observed=st.sets(values32, min_size=1, max_size=8), probes=st.lists(values32, max_size=20))
def test_value_rules_allow_exactly_the_observed_values(
    observed: set[int], probes: list[int]
) -> None:
    _, profile = built([*BASE, "prctl"], {"prctl": ObservedArg(frozenset(observed), True)})
    low = {v & U32 for v in observed}
    for v in [*observed, *probes]:
        for upper in (0, 0xFFFFFFFF << 32):
            assert allowed(profile, "prctl", (v & U32) | upper) == ((v & U32) in low)


flag_words = st.integers(min_value=0, max_value=U64)


@settings(max_examples=150, deadline=None)
@given(
    observed=st.lists(flag_words, min_size=1, max_size=6), probes=st.lists(flag_words, max_size=20)
)
def test_no_bits_refuses_exactly_the_unobserved_flags(
    observed: list[int], probes: list[int]
) -> None:
    plan, profile = built([*BASE, "clone"], {"clone": ObservedArg(frozenset(observed), True)})
    refused = 0x7E020000
    for v in observed:
        refused &= ~v
    for v in [*observed, *probes]:
        assert allowed(profile, "clone", v) == (v & refused == 0)
    assert ("clone3" in plan.enosys_instead) == bool(refused)


@settings(max_examples=150, deadline=None)
@given(
    observed=st.lists(flag_words, min_size=1, max_size=6), probes=st.lists(flag_words, max_size=20)
)
def test_not_together_refuses_exactly_write_and_exec(
    observed: list[int], probes: list[int]
) -> None:
    _, profile = built([*BASE, "mmap"], {"mmap": ObservedArg(frozenset(observed), True)})
    wx = PROT_WRITE | PROT_EXEC
    open_set = any(v & wx == wx for v in observed)
    for v in [*observed, *probes]:
        assert allowed(profile, "mmap", 0, 0, v) == (open_set or v & wx != wx)


@pytest.mark.parametrize("name", sorted(arg_rules()))
def test_each_curated_entry_has_a_reason_and_a_source(name: str) -> None:
    entry = arg_rules()[name]
    assert entry.reason and entry.source and entry.what


# ------------------------------------------------------------------ in words: diff, report


def test_diff_names_the_argument_rules_of_both_sides() -> None:
    from seccompgen.profile.diff import diff_profiles, docker_default_profile

    observed = {"socket": sock({AF_INET6, AF_INET}, {SOCK_STREAM | GO_SOCK, SOCK_DGRAM})}
    _, profile = built([*BASE, "socket", "clone"], observed)
    d = diff_profiles(profile, docker_default_profile(), arch=ARCH)
    assert d.a_args == (
        ("clone", "no namespace flags"),
        ("socket", "AF_INET, AF_INET6 × SOCK_DGRAM, SOCK_STREAM"),
    )
    docker = dict(d.b_args)
    assert docker["clone"] == "no namespace flags"
    assert docker["personality"] == (
        "PER_LINUX, PER_LINUX32, PER_LINUX32|UNAME26, UNAME26, query (0xffffffff)"
    )


def test_report_lists_what_emit_args_auto_would_restrict() -> None:
    from seccompgen.graph import SyscallGraph
    from seccompgen.report import build_report, render_json, render_text

    plan = plan_args(["socket", "prctl"], {"socket": sock({AF_UNIX}, {GO_SOCK | 1})}, arches=[ARCH])
    report = build_report(
        SyscallGraph(),
        [],
        go_runtime={},
        runtime_names=[],
        unobserved=None,
        args=(plan.conditioned, plan.unconditioned),
    )
    text = render_text(report)
    assert "argument rules with emit --args auto (1):\n  socket: AF_UNIX × SOCK_STREAM\n" in text
    assert "  prctl: unconditioned: no option value was recorded\n" in text
    conditioned = json.loads(render_json(report))["arguments"]["conditioned"]
    assert conditioned == [{"name": "socket", "condition": "AF_UNIX × SOCK_STREAM"}]


def test_observed_values_are_united_over_workloads_and_incomplete_ones_say_why() -> None:
    from seccompgen.graph import ArgValues, SyscallUsage
    from seccompgen.graph.values import MANY
    from seccompgen.pipeline._shared import observed_args

    def usage(name: str, *args: ArgValues, imported: bool = False) -> SyscallUsage:
        return SyscallUsage(name, 1, 0, None, frozenset(), frozenset({ARCH}), args, imported)

    table = {
        "a": {
            "socket": usage("socket", ArgValues.of([AF_INET]), ArgValues.of([SOCK_STREAM])),
            "ioctl": usage("ioctl", ArgValues.of([3]), MANY),
            "prctl": usage("prctl"),
        },
        "b": {
            "socket": usage(
                "socket", ArgValues.of([AF_UNIX]), ArgValues.of([SOCK_DGRAM | GO_SOCK])
            ),
            "fcntl": usage("fcntl", ArgValues.of([3]), ArgValues.of([1]), imported=True),
        },
    }

    class Graph:
        def usage(self, w: str) -> dict[str, SyscallUsage]:
            return table[w]

    got = observed_args(Graph(), ["a", "b"])  # type: ignore[arg-type]
    assert got["socket"] == sock({AF_INET, AF_UNIX}, {SOCK_STREAM, SOCK_DGRAM | GO_SOCK})
    table["b"]["socket"] = usage("socket", ArgValues.of([AF_UNIX]))
    got = observed_args(Graph(), ["a", "b"])  # type: ignore[arg-type]
    assert got["socket"].complete and got["socket"].pair == ObservedArg(
        frozenset({SOCK_STREAM}), False, "no type values recorded for b (the trace has names only)"
    )
    table["b"]["socket"] = usage("socket", ArgValues.of([AF_UNIX]), MANY)
    got = observed_args(Graph(), ["a", "b"])  # type: ignore[arg-type]
    assert got["socket"].pair is not None
    assert got["socket"].pair.why == (
        "not every type value is known for b (more than the graph keeps, or a sample from an "
        "ebpf trace that does not vouch for them)"
    )
    assert got["ioctl"].why.startswith("not every request value is known for ")
    assert "more than the graph keeps" in got["ioctl"].why
    assert got["prctl"].why == "no option values recorded for a (the trace has names only)"
    assert got["fcntl"].why == "allowed by an imported profile for b: values unknown"
    assert "clone" not in got
