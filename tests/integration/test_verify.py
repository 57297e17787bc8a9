"""``seccompgen verify`` on a real Docker engine: trace -> emit -> verify for every example.

Each example is traced on the host with strace (``seccompgen trace``), its enforce profile is
emitted with the local engine's runtime block (``--runtime auto``, the default) with and
without no-new-privileges, and verify runs it in a ``FROM scratch`` container with the profile
enforced. ``examples/rarepaths`` runs with every flag a Go safety-net entry's proof names, so
the trace and the verified run both take the runtime's rare paths (preemption, CPU profiling,
thread exit, a child process, a stopped and resumed sleep, ...). A profile with one needed call
removed must fail and name it; the staging loop (verify's staging run -> learn -> emit) must
repair a profile; an interrupted verify leaves no container or image; and the probe shows what
each generated profile and Docker's default let through, side by side.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _support import GO_SCHEDULING_DEPENDENT, free_port, probe_rows, sg

from seccompgen.verify import VERIFY_LABEL

pytestmark = [pytest.mark.docker, pytest.mark.go, pytest.mark.strace, pytest.mark.root]

EXAMPLES = ("httpservice", "batch", "threadonly")
SCHEDULING_DEPENDENT = GO_SCHEDULING_DEPENDENT
GO_RUNTIME_DATA = Path(__file__).resolve().parents[2] / "seccompgen" / "data" / "go-runtime.json"


def _rarepaths_flags() -> tuple[str, ...]:
    """Every ``examples/rarepaths`` flag the safety net's proofs name (``examples/rarepaths
    -profile, tests/...``), sorted: the program runs its paths in its own order."""
    data = json.loads(GO_RUNTIME_DATA.read_text(encoding="utf-8"))
    flags = set()
    for entry in [*data["entries"], *data.get("program_paths", [])]:
        words = entry["proof"].split(",")[0].split()
        assert words[0] == "examples/rarepaths", entry["path"]
        flags.update(words[1:])
    return tuple(sorted(flags))


RAREPATHS_FLAGS = _rarepaths_flags()
VERIFIED = (*EXAMPLES, "rarepaths")
"""The examples traced and verified; the probe test compares the first three only."""


def leftovers(client: Any) -> list[str]:
    containers = client.containers.list(all=True, filters={"label": VERIFY_LABEL})
    images = client.images.list(filters={"label": VERIFY_LABEL})
    return [f"container {c.name}" for c in containers] + [f"image {i.tags}" for i in images]


@dataclass(frozen=True)
class Case:
    """How to trace and how to verify one example."""

    name: str
    binary: Path
    trace_args: tuple[str, ...]  # options before `--` and the program's arguments after
    verify_args: tuple[str, ...]
    store: Path
    work: Path


@pytest.fixture(scope="module")
def cases(
    build_example: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Case]:
    """Each example traced once on the host into its own store."""
    loadgen = build_example("loadgen")
    out: dict[str, Case] = {}
    for name in VERIFIED:
        work = tmp_path_factory.mktemp(f"verify-{name}")
        binary = build_example(name)
        if name == "httpservice":
            port = free_port()
            load = f"{loadgen} -c 4 -d 1s http://127.0.0.1:{port}/healthz"
            trace_args: tuple[str, ...] = ("--exercise", load, "--", "-addr", f"127.0.0.1:{port}")
            verify_args: tuple[str, ...] = (
                "--network",
                "host",
                "--exercise",
                load,
                "--",
                "-addr",
                f"127.0.0.1:{port}",
            )
        elif name == "batch":
            data = work / "data"
            data.mkdir()
            (data / "in.txt").write_text("the quick brown fox jumps over the lazy dog the end\n")
            trace_args = ("--", "-in", str(data / "in.txt"), "-out", str(data / "traced.json"))
            verify_args = (
                "-V",
                f"{data}:/data",
                "--",
                "-in",
                "/data/in.txt",
                "-out",
                "/data/result.json",
            )
        elif name == "rarepaths":
            trace_args = ("--", *RAREPATHS_FLAGS)
            verify_args = trace_args
        else:
            trace_args = ()
            verify_args = ()
        store = work / "store"
        opts = list(trace_args)
        split = opts.index("--") if "--" in opts else len(opts)
        traced = sg(
            "trace",
            str(binary),
            "-w",
            name,
            "--store",
            str(store),
            *opts[:split],
            *opts[split:],
            cwd=work,
        )
        assert traced.returncode == 0, traced.stdout + traced.stderr
        out[name] = Case(name, binary, trace_args, verify_args, store, work)
    return out


def emit(case: Case, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    proc = sg(
        "emit", "-w", case.name, "--store", str(case.store), "-o", str(out), *extra, cwd=case.work
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def verify(
    profile: Path, case: Case, *extra: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    args = list(case.verify_args)
    split = args.index("--") if "--" in args else len(args)
    return sg(
        "verify",
        str(profile),
        str(case.binary),
        *extra,
        *args[:split],
        *args[split:],
        cwd=case.work,
        timeout=timeout,
    )


@pytest.mark.parametrize("nnp", [False, True], ids=["no-nnp", "nnp"])
@pytest.mark.parametrize("example", VERIFIED)
def test_trace_emit_verify_passes(
    cases: dict[str, Case], docker_client: Any, example: str, nnp: bool
) -> None:
    case = cases[example]
    flag = ("--no-new-privileges",) if nnp else ()
    profile = case.work / f"{example}-{'nnp' if nnp else 'no-nnp'}.json"
    emitted = emit(case, profile, *flag)
    assert "name(s) allowed for the runtime" in emitted.stdout, emitted.stdout
    proc = verify(profile, case, *flag)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^PASS: ", proc.stdout, re.M), proc.stdout
    if example == "httpservice":
        assert "stopped cleanly on SIGTERM" in proc.stdout
    else:
        assert "exited 0 on its own" in proc.stdout
    if example == "batch":
        result = json.loads((case.work / "data" / "result.json").read_text())
        assert result, result
    assert leftovers(docker_client) == []


@pytest.mark.parametrize("nnp", [False, True], ids=["no-nnp", "nnp"])
@pytest.mark.parametrize("example", VERIFIED)
def test_argument_rules_pass_verify_and_strict(
    cases: dict[str, Case], docker_client: Any, example: str, nnp: bool
) -> None:
    """``emit --args auto``: the same examples pass verify, and --strict (nothing the staging
    variant of the profile would log, argument rules included)."""
    case = cases[example]
    flag = ("--no-new-privileges",) if nnp else ()
    profile = case.work / f"{example}-args-{'nnp' if nnp else 'no-nnp'}.json"
    emitted = emit(case, profile, "--args", "auto", *flag)
    assert "arguments: clone: no namespace flags" in emitted.stdout, emitted.stdout
    assert any("args" in rule for rule in json.loads(profile.read_text())["syscalls"]), (
        "the profile has argument rules"
    )
    proc = verify(profile, case, *flag, "--strict")
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^PASS", proc.stdout, re.M), proc.stdout
    assert leftovers(docker_client) == []


def _without(profile: Path, name: str, out: Path) -> Path:
    data = json.loads(profile.read_text())
    for rule in data["syscalls"]:
        if rule["action"] == "SCMP_ACT_ALLOW":
            assert name in rule["names"], (name, rule["names"])
            rule["names"].remove(name)
    out.write_text(json.dumps(data, indent=2) + "\n")
    return out


def test_removed_workload_syscall_fails_and_is_named(
    cases: dict[str, Case], docker_client: Any
) -> None:
    case = cases["threadonly"]
    full = case.work / "full.json"
    emit(case, full)
    broken = _without(full, "sysinfo", case.work / "no-sysinfo.json")
    proc = verify(broken, case)
    print(proc.stdout)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"^FAIL: ", proc.stdout, re.M) and "exited with status 1" in proc.stdout
    denied = re.findall(r"^  (\S+)\s+(runtime init before exec|workload):", proc.stdout, re.M)
    # sysinfo, plus at most a call the Go scheduler makes in some runs only (one trace can miss
    # it; verify finding it is the point).
    assert ("sysinfo", "workload") in denied, proc.stdout
    assert {p for _, p in denied} == {"workload"}, proc.stdout
    assert {n for n, _ in denied} - {"sysinfo"} <= SCHEDULING_DEPENDENT, proc.stdout
    assert "seccompgen learn --from" in proc.stdout
    assert leftovers(docker_client) == []


def test_removed_runtime_syscall_stops_the_start_and_is_named(
    cases: dict[str, Case], docker_client: Any
) -> None:
    case = cases["threadonly"]
    full = case.work / "full-rt.json"
    emit(case, full)
    # capset: runc's init drops capabilities after loading the filter when no-new-privileges
    # is off; the workload never calls it.
    broken = _without(full, "capset", case.work / "no-capset.json")
    proc = verify(broken, case)
    print(proc.stdout)
    assert proc.returncode == 1
    assert "the container did not start" in proc.stdout, proc.stdout
    denied = re.findall(r"^  (\S+)\s+(runtime init before exec|workload):", proc.stdout, re.M)
    assert [d for d in denied if d[1] != "workload"] == [("capset", "runtime init before exec")]
    assert {n for n, p in denied if p == "workload"} <= SCHEDULING_DEPENDENT, proc.stdout
    assert "comm=runc:[2:INIT]" in proc.stdout
    assert "seccompgen emit --workload no-capset --runtime runc" in proc.stdout
    assert leftovers(docker_client) == []


def test_staging_miss_then_learn_and_emit_passes(
    cases: dict[str, Case], docker_client: Any, tmp_path: Path
) -> None:
    case = cases["threadonly"]
    log = tmp_path / "threadonly.strace"
    subprocess.run(
        ["strace", "-f", "-ttt", "-o", str(log), str(case.binary)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    missing = tmp_path / "missing.strace"
    missing.write_text(
        "".join(li for li in log.read_text().splitlines(True) if "sysinfo" not in li)
    )
    store = tmp_path / "store"
    imported = sg("import", str(missing), "-w", "thr", "--store", str(store), cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    profile = tmp_path / "thr.json"
    first = sg("emit", "-w", "thr", "--store", str(store), "-o", str(profile), cwd=tmp_path)
    assert first.returncode == 0
    failed = sg("verify", str(profile), str(case.binary), cwd=tmp_path)
    assert failed.returncode == 1, failed.stdout
    records = tmp_path / "thr.denied.audit"
    assert records.is_file(), failed.stdout
    learned = sg("learn", "--from", str(records), "-w", "thr", "--store", str(store), cwd=tmp_path)
    assert learned.returncode == 0, learned.stdout + learned.stderr
    assert "new for thr: sysinfo" in learned.stdout, learned.stdout
    again = sg("emit", "-w", "thr", "--store", str(store), "-o", str(profile), cwd=tmp_path)
    assert again.returncode == 0
    passed = sg("verify", str(profile), str(case.binary), cwd=tmp_path)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert leftovers(docker_client) == []


def test_interrupted_verify_leaves_nothing(cases: dict[str, Case], docker_client: Any) -> None:
    case = cases["httpservice"]
    profile = case.work / "interrupt.json"
    emit(case, profile)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seccompgen",
            "verify",
            str(profile),
            str(case.binary),
            "--network",
            "host",
            "--duration",
            "120",
            "--",
            "-addr",
            f"127.0.0.1:{port}",
        ],
        cwd=case.work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        running: list[Any] = []
        while not running and time.monotonic() < deadline:
            running = docker_client.containers.list(filters={"label": VERIFY_LABEL})
            time.sleep(0.1)
        assert running, "the verify container never ran"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert leftovers(docker_client) == []


# ---------------------------------------------------------------------- the probe in Docker


def _probe_verdicts(
    client: Any, image: str, profile_json: str | None
) -> dict[str, tuple[str, str]]:
    rows = probe_rows(client, image, profile_json)
    return {r["syscall"]: (r["errno"], r["verdict"]) for r in rows}


def test_probe_in_docker_under_generated_profiles_and_docker_default(
    cases: dict[str, Case],
    docker_client: Any,
    build_example: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    from seccompgen.verify import build_scratch_image, log_everything_profile

    probe = build_example("probe")
    # The probe's harness (Go runtime, temporary directory, thread locking) without the
    # dangerous calls, traced on the host, is added to each example's profile so the probe can
    # run under it; the dangerous calls stay exactly as each example's profile has them.
    store = tmp_path / "store"
    dry = sg(
        "trace", str(probe), "-w", "harness", "--store", str(store), "--", "-dry", cwd=tmp_path
    )
    assert dry.returncode == 0, dry.stderr
    tag = build_scratch_image(docker_client, probe, "probe-test")
    try:
        # Docker's default capabilities, every call allowed and logged: what can reach the
        # kernel in a default container at all.
        baseline = _probe_verdicts(docker_client, tag, log_everything_profile())
        reachable = sorted(n for n, (_, v) in baseline.items() if v == "allowed")
        assert reachable, baseline
        docker = _probe_verdicts(docker_client, tag, None)
        columns: dict[str, dict[str, tuple[str, str]]] = {}
        for name in EXAMPLES:
            case = cases[name]
            shutil.copytree(case.store / name, store / name, dirs_exist_ok=True)
            (store / "graph.json").unlink(missing_ok=True)
            profile = tmp_path / f"{name}+harness.json"
            own = tmp_path / f"{name}.json"
            emit(case, own)
            allowed_own = {
                n
                for r in json.loads(own.read_text())["syscalls"]
                if r["action"] == "SCMP_ACT_ALLOW"
                for n in r["names"]
            }
            assert not allowed_own & set(baseline), (name, allowed_own & set(baseline))
            proc = sg(
                "emit",
                "-w",
                name,
                "-w",
                "harness",
                "--store",
                str(store),
                "-o",
                str(profile),
                cwd=tmp_path,
            )
            assert proc.returncode == 0, proc.stderr
            columns[name] = _probe_verdicts(docker_client, tag, profile.read_text())
    finally:
        docker_client.images.remove(tag, force=True)

    header = f"{'syscall':<18} {'log-all':<10} " + " ".join(f"{n:<12}" for n in columns)
    lines = [header + " docker-default"]
    for call in sorted(baseline):
        lines.append(
            f"{call:<18} {baseline[call][0]:<10} "
            + " ".join(f"{columns[n][call][0]:<12}" for n in columns)
            + f" {docker[call][0]}"
        )
    docker_allowed = [n for n in reachable if docker[n][1] == "allowed"]
    lines.append(
        f"reachable in a default container: {len(reachable)}; allowed by every generated "
        f"profile: 0; allowed by Docker's default profile: {len(docker_allowed)} "
        f"({' '.join(docker_allowed)})"
    )
    print("\n" + "\n".join(lines))
    for name, verdicts in columns.items():
        assert {n: verdicts[n] for n in reachable if verdicts[n][1] != "denied"} == {}, name
    assert docker_allowed, "Docker's default profile was expected to let some through"
