"""Run a program under a seccomp profile on the host, without a container runtime.

The filter is built with libseccomp through ctypes, the way runc builds it
(libcontainer/seccomp/seccomp_linux.go): ``seccomp_init`` with the default action, the
profile's architectures, one ``seccomp_rule_add_array`` per rule and name, then
``seccomp_load`` right before ``execve(2)``. What runc does with a rule is kept:

* names libseccomp does not know are skipped (runc ignores them);
* a rule with the default's effect is skipped (``same_effect``; libseccomp would refuse it);
* conditions on one argument index repeated in a rule become one rule per condition, as runc's
  ``matchCall`` does (:func:`seccompgen.profile.build.shared_arg_indexes`).

runc's ENOSYS stub for numbers above the profile's highest named syscall (patchbpf) is not
reproduced: here every syscall no rule names gets the default action. Docker-format rules with
``includes``/``excludes`` must be resolved first (:func:`resolve_docker_rules`), as moby does
before handing the profile to runc.

The filter is loaded in a fresh Python process started for the purpose (``python -m
seccompgen.enforce PROFILE -- ARGV``): between ``seccomp_load`` and ``execve`` that process makes
no other syscall, so the profile needs to allow only ``execve`` besides what the program does.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from seccompgen import syscalls
from seccompgen.errors import ProfileError, SyscallTableError
from seccompgen.profile.build import effective_action, same_effect, shared_arg_indexes
from seccompgen.profile.model import Action, ArgCondition, Operator, Profile, load_profile

DOCKER_DEFAULT_CAPS = frozenset(
    {
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE",
    }
)
"""The capabilities a Docker container gets by default (moby oci/caps/defaults.go)."""

# libseccomp-golang's names for the arches moby compares includes/excludes "arches" with
# (ScmpArch.String(): "amd64", "arm64" where libseccomp says x86_64, aarch64).
_DOCKER_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}

# moby profiles/seccomp/default.json archMap: the architectures Docker loads on each host arch.
_DOCKER_ARCH_MAP = {
    "x86_64": ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
    "aarch64": ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"),
}

# seccomp.h action values (libseccomp 2.5): SCMP_ACT_ERRNO(x) = 0x00050000 | (x & 0xffff), ...
_ACTION_BASE = {
    Action.KILL_PROCESS: 0x80000000,
    Action.KILL_THREAD: 0x00000000,
    Action.TRAP: 0x00030000,
    Action.ERRNO: 0x00050000,
    Action.TRACE: 0x7FF00000,
    Action.LOG: 0x7FFC0000,
    Action.ALLOW: 0x7FFF0000,
}
# enum scmp_compare in seccomp.h.
_OPERATOR = {
    Operator.NE: 1,
    Operator.LT: 2,
    Operator.LE: 3,
    Operator.EQ: 4,
    Operator.GE: 5,
    Operator.GT: 6,
    Operator.MASKED_EQ: 7,
}
_SCMP_FLTATR_CTL_NNP = 3  # enum scmp_filter_attr: set no_new_privs before loading


class _ArgCmp(ctypes.Structure):
    # struct scmp_arg_cmp from seccomp.h
    _fields_ = (
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    )


class _Lib:
    """The libseccomp entry points a filter needs, with ctypes signatures."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.init = lib.seccomp_init
        self.init.argtypes = [ctypes.c_uint32]
        self.init.restype = ctypes.c_void_p
        self.release = lib.seccomp_release
        self.release.argtypes = [ctypes.c_void_p]
        self.release.restype = None
        self.arch_add = lib.seccomp_arch_add
        self.arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        self.arch_add.restype = ctypes.c_int
        self.arch_resolve_name = lib.seccomp_arch_resolve_name
        self.arch_resolve_name.argtypes = [ctypes.c_char_p]
        self.arch_resolve_name.restype = ctypes.c_uint32
        self.syscall_resolve_name = lib.seccomp_syscall_resolve_name
        self.syscall_resolve_name.argtypes = [ctypes.c_char_p]
        self.syscall_resolve_name.restype = ctypes.c_int
        self.rule_add_array = lib.seccomp_rule_add_array
        self.rule_add_array.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.POINTER(_ArgCmp),
        ]
        self.rule_add_array.restype = ctypes.c_int
        self.attr_set = lib.seccomp_attr_set
        self.attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        self.attr_set.restype = ctypes.c_int
        self.load = lib.seccomp_load
        self.load.argtypes = [ctypes.c_void_p]
        self.load.restype = ctypes.c_int


