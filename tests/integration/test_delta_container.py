"""``trace --delta PROFILE --image/--container``: a container under a profile's LOG variant.

The known profile comes from a real trace of the same workload in a container (``trace
--image``, strace as the container's process 1), emitted with the local engine's runtime block
and the Go runtime's rare-path calls (``--go-runtime on``), so scheduling cannot add a name. A
delta run then starts the workload with ``docker run --security-opt seccomp=<LOG variant>``
while the test's load generator drives it from the host (``--network host``, 127.0.0.1), and the
misses come from the kernel's audit records. Needs root (the audit feed), Docker, Go and strace
(for the known trace). Every test checks that no container labelled by seccompgen is left.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _support import free_port, sg

from seccompgen.containers.image import LOCAL_BASE_IMAGE
from seccompgen.events import SyscallEvent
from seccompgen.store import TraceStore
from seccompgen.tracefile import TraceWriter, read_trace

pytestmark = [pytest.mark.docker, pytest.mark.go, pytest.mark.strace, pytest.mark.root]

# The call taken out of the profile: the service calls it once per connection the load opens
# (and at startup, where the first accept on the non-blocking listener returns EAGAIN).
REMOVED = "accept4"
# A call the runtime's init makes after loading the filter when no-new-privileges is off (it
# drops capabilities then); the workload never makes it.
RUNTIME_ONLY = "capset"
ABSENT = "seccompgen-test/absent:never"  # an image no test builds
MISS_LINE = re.compile(r"^  (\S+)\s+pid (\d+) \((.*)\)\s+(startup|exercise|shutdown)\s+x(\d+)$")


@dataclass(frozen=True)
class Service:
    """The HTTP service's image, the load generator, and the store of its known trace."""

    image: str
    loadgen: Path
    store: Path
    work: Path

    def run_args(self, stats: Path) -> tuple[str, ...]:
        """Options and arguments for one run: a fresh port, 1 s of load, stats to ``stats``."""
        port = free_port()
        load = f"{self.loadgen} -c 4 -d 1s http://127.0.0.1:{port}/healthz > {stats}"
        return ("--network", "host", "--exercise", load, "--", "-addr", f"127.0.0.1:{port}")


