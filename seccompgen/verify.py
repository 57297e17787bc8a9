"""Proof by enforcement: run a workload in a real container under its profile.

A generated profile is a claim about a program; :func:`verify` checks it the way production
will: the Docker engine starts the workload with the profile (``docker run --security-opt
seccomp=...``, the SDK sending the JSON text as the docker CLI does), optionally with
``no-new-privileges``, the exercise runs on the host, and the run passes when

* the container started (the runtime's own calls after the filter were allowed),
* the exercise exited 0, and
* the workload either exited 0 on its own (a batch job), or kept running to the end and then
  stopped cleanly on SIGTERM (exit status 0, or 143 for death by SIGTERM, as ``docker stop``).

When it fails, the same run is repeated with the profile's staging variant (default action
``SCMP_ACT_LOG``, every rule kept) while :class:`~seccompgen.tracing.audit.AuditListener` reads
the kernel's seccomp audit records. Every logged call is one the enforce profile refused with its
default action; each is attributed to the runtime's init (before its ``execve`` of the workload,
:func:`seccompgen.runtime.is_runtime_init`) or to the workload, and the report names the command
that fixes the profile.

A pass proves the workload *survived* the profile, not that nothing was refused: many programs
carry on when a call fails with EPERM (a Go service whose profiling timer is refused answers
200 with an empty CPU profile; a refused ``madvise`` only keeps memory). ``strict`` closes that
gap: after an enforce pass the staging run is made as well, and any call it logs fails the
verification, attributed and with the same fix commands.

A program given as a path (``verify PROFILE ./app``) is copied into a throwaway ``FROM scratch``
image (the form these services ship in: no shell, no libc), labelled and removed afterwards. A
bind mount into some base image would run the program in a filesystem it does not ship with.

Records are attributed to the container by cgroup: the listener reads ``/proc/PID/cgroup`` of the
caller when a record arrives and keeps the pids whose cgroup path holds the container id (the
kernel logs host pids, and the workload keeps its init's pid across ``execve``).

:func:`measure_runtime` uses the same machinery for ``seccompgen runtime-baseline``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import struct
import tarfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any, Final

from seccompgen.errors import StoreError, TracerError
from seccompgen.parsing.audit import AuditRecord
from seccompgen.profile.build import same_effect
from seccompgen.profile.emit import profile_digest, render
from seccompgen.profile.model import Action, Profile
from seccompgen.runtime import (
    RuntimeBlock,
    RuntimeInfo,
    engine_runtime,
    is_runtime_init,
    runtime_calls,
)
from seccompgen.store import TraceStore
from seccompgen.syscalls import native_arch

#: The label on every container and image verify and runtime-baseline create; value: a run id.
VERIFY_LABEL: Final = "io.seccompgen.verify"
#: Networks a verified container may use.
NETWORKS: Final = ("none", "host")
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
#: Where the program lives in the throwaway image.
APP_PATH: Final = "/app"

_POLL: Final = 0.05
_QUIET: Final = 0.5
Log = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


# ---------------------------------------------------------------------- requests and results


@dataclass(frozen=True)
class VerifyRequest:
    """What ``seccompgen verify`` was asked to do.

    Exactly one of ``image`` and ``program``. ``args`` replace the image's CMD (as ``docker run
    IMAGE ARGS``) or follow the program. ``volumes`` are ``HOST:CONTAINER[:ro|rw]`` bind mounts
    (input files of a batch job). ``timeout`` bounds each run; ``grace`` is the time between
    SIGTERM and SIGKILL. ``workload`` names the workload in the fix commands; without it they
    name the workloads the trace store (``store`` as given to ``--store``; None: the default
    store) recorded emitting this profile for, else the profile's file name (see
    :func:`fix_workloads`). ``records`` is where the workload's staging records are written (for
    ``seccompgen learn --from``).
    ``strict`` also fails a run that passed but would have had calls refused (see the module
    docstring); it needs the audit records (root).
    """

    profile: Path
    image: str | None = None
    program: Path | None = None
    args: tuple[str, ...] = ()
    exercise: str | None = None
    no_new_privileges: bool = False
    network: str = "none"
    duration: float | None = None
    timeout: float = 300.0
    grace: float = 10.0
    ready_delay: float = 0.5
    volumes: tuple[str, ...] = ()
    workload: str | None = None
    store: Path | None = None
    records: Path | None = None
    diagnose: bool = True
    strict: bool = False


@dataclass(frozen=True)
class RunResult:
    """How one container run went. ``failure`` is None when it passed."""

    variant: str  # "enforce" or "staging"
    started: bool
    failure: str | None
    exit_code: int | None = None
    exercise_exit: int | None = None
    stopped: str = ""  # "exited", "sigterm", "sigkill", "never started"
    logs: str = ""

    @property
    def passed(self) -> bool:
        """Whether the run met every condition (see the module docstring)."""
        return self.failure is None


@dataclass(frozen=True)
class Denial:
    """A syscall the enforce profile refused, and who made it (``runtime`` or ``workload``)."""

    name: str
    process: str
    comm: str
    exe: str
    count: int


@dataclass(frozen=True)
class FixWorkloads:
    """The workloads the fix commands name, and how they were found (one line for the user)."""

    names: tuple[str, ...]
    note: str
    known: bool
    """True when ``--workload`` or the store named them; False for the file-name fallback."""


@dataclass(frozen=True)
class VerifyReport:
    """The result of :func:`verify`."""

    passed: bool
    enforce: RunResult
    staging: RunResult | None = None
    denials: tuple[Denial, ...] = ()
    fixes: tuple[str, ...] = ()
    workloads: FixWorkloads | None = None
    """Whom ``fixes`` name (set whenever there are fixes)."""
    diagnosis_problem: str | None = None
    records_path: Path | None = None
    runtime: RuntimeInfo | None = None
    strict: bool = False
    """True when the enforce run passed and ``strict`` made the staging run too: ``passed`` then
    says whether that run logged nothing."""

    def names(self, process: str | None = None) -> tuple[str, ...]:
        """The denied names (of one process kind), sorted."""
        return tuple(sorted({d.name for d in self.denials if process in (None, d.process)}))


# ---------------------------------------------------------------------- profile variants


def staging_variant(profile: Profile) -> Profile:
    """The same profile with ``SCMP_ACT_LOG`` as its default action.

    Every rule is kept (the ENOSYS answers included, so the program behaves as under the
    enforce profile) except those that would then repeat the default action, which runtimes
    drop (:func:`seccompgen.profile.build.same_effect`). What the kernel logs is exactly what
    the enforce profile's default action refused.
    """
    rules = tuple(
        r for r in profile.syscalls if not same_effect(r.action, r.errno_ret, Action.LOG, None)
    )
    return replace(profile, default_action=Action.LOG, default_errno_ret=None, syscalls=rules)


def log_everything_profile() -> str:
    """``{"defaultAction": "SCMP_ACT_LOG"}`` with no rules: every call allowed and logged.

    ``seccompgen validate`` flags it as unconfined, rightly; it is only used to measure.
    """
    return json.dumps({"defaultAction": Action.LOG.value, "syscalls": []})


# ---------------------------------------------------------------------- docker plumbing


def _client() -> Any:
    from seccompgen.containers.image import docker_client

    return docker_client()


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


def _remove_image(client: Any, tag: str) -> None:
    import docker.errors

    with contextlib.suppress(docker.errors.DockerException):
        client.images.remove(tag, force=True, noprune=False)


def _remove_container(container: Any) -> None:
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


class RecordCollector:
    """Seccomp audit records of one container, read in a thread while it runs.

    The listener takes every record; a record belongs to the container when its pid's
    ``/proc/PID/cgroup`` names the container id (checked on arrival and remembered per pid,
    so the last records of a process that has exited in the meantime still count).
    """

    def __init__(self) -> None:
        from seccompgen.tracing.audit import AuditListener

        self.listener = AuditListener()
        self.listener.open()  # raises TracerError without CAP_AUDIT_READ
        self.container_id: str | None = None
        self.init_pids: set[int] = set()
        """Host pids known to be the container's init (from the engine after the start)."""
        self.workload_exe: str | None = None
        """The workload's path inside the container: a record of a process that was gone
        before its cgroup could be read still counts when it names this ``exe``."""
        self.records: list[AuditRecord] = []
        self._pending: list[AuditRecord] = []
        self._members: dict[int, bool] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._last = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="seccompgen-audit", daemon=True)
        self._thread.start()

    def _belongs(self, pid: int) -> bool | None:
        known = self._members.get(pid)
        if known is not None:
            return known
        cid = self.container_id
        if cid is None:
            return None
        try:
            text = Path(f"/proc/{pid}/cgroup").read_text(encoding="utf-8")
        except OSError:
            return None
        self._members[pid] = cid in text
        return self._members[pid]

    def _run(self) -> None:
        with contextlib.suppress(Exception):
            while not self._stop.is_set():
                for record in self.listener.records(0.2):
                    self._last = time.monotonic()
                    with self._lock:
                        member = self._belongs(record.pid)
                        if member:
                            self.records.append(record)
                        elif member is None:
                            self._pending.append(record)

    def stop(self) -> list[AuditRecord]:
        """Wait until no record arrived for a moment, stop, and return the container's records.

        Records whose pid could not be placed on arrival count when the same pid was placed in
        the container later, or is a known init pid, or made a record naming the workload's
        ``exe``: the runtime's init execs the workload in place (same pid), so a short job's
        init records count even when the process was gone before any of them was read.
        """
        deadline = time.monotonic() + 5.0
        while time.monotonic() - self._last < _QUIET and time.monotonic() < deadline:
            time.sleep(_POLL)
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.listener.close()
        with self._lock:
            exe_pids = {
                r.pid
                for r in self._pending
                if self.workload_exe is not None and r.exe == self.workload_exe
            }
            late = [
                r
                for r in self._pending
                if self._members.get(r.pid) or r.pid in self.init_pids or r.pid in exe_pids
            ]
            out = sorted(self.records + late, key=lambda r: (r.timestamp, r.serial))
        return out

    def close(self) -> None:
        """Stop without waiting (idempotent)."""
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.listener.close()


