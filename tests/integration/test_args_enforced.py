"""Argument rules under the real kernel: a profile from profile.args loaded through libseccomp
(enforce.run_under_profile: a fresh process loads the filter and execs Python), whose calls
through syscall(2) get exactly the answers the evaluator in profile.args predicts."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from errno import ENOTRECOVERABLE

from hypothesis import given, settings
from hypothesis import strategies as st

from seccompgen import syscalls
from seccompgen.enforce import run_under_profile
from seccompgen.profile.args import (
    U32,
    U64,
    ObservedArg,
    answer,
    arg_rules,
    no_bits_rule,
    plan_args,
)
from seccompgen.profile.build import Mode, build_profile
from seccompgen.profile.model import Action

ARCH = syscalls.native_arch()
AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET = 1, 2, 3, 5
SOCK_NONBLOCK, SOCK_CLOEXEC = 0x800, 0x80000
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAP_PRIVATE_ANON = 0x02 | 0x20
ADDR_NO_RANDOMIZE = 0x0040000
SIGN_EXTENDED = 0xFFFFFFFF_00000000

# (name, args): each call made in the child through syscall(2), its errno printed (0: allowed).
CALLS = [
    ("socket", (AF_INET, SOCK_STREAM, 0)),
    ("socket", (SIGN_EXTENDED | AF_INET, SOCK_STREAM, 0)),
    ("socket", (AF_UNIX, SOCK_STREAM, 0)),
    ("socket", (AF_INET6, SOCK_STREAM, 0)),
    ("socket", (AF_NETLINK, SOCK_RAW, 0)),
    # The type: only SOCK_STREAM was observed (with Go's flags), the flags are free.
    ("socket", (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)),
    ("socket", (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)),
    ("socket", (AF_INET, SIGN_EXTENDED | SOCK_STREAM | SOCK_NONBLOCK, 0)),
    ("socket", (AF_INET, SOCK_DGRAM, 0)),
    ("socket", (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)),
    ("socket", (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)),
    ("personality", (0xFFFFFFFF,)),
    ("personality", (0xFFFFFFFFFFFFFFFF,)),
    ("personality", (ADDR_NO_RANDOMIZE,)),
    ("mmap", (0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE_ANON, 2**64 - 1, 0)),
    ("mmap", (0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE_ANON, 2**64 - 1, 0)),
    ("mmap", (0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE_ANON, 2**64 - 1, 0)),
]

CHILD = """
import ctypes, json, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
out = []
for nr, args in json.loads(sys.argv[1]):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_ulong(a) for a in args])
    out.append(ctypes.get_errno() if r == -1 else 0)
