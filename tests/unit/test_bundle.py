"""The strace bundle: ldd parsing (pure) and a real bundle of this machine's strace."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from _rules import missing_tool

from seccompgen.containers.bundle import (
    LddResult,
    build_strace_bundle,
    bundle_argv_prefix,
    parse_ldd,
)
from seccompgen.errors import TracerError

# Output of `ldd /usr/bin/strace` on Debian 12 (strace 6.1), addresses as ldd prints them.
LDD_STRACE = """\
\tlinux-vdso.so.1 (0x00007ffd2b5f3000)
\tlibunwind-ptrace.so.0 => /lib/x86_64-linux-gnu/libunwind-ptrace.so.0 (0x00007f3a4e1ab000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3a4dc1e000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f3a4e1c4000)
"""


def test_parse_ldd_finds_loader_and_libraries_but_not_the_vdso() -> None:
    assert parse_ldd(LDD_STRACE) == LddResult(
        loader=Path("/lib64/ld-linux-x86-64.so.2"),
        libraries=(
            Path("/lib/x86_64-linux-gnu/libunwind-ptrace.so.0"),
            Path("/lib/x86_64-linux-gnu/libc.so.6"),
        ),
    )


def test_parse_ldd_reports_missing_libraries() -> None:
    text = LDD_STRACE + "\tlibgone.so.3 => not found\n"
    with pytest.raises(TracerError, match=r"libgone\.so\.3"):
        parse_ldd(text, program="/usr/bin/strace")


def test_parse_ldd_of_a_static_program_is_empty() -> None:
    assert parse_ldd("\tstatically linked\n") == LddResult(loader=None, libraries=())


def test_argv_prefix_runs_strace_through_the_loader() -> None:
    assert bundle_argv_prefix("ld-linux-x86-64.so.2", "strace", "/.seccompgen") == (
        "/.seccompgen/ld-linux-x86-64.so.2",
        "--library-path",
        "/.seccompgen/lib",
        "/.seccompgen/strace",
    )
    assert bundle_argv_prefix(None, "strace", "/x") == ("/x/strace",)


@pytest.mark.strace
def test_bundle_of_this_machines_strace_runs_from_its_own_directory(tmp_path: Path) -> None:
    if shutil.which("strace") is None:
        missing_tool("strace is not installed")
    bundle = build_strace_bundle(tmp_path / "b", mount=str(tmp_path / "b"))
    assert bundle.loader is not None and bundle.loader.is_file()
    names = {p.name for p in bundle.libraries}
    assert "libc.so.6" in names
    assert all(p.parent == tmp_path / "b" / "lib" and p.is_file() for p in bundle.libraries)
    # Mounted where it was built, the prefix is a runnable command on the host too: the loader
    # finds libc and the rest in the bundle's lib/.
    proc = subprocess.run(
        [*bundle.argv_prefix, "-V"], capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("strace -- version ")


@pytest.mark.strace
def test_rebuilding_a_bundle_in_place_replaces_its_files(tmp_path: Path) -> None:
    if shutil.which("strace") is None:
        missing_tool("strace is not installed")
    first = build_strace_bundle(tmp_path)
    second = build_strace_bundle(tmp_path)
    assert first == second
    assert second.strace.stat().st_size == Path(shutil.which("strace") or "").stat().st_size


def test_missing_strace_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TracerError, match="does not exist"):
        build_strace_bundle(tmp_path, strace=tmp_path / "no-strace")
