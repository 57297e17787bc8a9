"""`trace --backend auto` and `trace --delta PROFILE [--learn]` through the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from _support import sg

pytestmark = [pytest.mark.go, pytest.mark.strace, pytest.mark.root]


def test_auto_says_which_backend_and_why(
    tmp_path: Path, build_example: Callable[[str], Path]
) -> None:
    batch = build_example("batch")
    (tmp_path / "in.txt").write_text("a b a\n")
    out = sg(
        "trace",
        str(batch),
        "-w",
        "b",
        "--backend",
        "auto",
        "--",
        "-in",
        "in.txt",
        "-out",
        "out.json",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "backend: " in out.stderr
    chosen = out.stderr.split("backend: ", 1)[1].split(":", 1)[0]
    assert chosen in {"ebpf", "strace", "ptrace"}


def test_known_profile_covering_the_run_finds_nothing_then_a_miss(
    tmp_path: Path, build_example: Callable[[str], Path]
) -> None:
    batch = build_example("batch")
    (tmp_path / "in.txt").write_text("a b a\n")
    run_args = ["--", "-in", "in.txt", "-out", "out.json"]
    assert sg("trace", str(batch), "-w", "b", *run_args, cwd=tmp_path).returncode == 0
    profile = tmp_path / "b.json"
    emitted = sg("emit", "-w", "b", "--runtime", "none", "-o", str(profile), cwd=tmp_path)
    assert emitted.returncode == 0, emitted.stderr
    same = sg("trace", str(batch), "-w", "again", "--delta", str(profile), *run_args, cwd=tmp_path)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "no new syscalls" in same.stdout

    # A profile without the call that writes the result: the delta run names it.
    data = json.loads(profile.read_text())
    [allow] = [r for r in data["syscalls"] if r["action"] == "SCMP_ACT_ALLOW"]
    allow["names"].remove("write")
    (tmp_path / "less.json").write_text(json.dumps(data))
    delta = ["trace", str(batch), "-w", "less", "--delta", "less.json"]
    missed = sg(*delta, *run_args, cwd=tmp_path)
    assert missed.returncode == 0, missed.stdout + missed.stderr
    assert "new syscall(s):" in missed.stdout
    assert "  write " in missed.stdout
    assert "rerun with --learn" in missed.stdout
    assert not (tmp_path / "traces" / "less").exists()  # reported, not learned

    learned = sg(*delta, "--learn", *run_args, cwd=tmp_path)
    assert learned.returncode == 0, learned.stdout + learned.stderr
    assert "seccompgen emit -w less" in learned.stdout
    graph = json.loads(sg("graph", "--format", "json", "-w", "less", cwd=tmp_path).stdout)
    assert set(graph["workloads"]["less"]["syscalls"]) == {"write"}
