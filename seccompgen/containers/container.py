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
:mod:`seccompgen.tracing.backends.strace` tails, so
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

The engine must run on this machine: the lifecycle signals the traced program itself (never
strace) by its host pid, found through ``/proc/PID/status`` ``NSpid`` (proc(5)), because a
signal through the Docker API reaches only process 1.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import signal
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from seccompgen.errors import TracerError
from seccompgen.tracefile import TraceWriter
from seccompgen.tracing.backends.strace import STRACE_OPTIONS, run_traced
from seccompgen.tracing.base import ContainerSpec, TraceOutcome, TraceProgress, TraceRequest
from seccompgen.tracing.elf import ElfInfo, is_elf, machine_matches, read_elf
from seccompgen.tracing.host import start_host_exercise
from seccompgen.tracing.session import ExerciseProcess

#: The label on every container this backend creates; its value is the trace id.
TRACE_LABEL: Final = "io.seccompgen.trace"
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

# The Docker default PATH, which the engine sets when an image's environment has none
# (daemon: container.CreateDaemonEnvironment / oci.DefaultPathEnv).
_DEFAULT_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_MULTIARCH: Final = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}
_POLL: Final = 0.05
_REMOVE_TIMEOUT: Final = 30

Log = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


@dataclass(frozen=True, slots=True)
class _Plan:
    """The container to create: its image, command, environment, mounts and the target argv."""

    image: str
    argv: tuple[str, ...]  # the target as strace runs it, inside the container
    strace: tuple[str, ...]  # the in-container command that starts strace
    env: dict[str, str]
    user: str
    workdir: str | None
    volumes: dict[str, dict[str, str]]


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

        client = docker_client()
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
            self._preflight(container, plan, spec, engine_arch, host_program=spec.image is None)
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

    def _plan_host_program(self, client: Any, request: TraceRequest, tmp: Path) -> _Plan:
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
        env = _image_env(client, image)
        return _Plan(
            image=image,
            argv=(inside, *request.argv[1:]),
            strace=(TRACER_STRACE,),
            env=env,
            user="",
            workdir=None,
            volumes={str(program): {"bind": inside, "mode": "ro"}},
        )

    def _plan_image(self, client: Any, ref: str, request: TraceRequest, tmp: Path) -> _Plan:
        from seccompgen.containers.bundle import DEFAULT_MOUNT, build_strace_bundle

        config = _image_config(client, ref)
        entrypoint = list(config.get("Entrypoint") or [])
        cmd = list(request.argv) if request.argv else list(config.get("Cmd") or [])
        argv = tuple(entrypoint + cmd)
        if not argv:
            raise TracerError(
                f"the image {ref} has no ENTRYPOINT and no CMD, so there is nothing to run",
                hint=f"give the command after `--`: seccompgen trace --image {ref} -- /path/to/app",
            )
        env = _env_dict(config.get("Env") or [])
        bundle = build_strace_bundle(tmp / "bundle")
        return _Plan(
            image=ref,
            argv=argv,
            strace=bundle.argv_prefix,
            env=env,
            user=str(config.get("User") or ""),
            workdir=str(config.get("WorkingDir") or "") or None,
            volumes={str(bundle.root): {"bind": DEFAULT_MOUNT, "mode": "ro"}},
        )

    @staticmethod
    def _strace_command(plan: _Plan) -> list[str]:
        # TZ for strace, not for the target: see StraceTracer.environment (-E TZ removes it
        # from the target's environment again, strace(1) -E).
        unset = [] if "TZ" in plan.env else ["-E", "TZ"]
        out = f"{OUT_MOUNT}/strace.out"
        return [
            *plan.strace, *STRACE_OPTIONS, *PID1_OPTIONS, *unset, "-o", out, "--", *plan.argv
        ]  # fmt: skip

    def _preflight(
        self,
        container: Any,
        plan: _Plan,
        spec: ContainerSpec,
        engine_arch: str,
        *,
        host_program: bool,
    ) -> None:
        """Check, before starting, that the target can run in this container at all."""
        fs = _ContainerFiles(container)
        if host_program:
            program = next(
                Path(src) for src, m in plan.volumes.items() if m["bind"] == plan.argv[0]
            )
            data = program.read_bytes()
            where = str(program)
        else:
            path, found = fs.resolve_program(plan.argv[0], plan.env.get("PATH", _DEFAULT_PATH))
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
                missing = _missing_libraries(fs, info)
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