print(json.dumps(out))
"""


def test_libseccomp_filter_answers_as_the_evaluator_predicts() -> None:
    observed = {
        "socket": ObservedArg(
            frozenset({AF_UNIX, AF_INET}),
            True,
            pair=ObservedArg(frozenset({SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC}), True),
        ),
        "personality": ObservedArg(frozenset({-1}), True),
        "mmap": ObservedArg(frozenset({PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC}), True),
    }
    plan = plan_args(list(observed), observed, arches=[ARCH])
    assert plan.names == set(observed)
    assert dict(plan.conditioned)["socket"] == "AF_INET, AF_UNIX × SOCK_STREAM"
    names = [n for n in syscalls.known_names(ARCH) if n not in plan.names]
    profile = build_profile(
        [*names, *plan.names], [ARCH], Mode.ENFORCE, enosys=False, conditioned=plan.rules
    ).profile
    calls = [(syscalls.resolve_name(ARCH, n), list(a)) for n, a in CALLS]
    proc = run_under_profile(profile, [sys.executable, "-c", CHILD, json.dumps(calls)])
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    predicted = [answer(profile, ARCH, n, a) for n, a in CALLS]
    assert [p[0] is Action.ALLOW for p in predicted] == [
        True, True, True, False, False, True, True, True, False, False, False,
        True, True, False, True, True, False,
    ]  # fmt: skip
    for (name, args), errno, (action, errno_ret) in zip(CALLS, got, predicted, strict=True):
        if action is Action.ALLOW:
            assert errno == 0, f"{name}{args}: errno {errno} under the filter, evaluator allows"
        else:
            assert errno == errno_ret, f"{name}{args}: errno {errno}, evaluator {errno_ret}"


# ------------------------------------------------------------ property: random observed values

MARKER = ENOTRECOVERABLE
"""The profile's default errno in the property test. build_profile's enforce default is EPERM,
which the kernel also answers on its own (socket(AF_PACKET) without CAP_NET_RAW); no call made
here gets ENOTRECOVERABLE from the kernel, so that errno is the filter's refusal and any other
answer (0, EAFNOSUPPORT, EINVAL, EFAULT) means the filter let the call through."""

SOCK_DGRAM_CLOEXEC = 2 | 0o2000000
# Socket families whose socket(2) needs no module: a family below AF_MAX that no protocol has
# registered makes the kernel request the module net-pf-N first (net/socket.c __sock_create).
BUILT_IN_FAMILIES = (AF_UNIX, AF_INET, AF_INET6, AF_NETLINK)
# Negative as an int or far above AF_MAX (46): refused with EAFNOSUPPORT before any lookup.
no_family = st.integers(min_value=256, max_value=2**32 - 1)
# prctl(2) options that only read state (PR_GET_NAME and PR_GET_PDEATHSIG write through the
# null pointer given to them: EFAULT): PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_GET_KEEPCAPS,
# PR_GET_TIMING, PR_GET_NAME, PR_GET_SECCOMP, PR_CAPBSET_READ, PR_GET_SECUREBITS,
# PR_GET_TIMERSLACK, PR_GET_NO_NEW_PRIVS, PR_GET_THP_DISABLE (include/uapi/linux/prctl.h).
PRCTL_QUERIES = (2, 3, 7, 13, 16, 21, 23, 27, 30, 39, 42)
# No option of prctl(2) or of an LSM's prctl hook lies in these ranges (the highest are
# PR_SET_VMA 0x53564d41 and Yama's PR_SET_PTRACER 0x59616d61): EINVAL.
no_option = st.one_of(
    st.integers(min_value=0x10000, max_value=0x4FFFFFFF),
    st.integers(min_value=0x80000000, max_value=2**32 - 1),
)
# personality(2) values whose effect the child never meets: they change what uname(2) answers
# and how the next execve(2) lays out memory, and the child makes these calls last. Only an
# observed value can take effect, so unobserved probes may be anything.
PERSONAS = (0, 0x0008, 0x0020000, 0x0020008, ADDR_NO_RANDOMIZE, 0xFFFFFFFF)
any32 = st.integers(min_value=0, max_value=2**32 - 1)
# mmap prot words: PROT_ bits alone, with a namespace flag of clone's entry, or any 64 bits.
NAMESPACE_BITS = tuple(bit for _, bit in arg_rules()["clone"].bits)
prot_words = st.one_of(
    st.integers(min_value=0, max_value=7),
    st.tuples(st.integers(min_value=0, max_value=7), st.sampled_from(NAMESPACE_BITS)).map(
        lambda t: t[0] | t[1]
    ),
    st.integers(min_value=0, max_value=2**64 - 1),
)
# How a value is passed: as drawn, and its low 32 bits under the upper half a C caller's sign
# extension leaves or another one (the kernel reads an int argument's low 32 bits only).
UPPER_HALVES = (0, SIGN_EXTENDED, 1 << 32)
UNDO = {"socket": "close", "mmap": "munmap"}

PROPERTY_CHILD = """
import ctypes, json, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
undo = json.loads(sys.argv[2])
out = []
for nr, args, then in json.loads(sys.argv[1]):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_ulong(a) for a in args])
    out.append(ctypes.get_errno() if r == -1 else 0)
    if r != -1 and then == "close":
        libc.syscall(ctypes.c_long(undo["close"]), ctypes.c_long(r))
    elif r != -1 and then == "munmap":
        libc.syscall(ctypes.c_long(undo["munmap"]), ctypes.c_ulong(r), ctypes.c_ulong(4096))
