"""Derive the ``wrappers`` part of ``data/go-packages-syscalls.json`` from a Go source tree.

Every system call a Go program makes outside cgo goes through a small set of leaf functions: the
generated wrappers in ``syscall/zsyscall_linux_<arch>.go`` (``func openat(...)`` calls
``Syscall6(SYS_OPENAT, ...)``), the hand-written ones in ``syscall/*_linux*.go`` and
``internal/syscall/unix`` (which name their numbers ``getrandomTrap`` and the like), the runtime's
``internal/runtime/syscall/linux`` helpers, and the runtime's assembly stubs in
``runtime/sys_linux_<arch>.s`` (``TEXT runtime·read(SB)`` loads ``$SYS_read``). This module reads
those files and records, per function symbol, the syscall numbers its body names, converted to
names with the ``SYS_*`` table of ``syscall/zsysnum_linux_<arch>.go``.

It is a maintenance tool, run when the table is refreshed for a new Go release::

    python -m seccompgen.inspect._gosource "$(go env GOROOT)" > wrappers.json
    python -m seccompgen.inspect._gosource "$(go env GOROOT)" arm64 > wrappers_aarch64.json

Only file-name build constraints are honoured (``_linux``, ``_amd64``, ``_unix``); that is enough
for the directories read here, whose other files carry other GOOS/GOARCH suffixes.
``GOARCH`` is ``amd64`` (the default) or ``arm64``; names are libseccomp's for the matching
architecture (:data:`LIBSECCOMP_ARCH`).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from seccompgen.syscalls import resolve_number

_GOOS = "linux"
#: GOARCH -> the libseccomp architecture whose names the table uses.
LIBSECCOMP_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}
_KNOWN_OS = {
    "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "netbsd",
    "openbsd", "plan9", "solaris", "wasip1", "windows", "zos", "linux",
}  # fmt: skip
_KNOWN_ARCH = {
    "386", "amd64", "arm", "arm64", "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64x",
    "mipsx", "ppc64", "ppc64le", "ppc64x", "riscv64", "s390x", "wasm", "mips64p32", "sparc64",
}  # fmt: skip

_DIRS = ("syscall", "internal/syscall/unix", "internal/runtime/syscall/linux", "os", "net")
_CONST = re.compile(r"^\s*(\w+)\s*(?:uintptr\s*|int\s*)?=\s*([\w.]+)", re.M)
_FUNC = re.compile(r"^func (?:\((?:\w+ )?(\*?)(\w+)(?:\[[^\]]*\])?\) )?(\w+)\(", re.M)
_REF = re.compile(r"\b(?:syscall\.|unix\.)?(_?SYS_\w+|sys_[A-Z0-9_]+|\w+Trap)\b")


def _applies(name: str, goarch: str) -> bool:
    stem = name[: -len(".go")] if name.endswith(".go") else name[: -len(".s")]
    if stem.endswith("_test"):
        return False
    parts = stem.split("_")[1:]
    if parts and parts[-1] in _KNOWN_ARCH:
        if parts[-1] not in (goarch, "x"):
            return False
        parts = parts[:-1]
    return not (parts and parts[-1] in _KNOWN_OS and parts[-1] != _GOOS)


def _build_ok(text: str, goarch: str) -> bool:
    """Evaluate a ``//go:build`` line for linux/GOARCH (unix is true; other tags false)."""
    m = re.search(r"^//go:build (.+)$", text, re.M)
    if m is None:
        return True
    true = {_GOOS, goarch, "unix", "gc"}

    def tag(t: re.Match[str]) -> str:
        return "True" if t.group(0) in true else "False"

    expr = re.sub(r"[\w.]+", tag, m.group(1))
    expr = expr.replace("&&", " and ").replace("||", " or ").replace("!", " not ")
    return bool(eval(expr, {"__builtins__": {}}))


