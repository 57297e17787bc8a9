"""One run of a workload in a Docker container under a profile, and the Docker plumbing around
it: the throwaway ``FROM scratch`` image, waiting for the exit, and telling a clean stop (or a Go
process 1's SIGTERM exit) from a failure."""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import struct
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final

from seccompgen.errors import TracerError
from seccompgen.verify.audit import RecordCollector
from seccompgen.verify.model import APP_PATH, POLL, VERIFY_LABEL, Log, RunResult, VerifyRequest

#: Exit statuses that count as a clean stop after SIGTERM: 0, or death by the signal itself
#: (128 + 15, how Docker reports it).
CLEAN_STOP: Final = (0, 128 + signal.SIGTERM)
#: How a Go program built before Go 1.27 ends on SIGTERM when it is its container's process 1
#: and has no handler of its own for it. The runtime's handler restores the default action and
#: re-raises the signal, which the kernel does not deliver to a pid namespace's init
#: (pid_namespaces(7)), and then gives up with exit(2) (runtime/signal_unix.go, dieFromSignal,
#: "If we are still somehow running, just exit with the wrong status"; from Go 1.27 it exits
#: 128 + the signal instead, which CLEAN_STOP covers). A Go panic exits 2 as well, but prints
#: "panic: " or "fatal error: " first (runtime/panic.go), so output with either is no clean stop.
GO_PID1_SIGTERM: Final = (2, (1, 27))
_GO_CRASH: Final = re.compile(r"^(?:panic: |fatal error: )", re.MULTILINE)


# ---------------------------------------------------------------------- docker plumbing


def engine_client(engine: str = "docker") -> Any:
    from seccompgen.containers.image import docker_client

    return docker_client(engine)


def build_scratch_image(client: Any, program: Path, run_id: str, *, path: str = APP_PATH) -> str:
    """A labelled ``FROM scratch`` image with ``program`` at ``path`` as its ENTRYPOINT."""
    import docker.errors  # type: ignore[import-untyped]

    if not program.is_file():
        raise TracerError(f"program {program} does not exist", hint="give the path to a program")
    if not os.access(program, os.X_OK):
        raise TracerError(f"program {program} is not executable (chmod +x {program})")
    dockerfile = (
        f'FROM scratch\nCOPY app {path}\nLABEL {VERIFY_LABEL}="{run_id}"\nENTRYPOINT ["{path}"]\n'
    ).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(str(program), arcname="app")
    buf.seek(0)
    tag = f"seccompgen-verify/{_tag_part(program.name)}:{run_id}"
    try:
        # No build cache: a cached COPY layer would be shared with other runs of the same
        # program, and their clean-up (images.remove with pruning) can delete it while this
        # build is about to use it ("failed to get digest"). forcerm: no intermediate container
        # is left behind when the build fails.
        client.images.build(
            fileobj=buf, custom_context=True, tag=tag, network_mode="none", pull=False,
            rm=True, forcerm=True, nocache=True,
        )  # fmt: skip
    except docker.errors.DockerException as e:
        raise TracerError(f"cannot build a scratch image for {program}: {e}") from e
    return tag


def _tag_part(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in name.lower()).strip("._-")
    return cleaned or "app"


def remove_image(client: Any, tag: str) -> None:
    import docker.errors

    with contextlib.suppress(docker.errors.DockerException):
        client.images.remove(tag, force=True, noprune=False)


def remove_container(container: Any) -> None:
    import docker.errors

    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt while inside, so cleanup runs as for Ctrl-C.

    Only in the main thread (signal(2) handlers can be set only there, Python ``signal``).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_sig: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@dataclass
class RunPlan:
    image: str
    command: list[str] | None
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)
    exe: str | None = None  # the workload's path inside the container