print(json.dumps(out))
"""

Drawn = tuple[dict[str, ObservedArg], str, dict[str, list[int]]]


def _signed32(value: int) -> int:
    """``value`` as strace prints an int argument: negative from 2**31 up."""
    return value - 2**32 if value >= 2**31 else value


@st.composite
def observed_and_probes(draw: st.DrawFn) -> Drawn:
    """Observed values for socket, prctl, personality and mmap; the shape mmap's prot is
    compared with; and what each name is called with besides its observed values."""
    rules = arg_rules()
    values = {
        "socket": draw(
            st.sets(
                st.sampled_from(BUILT_IN_FAMILIES) | no_family,
                min_size=1,
                max_size=rules["socket"].max_values,
            )
        ),
        "prctl": draw(
            st.sets(
                st.sampled_from(PRCTL_QUERIES) | no_option,
                min_size=1,
                max_size=rules["prctl"].max_values,
            )
        ),
        "personality": draw(
            st.sets(st.sampled_from(PERSONAS), min_size=1, max_size=rules["personality"].max_values)
        ),
        "mmap": draw(st.sets(prot_words, min_size=1, max_size=6)),
    }
    if draw(st.booleans()):  # the int arguments as strace records them, signed
        for name in ("socket", "prctl", "personality"):
            values[name] = {_signed32(v) for v in values[name]}
    shape = draw(st.sampled_from(["not-together", "no-bits"]))
    probes = {
        "socket": [*BUILT_IN_FAMILIES, *draw(st.lists(no_family, max_size=4))],
        "prctl": [*PRCTL_QUERIES, *draw(st.lists(no_option, max_size=4))],
        "personality": [*PERSONAS, *draw(st.lists(any32, max_size=4))],
        "mmap": [
            PROT_READ,
            PROT_READ | PROT_WRITE,
            PROT_READ | PROT_EXEC,
            PROT_READ | PROT_WRITE | PROT_EXEC,
            *draw(st.lists(prot_words, max_size=6)),
        ],
    }
    return {n: ObservedArg(frozenset(v), True) for n, v in values.items()}, shape, probes


def _args(name: str, value: int) -> tuple[int, ...]:
    if name == "socket":
        return (value, SOCK_DGRAM_CLOEXEC, 0)
    if name == "prctl":
        return (value, 0, 0, 0, 0)
    if name == "mmap":
        return (0, 4096, value, MAP_PRIVATE_ANON, 2**64 - 1, 0)
    return (value,)


@settings(max_examples=20, deadline=None, derandomize=True, database=None)
@given(drawn=observed_and_probes())
def test_random_observed_values_are_the_only_ones_libseccomp_lets_through(drawn: Drawn) -> None:
    """For random observed sets, the rules plan_args makes, loaded through libseccomp, let
    through exactly the calls the evaluator (``answer``) allows: each observed value in every
    form, nothing else. mmap's prot is compared with its curated not-together shape, or with
    clone's no-bits rule (its namespace flags) moved onto prot, since a real clone with random
    flags would start processes and namespaces; the Python child's own mappings (read,
    read-write, read-exec) pass both."""
    observed, shape, probes = drawn
    names = ["socket", "prctl", "personality"]
    if shape == "not-together":
        names.append("mmap")
    plan = plan_args(names, {n: observed[n] for n in names}, arches=[ARCH])
    assert plan.names >= {"socket", "prctl", "personality"}, plan.unconditioned
    rules = list(plan.rules)
    if shape == "no-bits":
        moved = replace(arg_rules()["clone"], name="mmap", index=2)
        one = no_bits_rule(moved, observed["mmap"].values)
        rules.extend([] if one is None else [one])
    built = build_profile(
        sorted(syscalls.known_names(ARCH)), [ARCH], Mode.ENFORCE, enosys=False, conditioned=rules
    ).profile
    profile = replace(built, default_errno_ret=MARKER)

    # personality last: an observed persona takes effect, and nothing after it depends on it.
    calls: list[tuple[str, tuple[int, ...]]] = []
    for name in ("socket", "prctl", "mmap", "personality"):
        for value in sorted({*observed[name].values, *probes[name]}):
            for upper in UPPER_HALVES:
                form = (value & U32) | upper if upper else value & U64
                calls.append((name, _args(name, form)))
    numbered = [(syscalls.resolve_name(ARCH, n), list(a), UNDO.get(n)) for n, a in calls]
    undo = {n: syscalls.resolve_name(ARCH, n) for n in UNDO.values()}
    argv = [sys.executable, "-c", PROPERTY_CHILD, json.dumps(numbered), json.dumps(undo)]
    proc = run_under_profile(profile, argv)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    wrong = []
    for (name, args), errno_got in zip(calls, got, strict=True):
        action, errno_ret = answer(profile, ARCH, name, args)
        refused = action is not Action.ALLOW
        assert not refused or errno_ret == MARKER, (name, args, action, errno_ret)
        if refused != (errno_got == MARKER):
            spelt = ", ".join(hex(a) for a in args)
            wrong.append(f"{name}({spelt}): errno {errno_got}, evaluator {action.value}")
    assert not wrong, "the filter and the evaluator disagree:\n" + "\n".join(wrong)
