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
* :func:`enosys_rule` - syscalls that callers probe and fall back from on ENOSYS get
  ``SCMP_ACT_ERRNO`` with ``errnoRet: 38`` in an enforcing profile when they were not seen.
* :func:`runc_enosys_boundary` / :func:`runc_answer` - runc answers ENOSYS, not the default, for
  syscall numbers above the highest one the profile names.
* :func:`process_exit_names` / :func:`refused_exits` - a process must always be able to end:
  every built profile allows ``exit_group`` and ``exit``, observed or not.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from typing import TypeVar

from seccompgen import syscalls
from seccompgen.errors import ProfileError
from seccompgen.profile.model import Action, Arch, ArgCondition, Profile, SyscallRule

EPERM = 1
"""errno(3) EPERM: what a denied call returns under an enforcing profile (as in Docker's)."""
ENOSYS = 38
"""errno(3) ENOSYS ("function not implemented"): what a kernel without a syscall returns."""

_E = TypeVar("_E")


class Mode(str, Enum):
    """How the generated profile treats syscalls that were not seen."""

    ENFORCE = "enforce"
    """Deny them: ``defaultAction: SCMP_ACT_ERRNO`` with ``defaultErrnoRet: 1`` (EPERM)."""
    LOG = "log"
    """Staging: allow and log them (``SCMP_ACT_LOG``, seccomp(2) ``SECCOMP_RET_LOG``, Linux 4.14+),
    so the audit log lists exactly the calls the trace missed."""


@dataclass(frozen=True, slots=True)
class EnosysFallback:
    """One entry of the bundled ENOSYS list (``data/enosys-fallbacks.json``)."""

    name: str
    """The libseccomp syscall name."""
    reason: str
    """Who probes the call and what they do on ENOSYS (and on EPERM)."""
    source: str
    """Where that behaviour is documented (upstream issues, commits, source files)."""


@dataclass(frozen=True, slots=True)
class ProcessExit:
    """One entry of the bundled list of exit syscalls (``data/process-exit.json``)."""

    name: str
    """The libseccomp syscall name."""
    reason: str
    """Who ends with the call and what refusing it does."""
    source: str
    """Where that behaviour is documented (runtime and libc source files, man pages)."""


@dataclass(frozen=True, slots=True)
class RuntimeEnosys:
    """What runc's ENOSYS stub does with a profile on one architecture (:func:`runc_answer`)."""

    arch: str
    """libseccomp architecture name."""
    highest: int
    """The highest syscall number the profile names on ``arch``; runc answers ENOSYS above it."""
    highest_name: str
    """The syscall with that number."""
    above: tuple[str, ...]
    """Syscalls libseccomp knows numbered above ``highest``: runc answers them ENOSYS, not the
    default action."""
    eperm_instead: tuple[str, ...]
    """Unobserved syscalls that runc would answer ENOSYS for if the profile had no ENOSYS rule,
    and that get the default action (EPERM) because the ENOSYS rule raised ``highest``."""


@dataclass(frozen=True, slots=True)
class BuildResult:
    """The profile, the names left out of it with the reason for each, and what gets ENOSYS."""

    profile: Profile
    unknown: tuple[tuple[str, str], ...]
    enosys: tuple[str, ...] = ()
    """Names given an ``SCMP_ACT_ERRNO``/``errnoRet: 38`` rule (:func:`enosys_rule`)."""
    runtime_enosys: tuple[RuntimeEnosys, ...] = ()
    """Per architecture, what runc's ENOSYS stub adds (empty for a LOG profile)."""
    always: tuple[str, ...] = ()
    """Names allowed although not among the given names because a process must be able to end
    (:func:`process_exit_names`)."""


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