@dataclass
class _Plan:
    image: str
    command: list[str] | None
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)
    exe: str | None = None  # the workload's path inside the container


def _run_container(
    client: Any,
    plan: _Plan,
    profile_json: str,
    req: VerifyRequest,
    variant: str,
    run_id: str,
    collector: RecordCollector | None,
    log: Log,
) -> RunResult:
    """One run of the workload under ``profile_json``; the container is always removed."""
    import docker.errors

    from seccompgen.tracing.host import start_host_exercise

    security = [f"seccomp={profile_json}"]
    if req.no_new_privileges:
        security.append("no-new-privileges")
    try:
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
        )
    except docker.errors.ImageNotFound as e:
        raise TracerError(
            f"the image {plan.image} is not present in the Docker engine; nothing is pulled",
            hint=f"build it (`docker build -t {plan.image} .`) or load it (`docker load`)",
        ) from e
    except docker.errors.DockerException as e:
        raise TracerError(f"cannot create a container of {plan.image}: {e}") from e
    exercise = None
    try:
        if collector is not None:
            collector.container_id = container.id
        log(f"{variant}: starting {plan.image} (network {req.network})")
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
        rc = _wait_exit(container, min(req.ready_delay, req.timeout))
        exercise_rc: int | None = None
        if req.exercise is not None and rc is None:
            exercise = start_host_exercise(req.exercise, _host_pid(container), None)
            while exercise.poll() is None and time.monotonic() < end:
                rc = _wait_exit(container, 0.1)
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
            rc = _wait_exit(container, max(0.0, min(req.duration, end - time.monotonic())))
        service = req.exercise is not None or req.duration is not None
        if rc is None and not service:
            # A batch job: it must end on its own.
            rc = _wait_exit(container, max(0.0, end - time.monotonic()))
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
        rc = _wait_exit(container, req.grace)
        stopped = "sigterm"
        failure = None
        if rc is None:
            stopped = "sigkill"
            with contextlib.suppress(docker.errors.DockerException):
                container.kill()
            rc = _wait_exit(container, 10.0)
            failure = f"the workload did not stop within {req.grace:g}s of SIGTERM"
        elif rc not in CLEAN_STOP and not _go_pid1_sigterm_exit(container, rc):
            failure = f"the workload exited with status {rc} after SIGTERM"
        if failure is None and exercise_rc not in (None, 0):
            failure = f"the exercise exited with status {exercise_rc}"
        return RunResult(variant, True, failure, rc, exercise_rc, stopped, _logs(container))
    finally:
        if exercise is not None:
            exercise.kill()
        _remove_container(container)


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


