"""Go binary introspection: what an executable is and which syscalls it could make.

:func:`inspect_binary` reads an ELF file without running it (architecture, static or dynamic,
stripped, Go build info, pclntab function names); :func:`reachable_syscalls` and
:func:`unobserved` cross-check traces against the syscall-capable Go functions linked in.
"""

from seccompgen.inspect.binary import (
    BinaryInfo,
    GoBuildInfo,
    GoModule,
    InspectError,
    inspect_binary,
)
from seccompgen.inspect.pclntab import GoFunctions, package_of
from seccompgen.inspect.reachable import (
    Warning,
    blind_spots,
    reachable_syscalls,
    syscall_table,
    unobserved,
)

__all__ = [
    "BinaryInfo",
    "GoBuildInfo",
    "GoFunctions",
    "GoModule",
    "InspectError",
    "Warning",
    "blind_spots",
    "inspect_binary",
    "package_of",
    "reachable_syscalls",
    "syscall_table",
    "unobserved",
]