def run_container(
    client: Any,
    plan: RunPlan,
    profile_json: str,
    req: VerifyRequest,
    variant: str,
    run_id: str,
    collector: RecordCollector | None,
    log: Log,
) -> RunResult:
    """One run of the workload under ``profile_json``; the container is always removed."""
    import docker.errors

    from seccompgen.containers.podman import seccomp_option
    from seccompgen.tracing.host import start_host_exercise

    # HostConfig.Runtime, as `docker run --runtime`; unset, the engine uses its default.
    runtime: dict[str, Any] = {"runtime": req.runtime} if req.runtime is not None else {}
    try:
        with seccomp_option(client, profile_json) as seccomp:
            security = [seccomp]
            if req.no_new_privileges:
                security.append("no-new-privileges")
            container = client.containers.create(
                plan.image,
                command=plan.command,
                security_opt=security,
                network_mode=req.network,
                volumes=plan.volumes,
                labels={VERIFY_LABEL: run_id},
                detach=True,
                stdin_open=False,
                tty=False,
                **runtime,
            )
    except docker.errors.ImageNotFound as e:
        raise TracerError(
            f"the image {plan.image} is not present in the {req.engine} engine; nothing is pulled",
            hint=f"build it (`{req.engine} build -t {plan.image} .`) or load it "
            f"(`{req.engine} load`)",
        ) from e
    except docker.errors.DockerException as e:
        raise TracerError(f"cannot create a container of {plan.image}: {e}") from e
    exercise = None
    try:
        if collector is not None:
            collector.container_id = container.id
        on = f", runtime {req.runtime}" if req.runtime is not None else ""
        log(f"{variant}: starting {plan.image} (network {req.network}{on})")
        try:
            container.start()
        except docker.errors.APIError as e:
            # The runtime failed before or while exec'ing the workload: with a seccomp profile
            # that is a call of the runtime's init refused after the filter was loaded.
            return RunResult(
                variant,
                started=False,
                failure=f"the container did not start: {e.explanation or e}",
                stopped="never started",
                logs=_logs(container),
            )
        end = time.monotonic() + req.timeout
        if collector is not None:
            # A short job can be gone before its records are read; its pid and exe still place
            # them (see RecordCollector).
            with contextlib.suppress(docker.errors.DockerException):
                container.reload()
            pid = _host_pid(container)
            if pid is not None:
                collector.init_pids.add(pid)
            collector.workload_exe = plan.exe
        rc = wait_exit(container, min(req.ready_delay, req.timeout))
        exercise_rc: int | None = None
        if req.exercise is not None and rc is None:
            exercise = start_host_exercise(req.exercise, _host_pid(container), None)
            while exercise.poll() is None and time.monotonic() < end:
                rc = wait_exit(container, 0.1)
                if rc is not None and rc != 0:
                    break
            exercise_rc = exercise.poll()
            if exercise_rc is None:
                exercise.stop(2.0)
                if rc is None or rc == 0:
                    return _finish(
                        container, req, variant, f"the exercise did not end in {req.timeout:g}s"
                    )
                exercise_rc = exercise.poll()
        if rc is None and req.duration:
            rc = wait_exit(container, max(0.0, min(req.duration, end - time.monotonic())))
        service = req.exercise is not None or req.duration is not None
        if rc is None and not service:
            # A batch job: it must end on its own.
            rc = wait_exit(container, max(0.0, end - time.monotonic()))
            if rc is None:
                return _finish(
                    container,
                    req,
                    variant,
                    f"the workload did not exit within {req.timeout:g}s",
                    exercise_rc,
                )
        if rc is not None:
            failure = None
            if rc != 0:
                failure = f"the workload exited with status {rc}" + (
                    " before the end of the run" if service else ""
                )
            elif exercise_rc not in (None, 0):
                failure = f"the exercise exited with status {exercise_rc}"
            return RunResult(variant, True, failure, rc, exercise_rc, "exited", _logs(container))
        # A service still running at the end: SIGTERM, as `docker stop`, then SIGKILL.
        with contextlib.suppress(docker.errors.DockerException):
            container.kill(signal="SIGTERM")
        rc = wait_exit(container, req.grace)
        stopped = "sigterm"
        failure = None
        if rc is None:
            stopped = "sigkill"
            with contextlib.suppress(docker.errors.DockerException):
                container.kill()
            rc = wait_exit(container, 10.0)
            failure = f"the workload did not stop within {req.grace:g}s of SIGTERM"
        elif rc not in CLEAN_STOP and not _go_pid1_sigterm_exit(container, rc):
            failure = f"the workload exited with status {rc} after SIGTERM"
        if failure is None and exercise_rc not in (None, 0):
            failure = f"the exercise exited with status {exercise_rc}"
        return RunResult(variant, True, failure, rc, exercise_rc, stopped, _logs(container))
    finally:
        if exercise is not None:
            exercise.kill()
        remove_container(container)