def _load_entries(data_name: str, make: Callable[[str, str, str], _E]) -> tuple[_E, ...]:
    """Read a bundled ``{"syscalls": [{"name", "reason", "source"}, ...]}`` file, in order."""
    resource = resources.files("seccompgen") / "data" / data_name
    try:
        data = json.loads(resource.read_text(encoding="utf-8"))
        rows = [(str(e["name"]), str(e["reason"]), str(e["source"])) for e in data["syscalls"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ProfileError(
            f"bundled {data_name} is unreadable: {e}", hint="reinstall seccompgen"
        ) from e
    names = [row[0] for row in rows]
    if len(set(names)) != len(names):
        raise ProfileError(f"bundled {data_name} lists a syscall twice")
    return tuple(make(*row) for row in rows)


_ENOSYS_DATA = "enosys-fallbacks.json"


@functools.cache
def enosys_fallbacks() -> tuple[EnosysFallback, ...]:
    """The bundled list of syscalls whose callers fall back on ENOSYS, in file order.

    The list is versioned data (``seccompgen/data/enosys-fallbacks.json``, sources in the data
    README); each entry names the caller and the upstream issue or source that documents it.
    """
    return _load_entries(_ENOSYS_DATA, EnosysFallback)


def enosys_rule(unobserved: Sequence[str]) -> SyscallRule | None:
    """The rule that answers ENOSYS (38) for the unobserved fallback syscalls, or ``None``.

    Why ENOSYS and not the default EPERM: glibc (``clone3`` since 2.34, ``faccessat2`` since
    2.33, ``rseq`` since 2.35, ``fchmodat2`` since 2.39), Go's ``os`` and ``syscall`` packages,
    crun and others call a newer syscall first and fall back to the older one only when the kernel
    says it does not exist; EPERM is taken as a real failure (moby/moby#42680: with EPERM for
    ``clone3`` no thread starts). Docker's default profile therefore has
    ``{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}`` (moby/moby#42681,
    containerd/containerd#5982). Each name and its source is in ``data/enosys-fallbacks.json``.

    The rule also moves runc's ENOSYS boundary (:func:`runc_enosys_boundary`) up to the newest
    listed syscall the profile names. That is intended: which unobserved syscalls get EPERM then
    no longer depends on the accident of the highest number the workload happened to call, only
    on the list; what moves from runc's ENOSYS to EPERM is reported per arch
    (:attr:`RuntimeEnosys.eperm_instead`), and syscalls newer than the list still get ENOSYS.

    Only for an enforcing profile (``SCMP_ACT_ERRNO`` default with EPERM), and only for names
    that were not observed: an observed one is allowed. The rule differs from the default because
    :func:`same_effect` compares the errno. A LOG (staging) profile gets no such rule: it must
    log every unseen call, these included, and change no result, so the audit log still shows
    that the workload probed them.
    """
    if not unobserved:
        return None
    return SyscallRule(
        names=tuple(sorted(set(unobserved))),
        action=Action.ERRNO,
        errno_ret=ENOSYS,
        comment="not observed: answer ENOSYS so callers fall back as on an older kernel",
    )


_EXIT_DATA = "process-exit.json"

ALWAYS_ALLOWED_REASON = "always allowed: a process must be able to end"
"""How the names of :func:`process_exit_names` are listed where a profile's additions are."""


@functools.cache
def process_exits() -> tuple[ProcessExit, ...]:
    """The bundled exit syscalls with the reason and source of each
    (``seccompgen/data/process-exit.json``)."""
    return _load_entries(_EXIT_DATA, ProcessExit)


def process_exit_names() -> tuple[str, ...]:
    """The syscalls every built profile allows, observed or not: a process must be able to end.

    The one place this rule lives (:func:`build_profile` applies it, the validator's
    :func:`refused_exits` checks it). Refusing ``exit_group`` or ``exit`` never stops a process
    from ending, only from ending cleanly: seccomp(2) ``SECCOMP_RET_ERRNO`` makes the call
    return ``-EPERM``, and the callers have no way on. Go's ``runtime.main`` goes on after
    ``exit(0)`` into a deliberate nil-pointer write loop (src/runtime/proc.go), its
    ``exitThread`` into ``INT $3`` (src/runtime/sys_linux_amd64.s), glibc's ``_exit`` retries
    ``exit_group`` and ``exit`` forever (sysdeps/unix/sysv/linux/_exit.c): the process spins,
    crashes or hangs, and a container's process 1 that cannot end waits for the engine's
    SIGKILL. Nor can a trace be relied on to see them: a program killed by a signal never calls
    ``exit_group``, yet the same program as a container's process 1, where a signal with no
    handler is not delivered (pid_namespaces(7); kernel/signal.c ``sig_task_ignored``,
    ``SIGNAL_UNKILLABLE``), ends through it (Go: ``dieFromSignal``'s ``exit(128+sig)``,
    src/runtime/signal_unix.go). Reasons and sources per name: ``data/process-exit.json``.
    """
    return tuple(e.name for e in process_exits())


def refused_exits(profile: Profile, arch: str) -> tuple[tuple[str, Action, int | None], ...]:
    """The exit syscalls (:func:`process_exit_names`) ``profile`` does not let run on ``arch``,
    each with what a runtime answers instead (:func:`runc_answer`).

    Letting run means ``SCMP_ACT_ALLOW`` or ``SCMP_ACT_LOG``: any other answer (an errno, a
    trap, a kill) replaces a clean exit with a hang or a crash. Names libseccomp does not know
    on ``arch`` are skipped.
    """
    refused = []
    for name in process_exit_names():
        if syscalls.resolve_name(arch, name) is None:
            continue
        action, errno_ret = runc_answer(profile, arch, name)
        if action not in (Action.ALLOW, Action.LOG):
            refused.append((name, action, errno_ret))
    return tuple(refused)


def _stub_applies(profile: Profile) -> bool:
    # runc libcontainer/seccomp/patchbpf/enosys_linux.go generatePatch: no stub when
    # defaultErrnoRet is already ENOSYS, nor when the default action is permissive
    # (isAllowAction: SCMP_ACT_ALLOW, SCMP_ACT_LOG and SCMP_ACT_TRACE).
    if profile.default_action.takes_errno and profile.default_errno_ret == ENOSYS:
        return False
    return profile.default_action not in (Action.ALLOW, Action.LOG, Action.TRACE)


def runc_enosys_boundary(profile: Profile, arch: str) -> tuple[int, str] | None:
    """The highest syscall number (and its name) ``profile`` names on ``arch``, or ``None``.

    runc prepends a stub to the libseccomp filter (libcontainer/seccomp/patchbpf/
    enosys_linux.go, ``findLastSyscalls`` and ``generateEnosysStub``, added for
    opencontainers/runc#2151): per architecture it takes the largest number of any syscall named
    in any rule of the profile, whatever the rule's action or arguments (names libseccomp does
    not know are ignored), and returns ``SECCOMP_RET_ERRNO | ENOSYS`` for every syscall number
    greater than it (``jgt``); numbers at or below it go on to the filter, whose default action
    answers the ones no rule matches. The idea: a syscall newer than anything the profile
    mentions is one the profile's author could not know of, so it should look missing, not
    forbidden. ``None`` when the stub does not apply (:func:`runc_answer`) or the profile names
    no syscall on ``arch`` (runc then skips the arch).
    """
    if not _stub_applies(profile):
        return None
    best: tuple[int, str] | None = None
    for rule in profile.syscalls:
        for name in rule.names:
            number = syscalls.resolve_name(arch, name)
            if number is not None and (best is None or number > best[0]):
                best = (number, name)
    return best


def runc_answer(profile: Profile, arch: str, name: str) -> tuple[Action, int | None]:
    """What a container under runc gets for an argument-free call of ``name`` on ``arch``.

    The first unconditional rule naming ``name`` decides (:func:`effective_action`); otherwise
    runc's stub answers ``ERRNO(ENOSYS)`` above :func:`runc_enosys_boundary`, and the default
    action answers the rest. Rules with argument conditions are not evaluated (their answer
    depends on the arguments); a name known only to such rules gets the default or ENOSYS.
    """
    for rule in profile.syscalls:
        if name in rule.names and not rule.args:
            return effective_action(rule.action, rule.errno_ret)
    boundary = runc_enosys_boundary(profile, arch)
    number = syscalls.resolve_name(arch, name)
    if boundary is not None and number is not None and number > boundary[0]:
        return Action.ERRNO, ENOSYS
    return effective_action(profile.default_action, profile.default_errno_ret)


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


def _enosys_names(allowed: set[str], arches: Sequence[str]) -> tuple[str, ...]:
    """The fallback syscalls that were not observed and that libseccomp knows on some arch."""
    return tuple(
        sorted(
            e.name
            for e in enosys_fallbacks()
            if e.name not in allowed
            and any(syscalls.resolve_name(a, e.name) is not None for a in arches)
        )
    )


def _runtime_enosys(
    profile: Profile, without_enosys: Profile, arches: Sequence[str]
) -> tuple[RuntimeEnosys, ...]:
    """Per arch, what runc's stub answers ENOSYS, and what the ENOSYS rule moved to EPERM."""
    named = {n for rule in profile.syscalls for n in rule.names}
    out: list[RuntimeEnosys] = []
    for arch in arches:
        boundary = runc_enosys_boundary(profile, arch)
        if boundary is None:
            continue
        before = runc_enosys_boundary(without_enosys, arch)
        old_highest = boundary[0] if before is None else before[0]
        table = sorted(
            (number, name)
            for name in syscalls.known_names(arch)
            if (number := syscalls.resolve_name(arch, name)) is not None
        )
        out.append(
            RuntimeEnosys(
                arch=arch,
                highest=boundary[0],
                highest_name=boundary[1],
                above=tuple(name for number, name in table if number > boundary[0]),
                eperm_instead=tuple(
                    name
                    for number, name in table
                    if old_highest < number <= boundary[0] and name not in named
                ),
            )
        )
    return tuple(out)


def build_profile(
    names: Iterable[str],
    arches: Iterable[str],
    mode: Mode,
    *,
    enosys: bool = True,
    conditioned: Sequence[SyscallRule] = (),
) -> BuildResult:
    """Build the allowlist profile for ``names`` seen on ``arches`` (libseccomp arch names).

    Names are translated to libseccomp's (:func:`seccompgen.syscalls.canonical_name`); names
    libseccomp does not know on any of the arches are left out and reported in
    :attr:`BuildResult.unknown`, since runtimes ignore (runc) or reject such names. Only the
    traced architectures are listed: a syscall made through another ABI (e.g. ``int 0x80`` from
    an x86_64 process) is then refused by libseccomp's bad-architecture action.

    The exit syscalls (:func:`process_exit_names`) are always allowed, in every mode; those
    not among ``names`` are reported in :attr:`BuildResult.always`.

    With ``enosys`` (the default) an enforcing profile answers ENOSYS for the fallback syscalls
    that were not observed (:func:`enosys_rule`); :attr:`BuildResult.runtime_enosys` reports
    what runc's ENOSYS stub adds on top (:func:`runc_enosys_boundary`), including the unobserved
    syscalls that the ENOSYS rule moves from runc's ENOSYS to the default EPERM.

    ``conditioned`` are argument-conditioned rules (:mod:`seccompgen.profile.args`); the names
    they cover leave the unconditional allow rule, which would otherwise let every call through.
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
    check_allowlist(sorted(allowed))
    # A process must always be able to end (process_exit_names): in enforce and log profiles
    # alike, whatever the trace saw.
    always = tuple(
        sorted(
            name
            for name in process_exit_names()
            if name not in allowed
            and any(syscalls.resolve_name(a, name) is not None for a in arch_names)
        )
    )
    allowed.update(always)
    allowlist = sorted(allowed)

    if mode is Mode.ENFORCE:
        default_action, default_errno = Action.ERRNO, EPERM
        check_enforce_default(default_action)
    else:
        default_action, default_errno = Action.LOG, None
    with_args = {n for rule in conditioned for n in rule.names}
    rules = [
        SyscallRule(names=tuple(n for n in allowlist if n not in with_args), action=Action.ALLOW)
    ]
    rules.extend(conditioned)
    enosys_names: tuple[str, ...] = ()
    if mode is Mode.ENFORCE and enosys:
        denied = enosys_rule(_enosys_names(allowed, arch_names))
        if denied is not None:
            rules.append(denied)
            enosys_names = denied.names
    for rule in rules:
        if same_effect(rule.action, rule.errno_ret, default_action, default_errno):
            raise ProfileError(
                f"internal: {rule.action.value} rule has the default action {default_action.value}"
            )
    profile = Profile(
        default_action=default_action,
        architectures=arch_enums,
        syscalls=tuple(rules),
        default_errno_ret=default_errno,
    )
    require_confinement(profile)
    without_enosys = Profile(
        default_action=default_action,
        architectures=arch_enums,
        syscalls=tuple(r for r in rules if r.action is Action.ALLOW),
        default_errno_ret=default_errno,
    )
    return BuildResult(
        profile=profile,
        unknown=tuple(sorted(unknown.items())),
        enosys=enosys_names,
        runtime_enosys=_runtime_enosys(profile, without_enosys, arch_names),
        always=always,
    )
