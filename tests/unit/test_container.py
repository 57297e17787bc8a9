"""The container backend's pure parts: the strace command, the missing-library check, the flags.

The image filesystem is a dict standing in for the engine's archive API (the edge); the engine
itself is exercised in tests/integration/test_container_trace.py.
"""

from __future__ import annotations

import os
import signal

import pytest
from click.testing import CliRunner

from seccompgen._cli import cli
from seccompgen.containers.container import OUT_MOUNT, ContainerTracer
from seccompgen.containers.engine import Plan, missing_libraries
from seccompgen.containers.processes import ContainerProcesses, _Proc
from seccompgen.tracing.backends.strace import STRACE_OPTIONS
from seccompgen.tracing.base import ContainerSpec
from seccompgen.tracing.elf import ElfInfo


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
    missing = missing_libraries(FakeFiles(set()), GLIBC_PROGRAM)  # type: ignore[arg-type]
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
    assert missing_libraries(files, GLIBC_PROGRAM) == []  # type: ignore[arg-type]
    files.paths.remove("/usr/lib/libselinux.so.1")
    assert missing_libraries(files, GLIBC_PROGRAM) == ["libselinux.so.1 => not found"]  # type: ignore[arg-type]


def plan(env: dict[str, str]) -> Plan:
    return Plan(
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
        "-D",  # the target keeps the container's first process: it is process 1
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


def test_the_traced_processes_are_process_1_and_below_it_without_strace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # host pid, pid in the container, parent's host pid, TracerPid
    members = [
        _Proc(100, 1, 50, 300),  # the target, process 1, traced by strace (300)
        _Proc(101, 2, 100, 300),  # a child of the target
        _Proc(300, 7, 100, 0),  # strace -D: a grandchild reparented to process 1
        _Proc(301, 8, 300, 0),  # a probe strace forked
        _Proc(400, 9, 60, 0),  # a docker exec'd shell: its parent is outside the container
    ]
    procs = ContainerProcesses(None, None, ContainerSpec())
    procs.init_pid = 100
    monkeypatch.setattr(procs, "members", lambda: members)
    ours, theirs = procs._split()
    assert sorted(p.host_pid for p in ours) == [100, 101]
    assert sorted(p.host_pid for p in theirs) == [300, 301]
    assert procs.host_pid(1) == 100 and procs.host_pid(2) == 101
    assert procs.host_pid(7) is None and procs.host_pid(9) is None
    assert procs.target_alive(1) and procs.tracees_running()
    killed: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: killed.append((pid, sig)))
    procs.kill_tracees()
    # Process 1 last: its end takes the rest of the namespace, strace included, with it.
    assert killed == [(101, signal.SIGKILL), (100, signal.SIGKILL)]
    killed.clear()
    procs.signal_target(1, signal.SIGTERM)
    assert killed == [(100, signal.SIGTERM)]


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
