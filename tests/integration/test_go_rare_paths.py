"""Every entry of the Go runtime safety net (``seccompgen/data/go-runtime.json``) is proven here.

Each entry's ``proof`` names the flag of ``examples/rarepaths`` that forces its path. The program
runs under the real strace backend, must report that the path happened (exit 0, ``NAME: ok``),
and the trace must hold every syscall the entry claims. A name the installed Go toolchain does not
make on that path is an error in the data, not in this test.

The arm64 entries (each entry's ``aarch64`` object) are proven the same way with the arm64 build
of rarepaths under qemu-user (``qemu-aarch64-static -strace``, the qemu backend), which logs the
calls the arm64 program itself makes.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from seccompgen.events import SignalEvent, SyscallEvent
from seccompgen.tracing.backends.qemu import QemuTracer
from seccompgen.tracing.gobuild import build_go

pytestmark = [pytest.mark.strace, pytest.mark.go, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "seccompgen" / "data" / "go-runtime.json"
PROGRAM = "examples/rarepaths"


def _entries() -> list[dict[str, Any]]:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    return [*data["entries"], *data.get("program_paths", [])]


def _flags(entry: dict[str, Any], arch: str = "x86_64") -> list[str]:
    """The rarepaths arguments of an entry's proof: ``examples/rarepaths -x, tests/...``."""
    proof = entry["proof"] if arch == "x86_64" else entry[arch]["proof"]
    command = proof.split(",")[0].strip()
    words = shlex.split(command)
    assert words and words[0] == PROGRAM, f"{entry['path']}: proof does not run {PROGRAM}"
    assert len(words) > 1, f"{entry['path']}: proof names no rarepaths flag"
    return words[1:]


def test_every_entry_has_a_proof_in_this_module() -> None:
    for entry in _entries():
        assert "proof" in entry, entry["path"]
        _flags(entry)
        assert f"tests/integration/{Path(__file__).name}" in entry["proof"], entry["path"]
        port = entry["aarch64"]
        assert port["source"], entry["path"]
        if "unproven" in port:  # said why, in the data and in docs/arm64.md
            assert "qemu-aarch64-static" in port["unproven"] and "proof" not in port
            continue
        _flags(entry, "aarch64")
        assert f"tests/integration/{Path(__file__).name}" in port["proof"], entry["path"]
        assert "qemu-aarch64-static" in port["proof"], entry["path"]


@pytest.mark.parametrize("entry", _entries(), ids=lambda e: e["path"])
def test_the_path_makes_every_claimed_syscall(
    entry: dict[str, Any],
    build_example: Callable[[str], Path],
    run_trace: Callable[..., Any],
    tmp_path: Path,
) -> None:
    binary = build_example("rarepaths")
    flags = _flags(entry)
    out = tmp_path / "rarepaths.out"
    run = run_trace([binary, *flags], timeout=60, stdout=out)
    assert run.outcome.complete, run.outcome.reason
    assert run.outcome.exit_code == 0, f"rarepaths {flags} failed: the path did not happen"
    step = flags[0].lstrip("-").split("=")[0]
    assert f"{step}: ok" in out.read_text(), "rarepaths did not report the path"
    seen = run.names()
    missing = sorted(set(entry["names"]) - seen)
    assert not missing, (
        f"{entry['path']}: rarepaths {' '.join(flags)} made no {', '.join(missing)} "
        f"(saw {', '.join(sorted(seen))})"
    )


def test_preemption_is_a_sigurg_sent_with_tgkill(
    build_example: Callable[[str], Path], run_trace: Callable[..., Any]
) -> None:
    run = run_trace([build_example("rarepaths"), "-preempt"], timeout=60)
    assert run.outcome.exit_code == 0
    signals = [e for e in run.events if isinstance(e, SignalEvent)]
    assert any(s.signal == "SIGURG" for s in signals), signals
    # tgkill(getpid(), tid, SIGURG): the third raw argument is SIGURG (23 on Linux).
    tgkills = [e for e in run.syscalls() if e.name == "tgkill"]
    assert any(len(e.args) == 3 and e.args[2] == 23 for e in tgkills), tgkills


def test_the_locked_thread_exits_with_exit_not_exit_group(
    build_example: Callable[[str], Path], run_trace: Callable[..., Any]
) -> None:
    run = run_trace([build_example("rarepaths"), "-lockexit"], timeout=60)
    assert run.outcome.exit_code == 0
    calls: list[SyscallEvent] = run.syscalls()
    exits = [e for e in calls if e.name == "exit"]
    assert exits and all(e.tid != e.pid for e in exits), exits


def test_a_run_without_flags_makes_none_of_the_rare_calls(
    build_example: Callable[[str], Path], run_trace: Callable[..., Any]
) -> None:
    """The paths, not the program's start, make the distinctive calls: a baseline run of the same
    binary has no thread exit, CPU-profiling timer or pidfd call."""
    run = run_trace([build_example("rarepaths")], timeout=60)
    assert run.outcome.exit_code == 0
    distinctive = {"exit", "setitimer", "timer_create", "timer_settime", "timer_delete"}
    distinctive |= {"pidfd_open", "pidfd_send_signal", "waitid"}
    assert not (run.names() & distinctive), run.names() & distinctive


@pytest.fixture(scope="module")
def rarepaths_arm64(go_toolchain: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/rarepaths built with GOARCH=arm64."""
    out = tmp_path_factory.mktemp("arm64") / "rarepaths"
    return build_go(REPO / PROGRAM, out, goarch="arm64")


@pytest.mark.qemu
@pytest.mark.parametrize(
    "entry",
    [e for e in _entries() if "unproven" not in e["aarch64"]],  # unproven: see the test above
    ids=lambda e: e["path"],
)
def test_the_arm64_path_makes_every_claimed_syscall(
    entry: dict[str, Any],
    rarepaths_arm64: Path,
    trace_with: Callable[..., Any],
    tmp_path: Path,
) -> None:
    flags = _flags(entry, "aarch64")
    out = tmp_path / "rarepaths.out"
    run = trace_with(QemuTracer("aarch64"), [rarepaths_arm64, *flags], timeout=120, stdout=out)
    assert run.outcome.complete, run.outcome.reason
    assert run.outcome.exit_code == 0, f"rarepaths {flags} failed under qemu: {out.read_text()}"
    step = flags[0].lstrip("-").split("=")[0]
    assert f"{step}: ok" in out.read_text(), "rarepaths did not report the path"
    assert {e.arch for e in run.syscalls()} == {"aarch64"}
    seen = run.names()
    claimed = entry["aarch64"].get("names", entry["names"])
    missing = sorted(set(claimed) - seen)
    assert not missing, (
        f"{entry['path']}: arm64 rarepaths {' '.join(flags)} made no {', '.join(missing)} "
        f"(saw {', '.join(sorted(seen))})"
    )
