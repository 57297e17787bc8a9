"""The injected tracer bundle: strace with its shared libraries and dynamic loader, self-contained.

Images built ``FROM scratch`` or on distroless bases hold a static service and nothing else: no
shell, no libc, no loader. To trace such a service inside its own container, strace is copied
in together with every shared library ``ldd`` reports for it and the ELF interpreter, and is
started *through* that loader. ld.so(8) can be run as a program: ``ld.so [--library-path PATH]
PROGRAM [ARGS]`` loads PROGRAM with libraries looked up in PATH first, so neither the image's
``/lib`` nor its ``PT_INTERP`` path has to exist:

    /.seccompgen/ld-linux-x86-64.so.2 --library-path /.seccompgen/lib /.seccompgen/strace ...

strace then ``execve``s the target itself (strace(1)); the target being static, it needs nothing
from the bundle.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from seccompgen.errors import TracerError

#: Where the bundle is mounted inside the traced container.
DEFAULT_MOUNT = "/.seccompgen"


@dataclass(frozen=True, slots=True)
class LddResult:
    """What ``ldd`` said about a program: its ELF interpreter and the libraries it loads.

    ``loader`` is None for a static program. ``libraries`` are absolute host paths, in ``ldd``
    order, without the vDSO (the kernel maps it; there is no file).
    """

    loader: Path | None
    libraries: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class StraceBundle:
    """A bundle directory on the host and the command that starts its strace in a container.

    - ``root``: the bundle directory (mount it at ``mount`` inside the container).
    - ``strace``: the copied strace; ``loader``: the copied dynamic loader (None if strace is
      static); ``libraries``: the copied shared libraries under ``root/lib``.
    - ``argv_prefix``: the command, as seen inside the container, that runs strace; append
      strace's options and the target's argv.
    """

    root: Path
    mount: str
    strace: Path
    loader: Path | None
    libraries: tuple[Path, ...]
    argv_prefix: tuple[str, ...]


# ldd(1) output, one of:
#   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f...)
#   \t/lib64/ld-linux-x86-64.so.2 (0x00007f...)
#   \tlinux-vdso.so.1 (0x00007ff...)
#   \tlibfoo.so.1 => not found
#   \tstatically linked           (or "not a dynamic executable" on stderr, exit 1)
_ARROW = re.compile(r"^\s*(\S+)\s+=>\s+(.*?)\s*(?:\(0x[0-9a-fA-F]+\))?\s*$")
_BARE = re.compile(r"^\s*(/\S+)\s+\(0x[0-9a-fA-F]+\)\s*$")


def parse_ldd(text: str, *, program: str = "program") -> LddResult:
    """Parse ``ldd`` output. Pure; raises :class:`TracerError` for a library "not found"."""
    loader: Path | None = None
    libs: list[Path] = []
    missing: list[str] = []
    for line in text.splitlines():
        if m := _ARROW.match(line):
            name, target = m.group(1), m.group(2)
            if target == "not found":
                missing.append(name)
            elif target.startswith("/"):
                libs.append(Path(target))
            # "name => (0x...)" with no path is the vDSO on some systems: no file to copy.
        elif m := _BARE.match(line):
            # An absolute path with no "=>" is the ELF interpreter (PT_INTERP).
            loader = Path(m.group(1))
    if missing:
        raise TracerError(
            f"{program} needs shared libraries that are not installed: {', '.join(missing)}",
            hint="reinstall the package that provides it (e.g. apt-get install --reinstall strace)",
        )
    libs = [p for p in libs if loader is None or p != loader]
    return LddResult(loader=loader, libraries=tuple(libs))


def run_ldd(program: Path) -> LddResult:
    """Run ``ldd`` on ``program`` and parse its output."""
    ldd = shutil.which("ldd")
    if ldd is None:
        raise TracerError(
            "ldd not found on PATH", hint="install libc-bin (apt-get install libc-bin)"
        )
    try:
        proc = subprocess.run(
            [ldd, str(program)], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise TracerError(f"cannot run ldd on {program}: {e}") from e
    out = proc.stdout + proc.stderr
    # A static program: ldd says so and exits 1 (glibc's ldd); there is nothing to bundle.
    if "not a dynamic executable" in out or "statically linked" in out:
        return LddResult(loader=None, libraries=())
    if proc.returncode != 0:
        raise TracerError(f"ldd {program} failed (exit {proc.returncode}): {out.strip()}")
    return parse_ldd(proc.stdout, program=str(program))


def bundle_argv_prefix(
    loader_name: str | None, strace_name: str = "strace", mount: str = DEFAULT_MOUNT
) -> tuple[str, ...]:
    """The in-container command that starts the bundled strace (through the loader if any)."""
    m = PurePosixPath(mount)
    if loader_name is None:
        return (str(m / strace_name),)
    return (str(m / loader_name), "--library-path", str(m / "lib"), str(m / strace_name))


def build_strace_bundle(
    dest: Path, *, strace: Path | None = None, mount: str = DEFAULT_MOUNT
) -> StraceBundle:
    """Copy strace (``strace`` or the one on PATH), its libraries and its loader into ``dest``.

    ``dest`` is created if needed; files already there are replaced. Symbolic links are
    resolved: each library is stored under the name the loader looks for (the name ``ldd``
    printed, i.e. its ``DT_NEEDED`` soname), and the loader under its own name.
    """
    if strace is None:
        found = shutil.which("strace")
        if found is None:
            raise TracerError(
                "strace not found on PATH", hint="install strace (apt-get install strace)"
            )
        strace = Path(found)
    strace = Path(strace)
    if not strace.is_file():
        raise TracerError(f"{strace} does not exist")
    deps = run_ldd(strace)

    dest = Path(dest)
    libdir = dest / "lib"
    libdir.mkdir(parents=True, exist_ok=True)
    bundled_strace = dest / "strace"
    _copy(strace, bundled_strace)
    copied: list[Path] = []
    for lib in deps.libraries:
        target = libdir / lib.name
        _copy(lib, target)
        copied.append(target)
    bundled_loader: Path | None = None
    if deps.loader is not None:
        bundled_loader = dest / deps.loader.name
        _copy(deps.loader, bundled_loader)
    return StraceBundle(
        root=dest,
        mount=mount,
        strace=bundled_strace,
        loader=bundled_loader,
        libraries=tuple(copied),
        argv_prefix=bundle_argv_prefix(
            bundled_loader.name if bundled_loader else None, bundled_strace.name, mount
        ),
    )


def _copy(src: Path, dst: Path) -> None:
    # copy2 follows symlinks by default, so dst is a regular file with src's mode: the loader
    # and strace stay executable.
    try:
        if dst.exists() or dst.is_symlink():
            dst.unlink()
        shutil.copy2(src, dst)
    except OSError as e:
        raise TracerError(f"cannot copy {src} into the strace bundle at {dst}: {e.strerror}") from e