@pytest.fixture(scope="module")
def service(
    scratch_image: Callable[[Path], str],
    build_example: Callable[[str], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Service:
    work = tmp_path_factory.mktemp("delta-container")
    tag = scratch_image(build_example("httpservice"))
    svc = Service(tag, build_example("loadgen"), work / "store", work)
    known = sg(
        "trace", "--image", tag, "-w", "http", "--store", str(svc.store),
        *svc.run_args(work / "known.json"), cwd=work,
    )  # fmt: skip
    assert known.returncode == 0, known.stdout + known.stderr
    return svc


@pytest.fixture
def no_leftovers(service: Service, trace_containers: Callable[..., list[str]]) -> Iterator[None]:
    """Fail when a labelled container of this module's images exists after the test (none
    before): the service image, and the base image a host program runs in."""
    mine = (service.image, LOCAL_BASE_IMAGE, ABSENT)
    assert trace_containers(*mine) == [], "containers left by an earlier run"
    yield
    assert trace_containers(*mine) == []


def emit(store: Path, out: Path, cwd: Path) -> Path:
    proc = sg(
        "emit", "-w", "http", "--store", str(store), "--go-runtime", "on", "-o", str(out), cwd=cwd
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def allowed(profile: Path) -> set[str]:
    data = json.loads(profile.read_text())
    return {n for r in data["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}


def without(profile: Path, name: str, out: Path) -> Path:
    data = json.loads(profile.read_text())
    for rule in data["syscalls"]:
        if rule["action"] == "SCMP_ACT_ALLOW":
            rule["names"].remove(name)
    out.write_text(json.dumps(data, indent=2) + "\n")
    return out


def delta(
    svc: Service, profile: Path, stats: Path, *extra: str, store: Path | None = None
) -> subprocess.CompletedProcess[str]:
    proc = sg(
        "trace", "--delta", str(profile), "--image", svc.image, "-w", "http",
        "--store", str(store or svc.work / "unused-store"), *extra, *svc.run_args(stats),
        cwd=svc.work,
    )  # fmt: skip
    print(proc.stdout, proc.stderr)
    return proc


def misses(stdout: str) -> list[tuple[str, int, str, str, int]]:
    return [
        (m[1], int(m[2]), m[3], m[4], int(m[5]))
        for m in (MISS_LINE.match(line) for line in stdout.splitlines())
        if m
    ]


def served(stats: Path) -> int:
    """Requests the load generator completed; it fails on any error."""
    data = json.loads(stats.read_text())
    assert data["errors"] == 0, data
    return int(data["requests"])


def copy_without(src: Path, dst: Path, name: str) -> None:
    """The workload's traces in ``src`` rewritten into ``dst`` with every ``name`` call left
    out: the store of a known trace that never saw that call."""
    source, target = TraceStore(src), TraceStore(dst)
    for path in source.traces(["http"]):
        reader = read_trace(path)
        out = target.new_trace_path("http", reader.header.trace_id, path.name.split("-")[0])
        out.parent.mkdir(parents=True, exist_ok=True)
        with TraceWriter.create(out, reader.header) as writer:
            for event in reader:
                if not (isinstance(event, SyscallEvent) and event.name == name):
                    writer.write(event)
            for ts, phase in reader.boundaries:
                writer.add_boundary(ts, phase)
            writer.close(complete=reader.complete, reason=None)
        target.add_trace(out)


def test_full_profile_reports_nothing_new(service: Service, no_leftovers: None) -> None:
    full = emit(service.store, service.work / "full.json", service.work)
    stats = service.work / "full-stats.json"
    proc = delta(service, full, stats)
    assert proc.returncode == 0, proc.stderr
    assert f"no new syscalls: {full} covers everything the target did" in proc.stdout
    assert misses(proc.stdout) == [] and "runtime init" not in proc.stdout
    assert "target exit status: 0" in proc.stdout  # stopped cleanly on SIGTERM
    assert served(stats) > 0
    assert "not attributed" not in proc.stderr


def test_removed_call_is_reported_learned_and_then_covered(
    service: Service, no_leftovers: None, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    copy_without(service.store, store, REMOVED)
    first = emit(store, tmp_path / "first.json", tmp_path)
    assert REMOVED not in allowed(first) and allowed(first) == allowed(
        emit(service.store, tmp_path / "full.json", tmp_path)
    ) - {REMOVED}

    stats = tmp_path / "stats-1.json"
    proc = delta(service, first, stats, "--learn", store=store)
    assert proc.returncode == 0, proc.stderr
    found = misses(proc.stdout)
    # Exactly the removed call, from the workload's one process, and in the exercise phase
    # (one accept per connection the load opened), counted.
    assert {name for name, *_ in found} == {REMOVED}, proc.stdout
    assert {(pid, comm) for _, pid, comm, _, _ in found} == {(found[0][1], "app")}
    exercise = [count for _, _, _, phase, count in found if phase == "exercise"]
    assert exercise and exercise[0] >= 4, found
    # LOG never blocks: every request was served and the service stopped cleanly.
    assert served(stats) > 0 and "target exit status: 0" in proc.stdout
    assert "runtime init" not in proc.stdout
    kept = re.search(r"^kept as (\S+);", proc.stdout, re.M)
    assert kept, proc.stdout
    events = [e for e in read_trace(Path(kept[1])) if isinstance(e, SyscallEvent)]
    assert {e.name for e in events} == {REMOVED}
    assert len(events) == sum(count for *_, count in found)

    second = emit(store, tmp_path / "second.json", tmp_path)
    assert allowed(second) == allowed(first) | {REMOVED}
    again = delta(service, second, tmp_path / "stats-2.json", store=store)
    assert again.returncode == 0, again.stderr
    assert "no new syscalls" in again.stdout and misses(again.stdout) == []


def test_runtime_init_calls_are_reported_apart(
    service: Service, no_leftovers: None, tmp_path: Path
) -> None:
    full = emit(service.store, tmp_path / "full.json", tmp_path)
    assert RUNTIME_ONLY in allowed(full)  # from the runtime block, not the trace
    broken = without(full, RUNTIME_ONLY, tmp_path / f"no-{RUNTIME_ONLY}.json")
    store = tmp_path / "store"
    proc = delta(service, broken, tmp_path / "stats.json", "--learn", store=store)
    assert proc.returncode == 0, proc.stderr
    assert misses(proc.stdout) == [], proc.stdout  # not the workload's
    line = re.search(
        r"^runtime init \((.*)\) before exec, not the workload: (.*);", proc.stdout, re.M
    )
    assert line and line[1] == "runc:[2:INIT]" and line[2] == RUNTIME_ONLY, proc.stdout
    # --learn keeps the workload's misses only: the runtime's calls stay out of the store.
    kept = TraceStore(store).traces(["http"]) if store.exists() else []
    assert all(not any(isinstance(e, SyscallEvent) for e in read_trace(p)) for p in kept)


def test_host_program_in_the_base_image(
    service: Service, build_example: Callable[[str], Path], tmp_path: Path,
    base_image: str, no_leftovers: None,
) -> None:  # fmt: skip
    """``--container``: a host program, bind-mounted into the base image, run under the
    service's profile: what the batch job does beyond it (it writes a file and renames it into
    place) is reported, and the job still runs to its end."""
    full = emit(service.store, tmp_path / "full.json", tmp_path)
    assert "renameat" not in allowed(full)
    batch = build_example("batch")
    proc = sg(
        "trace", "--delta", str(full), "--container", str(batch), "--store", str(tmp_path / "s"),
        "--", "-in", "/etc/os-release", "-out", "/tmp/out.json", cwd=tmp_path,
    )  # fmt: skip
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr
    found = misses(proc.stdout)
    assert ("renameat", "startup") in {(n, ph) for n, _, _, ph, _ in found}, proc.stdout
    assert {comm for _, _, comm, _, _ in found} == {"batch"}
    assert "target exit status: 0" in proc.stdout


def test_exercise_in_container_is_not_the_workload(
    service: Service, build_example: Callable[[str], Path], tmp_path: Path,
    base_image: str, no_leftovers: None,
) -> None:  # fmt: skip
    """``docker exec`` processes run under the container's filter too; the shell and sleep
    of the exercise make calls the service's profile lacks, and none is reported."""
    first = tmp_path / "first.json"
    copy_without(service.store, tmp_path / "store", REMOVED)
    emit(tmp_path / "store", first, tmp_path)
    proc = sg(
        "trace", "--delta", str(first), "--container", str(build_example("httpservice")),
        "--exercise-in-container", "--exercise", "sleep 1 && echo exercised",
        "--store", str(tmp_path / "s"), "--", "-addr", f"127.0.0.1:{free_port()}", cwd=tmp_path,
    )  # fmt: skip
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr
    assert "exercised" in proc.stderr  # the exercise ran, in the container
    found = misses(proc.stdout)
    assert REMOVED in {name for name, *_ in found}, proc.stdout
    assert {comm for _, _, comm, _, _ in found} == {"httpservice"}, proc.stdout
    assert "not attributed" not in proc.stderr


def test_interrupt_leaves_nothing(
    service: Service,
    interrupt_in_container: Callable[[list[str], Path, float], Any],
    tmp_path: Path,
    no_leftovers: None,
) -> None:
    full = emit(service.store, tmp_path / "full.json", tmp_path)
    ended = interrupt_in_container(
        ["trace", "--delta", str(full), "--image", service.image, "--store", str(tmp_path / "s"),
         "--network", "host", "--duration", "120", "--", "-addr", f"127.0.0.1:{free_port()}"],
        tmp_path, 1.0,
    )  # fmt: skip
    assert ended.status == 130, ended.stderr
    assert "run INCOMPLETE (interrupted)" in ended.stderr


# ---------------------------------------------------------------------- bad input


def one_error(stderr: str) -> str:
    lines = [li for li in stderr.splitlines() if li.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_missing_profile(tmp_path: Path) -> None:
    proc = sg("trace", "--delta", str(tmp_path / "absent.json"), "--image", "x:1", cwd=tmp_path)
    assert proc.returncode == 1
    assert one_error(proc.stderr) == f"error: {tmp_path / 'absent.json'}: no such file"


def test_image_not_present_is_not_pulled(
    service: Service, docker_client: Any, tmp_path: Path, no_leftovers: None
) -> None:
    full = emit(service.store, tmp_path / "full.json", tmp_path)
    proc = sg("trace", "--delta", str(full), "--image", ABSENT, cwd=tmp_path)
    assert proc.returncode == 1
    assert "not present in the Docker engine" in one_error(proc.stderr)
    assert "never pulls" in proc.stderr
    assert docker_client.images.list(name="seccompgen-test/absent") == []


def test_engine_down(service: Service, tmp_path: Path) -> None:
    full = emit(service.store, tmp_path / "full.json", tmp_path)
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    proc = sg("trace", "--delta", str(full), "--image", service.image, cwd=tmp_path, env=env)
    assert proc.returncode == 1
    assert "unreachable" in one_error(proc.stderr)


def test_workload_that_fails_leaves_nothing(
    service: Service, tmp_path: Path, no_leftovers: None
) -> None:
    full = emit(service.store, tmp_path / "full.json", tmp_path)
    proc = sg(
        "trace", "--delta", str(full), "--image", service.image, "--store", str(tmp_path / "s"),
        "--", "-addr", "not-an-address", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr  # the run is complete; the workload failed
    assert re.search(r"^target exit status: [1-9]", proc.stdout, re.M), proc.stdout


def test_timeout_leaves_nothing(service: Service, tmp_path: Path, no_leftovers: None) -> None:
    full = emit(service.store, tmp_path / "full.json", tmp_path)
    start = time.monotonic()
    proc = sg(
        "trace", "--delta", str(full), "--image", service.image, "--timeout", "2",
        "--grace", "1", "--store", str(tmp_path / "s"),
        "--", "-addr", f"127.0.0.1:{free_port()}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "run INCOMPLETE (timeout)" in proc.stderr
    assert time.monotonic() - start < 60


def test_program_not_executable(tmp_path: Path) -> None:
    profile = tmp_path / "p.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_LOG", "syscalls": []}')
    proc = sg("trace", "--delta", str(profile), "--container", str(profile), cwd=tmp_path)
    assert proc.returncode == 1
    assert "not an executable file" in one_error(proc.stderr)