def _finish(
    container: Any, req: VerifyRequest, variant: str, why: str, exercise_rc: int | None = None
) -> RunResult:
    import docker.errors

    with contextlib.suppress(docker.errors.DockerException):
        container.kill()
    return RunResult(variant, True, why, None, exercise_rc, "sigkill", _logs(container))


def go_pid1_sigterm_exit(rc: int, output: str, go_version: str | None) -> bool:
    """Whether exit status ``rc``, after SIGTERM, is how a container's process 1 that is a Go
    program built by ``go_version`` (None: not Go) and printed ``output`` ends on SIGTERM
    without a handler of its own (:data:`GO_PID1_SIGTERM`)."""
    status, before = GO_PID1_SIGTERM
    if rc != status or go_version is None or _GO_CRASH.search(output):
        return False
    parts = go_version.removeprefix("go").split(".")
    if len(parts) < 2 or not (parts[0].isdigit() and parts[1].isdigit()):
        return False  # a development build: unknown
    return (int(parts[0]), int(parts[1])) < before


def _go_pid1_sigterm_exit(container: Any, rc: int) -> bool:
    """:func:`go_pid1_sigterm_exit` for a stopped container: its output, and the Go version of
    its process 1's program, read from the container."""
    import docker.errors

    from seccompgen.containers.engine import read_container_program
    from seccompgen.inspect.binary import read_buildinfo, read_layout
    from seccompgen.tracing.elf import is_elf

    if rc != GO_PID1_SIGTERM[0]:
        return False
    try:
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        attrs = container.attrs
        env = dict(
            e.split("=", 1) for e in (attrs.get("Config") or {}).get("Env") or [] if "=" in e
        )
        name = str(attrs.get("Path") or "")
        data = read_container_program(container, name, env.get("PATH"))[1] if name else None
    except docker.errors.DockerException:
        return False
    if data is None or not is_elf(data):
        return False
    try:
        info = read_buildinfo(data, read_layout(data))
    except (TracerError, ValueError, IndexError, struct.error):
        return False
    return go_pid1_sigterm_exit(rc, output, info.go_version if info else None)


def wait_exit(container: Any, seconds: float) -> int | None:
    """The exit status once the container has stopped within ``seconds``, else None."""
    import docker.errors

    end = time.monotonic() + seconds
    while True:
        try:
            container.reload()
        except docker.errors.NotFound:
            return -1
        state = container.attrs.get("State") or {}
        if not state.get("Running") and state.get("Status") in ("exited", "dead"):
            return int(state.get("ExitCode", -1))
        if time.monotonic() >= end:
            return None
        time.sleep(POLL)


def image_exe(client: Any, req: VerifyRequest) -> str | None:
    """The image's program (first of ENTRYPOINT, else of CMD or the given arguments)."""
    import docker.errors

    try:
        config = client.images.get(req.image).attrs.get("Config") or {}
    except docker.errors.DockerException:
        return None
    argv = list(config.get("Entrypoint") or []) or list(req.args) or list(config.get("Cmd") or [])
    return str(argv[0]) if argv and str(argv[0]).startswith("/") else None


def _host_pid(container: Any) -> int | None:
    pid = int((container.attrs.get("State") or {}).get("Pid") or 0)
    return pid or None


def _logs(container: Any, lines: int = 20) -> str:
    import docker.errors

    try:
        data: bytes = container.logs(stdout=True, stderr=True, tail=lines)
    except docker.errors.DockerException:
        return ""
    return data.decode("utf-8", "replace")


# ---------------------------------------------------------------------- verify
