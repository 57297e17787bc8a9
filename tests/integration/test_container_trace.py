"""Tracing inside containers (``--container``, ``--image``) against the real Docker engine.

Images are built locally through the SDK from tiny Dockerfiles (``FROM scratch`` needs no base
and nothing is pulled). Services listen on 127.0.0.1 only; containers use ``--network host``
(for an exercise on the host) or ``--network none``. Every test checks afterwards that no
container labelled by seccompgen is left, whatever way the run ended.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _support import GO_SCHEDULING_DEPENDENT, free_port
from _support import sg as seccompgen

from seccompgen.events import ExitEvent, Phase, SignalEvent, SyscallEvent
from seccompgen.tracefile import read_trace
from seccompgen.tracing.gobuild import build_go

pytestmark = [pytest.mark.docker, pytest.mark.go, pytest.mark.strace]

REPO = Path(__file__).resolve().parents[2]
# What an HTTP service does that a trace must show, wherever it runs.
SERVICE_CALLS = {"bind", "listen", "accept4", "epoll_ctl", "setsockopt", "getsockname"}
# Calls the Go runtime makes in some runs and not others (_support.GO_SCHEDULING_DEPENDENT).
SCHEDULING_DEPENDENT = GO_SCHEDULING_DEPENDENT


def trace_path(proc: subprocess.CompletedProcess[str]) -> Path:
    m = re.search(r"^trace .*-> (\S+)$", proc.stdout, re.MULTILINE)
    assert m, f"no trace path in the output:\n{proc.stdout}\n{proc.stderr}"
    return Path(m.group(1))


def build_image(client: Any, files: dict[str, Path], dockerfile: str, tag: str) -> str:
    """``docker build`` through the SDK from a tiny context; no network, nothing pulled."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for name, path in files.items():
            tar.add(path, arcname=name)
    buf.seek(0)
    client.images.build(
        fileobj=buf, custom_context=True, tag=tag, network_mode="none", pull=False, rm=True
    )
    return tag


@pytest.fixture(scope="module")
def images(
    docker_client: Any,
    build_example: Callable[[str], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, str]]:
    """Scratch images: the HTTP service; no entrypoint; a dynamic program; an arm64 program."""
    service = build_example("httpservice")
    suffix = uuid.uuid4().hex[:10]
    tags = {
        "http": f"seccompgen-test/http:{suffix}",
        "bare": f"seccompgen-test/bare:{suffix}",
        "dynamic": f"seccompgen-test/dynamic:{suffix}",
        "arm64": f"seccompgen-test/arm64:{suffix}",
    }
    build_image(
        docker_client, {"app": service}, 'FROM scratch\nCOPY app /app\nENTRYPOINT ["/app"]\n',
        tags["http"],
    )  # fmt: skip
    build_image(docker_client, {"app": service}, "FROM scratch\nCOPY app /app\n", tags["bare"])
    # /bin/true from this machine: dynamically linked against glibc, which scratch lacks.
    build_image(
        docker_client, {"true": Path("/bin/true")},
        'FROM scratch\nCOPY true /bin/true\nENTRYPOINT ["/bin/true"]\n', tags["dynamic"],
    )  # fmt: skip
    arm = tmp_path_factory.mktemp("arm64") / "httpservice"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOARCH", "arm64")  # build_go passes its environment to `go build`
        build_go(REPO / "examples" / "httpservice", arm)
    build_image(
        docker_client, {"app": arm}, 'FROM scratch\nCOPY app /app\nENTRYPOINT ["/app"]\n',
        tags["arm64"],
    )  # fmt: skip
    yield tags
    for tag in tags.values():
        docker_client.images.remove(tag, force=True)


def syscalls(path: Path) -> list[SyscallEvent]:
    return [e for e in read_trace(path) if isinstance(e, SyscallEvent)]