def create_container(
    client: Any,
    plan: _Plan,
    spec: ContainerSpec,
    cmd: Sequence[str],
    trace_id: str,
    stack: contextlib.ExitStack,
    **options: Any,
) -> Any:
    """Create (not start) the container that runs ``cmd`` for ``plan``, labelled with
    :data:`TRACE_LABEL` and removed when ``stack`` unwinds, however the run ends.

    ``options`` add to or override the ``containers.create`` arguments (the environment,
    capabilities, ``security_opt``). A missing image is never pulled.
    """
    import docker.errors  # type: ignore[import-untyped]

    volumes = dict(plan.volumes)
    volumes.update(parse_volume(v) for v in spec.volumes)
    args: dict[str, Any] = {
        "entrypoint": [cmd[0]],
        "command": list(cmd[1:]),
        "environment": plan.env,
        "user": plan.user,
        "working_dir": plan.workdir,
        "labels": {TRACE_LABEL: trace_id},
        "network_mode": spec.network,
        "volumes": volumes,
        "stdin_open": False,
        "tty": False,
        "detach": True,
    }
    try:
        container = client.containers.create(plan.image, **(args | options))
    except docker.errors.ImageNotFound as e:
        raise _image_missing(plan.image) from e
    except docker.errors.DockerException as e:
        raise TracerError(f"cannot create a container of {plan.image}: {e}") from e
    stack.callback(_remove, container)
    return container


# ---------------------------------------------------------------------- image and files


def parse_volume(spec: str) -> tuple[str, dict[str, str]]:
    """``HOST:CONTAINER[:ro|rw]`` (``docker run -v``; read-write when no mode is given) as the
    Docker SDK's ``volumes`` entry: the host path made absolute, and its bind and mode."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1].startswith("/"):
        raise TracerError(
            f"bad volume {spec!r}", hint="give HOST:CONTAINER or HOST:CONTAINER:ro|rw"
        )
    mode = parts[2] if len(parts) == 3 else "rw"
    if mode not in ("ro", "rw"):
        raise TracerError(f"bad volume mode {mode!r} in {spec!r}", hint="use ro or rw")
    return str(Path(parts[0]).resolve()), {"bind": parts[1], "mode": mode}


def _image_missing(ref: str) -> TracerError:
    return TracerError(
        f"the image {ref} is not present in the Docker engine; seccompgen never pulls images",
        hint="build it (`docker build -t "
        f"{ref} .`) or load it (`docker load -i FILE`, from `docker save` elsewhere)",
    )


def _image_config(client: Any, ref: str) -> dict[str, Any]:
    import docker.errors

    try:
        image = client.images.get(ref)
    except docker.errors.ImageNotFound as e:
        raise _image_missing(ref) from e
    except docker.errors.DockerException as e:
        raise TracerError(f"cannot inspect the image {ref}: {e}") from e
    config = image.attrs.get("Config") or {}
    return dict(config)


def _image_env(client: Any, ref: str) -> dict[str, str]:
    return _env_dict(_image_config(client, ref).get("Env") or [])


def _env_dict(items: Sequence[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        env[key] = value
    return env


class _ContainerFiles:
    """Read files from a created (not started) container's filesystem (GET .../archive)."""

    def __init__(self, container: Any) -> None:
        self.container = container

    def read(self, path: str, *, hops: int = 10) -> bytes | None:
        """The file at ``path`` with symbolic links followed, or None when it does not exist."""
        import docker.errors

        for _ in range(hops):
            try:
                stream, _stat = self.container.get_archive(path)
                raw = b"".join(stream)
            except docker.errors.NotFound:
                return None
            with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
                member = next(iter(tar.getmembers()), None)
                if member is None:
                    return None
                if member.issym():
                    target = member.linkname
                    path = posixpath.normpath(
                        target
                        if target.startswith("/")
                        else posixpath.join(posixpath.dirname(path), target)
                    )
                    continue
                if not member.isfile():
                    return None
                f = tar.extractfile(member)
                return None if f is None else f.read()
        return None

    def exists(self, path: str) -> bool:
        """True when ``path`` exists (a symlink counts when its target does)."""
        return self.read(path) is not None

    def resolve_program(self, name: str, path_env: str) -> tuple[str, bytes | None]:
        """Find ``name`` as strace would (PATH lookup for a name without ``/``)."""
        if "/" in name:
            return name, self.read(name)
        for d in path_env.split(":"):
            candidate = posixpath.join(d or ".", name)
            data = self.read(candidate)
            if data is not None:
                return candidate, data
        return name, None


