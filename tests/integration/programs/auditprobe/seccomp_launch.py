"""Install a seccomp filter with libseccomp (through ctypes), then exec a program under it.

Usage::

    python3 seccomp_launch.py [--arch x86] [--flag-log] ACTION=NAME[,NAME...] ... -- PROG [ARG...]

ACTION is ``log`` (SCMP_ACT_LOG), ``errno`` (SCMP_ACT_ERRNO(EPERM)), ``trap`` (SCMP_ACT_TRAP) or
``kill_process`` (SCMP_ACT_KILL_PROCESS); every other call is allowed. ``--arch`` adds a second
architecture to the filter (for a 32-bit program on a 64-bit host) and must come before the
actions, which libseccomp adds to the architectures the filter has at that point. ``--flag-log``
sets SCMP_FLTATR_CTL_LOG, i.e. SECCOMP_FILTER_FLAG_LOG, so that the kernel also logs the non-LOG
actions (seccomp(2): "all filter return actions except SECCOMP_RET_ALLOW should be logged").
The filter sets no_new_privs (libseccomp's default), survives execve(2) and covers the program only.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys

# seccomp.h (libseccomp): action values and filter attributes.
_ACTIONS = {
    "log": 0x7FFC0000,  # SCMP_ACT_LOG
    "errno": 0x00050000 | errno.EPERM,  # SCMP_ACT_ERRNO(EPERM)
    "trap": 0x00030000,  # SCMP_ACT_TRAP
    "kill_process": 0x80000000,  # SCMP_ACT_KILL_PROCESS
}
_ACT_ALLOW = 0x7FFF0000
_FLTATR_CTL_LOG = 6  # enum scmp_filter_attr: SCMP_FLTATR_API_TSKIP = 5, SCMP_FLTATR_CTL_LOG = 6


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    split = argv.index("--")
    options, program = argv[:split], argv[split + 1 :]
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(_ACT_ALLOW)
    if not ctx:
        print("seccomp_init failed", file=sys.stderr)
        return 1
    it = iter(options)
    for opt in it:
        if opt == "--arch":
            token = lib.seccomp_arch_resolve_name(next(it).encode())
            rc = lib.seccomp_arch_add(ctx, token)
        elif opt == "--flag-log":
            rc = lib.seccomp_attr_set(ctx, _FLTATR_CTL_LOG, 1)
        else:
            action, _, names = opt.partition("=")
            rc = 0
            for name in names.split(","):
                number = lib.seccomp_syscall_resolve_name(name.encode())
                rc = rc or lib.seccomp_rule_add(ctx, _ACTIONS[action], number, 0)
        if rc != 0:
            print(f"libseccomp refused {opt!r}: {os.strerror(-rc)}", file=sys.stderr)
            return 1
    rc = lib.seccomp_load(ctx)
    if rc != 0:
        print(f"seccomp_load failed: {os.strerror(-rc)}", file=sys.stderr)
        return 1
    os.execv(program[0], program)
    return 1  # not reached: execv replaces the process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