def service_run(
    tmp_path: Path, loadgen: Path, *target: str, extra: tuple[str, ...] = ()
) -> tuple[subprocess.CompletedProcess[str], Path]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = seccompgen(
        "trace", *target,
        "--network", "host", "--workload", "svc", "--store", str(tmp_path / "store"),
        "--exercise", f"{loadgen} -c 4 -n 400 {url}/healthz", "--grace", "5", *extra,
        "--", "-addr", f"127.0.0.1:{port}",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, trace_path(proc)


def check_service_trace(path: Path) -> set[str]:
    events = list(read_trace(path))
    calls = [e for e in events if isinstance(e, SyscallEvent)]
    # strace's own calls are not recorded: the first event is the target's execve, and the
    # target is the container's process 1, as it is when the container runs for real.
    assert calls[0].name == "execve"
    target = calls[0].pid
    assert target == 1
    names = {e.name for e in calls}
    assert names >= SERVICE_CALLS, SERVICE_CALLS - names
    assert {e.name for e in calls if e.phase is Phase.EXERCISE} >= {"accept4"}
    # The SIGTERM went to the service itself, which shut down by itself within the grace and
    # ended with exit_group (its status is the container's: "target exit status: 0"; strace
    # ends with process 1's pid namespace before it can write process 1's own exit line).
    assert any(isinstance(e, SignalEvent) and e.signal == "SIGTERM" for e in events)
    ends = [e for e in calls if e.name == "exit_group" and e.pid == target]
    assert ends and ends[0].phase is Phase.SHUTDOWN
    assert not [e for e in events if isinstance(e, ExitEvent) and e.signal is not None]
    footer = read_trace(path)
    list(footer)
    assert footer.footer is not None and footer.footer.complete
    return names


def test_image_trace_of_a_scratch_service_then_emit(
    tmp_path: Path,
    images: dict[str, str],
    build_example: Callable[[str], Path],
    no_leaked_containers: None,
) -> None:
    proc, path = service_run(tmp_path, build_example("loadgen"), "--image", images["http"])
    assert "in a container (network host)" in proc.stderr
    assert "target exit status: 0" in proc.stdout
    assert read_trace(path).header.backend == "container"
    check_service_trace(path)
    out = tmp_path / "svc.json"
    emitted = seccompgen("emit", "-w", "svc", "--store", str(tmp_path / "store"), "-o", str(out),
                         cwd=tmp_path)  # fmt: skip
    assert emitted.returncode == 0, emitted.stderr
    allowed = {n for rule in json.loads(out.read_text())["syscalls"] for n in rule["names"]}
    assert allowed >= SERVICE_CALLS
    assert seccompgen("validate", str(out), cwd=tmp_path).returncode == 0


def test_container_trace_of_a_host_binary(
    tmp_path: Path, base_image: str, build_example: Callable[[str], Path],
    no_leaked_containers: None,
) -> None:  # fmt: skip
    service = build_example("httpservice")
    proc, path = service_run(tmp_path, build_example("loadgen"), str(service), "--container")
    assert "seccompgen/tracer:" in proc.stderr  # built or reused
    assert "target exit status: 0" in proc.stdout
    check_service_trace(path)


def test_host_and_container_traces_of_the_same_binary_and_load(
    tmp_path: Path,
    images: dict[str, str],
    base_image: str,
    build_example: Callable[[str], Path],
    no_leaked_containers: None,
) -> None:
    loadgen = build_example("loadgen")
    service = build_example("httpservice")
    runs: dict[str, set[str]] = {}
    for label, target in (
        ("host", (str(service),)),
        ("image", ("--image", images["http"], "--network", "host")),
        ("container", (str(service), "--container", "--network", "host")),
    ):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = seccompgen(
            "trace", *target, "--workload", label, "--store", str(tmp_path / label),
            "--exercise", f"{loadgen} -c 4 -n 400 {url}/healthz",
            "--", "-addr", f"127.0.0.1:{port}", cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        runs[label] = {e.name for e in syscalls(trace_path(proc))}
    host = runs["host"]
    lines = []
    for label in ("image", "container"):
        other = runs[label]
        lines.append(
            f"host {len(host)}, {label} {len(other)}, common {len(host & other)}; "
            f"only host: {' '.join(sorted(host - other)) or '-'}; "
            f"only {label}: {' '.join(sorted(other - host)) or '-'}"
        )
    report = "\n".join(lines)
    print(report)
    for label, names in runs.items():
        assert names >= SERVICE_CALLS, (label, SERVICE_CALLS - names)
    # Same binary, same load: the sets may differ only in calls the Go scheduler makes or not
    # from run to run (docs/containers.md has the measurements), never in what the service does.
    for label in ("image", "container"):
        assert host ^ runs[label] <= SCHEDULING_DEPENDENT, report


def test_exercise_in_container_with_no_network(
    tmp_path: Path, base_image: str, build_example: Callable[[str], Path],
    no_leaked_containers: None,
) -> None:  # fmt: skip
    # The tracer image has /bin/sh and python3; the exercise reaches the service on the
    # container's own loopback (network none) and sees the target's pid in the container.
    service = build_example("httpservice")
    port = 18080
    script = (
        "import os, urllib.request as u; "
        f"print(u.urlopen('http://127.0.0.1:{port}/healthz').status, "
        "os.path.exists('/proc/' + os.environ['SECCOMPGEN_TARGET_PID']))"
    )
    proc = seccompgen(
        "trace", str(service), "--container", "--exercise-in-container", "--workload", "svc",
        "--store", str(tmp_path / "store"), "--ready-delay", "1",
        "--exercise", f"python3 -c \"{script}\"", "--", "-addr", f"127.0.0.1:{port}",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "200 True" in proc.stderr
    names = {e.name for e in syscalls(trace_path(proc)) if e.phase is Phase.EXERCISE}
    assert "accept4" in names


# ---------------------------------------------------------------------- ends and leaks


def test_process_1_without_a_handler_ignores_sigterm_and_is_killed_after_the_grace(
    tmp_path: Path, base_image: str, no_leaked_containers: None
) -> None:
    # coreutils sleep installs no SIGTERM handler: on the host SIGTERM kills it; as the
    # container's process 1 the kernel does not deliver it (pid_namespaces(7)), as under
    # `docker stop`, so the grace runs out and SIGKILL ends it (Docker reports 128 + 9).
    proc = seccompgen(
        "trace", "--image", base_image, "--store", str(tmp_path / "s"),
        "--duration", "1", "--grace", "2", "--", "sleep", "60", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "INCOMPLETE (killed)" in proc.stdout
    assert "target exit status: 137" in proc.stdout
    events = list(read_trace(trace_path(proc)))
    calls = [e for e in events if isinstance(e, SyscallEvent)]
    assert calls[0].name == "execve" and calls[0].pid == 1
    assert "exit_group" not in {e.name for e in calls}


def test_target_that_fails_leaves_nothing(
    tmp_path: Path, images: dict[str, str], no_leaked_containers: None
) -> None:
    proc = seccompgen(
        "trace", "--image", images["http"], "--store", str(tmp_path / "s"),
        "--", "-addr", "not-an-address", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr  # the trace is complete; the target failed
    assert re.search(r"target exit status: [1-9]", proc.stdout), proc.stdout
    assert syscalls(trace_path(proc))[0].name == "execve"


def test_missing_program_in_the_image_is_an_error_and_leaves_nothing(
    tmp_path: Path, images: dict[str, str], no_leaked_containers: None
) -> None:
    proc = seccompgen("trace", "--image", images["bare"], "--store", str(tmp_path / "s"),
                      "--", "/no/such/program", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 1
    assert "has no program /no/such/program" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_timeout_leaves_nothing(
    tmp_path: Path, images: dict[str, str], no_leaked_containers: None
) -> None:
    start = time.monotonic()
    proc = seccompgen(
        "trace", "--image", images["http"], "--timeout", "2", "--grace", "1",
        "--store", str(tmp_path / "s"), "--", "-addr", f"127.0.0.1:{free_port()}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "INCOMPLETE (timeout)" in proc.stdout
    assert time.monotonic() - start < 60
    names = {e.name for e in syscalls(trace_path(proc))}
    assert {"bind", "listen"} <= names


def test_interrupt_leaves_nothing(
    tmp_path: Path,
    images: dict[str, str],
    interrupt_in_container: Callable[[list[str], Path, float], Any],
    no_leaked_containers: None,
) -> None:
    ended = interrupt_in_container(
        ["trace", "--image", images["http"], "--store", str(tmp_path / "s"),
         "--", "-addr", f"127.0.0.1:{free_port()}"],
        tmp_path, 1.5,  # let the service start listening under strace
    )  # fmt: skip
    assert ended.status == 130, ended.stderr
    assert "INCOMPLETE (interrupted)" in ended.stdout
    events = list(read_trace(Path(re.search(r"-> (\S+)$", ended.stdout, re.M).group(1))))  # type: ignore[union-attr]
    assert any(isinstance(e, SignalEvent) and e.signal == "SIGTERM" for e in events)


# ---------------------------------------------------------------------- bad input


def test_image_not_present_is_not_pulled(tmp_path: Path, no_leaked_containers: None) -> None:
    proc = seccompgen("trace", "--image", "seccompgen-test/absent:never", cwd=tmp_path)
    assert proc.returncode == 1
    assert "not present in the Docker engine" in proc.stderr
    assert "never pulls" in proc.stderr and "docker load" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreachable_daemon_says_how_to_start_it(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    proc = seccompgen("trace", "--image", "anything:1", cwd=tmp_path, env=env)
    assert proc.returncode == 1
    assert "unreachable" in proc.stderr
    assert "scripts/docker-up.sh" in proc.stderr and "systemctl start docker" in proc.stderr


def test_image_without_entrypoint_or_cmd(
    tmp_path: Path, images: dict[str, str], no_leaked_containers: None
) -> None:
    proc = seccompgen("trace", "--image", images["bare"], cwd=tmp_path)
    assert proc.returncode == 1
    assert "has no ENTRYPOINT and no CMD" in proc.stderr


def test_dynamic_program_in_a_scratch_image_names_what_is_missing(
    tmp_path: Path, images: dict[str, str], no_leaked_containers: None
) -> None:
    proc = seccompgen("trace", "--image", images["dynamic"], cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "dynamically linked" in proc.stderr
    assert (
        "/lib64/ld-linux-x86-64.so.2 (the ELF interpreter, PT_INTERP) => not found" in proc.stderr
    )
    assert "libc.so.6 => not found" in proc.stderr


def test_program_for_another_architecture(
    tmp_path: Path, images: dict[str, str], no_leaked_containers: None
) -> None:
    proc = seccompgen("trace", "--image", images["arm64"], cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "is built for aarch64, but the Docker engine runs on x86_64" in proc.stderr


def test_exercise_in_container_needs_a_shell(
    tmp_path: Path, images: dict[str, str], no_leaked_containers: None
) -> None:
    proc = seccompgen("trace", "--image", images["http"], "--exercise", "true",
                      "--exercise-in-container", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "needs /bin/sh in the image" in proc.stderr


@pytest.mark.parametrize(
    "flags", [("--network", "host"), ("--exercise-in-container", "--exercise", "true")]
)
def test_container_flags_need_container_or_image(tmp_path: Path, flags: tuple[str, ...]) -> None:
    proc = seccompgen("trace", "/bin/true", *flags, cwd=tmp_path)
    assert proc.returncode == 2
    assert "only with --container or --image" in proc.stderr