@functools.cache
def _lib() -> _Lib:
    try:
        return _Lib(ctypes.CDLL("libseccomp.so.2", use_errno=True))
    except (OSError, AttributeError) as e:
        raise SyscallTableError(
            f"cannot load libseccomp.so.2: {e}",
            hint="install libseccomp2 (apt-get install libseccomp2)",
        ) from e


def _action_value(action: Action, errno_ret: int | None) -> int:
    action, errno_ret = effective_action(action, errno_ret)
    if action not in _ACTION_BASE:
        raise ProfileError(
            f"{action.value} cannot be applied by the host launcher",
            hint="SCMP_ACT_NOTIFY needs a listener; use a container runtime for it",
        )
    return _ACTION_BASE[action] | ((errno_ret or 0) & 0xFFFF)


def _check(rc: int, what: str) -> None:
    if rc < 0:
        raise ProfileError(f"libseccomp {what} failed: {os.strerror(-rc)}")


def _arg_sets(args: Sequence[ArgCondition]) -> list[tuple[ArgCondition, ...]]:
    # runc matchCall: conditions AND-ed in one rule, unless an index repeats; then one rule per
    # condition (OR), since libseccomp refuses two comparisons of one argument.
    if shared_arg_indexes(args):
        return [(a,) for a in args]
    return [tuple(args)]


def resolve_docker_rules(
    profile: Profile,
    *,
    caps: Iterable[str] = DOCKER_DEFAULT_CAPS,
    arch: str | None = None,
    kernel: tuple[int, int] | None = None,
) -> Profile:
    """Apply Docker's ``includes``/``excludes`` for a container with ``caps`` on ``arch``.

    As moby's ``setupSeccomp`` (profiles/seccomp/seccomp_linux.go) does: a rule is kept when
    every ``includes.caps`` is held, its ``includes.arches`` lists the arch, the kernel is at
    least ``includes.minKernel``, no ``excludes.caps`` is held and ``excludes.arches`` does not
    list the arch. The result carries no filters. ``kernel`` defaults to the running kernel.
    Of an ``archMap``, only the host's entry is kept, as Docker picks it at run time.
    """
    held = set(caps)
    host = arch or syscalls.native_arch()
    docker_arch = _DOCKER_ARCH.get(host, host)
    arch_group = _DOCKER_ARCH_MAP.get(host, (syscalls.ARCHES[host],))
    running = kernel or _kernel_version()
    kept = []
    for rule in profile.syscalls:
        inc, exc = rule.includes, rule.excludes
        if inc.caps and not set(inc.caps) <= held:
            continue
        if inc.arches and docker_arch not in inc.arches:
            continue
        if inc.min_kernel and running < _parse_kernel(inc.min_kernel):
            continue
        if exc.caps and set(exc.caps) & held:
            continue
        if exc.arches and docker_arch in exc.arches:
            continue
        kept.append(replace(rule, includes=type(inc)(), excludes=type(exc)()))
    arches = tuple(a for a in profile.architectures if a.value in arch_group)
    return replace(profile, syscalls=tuple(kept), architectures=arches)