def _wait_exit(container: Any, seconds: float) -> int | None:
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
        time.sleep(_POLL)


def _image_exe(client: Any, req: VerifyRequest) -> str | None:
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


def verify(req: VerifyRequest, log: Log | None = None) -> VerifyReport:
    """Run the workload under ``req.profile``; on failure, find what the profile refused.

    Containers and the throwaway image are labelled ``io.seccompgen.verify`` and removed however
    the run ends (success, failure, timeout, Ctrl-C, SIGTERM).
    """
    from seccompgen.containers.engine import parse_volume
    from seccompgen.profile.model import load_profile

    log = log or _quiet
    if (req.image is None) == (req.program is None):
        raise TracerError("give exactly one of an image and a program to verify")
    if req.network not in NETWORKS:
        raise TracerError(f"network {req.network!r} is not allowed", hint="use none or host")
    profile = load_profile(req.profile)
    enforce_json = render(profile)
    staging_json = render(staging_variant(profile))
    volumes = dict(parse_volume(v) for v in req.volumes)
    run_id = uuid.uuid4().hex[:12]
    client = _client()
    with sigterm_as_interrupt(), contextlib.ExitStack() as stack:
        stack.callback(client.close)
        if req.program is not None:
            log(f"building a FROM scratch image holding {req.program}")
            tag = build_scratch_image(client, req.program, run_id)
            stack.callback(_remove_image, client, tag)
            plan = _Plan(tag, list(req.args) or None, volumes, APP_PATH)
        else:
            assert req.image is not None
            plan = _Plan(req.image, list(req.args) or None, volumes, _image_exe(client, req))
        if req.strict:  # it needs the audit records whatever the enforce run does: check now
            try:
                RecordCollector().close()
            except TracerError as e:
                raise TracerError(
                    f"verify --strict needs the kernel's seccomp audit records: {e.message}",
                    hint=e.hint or "run as root (CAP_AUDIT_READ), or drop --strict",
                ) from e
        enforce = _run_container(client, plan, enforce_json, req, "enforce", run_id, None, log)
        if enforce.passed and not req.strict:
            return VerifyReport(True, enforce)
        runtime = None
        with contextlib.suppress(Exception):
            runtime = engine_runtime(client.info())
        if not req.diagnose and not enforce.passed:
            return VerifyReport(False, enforce, runtime=runtime)
        try:
            collector = RecordCollector()
        except TracerError as e:
            return VerifyReport(
                False,
                enforce,
                diagnosis_problem=f"cannot read seccomp audit records: {e.explain()}",
                runtime=runtime,
            )
        stack.callback(collector.close)
        if enforce.passed:
            log("enforce run passed; --strict: repeating it with the staging (SCMP_ACT_LOG) "
                "variant to find calls the workload survived being refused")  # fmt: skip
        else:
            log("enforce run failed; repeating it with the staging (SCMP_ACT_LOG) variant")
        staging = _run_container(client, plan, staging_json, req, "staging", run_id, collector, log)
        records = collector.stop()
        denials = attribute(records)
        records_path = None
        workload_records = [r for r in records if not is_runtime_init(r)]
        if workload_records:
            records_path = req.records or req.profile.with_name(
                req.profile.name.removesuffix(".json") + ".denied.audit"
            )
            records_path.write_text(
                "".join(r.raw.rstrip("\n") + "\n" for r in workload_records), encoding="utf-8"
            )
        named = fix_workloads(req, profile) if denials else None
        fixes = fix_commands(req, denials, records_path, runtime, named)
        if enforce.passed:  # strict
            return VerifyReport(
                not denials,
                enforce,
                staging,
                denials,
                fixes,
                workloads=named,
                records_path=records_path,
                runtime=runtime,
                strict=True,
            )
        problem = None
        if not denials:
            problem = (
                "the staging run logged no refused call, so the failure is not a seccomp denial"
                if staging.passed
                else "the staging run failed too and logged no refused call: the workload "
                "fails without seccomp's help (see its output)"
            )
        return VerifyReport(
            False,
            enforce,
            staging,
            denials,
            fixes,
            workloads=named,
            diagnosis_problem=problem,
            records_path=records_path,
            runtime=runtime,
        )


