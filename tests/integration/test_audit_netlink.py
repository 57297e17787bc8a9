"""The audit netlink listener against real programs under real seccomp LOG filters.

Needs root (CAP_AUDIT_READ) and Go. A missing
root skips on a developer's machine and fails under CI, like the other tool markers.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from _rules import missing_tool

from seccompgen.learn import LearnFilters, learn
from seccompgen.parsing.audit import AuditRecord, SeccompAction
from seccompgen.store import TraceStore
from seccompgen.tracing.audit import AuditListener, seccomp_logging_problem, split_netlink
from seccompgen.tracing.gobuild import build_go

PROGRAMS = Path(__file__).resolve().parent / "programs"
PROBE = PROGRAMS / "auditprobe"
LAUNCH = PROBE / "seccomp_launch.py"
CALLS = ("getppid", "getpgid", "sysinfo", "uname")


def _need_root() -> None:
    if os.geteuid() != 0:
        missing_tool("needs root (CAP_AUDIT_READ for the audit multicast group)")
    problem = seccomp_logging_problem()
    if problem:
        missing_tool(problem)


@pytest.fixture(scope="module")
def probe(go_toolchain: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    out = tmp_path_factory.mktemp("auditprobe")
    built: dict[str, Path] = {}

    def get(goarch: str) -> Path:
        if goarch not in built:
            built[goarch] = build_go(PROBE, out / goarch / "auditprobe", goarch=goarch)
        return built[goarch]

    return get


def _collect(
    listener: AuditListener, pid: int, expected: int, timeout: float = 5.0
) -> list[AuditRecord]:
    found: list[AuditRecord] = []
    deadline = time.monotonic() + timeout
    while len(found) < expected and time.monotonic() < deadline:
        found += [r for r in listener.records(0.2) if r.pid == pid]
    # Anything late would show up within a moment: read once more to prove there is no extra.
    found += [r for r in listener.records(0.3) if r.pid == pid]
    return found


def _launch(options: list[str], argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(LAUNCH), *options, "--", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.root
@pytest.mark.go
@pytest.mark.parametrize(("goarch", "arch"), [("amd64", "x86_64"), ("386", "x86")])
def test_listener_sees_exactly_the_logged_calls(
    probe: Callable[[str], Path], goarch: str, arch: str
) -> None:
    _need_root()
    binary = probe(goarch)
    # The second arch comes first: libseccomp adds rules to the arches the filter has then.
    options = (["--arch", "x86"] if goarch == "386" else []) + ["log=" + ",".join(CALLS)]
    with AuditListener() as listener:
        proc = _launch(options, [str(binary)])
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        expected = 5 if goarch == "386" else 4  # the 386 runtime calls uname at start-up
        records = _collect(listener, proc.pid, expected)
    assert listener.overruns == 0
    assert {r.name for r in records} == set(CALLS)
    counts = Counter(r.name for r in records)
    assert counts == Counter(
        {**dict.fromkeys(CALLS, 1), **({"uname": 2} if goarch == "386" else {})}
    )
    assert {(r.arch, r.action, r.comm, r.exe) for r in records} == {
        (arch, SeccompAction.LOG, "auditprobe", str(binary))
    }
    # The program's own output agrees: every call ran (LOG allows).
    assert "getppid: " in out and "uname: <nil>" in out


@pytest.mark.root
@pytest.mark.go
def test_pid_filter_and_unlogged_actions(probe: Callable[[str], Path]) -> None:
    _need_root()
    binary = str(probe("amd64"))
    with AuditListener(pids=set()) as quiet, AuditListener() as listener:
        # ERRNO without SECCOMP_FILTER_FLAG_LOG is not logged (seccomp(2)); with it, it is.
        silent = _launch(["errno=sysinfo"], [binary])
        silent.communicate(timeout=60)
        flagged = _launch(["--flag-log", "errno=sysinfo"], [binary])
        out, _ = flagged.communicate(timeout=60)
        assert "sysinfo: operation not permitted" in out
        flagged_records = _collect(listener, flagged.pid, 1)
        silent_records = [r for r in listener.records(0.3) if r.pid == silent.pid]
        assert quiet.drain() == [] and quiet.filtered >= 1
    assert silent_records == []
    assert [(r.name, r.action) for r in flagged_records] == [("sysinfo", SeccompAction.ERRNO)]


@pytest.mark.root
@pytest.mark.go
def test_learn_from_the_listener(probe: Callable[[str], Path], tmp_path: Path) -> None:
    _need_root()
    binary = str(probe("amd64"))
    with AuditListener(exes={binary}) as listener:
        proc = _launch(["log=" + ",".join(CALLS)], [binary])
        proc.communicate(timeout=60)
        records = _collect(listener, proc.pid, 4)
    store = TraceStore(tmp_path / "store")
    summary = learn(store, "probe", records, source="netlink", filters=LearnFilters())
    assert summary.new_names == tuple(sorted(CALLS))
    assert store.load_graph().syscalls(["probe"]) == sorted(CALLS)


@pytest.mark.root
def test_without_cap_audit_read_the_error_says_what_to_do() -> None:
    _need_root()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        missing_tool("setpriv is not on PATH (apt-get install util-linux)")
        return
    code = (
        "from seccompgen.errors import TracerError\n"
        "from seccompgen.tracing.audit import AuditListener\n"
        "try:\n    AuditListener().open()\nexcept TracerError as e:\n    print(e.explain())\n"
        "else:\n    print('opened')\n"
    )
    # Dropping audit_read from the bounding set removes it from root's capabilities at exec.
    proc = subprocess.run(
        [setpriv, "--bounding-set=-audit_read", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "CAP_AUDIT_READ" in proc.stdout and "hint:" in proc.stdout, proc.stdout


def test_split_netlink() -> None:
    def message(kind: int, text: bytes) -> bytes:
        body = struct.pack("=IHHII", 16 + len(text), kind, 0, 0, 0) + text
        return body + b"\0" * (-len(body) % 4)

    data = message(1326, b"audit(1.2:3): a=1") + message(1300, b"audit(1.2:4): b=2\0")
    assert split_netlink(data) == [(1326, "audit(1.2:3): a=1"), (1300, "audit(1.2:4): b=2")]
    assert split_netlink(data[:20]) == []  # a truncated message is not a message
    assert split_netlink(struct.pack("=IHHII", 3, 1326, 0, 0, 0)) == []


def test_seccomp_logging_problem(tmp_path: Path) -> None:
    path = tmp_path / "actions_logged"
    path.write_text("kill_process kill_thread trap errno user_notif trace log\n")
    assert seccomp_logging_problem(path) is None
    path.write_text("kill_process kill_thread\n")
    assert "'log' is not in" in (seccomp_logging_problem(path) or "")
    assert "missing" in (seccomp_logging_problem(tmp_path / "nope") or "")
