r"""The container backend: run the target under ``strace -f`` inside a Docker container.

A profile describes what a program does in the container it will run in (its filesystem, its
environment, its user), so tracing happens there. Two targets:

- a host program (``seccompgen trace ./app --container``): the program is bind-mounted read-only
  into the tracer image (:mod:`seccompgen.containers.image`), which has strace;
- an application image (``seccompgen trace --image IMAGE [-- CMD...]``): its ENTRYPOINT, CMD,
  environment, working directory and user come from the image config; strace is injected as the
  bundle of :mod:`seccompgen.containers.bundle` (bind-mounted read-only, started through its own
  dynamic loader), so a ``FROM scratch`` image needs no shell or libc.

In both, the target is the container's process 1, as it will be when the container runs for
real: strace starts with ``-D`` (:data:`PID1_OPTIONS`), so the container's first process forks
the tracer as a detached grandchild and then ``execve``\ s the target itself (strace(1), ``-D``).
Process 1 of a pid namespace is special: the kernel does not deliver it a signal whose action is
the default (pid_namespaces(7); kernel/signal.c, ``SIGNAL_UNKILLABLE``), so a program that
re-raises SIGTERM at itself goes on and ends through ``exit_group`` instead of dying of the
signal, and only that run shows the calls a profile must allow. strace writes to a file in a
bind-mounted host directory that the lifecycle of
:class:`~seccompgen.tracing.session.Session` tails, so
phases, progress, the exercise command, timeouts and Ctrl-C behave as on the host. strace's own
system calls are not in its output: the first line is the target's ``execve`` (strace(1)).

When the target (process 1) ends, the kernel SIGKILLs every other process of its pid namespace
(pid_namespaces(7)), strace included. strace writes each line as it goes, and prints
``exit_group(N) = ?`` when the call is entered, before the target goes on, so the trace keeps
every call; it loses only its own ``+++ exited with N +++`` line for process 1. The target's
exit status is therefore the container's, as the engine reports it (``128 + N`` for a target
killed by signal N, e.g. 137 after the SIGKILL that ends a grace period).

Least privilege: the container gets ``CAP_SYS_PTRACE`` only (``cap_add``), never ``--privileged``,
and keeps Docker's default seccomp profile, which allows ``ptrace`` and ``process_vm_readv`` on
kernels >= 4.8 (its rule with ``"minKernel": "4.8"``; before 4.8 a seccomp filter could be
bypassed with ptrace, so it allowed them only with CAP_SYS_PTRACE). Networking is ``none``
unless ``host`` is asked for. Every container is labelled ``io.seccompgen.trace=<trace id>`` and
removed when the run ends, however it ends.

Where things are: engine access (containers, images, files in a container) is
:mod:`seccompgen.containers.engine`; the container's processes as the session sees them, and
the exercise run inside it, are :mod:`seccompgen.containers.processes`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from seccompgen.containers.engine import (
    DEFAULT_PATH,
    ContainerFiles,
    Plan,
    create_container,
    env_dict,
    image_config,
    image_env,
    missing_libraries,
)
from seccompgen.containers.processes import ContainerProcesses
from seccompgen.errors import TracerError
from seccompgen.tracefile import TraceWriter
from seccompgen.tracing.backends.strace import STRACE_OPTIONS, run_traced
from seccompgen.tracing.base import ContainerSpec, TraceOutcome, TraceProgress, TraceRequest
from seccompgen.tracing.elf import is_elf, machine_matches, read_elf

#: Networks a traced container may use (``--network``).
NETWORKS: Final = ("none", "host")
#: Where strace's output directory is mounted (read-write) inside the container.
OUT_MOUNT: Final = "/.seccompgen-out"
#: Where a host program is mounted (read-only) inside the tracer image.
TARGET_MOUNT: Final = "/.seccompgen-target"
#: strace inside the tracer image (Debian's strace package).
TRACER_STRACE: Final = "/usr/bin/strace"
#: Added to strace's options in a container so that the target is the container's process 1:
#: ``-D`` runs the tracer as a detached grandchild of the process that then ``execve``\ s the
#: target, which keeps the original process and its pid (strace(1), ``-D``/``--daemonize``).
#: The tracer is then the target's child (orphans are reparented to a namespace's init), so a
#: target that waits for any child (``wait(-1)``) may see it; it exits only when the target does.
PID1_OPTIONS: Final = ("-D",)


Log = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


class ContainerTracer:
    """Trace inside a container; see the module docstring. ``log`` receives status lines
    (image builds, what is being created) while the run is prepared."""

    name = "container"

    def __init__(self, *, log: Log | None = None, niceness: int = 10) -> None:
        self.log = log or _quiet
        self.niceness = niceness

    def unavailable_reason(self) -> str | None:
        """None when the Docker SDK is importable (the engine is checked when a run starts)."""
        from seccompgen.containers.image import DOCKER_MISSING, DOCKER_MISSING_HINT

        try:
            import docker  # type: ignore[import-untyped]  # noqa: F401
        except ImportError as e:
            return f"{DOCKER_MISSING}: {e}; {DOCKER_MISSING_HINT}"
        return None

    def run(
        self,
        request: TraceRequest,
        writer: TraceWriter,
        progress: Callable[[TraceProgress], None],
    ) -> TraceOutcome:
        """Trace ``request`` in a container; see :meth:`seccompgen.tracing.base.Tracer.run`.

        The container is removed when this returns or raises, also on timeout and Ctrl-C.
        """
        spec = request.container or ContainerSpec()
        if spec.network not in NETWORKS:
            raise TracerError(
                f"network {spec.network!r} is not allowed for a traced container",
                hint=f"use one of: {', '.join(NETWORKS)}",
            )
        if spec.image is None and not request.argv:
            raise TracerError("nothing to trace: the command is empty")
        from seccompgen.containers.image import docker_client

        client = docker_client(spec.engine)
        engine_arch = str(client.info().get("Architecture", ""))
        # The container goes first (the stack exits before the directory it mounts).
        with (
            tempfile.TemporaryDirectory(prefix="seccompgen-container-") as tmp_name,
            contextlib.ExitStack() as stack,
        ):
            tmp = Path(tmp_name)
            out_dir = tmp / "out"
            out_dir.mkdir()
            output = out_dir / "strace.out"
            output.touch()
            # The image's user may not be root: strace opens an existing file with O_TRUNC,
            # which needs write permission on the file only. The directory above stays 0700.
            output.chmod(0o666)
            if spec.image is None:
                plan = self._plan_host_program(client, request, tmp)
            else:
                plan = self._plan_image(client, spec.image, request, tmp)
            plan.volumes[str(out_dir)] = {"bind": OUT_MOUNT, "mode": "rw"}
            cmd = self._strace_command(plan)
            env = dict(plan.env)
            env.setdefault("TZ", "UTC")
            self.log(f"creating a container of {plan.image} (network {spec.network})")
            # strace needs ptrace(2); CAP_SYS_PTRACE is the one capability it may need
            # (capabilities(7)). Never privileged.
            container = create_container(
                client, plan, spec, cmd, writer.header.trace_id, stack,
                environment=env, cap_add=["SYS_PTRACE"],
            )  # fmt: skip
            self.preflight(container, plan, spec, engine_arch, host_program=spec.image is None)
            procs = ContainerProcesses(
                client, container, spec, stdout=request.stdout, stderr=request.stderr
            )
            return run_traced(
                cmd,
                request=request,
                writer=writer,
                progress=progress,
                output=output,
                processes=procs,
                niceness=self.niceness,
            )

    # ------------------------------------------------------------------ plans

    def _plan_host_program(self, client: Any, request: TraceRequest, tmp: Path) -> Plan:
        from seccompgen.containers.image import ensure_tracer_image

        program = Path(request.argv[0]).resolve()
        if not program.is_file():
            raise TracerError(
                f"target {request.argv[0]} does not exist",
                hint="give the path to the program to trace",
            )
        if not os.access(program, os.X_OK):
            raise TracerError(f"target {program} is not executable (chmod +x {program})")
        image = ensure_tracer_image(client, progress=self.log)
        inside = f"{TARGET_MOUNT}/{program.name}"
        env = image_env(client, image)
        return Plan(
            image=image,
            argv=(inside, *request.argv[1:]),
            strace=(TRACER_STRACE,),
            env=env,
            user="",
            workdir=None,
            volumes={str(program): {"bind": inside, "mode": "ro"}},
        )

    def _plan_image(self, client: Any, ref: str, request: TraceRequest, tmp: Path) -> Plan:
        from seccompgen.containers.bundle import DEFAULT_MOUNT, build_strace_bundle

        config = image_config(client, ref)
        entrypoint = list(config.get("Entrypoint") or [])
        cmd = list(request.argv) if request.argv else list(config.get("Cmd") or [])
        argv = tuple(entrypoint + cmd)
        if not argv:
            raise TracerError(
                f"the image {ref} has no ENTRYPOINT and no CMD, so there is nothing to run",
                hint=f"give the command after `--`: seccompgen trace --image {ref} -- /path/to/app",
            )
        env = env_dict(config.get("Env") or [])
        bundle = build_strace_bundle(tmp / "bundle")
        return Plan(
            image=ref,
            argv=argv,
            strace=bundle.argv_prefix,
            env=env,
            user=str(config.get("User") or ""),
            workdir=str(config.get("WorkingDir") or "") or None,
            volumes={str(bundle.root): {"bind": DEFAULT_MOUNT, "mode": "ro"}},
        )

    @staticmethod
    def _strace_command(plan: Plan) -> list[str]:
        # TZ for strace, not for the target: see StraceTracer.environment (-E TZ removes it
        # from the target's environment again, strace(1) -E).
        unset = [] if "TZ" in plan.env else ["-E", "TZ"]
        out = f"{OUT_MOUNT}/strace.out"
        return [
            *plan.strace, *STRACE_OPTIONS, *PID1_OPTIONS, *unset, "-o", out, "--", *plan.argv
        ]  # fmt: skip

    def preflight(
        self,
        container: Any,
        plan: Plan,
        spec: ContainerSpec,
        engine_arch: str,
        *,
        host_program: bool,
    ) -> None:
        """Check, before starting, that the target can run in this container at all."""
        fs = ContainerFiles(container)
        if host_program:
            program = next(
                Path(src) for src, m in plan.volumes.items() if m["bind"] == plan.argv[0]
            )
            data = program.read_bytes()
            where = str(program)
        else:
            path, found = fs.resolve_program(plan.argv[0], plan.env.get("PATH", DEFAULT_PATH))
            if found is None:
                raise TracerError(
                    f"the image {plan.image} has no program {plan.argv[0]}"
                    + (f" (looked for {path})" if path != plan.argv[0] else ""),
                    hint="check the image's ENTRYPOINT/CMD (docker image inspect), or give the "
                    "command after `--`",
                )
            data = found
            where = f"{path} in {plan.image}"
        if is_elf(data):
            info = read_elf(data, name=where)
            if engine_arch and not machine_matches(info, engine_arch):
                raise TracerError(
                    f"{where} is built for {info.machine}, but the Docker engine runs on "
                    f"{engine_arch}",
                    hint=f"build the program for {engine_arch} (e.g. GOARCH) and trace that",
                )
            if info.dynamic:
                missing = missing_libraries(fs, info)
                if missing:
                    lines = "; ".join(missing)
                    raise TracerError(
                        f"{where} is dynamically linked, and {plan.image} lacks what it needs "
                        f"to start: {lines}",
                        hint="build it statically (Go: CGO_ENABLED=0), or use a base image "
                        "that has its loader and libraries (e.g. distroless/base, not scratch)",
                    )
        if spec.exercise_in_container and fs.read("/bin/sh") is None:
            raise TracerError(
                f"--exercise-in-container needs /bin/sh in the image, and {plan.image} has none",
                hint="run the exercise on the host instead (with --network host to reach the "
                "target on 127.0.0.1)",
            )