def attribute(records: Sequence[AuditRecord]) -> tuple[Denial, ...]:
    """Group records by syscall name and process kind (runtime init or workload), sorted."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for r in records:
        process = "runtime" if is_runtime_init(r) else "workload"
        name = r.name or f"#{r.syscall_number}"
        counts[(process, name, r.comm or "?", r.exe or "?")] += 1
    return tuple(
        Denial(name=name, process=process, comm=comm, exe=exe, count=n)
        for (process, name, comm, exe), n in sorted(counts.items())
    )


def fix_workloads(req: VerifyRequest, profile: Profile) -> FixWorkloads:
    """The workloads to name in the fix commands: ``--workload``; else those the store recorded
    emitting this profile for (matched by :func:`profile_digest`, so a copy or a renamed file
    counts; the newest record when several); else the profile's file name, with a note."""
    if req.workload:
        return FixWorkloads(
            (req.workload,), f"the fix commands name workload {req.workload} (--workload)", True
        )
    stem = req.profile.name.removesuffix(".json").removesuffix(".log")
    store = TraceStore.resolve(req.store)
    fallback = (
        f"so the fix commands name the workload {stem!r} after the file name; if it was "
        "emitted for another workload, give --workload NAME (or --store DIR)"
    )
    try:
        found = store.emitted(profile_digest(profile))
    except StoreError as e:
        return FixWorkloads((stem,), f"{e.message}; {fallback}", False)
    if not found:
        return FixWorkloads(
            (stem,),
            f"the store {store.root} has no record of emitting this profile, {fallback}",
            False,
        )
    newest = found[0]
    names = ", ".join(newest.workloads)
    note = (
        f"the fix commands name workload(s) {names}: the store {store.root} recorded emitting "
        "this profile for them "
        f"({newest.mode}, as {newest.path}, {newest.emitted})"
    )
    others = sorted({w for e in found[1:] for w in e.workloads} - set(newest.workloads))
    if others:
        note += f"; the same profile was also emitted for {', '.join(others)}"
    if len(newest.workloads) > 1:
        # The profile allows the union of its workloads' calls, so teaching one of them fixes it.
        note += f"; learn adds the calls to {newest.workloads[0]}, the first of them"
    return FixWorkloads(newest.workloads, note, True)


