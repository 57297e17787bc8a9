"""`python -m seccompgen.tracing.gobuild`: the entry point the demo script builds with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_usage_error_exits_2() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "seccompgen.tracing.gobuild"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 2
    assert "usage:" in out.stderr


def test_not_a_go_module_is_a_clear_error(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "seccompgen.tracing.gobuild", str(tmp_path), str(tmp_path / "x")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 1
    assert "not a Go module" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.go
def test_builds_a_static_example(tmp_path: Path) -> None:
    out = tmp_path / "batch"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "seccompgen.tracing.gobuild",
            str(REPO / "examples/batch"),
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    head = out.read_bytes()[:64]
    assert head[:4] == b"\x7fELF"
    # A static executable has no PT_INTERP; `file`-free check: the loader path is absent.
    assert b"ld-linux" not in out.read_bytes()
