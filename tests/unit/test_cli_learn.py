"""`seccompgen learn --from FILE`: recorded audit logs fed back into a workload (no root needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from seccompgen._cli import cli
from seccompgen.syscalls import resolve_number

AUDIT = Path(__file__).resolve().parents[2] / "traces/recorded/audit"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def seccomp_names(path: Path) -> set[str]:
    """Names of the type=SECCOMP records, read independently of the parser under test."""
    names = set()
    for line in path.read_text().splitlines():
        if "type=SECCOMP" in line:
            number = int(re.search(r" syscall=(\d+)", line).group(1))  # type: ignore[union-attr]
            name = resolve_number("x86_64", number)
            if re.search(r" arch=c000003e ", line) and name:
                names.add(name)
    return names


def test_learn_from_auditd_log_then_again_adds_nothing(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    expected = seccomp_names(AUDIT / "audit.log")
    assert expected
    code, out = run("learn", "--from", str(AUDIT / "audit.log"), "-w", "staged", "--store", store)
    assert code == 0, out
    assert "seccompgen emit --workload staged --mode enforce" in out
    code, js = run("graph", "--format", "json", "-w", "staged", "--store", store)
    assert code == 0
    assert set(json.loads(js)["workloads"]["staged"]["syscalls"]) == expected
    graph_before = (tmp_path / "store" / "graph.json").read_bytes()

    code, out = run("learn", "--from", str(AUDIT / "audit.log"), "-w", "staged", "--store", store)
    assert code == 0, out
    assert "nothing new for staged" in out
    assert (tmp_path / "store" / "graph.json").read_bytes() == graph_before


def test_learn_from_dmesg_warns_about_dropped_records(tmp_path: Path) -> None:
    code, out = run(
        "learn", "--from", str(AUDIT / "dmesg.txt"), "-w", "k", "--store", str(tmp_path)
    )
    assert code == 0, out
    assert "suppressed" in out and "--listen" in out


def test_learn_filters_by_comm(tmp_path: Path) -> None:
    code, out = run(
        "learn",
        "--from",
        str(AUDIT / "audit.log"),
        "-w",
        "x",
        "--comm",
        "no-such-command",
        "--store",
        str(tmp_path),
    )
    assert code == 0, out
    assert "0 for x" in out and "nothing new for x" in out


def test_learn_needs_exactly_one_source(tmp_path: Path) -> None:
    assert run("learn", "-w", "x", "--store", str(tmp_path))[0] == 2
    both = run("learn", "-w", "x", "--from", "f", "--listen", "1", "--store", str(tmp_path))
    assert both[0] == 2
    assert run("learn", "-w", "x", "--from", "f", "--cgroup", "c")[0] == 2


def test_learn_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    code, out = run(
        "learn", "--from", str(tmp_path / "none.log"), "-w", "x", "--store", str(tmp_path)
    )
    assert code == 1
    assert "none.log" in out and "Traceback" not in out
