"""The command line, end to end on recorded strace output (no tracer needed)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from seccompgen._cli import cli
from seccompgen.runtime import BUNDLED_DIR

DATA = Path(__file__).parent / "data"
HELLO = DATA / "hello.strace"

# Independent of the parser under test: the names strace printed, read with one regex.
_NAME = re.compile(r"^\d+\s+[\d.]+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]")


def names_in(path: Path) -> set[str]:
    found = set()
    for line in path.read_text().splitlines():
        m = _NAME.match(line)
        if m:
            found.add(m.group(1))
    return found


def run(*args: str, store: Path | None = None) -> tuple[int, str]:
    argv = list(args)
    if store is not None:
        argv += ["--store", str(store)]
    result = CliRunner().invoke(cli, argv)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "command",
    ["trace", "import", "emit", "validate", "graph", "diff", "learn", "inspect", "verify"],
)
def test_every_command_has_help_with_examples(command: str) -> None:
    code, out = run(command, "--help")
    assert code == 0
    assert "Examples:" in out
    assert f"seccompgen {command}" in out


def test_top_level_help_shows_the_workflow() -> None:
    code, out = run("--help")
    assert code == 0
    for command in ["trace", "import", "emit", "validate", "graph", "diff"]:
        assert command in out
    assert "--mode log" in out


def test_bad_flag_exits_2() -> None:
    code, out = run("emit", "--mode", "strict")
    assert code == 2
    assert "strict" in out


def test_bad_workload_name_exits_2(tmp_path: Path) -> None:
    code, out = run("import", str(HELLO), "--workload", "../evil", store=tmp_path)
    assert code == 2
    assert "../evil" in out


def test_import_emit_validate_round_trip(tmp_path: Path) -> None:
    store = tmp_path / "store"
    code, out = run("import", str(HELLO), "--workload", "hello", store=store)
    assert code == 0, out
    assert "seccompgen emit --workload hello --mode log" in out  # the next step is printed
    assert (store / "graph.json").is_file()
    assert len(list((store / "hello").glob("*.trace.jsonl"))) == 1

    enforce = tmp_path / "hello.json"
    code, out = run(
        "emit",
        "-w",
        "hello",
        "--runtime",
        "none",
        "--go-runtime",
        "off",
        "-o",
        str(enforce),
        store=store,
    )
    assert code == 0, out
    assert f"--security-opt seccomp={enforce.resolve()}" in out
    assert "type: Localhost" in out
    assert "localhostProfile: seccompgen/hello.json" in out
    profile = json.loads(enforce.read_text())
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert profile["defaultErrnoRet"] == 1
    assert profile["architectures"] == ["SCMP_ARCH_X86_64"]
    allow = [r for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW"]
    assert len(allow) == 1
    # The trace never saw exit, but every profile lets a process end.
    assert "exit" not in names_in(HELLO)
    assert allow[0]["names"] == sorted(names_in(HELLO) | {"exit"})
    assert "1 name(s) always allowed: a process must be able to end, not observed: exit" in out
    # Unobserved fallback probes (clone3, ...) answer ENOSYS; nothing else is listed.
    others = [r for r in profile["syscalls"] if r["action"] != "SCMP_ACT_ALLOW"]
    assert [(r["action"], r.get("errnoRet")) for r in others] == [("SCMP_ACT_ERRNO", 38)]
    assert "clone3" in others[0]["names"]
    assert not set(others[0]["names"]) & names_in(HELLO)
    assert "answer ENOSYS instead of EPERM" in out

    staging = tmp_path / "hello.log.json"
    code, out = run(
        "emit",
        "-w",
        "hello",
        "--mode",
        "log",
        "--runtime",
        "none",
        "--go-runtime",
        "off",
        "-o",
        str(staging),
        store=store,
    )
    assert code == 0, out
    log_profile = json.loads(staging.read_text())
    assert log_profile["defaultAction"] == "SCMP_ACT_LOG"
    assert "defaultErrnoRet" not in log_profile
    assert log_profile["syscalls"] == allow
    assert "seccompgen emit -w hello --mode enforce" in out

    code, out = run("validate", str(enforce), str(staging))
    assert code == 0, out
    assert out.count(": ok") == 2


def test_emit_is_deterministic_and_reimport_keeps_the_set(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert run("import", str(HELLO), "-w", "hello", store=store)[0] == 0
    first = tmp_path / "a.json"
    assert run("emit", "-w", "hello", "-o", str(first), store=store)[0] == 0
    assert run("import", str(HELLO), "-w", "hello", store=store)[0] == 0
    second = tmp_path / "b.json"
    assert run("emit", "-w", "hello", "-o", str(second), store=store)[0] == 0
    assert first.read_bytes() == second.read_bytes()
    assert first.read_text().endswith("}\n")


def test_graph_formats(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert run("import", str(HELLO), "-w", "hello", store=store)[0] == 0
    code, text = run("graph", store=store)
    assert code == 0 and "hello" in text and "openat" in text
    code, js = run("graph", "--format", "json", store=store)
    assert code == 0
    json.loads(js)
    code, dot = run("graph", "--format", "dot", store=store)
    assert code == 0 and dot.lstrip().startswith(("digraph", "strict digraph"))


def test_diff_against_docker_default(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert run("import", str(HELLO), "-w", "hello", store=store)[0] == 0
    out_path = tmp_path / "hello.json"
    assert (
        run(
            "emit",
            "-w",
            "hello",
            "--runtime",
            "none",
            "--go-runtime",
            "off",
            "-o",
            str(out_path),
            store=store,
        )[0]
        == 0
    )
    code, out = run("diff", str(out_path), "docker-default")
    assert code == 0, out
    n = len(names_in(HELLO) | {"exit"})
    m = re.search(r"allows (\d+) fewer syscalls than Docker's default \((\d+) vs (\d+)", out)
    assert m, out
    fewer, ours, docker = map(int, m.groups())
    assert ours == n
    assert fewer == docker - n and docker > 300
    assert " ptrace " in out  # Docker's default allows it; a traced hello does not
    code, short = run("diff", str(out_path), "docker-default", "--summary")
    assert code == 0, short
    assert f"only in docker-default: {fewer}; only in {out_path}: 0" in short
    assert m.group(0) in short
    assert "ptrace" not in short  # the name lists are left out


def test_not_strace_output_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text('9962  1795851491.470431 execve("./x", [], 0x0) = 0\nhello world\n')
    store = tmp_path / "store"
    code, out = run("import", str(bad), "-w", "x", store=store)
    assert code == 1
    assert f"{bad}:2" in out
    assert "Traceback" not in out
    assert not store.exists() or not list(store.rglob("*.trace.jsonl"))  # nothing stored
    assert not store.exists() or not list(store.rglob("*.tmp"))  # and no half-written file


def test_emit_without_traces_says_what_to_do(tmp_path: Path) -> None:
    code, out = run("emit", "-w", "nothing", store=tmp_path / "empty")
    assert code == 1
    assert "seccompgen trace" in out
    assert "Traceback" not in out


def test_emit_unknown_workload_lists_known_ones(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert run("import", str(HELLO), "-w", "hello", store=store)[0] == 0
    code, out = run("emit", "-w", "other", store=store)
    assert code == 1
    assert "other" in out and "known workloads: hello" in out


def test_verbose_shows_traceback(tmp_path: Path) -> None:
    code, out = run("-v", "emit", "-w", "nothing", store=tmp_path / "empty")
    assert code == 1
    assert "Traceback" in out


def test_validate_reports_each_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ERRNO",
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [
                    {"names": ["read", "read", "no_such_call"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["write"], "action": "SCMP_ACT_ERRNO"},
                ],
            }
        )
    )
    code, out = run("validate", str(bad))
    assert code == 1
    assert "no_such_call" in out
    assert "read" in out
    assert "SCMP_ACT_ERRNO" in out
    assert "Traceback" not in out


def test_validate_warns_about_a_profile_that_refuses_exit_group(tmp_path: Path) -> None:
    path = tmp_path / "noexit.json"
    rules = [{"names": ["read", "write", "exit", "openat"], "action": "SCMP_ACT_ALLOW"}]
    path.write_text(json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules}))
    code, out = run("validate", str(path))
    assert code == 0, out  # a warning, not a problem
    assert f"{path}: ok" in out
    assert f"  warning: {path}: $.syscalls: exit_group gets SCMP_ACT_ERRNO (errno 1)" in out


def test_validate_missing_file(tmp_path: Path) -> None:
    code, out = run("validate", str(tmp_path / "nope.json"))
    assert code == 1
    assert "nope.json" in out


def test_python_m_entry_point_reports_version(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "seccompgen", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("seccompgen, version ")


def test_import_strace_ff_files(tmp_path: Path) -> None:
    files = sorted((Path(__file__).resolve().parents[2] / "traces/recorded/go_ff").glob("go.*"))
    assert len(files) > 1
    store = tmp_path / "store"
    code, out = run("import", *map(str, files), "-w", "ff", store=store)
    assert code == 0, out
    expected: set[str] = set()
    call = re.compile(r"^[\d.]+ (?:<\.\.\. )?([a-z0-9_]+)[( ]")
    for f in files:
        for line in f.read_text().splitlines():
            m = call.match(line)
            if m:
                expected.add(m.group(1))
    code, js = run("graph", "--format", "json", "-w", "ff", store=store)
    assert code == 0
    assert set(json.loads(js)["workloads"]["ff"]["syscalls"]) == expected


def test_emit_merges_the_stored_runc_block(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert run("import", str(HELLO), "-w", "hello", store=store)[0] == 0
    out_path = tmp_path / "hello.json"
    code, out = run(
        "emit",
        "-w",
        "hello",
        "--runtime",
        "runc",
        "--go-runtime",
        "off",
        "-o",
        str(out_path),
        store=store,
    )
    assert code == 0, out
    blocks = sorted(BUNDLED_DIR.glob("runc-*-no-nnp.json"))
    assert blocks, "no bundled runc block"
    block_names = set(json.loads(blocks[-1].read_text())["syscalls"])
    profile = json.loads(out_path.read_text())
    [allow] = [r for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW"]
    assert set(allow["names"]) == names_in(HELLO) | block_names | {"exit"}
    from_runtime = sorted(block_names - names_in(HELLO))
    assert " ".join(from_runtime) in out


def test_emit_adds_the_go_runtime_safety_net(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert run("import", str(HELLO), "-w", "hello", store=store)[0] == 0
    out_path = tmp_path / "hello.json"
    args = ["emit", "-w", "hello", "--runtime", "none", "-o", str(out_path)]
    # An imported log names no program to inspect, so auto keeps the safety net.
    code, out = run(*args, store=store)
    assert code == 0, out
    [allow] = [
        r for r in json.loads(out_path.read_text())["syscalls"] if r["action"] == "SCMP_ACT_ALLOW"
    ]
    seen = names_in(HELLO)
    assert {"tgkill", "rt_sigreturn", "exit", "sched_yield"} <= set(allow["names"])
    assert "tgkill" not in seen
    assert "required by the Go runtime, not observed" in out
    assert "tgkill (asynchronous preemption)" in out
    added = set(allow["names"]) - seen
    code, out = run(*args, "--no-go-runtime", store=store)
    [allow] = [
        r for r in json.loads(out_path.read_text())["syscalls"] if r["action"] == "SCMP_ACT_ALLOW"
    ]
    assert set(allow["names"]) == seen | {"exit"} and added


def test_report_text_and_json(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert run("import", str(HELLO), "-w", "hello", store=store)[0] == 0
    code, out = run("report", "-w", "hello", "--runtime", "runc", "--go-runtime", "on", store=store)
    assert code == 0, out
    assert "hello" in out and "openat" in out
    assert "added for the container runtime" in out
    code, js = run("report", "-w", "hello", "--format", "json", store=store)
    assert code == 0
    assert json.loads(js)["format"] == "seccompgen.report"
    code, dot = run("report", "--format", "dot", store=store)
    assert code == 0 and "digraph" in dot


def test_probe_flags_are_checked_before_tracing(tmp_path: Path) -> None:
    code, out = run("trace", "/bin/true", "--probe", "http://10.1.2.3/")
    assert code == 2 and "--probe" in out
    code, out = run("trace", "/bin/true", "--probe", "http://127.0.0.1:1/", "--exercise", "true")
    assert code == 2
    code, out = run("trace", "/bin/true", "--probe-duration", "3")
    assert code == 2 and "needs --probe" in out