def _parse_kernel(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def _kernel_version() -> tuple[int, int]:
    return _parse_kernel(os.uname().release.split("-")[0])


def load_filter(profile: Profile) -> None:
    """Build ``profile``'s filter with libseccomp and load it into the calling thread.

    Irreversible for this process and its children. Rules with Docker ``includes``/``excludes``
    are refused: resolve them first with :func:`resolve_docker_rules`.
    """
    lib = _lib()
    for rule in profile.syscalls:
        if rule.includes or rule.excludes:
            raise ProfileError(
                f"rule for {', '.join(rule.names)} has Docker includes/excludes",
                hint="resolve them with seccompgen.enforce.resolve_docker_rules first",
            )
    ctx = lib.init(_action_value(profile.default_action, profile.default_errno_ret))
    if not ctx:
        raise ProfileError("seccomp_init failed (bad default action?)")
    try:
        # no_new_privs lets an unprivileged caller load the filter (seccomp(2)); runc sets it
        # for containers unless the process keeps privileges.
        _check(lib.attr_set(ctx, _SCMP_FLTATR_CTL_NNP, 1), "seccomp_attr_set(NNP)")
        for arch in profile.architectures:
            token = lib.arch_resolve_name(syscalls.ARCH_NAMES[arch.value].encode())
            if token == 0:
                continue  # unknown to this libseccomp: runc fails; nothing to filter here
            rc = lib.arch_add(ctx, token)
            if rc not in (0, -17):  # -EEXIST: the native arch is already in the filter
                _check(rc, f"seccomp_arch_add({arch.value})")
        for rule in profile.syscalls:
            if same_effect(
                rule.action, rule.errno_ret, profile.default_action, profile.default_errno_ret
            ):
                continue
            action = _action_value(rule.action, rule.errno_ret)
            for name in rule.names:
                number = lib.syscall_resolve_name(name.encode())
                if number == -1:  # __NR_SCMP_ERROR: unknown name, ignored as runc does
                    continue
                for conditions in _arg_sets(rule.args):
                    array = (_ArgCmp * max(1, len(conditions)))(
                        *(
                            _ArgCmp(c.index, _OPERATOR[c.op], c.value, c.value_two)
                            for c in conditions
                        )
                    )
                    rc = lib.rule_add_array(ctx, action, number, len(conditions), array)
                    _check(rc, f"seccomp_rule_add({name})")
        _check(lib.load(ctx), "seccomp_load")
    finally:
        lib.release(ctx)


def exec_under_profile(profile: Profile, argv: Sequence[str]) -> NoReturn:
    """Load ``profile``'s filter into this process and ``execv`` ``argv`` (searched on PATH).

    The profile must allow ``execve``. Never returns: the process becomes ``argv[0]``.
    """
    if not argv:
        raise ProfileError("no command to run under the profile")
    path = argv[0]
    if os.sep not in path:
        from shutil import which

        path = which(path) or path
    load_filter(profile)
    os.execv(path, list(argv))


def run_under_profile(
    profile: Profile,
    argv: Sequence[str],
    *,
    timeout: float | None = 60.0,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` under ``profile`` in a new process and wait for it; output is captured.

    A fresh ``python -m seccompgen.enforce`` process loads the filter and ``execv``\\ s the
    program (:func:`exec_under_profile`), so nothing else runs under the filter first.
    """
    with tempfile.TemporaryDirectory(prefix="seccompgen-enforce-") as tmp:
        path = Path(tmp) / "profile.json"
        path.write_text(json.dumps(profile.to_dict()), encoding="utf-8")
        return subprocess.run(
            [sys.executable, "-m", "seccompgen.enforce", str(path), "--", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m seccompgen.enforce [--fork FIFO] PROFILE.json -- PROGRAM [ARGS...]``.

    ``--fork FIFO``: the filter is loaded in a child, which execs the program, while this
    process waits unfiltered and ends as the program did (its exit code, or its signal). A
    launcher started in a new session then stays the session leader, as strace does, so the
    program is not one and may call setsid(2) (which fails for a session or process-group
    leader). The child first waits for one byte ``g`` on the FIFO, so whoever started the
    launcher can learn the child's pid (it cannot have exited yet) before the program runs.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    fifo = None
    if args[:1] == ["--fork"] and len(args) > 1:
        fifo, args = args[1], args[2:]
    if len(args) < 3 or args[1] != "--":
        print(
            "usage: python -m seccompgen.enforce [--fork FIFO] PROFILE.json -- PROGRAM [ARGS...]",
            file=sys.stderr,
        )
        return 2
    try:
        profile = load_profile(Path(args[0]))
        if fifo is not None:
            if os.fork() != 0:
                return _wait_and_mirror()
            fd = os.open(fifo, os.O_RDONLY)
            if os.read(fd, 1) != b"g":
                os._exit(126)
            os.close(fd)
        exec_under_profile(profile, args[2:])
    except (ProfileError, SyscallTableError) as e:
        print(f"seccompgen.enforce: {e.explain()}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"seccompgen.enforce: cannot run {args[2]}: {e.strerror}", file=sys.stderr)
        return 127


def _wait_and_mirror() -> int:
    """Wait for the only child; return its exit code, or die of its signal."""
    _, status = os.wait()
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1


if __name__ == "__main__":
    sys.exit(main())
