"""Build a least-privilege profile from the syscall names a workload was seen to make.

This module is also the one home of the seccomp semantics rules the rest of the package relies
on (the validator calls the same functions), each stated once with its source:

* :func:`require_confinement` - a profile must confine something: no ``defaultAction`` means
  seccomp is disabled, ``SCMP_ACT_ALLOW`` with no rule that differs means unconfined.
* :func:`check_enforce_default` - an enforcing profile never defaults to ``SCMP_ACT_ALLOW``.
* :func:`same_effect` - a rule whose action equals the default action is silently dropped by
  runc and rejected by libseccomp, so one is never emitted.
* :func:`shared_arg_indexes` - two conditions on one argument in one rule are OR-ed by runc.
* :func:`check_allowlist` - an empty allowlist is refused.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from seccompgen import syscalls
from seccompgen.errors import ProfileError
from seccompgen.profile.model import Action, Arch, ArgCondition, Profile, SyscallRule

EPERM = 1
"""errno(3) EPERM: what a denied call returns under an enforcing profile (as in Docker's)."""


class Mode(str, Enum):
    """How the generated profile treats syscalls that were not seen."""

    ENFORCE = "enforce"
    """Deny them: ``defaultAction: SCMP_ACT_ERRNO`` with ``defaultErrnoRet: 1`` (EPERM)."""
    LOG = "log"
    """Staging: allow and log them (``SCMP_ACT_LOG``, seccomp(2) ``SECCOMP_RET_LOG``, Linux 4.14+),
    so the audit log lists exactly the calls the trace missed."""


@dataclass(frozen=True, slots=True)
class BuildResult:
    """The profile, and the names left out of it with the reason for each."""

    profile: Profile
    unknown: tuple[tuple[str, str], ...]


# ---------------------------------------------------------------------------------------------
# Seccomp semantics rules
# ---------------------------------------------------------------------------------------------


def effective_action(action: Action, errno_ret: int | None) -> tuple[Action, int | None]:
    """The action a runtime actually installs, for comparing two actions.

    runc's ``getAction`` (libcontainer/seccomp/seccomp_linux.go) maps ``SCMP_ACT_KILL`` to
    ``KILL_THREAD`` (the kernel's ``SECCOMP_RET_KILL`` is ``SECCOMP_RET_KILL_THREAD``,
    seccomp(2)) and gives ``ERRNO``/``TRACE`` without ``errnoRet`` the return code EPERM
    (runtime-spec config-linux.md: "If not specified then its default value is EPERM").
    """
    if action is Action.KILL:
        return Action.KILL_THREAD, None
    if action.takes_errno:
        return action, EPERM if errno_ret is None else errno_ret
    return action, None


def same_effect(
    action: Action, errno_ret: int | None, default_action: Action, default_errno_ret: int | None
) -> bool:
    """Whether a rule does exactly what the default action does.

    Such a rule is redundant and runtimes do not keep it: libseccomp's ``seccomp_rule_add(3)``
    fails with ``-EACCES`` ("requested action matches default action of filter",
    seccomp/libseccomp#44), and runc's ``matchCall`` skips it silently ("This rule is redundant,
    silently skip it", libcontainer/seccomp/seccomp_linux.go, opencontainers/runc#3109 fixing
    #1847). The comparison includes the errno: ``ERRNO(38)`` under an ``ERRNO(1)`` default is a
    real rule (Docker's default profile uses one for ``clone3``).
    """
    return effective_action(action, errno_ret) == effective_action(
        default_action, default_errno_ret
    )


def is_unconfined(profile: Profile) -> bool:
    """Whether ``profile`` confines nothing: an ``SCMP_ACT_ALLOW`` default and no rule that differs.

    Rules with the same effect as the default are dropped by runtimes (:func:`same_effect`), so
    they do not count.
    """
    return profile.default_action is Action.ALLOW and all(
        same_effect(r.action, r.errno_ret, profile.default_action, profile.default_errno_ret)
        for r in profile.syscalls
    )


def require_confinement(profile: Profile) -> None:
    """Refuse a profile that confines nothing.

    A profile must carry a ``defaultAction``: moby's ``setupSeccomp`` reads one without a
    default action and without syscalls as "assume seccomp disabled", and the runtime-spec
    schema requires the field (config-linux.json ``linux.seccomp.required``); :class:`Profile`
    makes it mandatory. An ``SCMP_ACT_ALLOW`` default with no rule that differs
    (:func:`is_unconfined`) leaves the container unconfined.
    """
    if is_unconfined(profile):
        raise ProfileError(
            "profile allows every syscall (SCMP_ACT_ALLOW default and no rule that differs)",
            hint="use an SCMP_ACT_ERRNO default with an allowlist",
        )


def check_enforce_default(action: Action) -> None:
    """An enforcing profile must deny by default: ``SCMP_ACT_ALLOW`` would enforce nothing.

    An allowlist only restricts when the default action is not ALLOW (seccomp(2): the filter
    returns the default for every syscall no rule matches).
    """
    if action in (Action.ALLOW, Action.LOG):
        raise ProfileError(
            f"{action.value} cannot be the default action of an enforcing profile",
            hint="enforce with SCMP_ACT_ERRNO (or a KILL action); use --mode log for staging",
        )


def shared_arg_indexes(args: Sequence[ArgCondition]) -> tuple[int, ...]:
    """Argument indexes compared more than once in one rule.

    libseccomp's ``db_col_rule_add`` refuses two comparisons of one argument in a rule, so when
    any index repeats runc's ``matchCall`` adds every condition as a separate rule ("Revert to
    old behavior, adding each condition as a separate rule", libcontainer/seccomp/
    seccomp_linux.go): the conditions are then OR-ed, not AND-ed, which usually allows far more
    than the profile reads as allowing.
    """
    counts = Counter(a.index for a in args)
    return tuple(sorted(i for i, n in counts.items() if n > 1))


def check_allowlist(names: Sequence[str]) -> None:
    """Refuse an empty allowlist: a deny-by-default profile with it lets nothing run.

    Even ``execve(2)`` of the container's entrypoint happens under the filter, so the workload
    would fail before its first instruction.
    """
    if not names:
        raise ProfileError(
            "no syscalls to allow: the profile would stop the workload from running at all",
            hint="trace the workload first (seccompgen trace), or check that the trace has events",
        )


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"^syscall_(0x[0-9a-fA-F]+|[0-9]+)$")