def read_container_program(
    container: Any, name: str, path_env: str | None
) -> tuple[str, bytes | None]:
    """The program ``name`` of a created or stopped container, found as a runtime would (a
    lookup in ``path_env``, else Docker's default PATH, for a name without ``/``): its path and
    content (None when missing)."""
    return _ContainerFiles(container).resolve_program(name, path_env or _DEFAULT_PATH)


def _missing_libraries(fs: _ContainerFiles, info: ElfInfo) -> list[str]:
    """What the loader would not find, in ``ldd`` style: ``libc.so.6 => not found``.

    Libraries are looked up in the loader's default directories (ld.so(8): /lib, /usr/lib, and
    the 64-bit and Debian multiarch variants); DT_RUNPATH and ld.so.cache entries outside them
    are not considered.
    """
    missing: list[str] = []
    assert info.interpreter is not None
    if not fs.exists(info.interpreter):
        missing.append(f"{info.interpreter} (the ELF interpreter, PT_INTERP) => not found")
    dirs = ["/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib"]
    triplet = _MULTIARCH.get(info.machine)
    if triplet:
        dirs[:0] = [f"/lib/{triplet}", f"/usr/lib/{triplet}"]
    interp_name = posixpath.basename(info.interpreter)
    for lib in info.needed:
        if lib == interp_name:
            continue
        if not any(fs.exists(posixpath.join(d, lib)) for d in dirs):
            missing.append(f"{lib} => not found")
    return missing


def _remove(container: Any) -> None:
    """Remove a container, killing it first if it still runs; a gone container is fine."""
    import docker.errors

    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True)


# ---------------------------------------------------------------------- processes


@dataclass(frozen=True, slots=True)
class _Proc:
    host_pid: int
    ns_pid: int
    ppid: int  # host pid of the parent
    tracer: int  # host pid of its ptrace tracer (``TracerPid``), 0 when not traced


