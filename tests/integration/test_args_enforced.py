"""Argument rules under the real kernel: a profile from profile.args loaded through libseccomp
(enforce.run_under_profile: a fresh process loads the filter and execs Python), whose calls
through syscall(2) get exactly the answers the evaluator in profile.args predicts."""

from __future__ import annotations

import json
import sys

from seccompgen import syscalls
from seccompgen.enforce import run_under_profile
from seccompgen.profile.args import ObservedArg, answer, plan_args
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