def fix_commands(
    req: VerifyRequest,
    denials: Sequence[Denial],
    records_path: Path | None,
    runtime: RuntimeInfo | None,
    workloads: FixWorkloads | None = None,
) -> tuple[str, ...]:
    """The commands that add the refused calls to the profile (``workloads``: whom they name;
    default: ``req.workload``, else the profile's file name)."""
    import shlex

    if workloads is None:
        stem = req.profile.name.removesuffix(".json").removesuffix(".log")
        workloads = FixWorkloads((req.workload or stem,), "", bool(req.workload))
    store = f" --store {shlex.quote(str(req.store))}" if req.store is not None else ""
    out = shlex.quote(str(req.profile))
    nnp = " --no-new-privileges" if req.no_new_privileges else ""
    name = runtime.name if runtime is not None else "runc"
    fixes: list[str] = []
    if any(d.process == "runtime" for d in denials):
        fixes.append(
            f"seccompgen runtime-baseline --runtime {name}{nnp}   # when no block is stored "
            "for this runtime version"
        )
    if any(d.process == "workload" for d in denials) and records_path is not None:
        fixes.append(
            f"seccompgen learn --from {shlex.quote(str(records_path))} "
            f"--workload {workloads.names[0]}{store}"
        )
    if denials:
        chosen = " ".join(f"--workload {w}" for w in workloads.names)
        fixes.append(f"seccompgen emit {chosen} --runtime {name}{nnp}{store} -o {out}")
    return tuple(fixes)


