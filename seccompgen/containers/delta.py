"""The delta backend in a container: ``trace --delta PROFILE --container`` / ``--image IMAGE``.

The host delta (:mod:`seccompgen.tracing.backends.delta`) installs the staging variant of a
known profile
with its own launcher; here the Docker engine installs it, as it will install the enforce
profile in production: ``docker run --security-opt seccomp=<staging JSON>`` (the SDK sends the
JSON text, as the docker CLI does). The container runtime loads the filter in the container's
init and then ``execve(2)``\\ s the workload, so every process of the container runs under it
(seccomp(2): the filter is inherited across fork, clone and execve). The kernel writes one audit
record (type 1326) per call the profile does not list and runs the call (``SECCOMP_RET_LOG``);
the records are read from the audit netlink group by a
:class:`~seccompgen.tracing.missfeed.MissFeed`
while the container runs. Nothing stops the workload: no ptrace, no strace in the image, and
the container keeps Docker's defaults otherwise (no capability added, never ``--privileged``).

What runs where:

- ``--image IMAGE [-- CMD...]``: the image with its ENTRYPOINT, CMD (replaced by the arguments),
  environment, working directory and user, as the container backend traces it. Never pulled.
- ``--container PROGRAM``: the host program bind-mounted read-only into the tracer image's base
  image (:data:`~seccompgen.containers.image.LOCAL_BASE_IMAGE`, the same Debian userland that
  ``trace --container`` runs it in, without strace and Python, so nothing is built).

Which records are the container's: a record's pid is a host pid (``audit_log_task`` logs the
caller's thread-group id in the initial pid namespace). The workload is the container's init
(the engine reports its host pid once started; the runtime's init keeps that pid across its
``execve`` of the workload) and everything below it: a record belongs to the run when its pid is
the init, a child of a known process (fork connector, ``/proc`` children), or a process whose
``PPid`` links (proc(5)) lead to the init when the record arrives; orphans are reparented to
the container's init (pid_namespaces(7)), so they stay below it. A record read before the
init's pid was known is judged at the end; one of a process gone before it could be placed
counts when its ``exe`` is the workload's program. Processes ``docker exec`` starts (for
``--exercise-in-container``) run in the container too, under the same filter, but their parent
is the runtime outside it: they are not below the init, and their calls are not the workload's.
Their records are dropped without a warning when ``/proc/PID/cgroup`` names the container.

The runtime's own calls: between loading the filter and its ``execve`` of the workload, the
runtime's init (``runc:[2:INIT]``, or crun) still makes calls under the filter
(:mod:`seccompgen.runtime`). A profile emitted with a runtime block (``emit --runtime``, the
default) lists them; one without it logs them here. They are told apart by
:func:`~seccompgen.runtime.is_runtime_init` and reported on their own
(:attr:`~seccompgen.tracing.backends.delta.DeltaOutcome.runtime`), never written to the trace, so
``--learn`` does not put the runtime's calls into the workload.

Phases, exercise, duration, SIGTERM, grace, SIGKILL, timeout and Ctrl-C are the host delta's
lifecycle; SIGTERM and SIGKILL go to the container's init by its host pid (the engine must run
on this machine: the audit feed is this kernel's). The container is labelled
``io.seccompgen.trace=<trace id>`` and removed however the run ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from seccompgen.containers.container import NETWORKS, TARGET_MOUNT, ContainerTracer
from seccompgen.containers.engine import Plan, create_container, image_config
from seccompgen.containers.image import LOCAL_BASE_IMAGE
from seccompgen.containers.processes import ContainerProcesses, ExecExercise
from seccompgen.errors import TracerError
from seccompgen.parsing.audit import AuditRecord
from seccompgen.profile.emit import render
from seccompgen.profile.model import Profile, load_profile
from seccompgen.runtime import is_runtime_init
from seccompgen.tracefile import TraceWriter
from seccompgen.tracing.backends.delta import (
    NAME,
    SETTLE,
    DeltaOutcome,
    DeltaTracer,
    run_delta,
    staging_variant,
)
from seccompgen.tracing.base import ContainerSpec, TraceProgress, TraceRequest
from seccompgen.tracing.host import start_host_exercise
from seccompgen.tracing.missfeed import MissFeed
from seccompgen.tracing.session import ExerciseProcess

Log = Callable[[str], None]

_MAX_DEPTH: Final = 64  # parent links followed up from a process to the container's init


def _quiet(_line: str) -> None:
    pass


class ContainerDeltaTracer:
    """Re-check a container workload against ``profile`` (see the module docstring).

    ``profile`` is the known profile (None: the backend reports itself unavailable); ``log``
    receives status lines while the container is prepared; ``base_image`` is where a host
    program runs (``--container``).
    """

    name = NAME

    def __init__(
        self,
        profile: Profile | None = None,
        *,
        log: Log | None = None,
        base_image: str = LOCAL_BASE_IMAGE,
    ) -> None:
        self.profile = profile
        self.log = log or _quiet
        self.base_image = base_image

    @classmethod
    def from_file(cls, path: Path, *, log: Log | None = None) -> ContainerDeltaTracer:
        """A tracer for the profile stored at ``path`` (:class:`ProfileError` if unreadable)."""
        return cls(load_profile(path), log=log)

    def unavailable_reason(self) -> str | None:
        """None with a profile, root, seccomp logging on and the Docker SDK importable."""
        return (
            DeltaTracer(self.profile).unavailable_reason() or ContainerTracer().unavailable_reason()
        )

    def run(
        self,
        request: TraceRequest,
        writer: TraceWriter,
        progress: Callable[[TraceProgress], None],
    ) -> DeltaOutcome:
        """Run ``request`` in a container under the staging profile; see :meth:`Tracer.run`.

        The events written are the workload's misses, as in the host delta. The container is
        removed when this returns or raises, also on timeout and Ctrl-C.
        """
        spec = request.container or ContainerSpec()
        if spec.network not in NETWORKS:
            raise TracerError(
                f"network {spec.network!r} is not allowed for a container delta run",
                hint=f"use one of: {', '.join(NETWORKS)}",
            )
        problem = self.unavailable_reason()
        if problem is not None or self.profile is None:
            raise TracerError(f"the delta backend cannot run: {problem}")
        if spec.image is None and not request.argv:
            raise TracerError("nothing to run: the command is empty")
        from seccompgen.containers.image import docker_client
        from seccompgen.containers.podman import seccomp_option

        client = docker_client(spec.engine)
        with (
            tempfile.TemporaryDirectory(prefix="seccompgen-delta-") as tmp,
            contextlib.ExitStack() as stack,
        ):
            stack.callback(client.close)
            engine_arch = str(client.info().get("Architecture", ""))
            output = Path(tmp) / "audit.out"
            output.touch()
            plan = self._plan(client, request, spec)
            staging = render(staging_variant(self.profile))
            self.log(f"creating a container of {plan.image} under the staging profile")
            with seccomp_option(client, staging) as seccomp:
                container = create_container(
                    client, plan, spec, plan.argv, writer.header.trace_id, stack,
                    security_opt=[seccomp],
                )  # fmt: skip
            # The same checks as a traced container: the program exists in it, is built for the
            # engine's machine and finds its loader and libraries.
            ContainerTracer(log=self.log).preflight(
                container, plan, spec, engine_arch, host_program=spec.image is None
            )
            side = ContainerSide(
                client,
                container,
                spec,
                output,
                workload_exe=plan.argv[0] if plan.argv[0].startswith("/") else None,
                stdout=request.stdout,
                stderr=request.stderr,
            )
            return run_delta(plan.argv, side, request, writer, progress)

    def _plan(self, client: Any, request: TraceRequest, spec: ContainerSpec) -> Plan:
        """The image and command to run: the application image's, or the base image's with
        the host program bind-mounted read-only."""
        if spec.image is not None:
            config = image_config(client, spec.image)
            cmd = list(request.argv) or list(config.get("Cmd") or [])
            argv = tuple(list(config.get("Entrypoint") or []) + cmd)
            if not argv:
                raise TracerError(
                    f"the image {spec.image} has no ENTRYPOINT and no CMD, so there is nothing "
                    "to run",
                    hint="give the command after `--`",
                )
            image, user, workdir = (
                spec.image,
                str(config.get("User") or ""),
                config.get("WorkingDir"),
            )
            volumes: dict[str, dict[str, str]] = {}
        else:
            program = Path(request.argv[0]).resolve()
            if not program.is_file() or not os.access(program, os.X_OK):
                raise TracerError(
                    f"target {request.argv[0]} is not an executable file",
                    hint="give the path to the program to run",
                )
            try:
                config = image_config(client, self.base_image)
            except TracerError as e:
                raise TracerError(
                    e.message, hint="build it from Debian packages: scripts/build-base-image.sh"
                ) from e
            inside = f"{TARGET_MOUNT}/{program.name}"
            argv = (inside, *request.argv[1:])
            image, user, workdir = self.base_image, "", None
            volumes = {str(program): {"bind": inside, "mode": "ro"}}
        env = dict(item.partition("=")[::2] for item in config.get("Env") or [])
        return Plan(image, argv, (), env, user, str(workdir or "") or None, volumes)


class ContainerSide(ContainerProcesses):
    """The workload as the container's init, and the feed of its records.

    A :class:`~seccompgen.tracing.backends.delta.DeltaSide`: ``pid`` is the init's host pid, which
    the lifecycle signals. ``workload_exe`` is the program's path inside the container (see the
    module docstring, for records of processes gone before they could be placed).
    """

    def __init__(
        self,
        client: Any,
        container: Any,
        spec: ContainerSpec,
        output: Path,
        *,
        workload_exe: str | None = None,
        stdout: Path | None = None,
        stderr: Path | None = None,
    ) -> None:
        super().__init__(client, container, spec, stdout=stdout, stderr=stderr)
        self.workload_exe = workload_exe
        self.foreign_pids: set[int] = set()
        """Host pids of processes in the container but not below its init (``docker exec``)."""
        self.feed = MissFeed(
            output, self.claims, aside=is_runtime_init, late=self._late, foreign=self._exec_process
        )

    @property
    def pid(self) -> int | None:
        """The container's init (the workload after the runtime's exec), as a host pid."""
        return self.started_pid

    def claims(self, pid: int) -> bool:
        """Whether ``pid`` is a process of the container's workload (see the module docstring)."""
        return self.started_pid is not None and _descends(pid, {self.started_pid})

    def _exec_process(self, pid: int) -> bool:
        # Not below the init (claims() said so) but in the container's cgroup: a process
        # `docker exec` started. Only once the init is known: before, the init itself is one.
        # Remembered: the last call of a short process (a shell's final wait4) is often read
        # after it has exited, when its cgroup can no longer be read.
        if pid in self.foreign_pids:
            return True
        if self.started_pid is None:
            return False
        try:
            cgroups = Path(f"/proc/{pid}/cgroup").read_text(encoding="utf-8")
        except OSError:
            return False
        if self.container.id in cgroups:
            self.foreign_pids.add(pid)
            return True
        return False

    def _late(self, record: AuditRecord) -> bool:
        return self.workload_exe is not None and record.exe == self.workload_exe

    # -------------------------------------------------------------------- ProcessSide

    def start(self, cmd: Sequence[str], request: TraceRequest, stack: contextlib.ExitStack) -> None:
        # The feed reads from before the start: a short job may be gone before its records are
        # read, and its parent links place a process only while it exists.
        self.feed.open(stack)
        self.feed.start()
        super().start(cmd, request, stack)
        if self.started_pid is not None:
            # Also when the workload has exited already: its records wait in the feed.
            self.feed.add(self.started_pid)

    def signal_target(self, pid: int, sig: int) -> None:
        # From the host, as `docker kill --signal`: pid_namespaces(7) delivers a signal from an
        # ancestor namespace to the init only when it has a handler (SIGKILL always).
        if self.same_namespace(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def target_alive(self, pid: int) -> bool:
        return self.same_namespace(pid)

    def tracees_running(self) -> bool:
        return bool(self.members())

    def kill_tracees(self) -> None:
        # SIGKILL to the init ends every process of its pid namespace (pid_namespaces(7)).
        self.kill_tracer()

    def kill_tracer(self) -> None:
        # No tracer here: the workload is the init, and the lifecycle's "end the tracer" is
        # ending it (the strace container's kill_tracer looks for a ptrace tracer instead).
        if self.init_pid is not None and self.same_namespace(self.init_pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.init_pid, signal.SIGKILL)

    def kill_all(self) -> None:
        super().kill_all()
        self.feed.stop()

    def sweep(self) -> None:
        super().sweep()
        # kauditd sends records from its own thread: the last ones may still be on their way.
        time.sleep(SETTLE)
        self.feed.stop()

    def start_exercise(self, command: str, target_pid: int | None) -> ExerciseProcess:
        if not self.spec.exercise_in_container:
            return start_host_exercise(command, target_pid, None)
        # Inside the container the workload is process 1.
        return ExecExercise(self, command, {"SECCOMPGEN_TARGET_PID": "1"})


def _descends(pid: int, roots: set[int]) -> bool:
    """Whether ``pid`` is one of ``roots`` or below one (``PPid`` links, proc(5))."""
    for _ in range(_MAX_DEPTH):
        if pid in roots:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat[stat.rfind(")") + 2 :].split()[1])
        if pid <= 1:
            return False
    return False
