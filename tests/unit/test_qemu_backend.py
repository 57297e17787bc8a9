"""The qemu backend's command line and checks, and ``trace --emulate``'s refusals (no qemu run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from seccompgen._cli import cli
from seccompgen.errors import TracerError
from seccompgen.registry import emulated_arches, get_emulating_tracer
from seccompgen.tracing.backends.qemu import QemuTracer, check_program
from seccompgen.tracing.base import TraceRequest


def _fake_qemu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fake = tmp_path / "bin" / "qemu-aarch64-static"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    return fake


def test_the_command_logs_the_guest_calls_to_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _fake_qemu(tmp_path, monkeypatch)
    tracer = QemuTracer("aarch64")
    assert tracer.unavailable_reason() is None
    request = TraceRequest(argv=("/srv/app", "-addr", "127.0.0.1:1"), workload="app")
    out = tmp_path / "q.strace"
    assert tracer.command(request, out) == [
        str(fake),
        "-strace",
        "-D",
        str(out),
        "/srv/app",
        "-addr",
        "127.0.0.1:1",
    ]


def test_a_missing_emulator_says_which_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = QemuTracer("aarch64").unavailable_reason()
    assert reason == (
        "qemu-aarch64-static not found on PATH; install qemu-user-static "
        "(apt-get install qemu-user-static)"
    )


def test_only_covered_architectures_are_emulated() -> None:
    assert emulated_arches() == ("aarch64",)
    assert get_emulating_tracer("aarch64").name == "qemu"
    with pytest.raises(TracerError, match="cannot emulate riscv64"):
        get_emulating_tracer("riscv64")


def test_a_program_of_another_architecture_is_refused_in_one_line() -> None:
    native = Path(os.path.realpath("/bin/sh"))
    with pytest.raises(TracerError) as e:
        check_program(native, "aarch64")
    message = str(e.value.message)
    assert message == (
        f"{native} is built for x86_64, not aarch64: --emulate aarch64 runs aarch64 programs "
        "only; trace it without --emulate"
    )
    assert "\n" not in message


def test_a_file_that_is_not_a_program_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a program\n")
    with pytest.raises(TracerError, match="not an ELF"):
        check_program(text, "aarch64")


def _trace(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["trace", *args])
    return result.exit_code, result.output


def test_trace_emulate_refuses_a_native_program(tmp_path: Path) -> None:
    code, out = _trace("--emulate", "aarch64", "--store", str(tmp_path / "st"), "/bin/true")
    assert code == 1, out
    assert "is built for x86_64, not aarch64: --emulate aarch64 runs aarch64 programs only" in out
    assert not (tmp_path / "st" / "true").exists()  # nothing recorded


def test_trace_emulate_excludes_the_container_backends() -> None:
    code, out = _trace("--emulate", "aarch64", "--container", "/bin/true")
    assert code == 2
    assert "--emulate runs TARGET on this host under qemu-user" in out
    code, out = _trace("--emulate", "x86_64", "/bin/true")
    assert code == 2
    assert "'x86_64' is not 'aarch64'" in out or "is not one of" in out