# ---------------------------------------------------------------------- runtime baseline


@dataclass(frozen=True)
class BaselineRequest:
    """What ``seccompgen runtime-baseline`` was asked to do.

    ``program`` is a static program that exits 0 (``examples/noop``); ``runtime`` a runtime
    configured in the engine (None: the engine's default).
    """

    program: Path
    runtime: str | None = None
    no_new_privileges: bool = False
    timeout: float = 60.0


#: Where the measured program lives in its image; a path no runtime uses.
NOOP_PATH: Final = "/seccompgen-noop"


def measure_runtime(req: BaselineRequest, log: Log | None = None) -> RuntimeBlock:
    """Measure the calls a runtime's init makes between loading the filter and exec.

    The program runs under :func:`log_everything_profile`; the records of the container's
    init up to the first record the program itself logged (its ``exe`` is the program) are the
    runtime's. Needs ``CAP_AUDIT_READ`` for the listener.
    """
    import docker.errors

    log = log or _quiet
    client = _client()
    info = client.info()
    engine = engine_runtime(info)
    name = req.runtime or engine.name
    run_id = uuid.uuid4().hex[:12]
    with sigterm_as_interrupt(), contextlib.ExitStack() as stack:
        stack.callback(client.close)
        tag = build_scratch_image(client, req.program, run_id, path=NOOP_PATH)
        stack.callback(_remove_image, client, tag)
        collector = RecordCollector()
        stack.callback(collector.close)
        security = [f"seccomp={log_everything_profile()}"]
        if req.no_new_privileges:
            security.append("no-new-privileges")
        kwargs: dict[str, Any] = {}
        if req.runtime is not None and req.runtime != engine.name:
            kwargs["runtime"] = req.runtime
        try:
            container = client.containers.create(
                tag,
                security_opt=security,
                network_mode="none",
                labels={VERIFY_LABEL: run_id},
                detach=True,
                **kwargs,
            )
        except docker.errors.DockerException as e:
            raise TracerError(f"cannot create the measuring container: {e}") from e
        stack.callback(_remove_container, container)
        collector.container_id = container.id
        # The program exits at once: its records can all arrive after it is gone, when its
        # cgroup can no longer be read; its exe (and so its pid, the init's) still places them.
        collector.workload_exe = NOOP_PATH
        log(f"running {req.program.name} under {name} with a log-everything profile")
        try:
            container.start()
        except docker.errors.DockerException as e:
            raise TracerError(f"the measuring container did not start: {e}") from e
        rc = _wait_exit(container, req.timeout)
        if rc != 0:
            raise TracerError(
                f"the measuring program exited with {rc}, expected 0",
                hint="give a static program that exits 0 (examples/noop)",
            )
        records = collector.stop()
    workload = [r for r in records if r.exe == NOOP_PATH]
    if not workload:
        raise TracerError(
            "no audit record of the measuring program arrived: the kernel did not log "
            "SCMP_ACT_LOG calls",
            hint="check /proc/sys/kernel/seccomp/actions_logged lists 'log' and that audit is on",
        )
    pid = workload[0].pid
    init = runtime_calls(records, pid)
    if not init or not any(r.name == "execve" for r in init):
        raise TracerError(
            f"found no record of {name}'s init before its execve of the program",
            hint=f"is {name} a runtime whose init is named like runc's or crun's?",
        )
    version = engine.version if name == engine.name else None
    if version is None:
        from seccompgen.runtime import local_runtime_version

        version = local_runtime_version(name)
    return RuntimeBlock(
        runtime=name,
        version=version or "unknown",
        no_new_privileges=req.no_new_privileges,
        arch=init[0].arch or native_arch(),
        syscalls=tuple(sorted({r.name for r in init if r.name})),
        engine=f"docker {info.get('ServerVersion', '?')}",
        kernel=str(info.get("KernelVersion", "")),
        records=len(init),
    )