class ContainerProcesses:
    """The target as process 1 of a container, strace as its detached grandchild (strace
    ``-D``); a :class:`~seccompgen.tracing.session.ProcessSide`.

    Processes are found on the host through ``/proc``: the container's processes share the pid
    namespace of its process 1 (``/proc/PID/ns/pid``), and ``NSpid`` in ``/proc/PID/status``
    gives each one's pid inside the container, the pid strace prints. The traced processes are
    process 1 and everything below it, except strace: the process some member's ``TracerPid``
    names, and its own children. ``docker exec`` processes are not below process 1 (their
    parent is the runtime, outside the namespace).

    "strace has exited" is "the container's process 1 has exited": strace cannot outlive it
    (the kernel ends the whole pid namespace with it), and its exit status is the container's.
    """

    def __init__(
        self,
        client: Any,
        container: Any,
        spec: ContainerSpec,
        *,
        stdout: Path | None = None,
        stderr: Path | None = None,
    ) -> None:
        self.client = client
        self.container = container
        self.spec = spec
        self.stdout = stdout
        self.stderr = stderr
        self.init_pid: int | None = None
        self.started_pid: int | None = None
        """Process 1's host pid as the engine reported it after the start, even if it was gone
        by the time ``/proc`` was read (then :attr:`init_pid` stays None)."""
        self.pidns: str | None = None
        self.rc: int | None = None
        self.logs_saved = False

    def start(self, cmd: Sequence[str], request: TraceRequest, stack: contextlib.ExitStack) -> None:
        import docker.errors

        # Runs before the container's removal (the stack unwinds last in, first out).
        stack.callback(self._save_logs)
        try:
            self.container.start()
            self.container.reload()
        except docker.errors.DockerException as e:
            raise TracerError(f"cannot start the tracing container: {e}") from e
        pid = int(self.container.attrs.get("State", {}).get("Pid") or 0)
        self.started_pid = pid or None
        if pid:
            try:
                self.pidns = os.readlink(f"/proc/{pid}/ns/pid")
                self.init_pid = pid
            except OSError as e:
                if not Path(f"/proc/{pid}").exists() and self._stays_running():
                    raise TracerError(
                        "the Docker engine does not run on this machine (its container "
                        f"process {pid} is not in /proc); tracing in a container needs a "
                        "local engine to signal the traced program",
                        hint="run seccompgen on the Docker host",
                    ) from e

    def _stays_running(self, seconds: float = 2.0) -> bool:
        """True when the engine still reports the container running after ``seconds``: a
        process 1 that has just exited is reported so for a moment, until the shim tells."""
        end = time.monotonic() + seconds
        while self._status() == "running":
            if time.monotonic() >= end:
                return True
            time.sleep(_POLL)
        return False

    def _status(self) -> str:
        import docker.errors

        try:
            self.container.reload()
        except docker.errors.NotFound:
            return "removed"
        return str(self.container.status)

    def exited(self) -> bool:
        if self.rc is not None:
            return True
        if self.init_pid is not None and self._same_ns(self.init_pid):
            return False
        # Process 1 is gone (or never ran): collect the exit status from the engine.
        try:
            result = self.container.wait(timeout=10)
            self.rc = int(result.get("StatusCode", -1))
        except Exception:  # the engine is gone or slow: the process is gone all the same
            self.rc = -1
        return True

    def returncode(self) -> int | None:
        return self.rc if self.exited() else None

    def wait(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() >= end:
                return False
            time.sleep(_POLL)
        return True

    def _same_ns(self, host_pid: int) -> bool:
        try:
            if os.readlink(f"/proc/{host_pid}/ns/pid") != self.pidns:
                return False
            state = Path(f"/proc/{host_pid}/stat").read_text()
        except OSError:
            return False
        return state[state.rfind(")") + 2 :].split()[0] != "Z"

    def _members(self) -> list[_Proc]:
        """Every live process of the container, including ``docker exec`` ones."""
        if self.pidns is None:
            return []
        found = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink(f"{entry.path}/ns/pid") != self.pidns:
                    continue
                status = Path(entry.path, "status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if fields.get("State", "").strip().startswith("Z"):
                continue
            ns = fields.get("NSpid", "").split()
            ppid = int(fields.get("PPid", "0").strip() or 0)
            tracer = int(fields.get("TracerPid", "0").strip() or 0)
            if ns:
                found.append(_Proc(int(entry.name), int(ns[-1]), ppid, tracer))
        return found

    def _split(self) -> tuple[list[_Proc], list[_Proc]]:
        """The traced processes (process 1 and below it) and strace's (the tracer and below)."""
        members = self._members()
        tracers = {p.tracer for p in members if p.tracer}
        # strace and its children (its startup probes) are below process 1 too, as its orphans.
        theirs = _subtree(members, tracers)
        ours = [
            p
            for p in _subtree(members, {self.init_pid} if self.init_pid else set())
            if p.host_pid not in {q.host_pid for q in theirs}
        ]
        return ours, theirs

    def _tracees(self) -> list[_Proc]:
        """The traced processes: process 1 (the target) and below it, not strace."""
        return self._split()[0]

    def host_pid(self, ns_pid: int) -> int | None:
        """The host pid of the container's traced process ``ns_pid``, or None."""
        return next((p.host_pid for p in self._tracees() if p.ns_pid == ns_pid), None)

    def signal_target(self, pid: int, sig: int) -> None:
        host = self.host_pid(pid)
        if host is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(host, sig)

    def target_alive(self, pid: int) -> bool:
        return self.host_pid(pid) is not None

    def tracees_running(self) -> bool:
        return bool(self._tracees())

    def kill_tracees(self) -> None:
        # Children first: process 1's end SIGKILLs the rest of the namespace, strace with it.
        for p in sorted(self._tracees(), key=lambda p: p.host_pid == self.init_pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p.host_pid, signal.SIGKILL)

    def kill_tracer(self) -> None:
        for p in self._split()[1]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p.host_pid, signal.SIGKILL)

    def kill_all(self) -> None:
        import docker.errors

        # SIGKILL to process 1 ends every process of its pid namespace (pid_namespaces(7)).
        with contextlib.suppress(docker.errors.DockerException):
            self.container.kill()
        self.wait(_REMOVE_TIMEOUT)

    def sweep(self) -> None:
        # Exec'd exercise processes and anything else end with the container's removal.
        if not self.exited():
            self.kill_all()

    def start_exercise(self, command: str, target_pid: int | None) -> ExerciseProcess:
        if not self.spec.exercise_in_container:
            host = None if target_pid is None else self.host_pid(target_pid)
            return start_host_exercise(command, host, None)
        env = {} if target_pid is None else {"SECCOMPGEN_TARGET_PID": str(target_pid)}
        return _ExecExercise(self, command, env)

    def _save_logs(self) -> None:
        """Copy the container's output (the target's and strace's) where the request says."""
        import docker.errors

        if self.logs_saved:
            return
        self.logs_saved = True
        for want_out, dest, fallback in (
            (True, self.stdout, sys.stdout),
            (False, self.stderr, sys.stderr),
        ):
            try:
                data = self.container.logs(stdout=want_out, stderr=not want_out)
            except docker.errors.DockerException:
                continue
            if dest is not None:
                dest.write_bytes(data)
            elif data:
                _write_out(fallback, data)


def _subtree(members: Sequence[_Proc], roots: set[int]) -> list[_Proc]:
    """The members whose host pid is in ``roots``, and every member below them (by ``PPid``)."""
    below = set(roots)
    result = [p for p in members if p.host_pid in below]
    changed = True
    while changed:
        changed = False
        for p in members:
            if p.ppid in below and p.host_pid not in below:
                below.add(p.host_pid)
                result.append(p)
                changed = True
    return result


def _write_out(stream: Any, data: bytes) -> None:
    """Write bytes to a text stream: through its binary buffer when it has one."""
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        stream.write(data.decode("utf-8", "replace"))
        stream.flush()


class _ExecExercise:
    """The exercise command run inside the container with ``docker exec /bin/sh -c``."""

    def __init__(self, procs: ContainerProcesses, command: str, env: dict[str, str]) -> None:
        import docker.errors

        self.procs = procs
        api = procs.client.api
        try:
            self.exec_id = api.exec_create(
                procs.container.id, ["/bin/sh", "-c", command], environment=env
            )["Id"]
            stream: Iterator[bytes] = api.exec_start(self.exec_id, stream=True)
        except docker.errors.DockerException as e:
            raise TracerError(f"cannot run the exercise command in the container: {e}") from e
        self.rc: int | None = None
        # Its output goes to seccompgen's stderr, as a host exercise's would go to the terminal.
        self.pump = threading.Thread(
            target=self._copy, args=(stream,), name="seccompgen-exec-output", daemon=True
        )
        self.pump.start()
        self.pid = 0
        end = time.monotonic() + 5.0
        while not self.pid and time.monotonic() < end:
            info = api.exec_inspect(self.exec_id)
            self.pid = int(info.get("Pid") or 0)
            if not info.get("Running") and info.get("ExitCode") is not None:
                break
            time.sleep(0.01)

    @staticmethod
    def _copy(stream: Iterator[bytes]) -> None:
        with contextlib.suppress(Exception):
            for chunk in stream:
                _write_out(sys.stderr, chunk)

    def poll(self) -> int | None:
        import docker.errors

        if self.rc is not None:
            return self.rc
        try:
            info = self.procs.client.api.exec_inspect(self.exec_id)
        except docker.errors.DockerException:
            self.rc = -1
            return self.rc
        if info.get("Running"):
            return None
        code = info.get("ExitCode")
        self.rc = -1 if code is None else int(code)
        return self.rc

    def _group(self) -> list[int]:
        # The exec'd shell and whatever it started, by parent pid within the container.
        below = {self.pid} | {p.host_pid for p in _subtree(self.procs._members(), {self.pid})}
        return [pid for pid in below if pid]

    def _signal(self, sig: int) -> None:
        for pid in self._group():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def stop(self, grace: float) -> None:
        if self.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        end = time.monotonic() + grace
        while self.poll() is None and time.monotonic() < end:
            time.sleep(_POLL)
        self.kill()

    def kill(self) -> None:
        if self.poll() is None:
            self._signal(signal.SIGKILL)
            end = time.monotonic() + 5.0
            while self.poll() is None and time.monotonic() < end:
                time.sleep(_POLL)
        self.pump.join(timeout=2.0)
