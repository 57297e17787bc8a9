"""`seccompgen inspect`: a program read without running it, and checked against its traces."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from seccompgen._cli import cli

HELLO = Path(__file__).parent / "data" / "hello.strace"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_a_text_file_is_a_clear_error(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    code, out = run("inspect", str(notes))
    assert code == 1
    assert "notes.txt" in out and "not an ELF" in out and "Traceback" not in out


def test_a_non_go_elf() -> None:
    code, out = run("inspect", "/bin/ls")
    assert code == 0, out
    assert "not a Go binary" in out
    assert "dynamic" in out


@pytest.mark.go
def test_go_binary_against_a_workload(tmp_path: Path, build_example: Callable[[str], Path]) -> None:
    batch = build_example("batch")
    store = str(tmp_path / "store")
    assert run("import", str(HELLO), "-w", "hello", "--store", store)[0] == 0
    code, out = run(
        "inspect", str(batch), "--against", "hello", "--store", store, "--format", "json"
    )
    assert code == 0, out
    data = json.loads(out)
    observed = {w["syscall"] for w in data["unobserved"]}
    assert observed and observed <= set(data["reachable"])
    assert "openat" not in observed  # hello opened a file, so openat was seen
    code, text = run("inspect", str(batch), "--against", "hello", "--store", store)
    assert code == 0
    assert f"reachable but never seen in hello: {len(observed)}" in text
    code, text = run("inspect", str(batch), "--against", "nobody", "--store", store)
    assert code == 1 and "known workloads: hello" in text