def _numbers(goroot: Path, goarch: str) -> dict[int, str]:
    text = (goroot / f"src/syscall/zsysnum_{_GOOS}_{goarch}.go").read_text()
    return {int(v): k[len("SYS_") :].lower() for k, v in re.findall(r"(SYS_\w+)\s*=\s*(\d+)", text)}


def wrappers(goroot: Path, goarch: str = "amd64") -> dict[str, list[str]]:
    """Function symbol -> the syscall names its body names, for GOOS/GOARCH linux/``goarch``."""
    arch = LIBSECCOMP_ARCH[goarch]
    # Go's SYS_* names, where libseccomp names the number otherwise, as profiles name it (arm64's
    # SYS_FSTATAT, 79, is libseccomp's newfstatat).
    by_number = {n: resolve_number(arch, n) or name for n, name in _numbers(goroot, goarch).items()}
    by_const = {f"SYS_{n.upper()}": n for n in by_number.values()}
    files: list[tuple[str, Path]] = []
    for d in _DIRS:
        for p in sorted((goroot / "src" / d).glob("*.go")):
            if _applies(p.name, goarch) and _build_ok(p.read_text(), goarch):
                files.append((d, p))
    consts: dict[str, str] = {}
    for _d, p in files:
        for name, value in _CONST.findall(p.read_text()):
            consts.setdefault(name, value)

    def resolve(ident: str, depth: int = 0) -> str | None:
        if ident in by_const:
            return by_const[ident]
        if ident.startswith("_SYS_") and ident[5:].islower():
            return ident[5:]
        if ident.startswith("sys_"):
            return ident[4:].lower()
        value = consts.get(ident)
        if value is None or depth > 4:
            return None
        if value.isdigit():
            # syscall's SYS_* table is frozen (Go issue 28427 froze package syscall), so numbers
            # of newer calls (pidfd_open, 434) are named by libseccomp, as profiles name them.
            return by_number.get(int(value)) or resolve_number(arch, int(value))
        return resolve(value.rsplit(".", 1)[-1], depth + 1)

    out: dict[str, set[str]] = {}
    for d, p in files:
        text = p.read_text()
        heads = list(_FUNC.finditer(text))
        for i, m in enumerate(heads):
            end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
            close = text.find("\n}", m.end(), end)
            body = text[m.end() : close if close >= 0 else end]
            names = {r for ref in _REF.findall(body) if (r := resolve(ref))}
            if not names:
                continue
            star, recv, fname = m.groups()
            sym = (
                f"{d}.({star}{recv}).{fname}"
                if star
                else (f"{d}.{recv}.{fname}" if recv else f"{d}.{fname}")
            )
            out.setdefault(sym, set()).update(names)
    asm = (goroot / f"src/runtime/sys_{_GOOS}_{goarch}.s").read_text()
    defines = {k: int(v) for k, v in re.findall(r"#define\s+(SYS_\w+)\s+(\d+)", asm)}
    for block in re.split(r"^TEXT ", asm, flags=re.M)[1:]:
        head = block.split("(", 1)[0]
        if "·" not in head:
            continue
        # "runtime·read" and "·getpid" (package-local) both name runtime functions.
        sym = "runtime." + head.split("·", 1)[1].split("<", 1)[0]
        names = {by_number[defines[c]] for c in re.findall(r"\$(SYS_\w+)", block) if c in defines}
        if names:
            out.setdefault(sym, set()).update(names)
    return {k: sorted(v) for k, v in sorted(out.items())}


def main(argv: list[str] | None = None) -> int:
    """Print the wrapper table for the Go tree at ``argv[0]`` (GOROOT) and GOARCH ``argv[1]``
    (default amd64) as JSON."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2) or (len(args) == 2 and args[1] not in LIBSECCOMP_ARCH):
        print("usage: python -m seccompgen.inspect._gosource GOROOT [amd64|arm64]", file=sys.stderr)
        return 2
    goarch = args[1] if len(args) == 2 else "amd64"
    json.dump(wrappers(Path(args[0]), goarch), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
