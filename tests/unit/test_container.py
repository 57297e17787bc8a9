"""The container backend's pure parts: the strace command, the missing-library check, the flags.

The image filesystem is a dict standing in for the engine's archive API (the edge); the engine
itself is exercised in tests/integration/test_container_trace.py.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from seccompgen._cli import cli
from seccompgen.tracing.container import (
    OUT_MOUNT,
    ContainerTracer,
    _missing_libraries,
    _Plan,
)
from seccompgen.tracing.elf import ElfInfo
from seccompgen.tracing.strace import STRACE_OPTIONS


class FakeFiles:
    def __init__(self, paths: set[str]) -> None:
        self.paths = paths

    def exists(self, path: str) -> bool:
        return path in self.paths


GLIBC_PROGRAM = ElfInfo(
    machine="x86_64",
    e_machine=62,
    bits=64,
    interpreter="/lib64/ld-linux-x86-64.so.2",
    needed=("libselinux.so.1", "libc.so.6"),
)


def test_scratch_image_lacks_loader_and_every_library() -> None:
    missing = _missing_libraries(FakeFiles(set()), GLIBC_PROGRAM)  # type: ignore[arg-type]
    assert missing == [
        "/lib64/ld-linux-x86-64.so.2 (the ELF interpreter, PT_INTERP) => not found",
        "libselinux.so.1 => not found",
        "libc.so.6 => not found",
    ]


def test_libraries_found_in_multiarch_and_plain_directories() -> None:
    files = FakeFiles(
        {
            "/lib64/ld-linux-x86-64.so.2",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/libselinux.so.1",
        }
    )
    assert _missing_libraries(files, GLIBC_PROGRAM) == []  # type: ignore[arg-type]
    files.paths.remove("/usr/lib/libselinux.so.1")
    assert _missing_libraries(files, GLIBC_PROGRAM) == ["libselinux.so.1 => not found"]  # type: ignore[arg-type]


def plan(env: dict[str, str]) -> _Plan:
    return _Plan(
        image="img",
        argv=("/app", "-addr", "127.0.0.1:1"),
        strace=("/.seccompgen/ld.so", "--library-path", "/.seccompgen/lib", "/.seccompgen/strace"),
        env=env,
        user="",
        workdir=None,
        volumes={},
    )


def test_strace_command_writes_to_the_mounted_output_and_unsets_tz_for_the_target() -> None:
    cmd = ContainerTracer._strace_command(plan({"PATH": "/bin"}))
    assert cmd[:4] == list(plan({}).strace)
    assert cmd[4 : 4 + len(STRACE_OPTIONS)] == list(STRACE_OPTIONS)
    rest = cmd[4 + len(STRACE_OPTIONS) :]
    assert rest == [
        "-E",
        "TZ",
        "-o",
        f"{OUT_MOUNT}/strace.out",
        "--",
        "/app",
        "-addr",
        "127.0.0.1:1",
    ]
    # An image that sets TZ keeps it for the target: no -E TZ.
    assert "-E" not in ContainerTracer._strace_command(plan({"TZ": "Europe/Paris"}))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/bin/true", "--network", "host"], "only with --container or --image"),
        (["/bin/true", "--exercise-in-container", "--exercise", "x"], "only with --container"),
        (["/bin/true", "-V", "/tmp:/data"], "only with --container or --image"),
        (["/bin/true", "--container", "--image", "x:1"], "exclude each other"),
        (["--container", "--network", "bridge"], "'bridge' is not one of"),
        (["--container"], "give TARGET"),
    ],
)
def test_trace_flags_are_usage_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["trace", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