def _arch_enums(arches: Iterable[str]) -> tuple[list[str], tuple[Arch, ...]]:
    names = list(dict.fromkeys(arches))
    if not names:
        raise ProfileError(
            "no architecture given for the profile",
            hint=f"pass the traced architecture, e.g. {syscalls.native_arch()}",
        )
    enums: list[Arch] = []
    for name in names:
        scmp = syscalls.ARCHES.get(name)
        if scmp is None:
            raise ProfileError(
                f"unknown architecture {name!r}",
                hint=f"use a libseccomp name: {', '.join(sorted(syscalls.ARCHES))}",
            )
        if not syscalls.arch_supported(name):
            raise ProfileError(
                f"architecture {name!r} is not supported by libseccomp "
                f"{syscalls.libseccomp_version()}",
                hint="install a newer libseccomp2",
            )
        enums.append(Arch(scmp))
    return names, tuple(enums)


def _canonical(name: str, arches: Sequence[str]) -> tuple[str | None, str]:
    """The libseccomp name for ``name`` over ``arches``, or ``None`` and the reason."""
    resolved = {arch: syscalls.canonical_name(arch, name) for arch in arches}
    found = {v for v in resolved.values() if v is not None}
    version = syscalls.libseccomp_version()
    arch_list = ", ".join(arches)
    if not found:
        if _PLACEHOLDER.match(name):
            return None, (
                f"strace could not name this syscall number and libseccomp {version} "
                f"has no syscall with that number on {arch_list}"
            )
        return None, f"libseccomp {version} knows no syscall {name!r} on {arch_list}"
    if len(found) > 1:
        # A number means different syscalls on different arches; guessing would allow a call
        # that was never seen.
        pairs = ", ".join(f"{a}={v}" for a, v in resolved.items() if v is not None)
        return None, f"syscall number names different syscalls per architecture ({pairs})"
    return found.pop(), ""


def build_profile(names: Iterable[str], arches: Iterable[str], mode: Mode) -> BuildResult:
    """Build the allowlist profile for ``names`` seen on ``arches`` (libseccomp arch names).

    Names are translated to libseccomp's (:func:`seccompgen.syscalls.canonical_name`); names
    libseccomp does not know on any of the arches are left out and reported in
    :attr:`BuildResult.unknown`, since runtimes ignore (runc) or reject such names. Only the
    traced architectures are listed: a syscall made through another ABI (e.g. ``int 0x80`` from
    an x86_64 process) is then refused by libseccomp's bad-architecture action.
    """
    arch_names, arch_enums = _arch_enums(arches)
    allowed: set[str] = set()
    unknown: dict[str, str] = {}
    for name in names:
        canonical, reason = _canonical(name, arch_names)
        if canonical is None:
            unknown[name] = reason
        else:
            allowed.add(canonical)
    allowlist = sorted(allowed)
    check_allowlist(allowlist)

    if mode is Mode.ENFORCE:
        default_action, default_errno = Action.ERRNO, EPERM
        check_enforce_default(default_action)
    else:
        default_action, default_errno = Action.LOG, None
    rule = SyscallRule(names=tuple(allowlist), action=Action.ALLOW)
    if same_effect(rule.action, rule.errno_ret, default_action, default_errno):
        raise ProfileError(f"internal: allow rule has the default action {default_action.value}")
    profile = Profile(
        default_action=default_action,
        architectures=arch_enums,
        syscalls=(rule,),
        default_errno_ret=default_errno,
    )
    require_confinement(profile)
    return BuildResult(profile=profile, unknown=tuple(sorted(unknown.items())))
