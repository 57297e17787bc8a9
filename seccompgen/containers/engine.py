"""Engine access: containers and images through the Docker SDK.

The backends that run workloads in containers (:mod:`seccompgen.containers.container`, its delta
mode :mod:`seccompgen.containers.delta`) and :mod:`seccompgen.verify` create containers, read
image configs and read files from created containers through here. Every container is created
labelled (:data:`TRACE_LABEL`) and removed when its run ends, however it ends; an image that is
not present is never pulled. The connection itself is
:func:`seccompgen.containers.image.docker_client`. A second engine with a Docker-compatible
API plugs in at these functions.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from seccompgen.errors import TracerError
from seccompgen.tracing.base import ContainerSpec
from seccompgen.tracing.elf import ElfInfo

#: The label on every container this backend creates; its value is the trace id.
TRACE_LABEL: Final = "io.seccompgen.trace"
# The Docker default PATH, which the engine sets when an image's environment has none
# (daemon: container.CreateDaemonEnvironment / oci.DefaultPathEnv).
#: (The same PATH a runtime uses to find a program without ``/``.)
DEFAULT_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_MULTIARCH: Final = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}


@dataclass(frozen=True, slots=True)
class Plan:
    """The container to create: its image, command, environment, mounts and the target argv."""

    image: str
    argv: tuple[str, ...]  # the target as strace runs it, inside the container
    strace: tuple[str, ...]  # the in-container command that starts strace
    env: dict[str, str]
    user: str
    workdir: str | None
    volumes: dict[str, dict[str, str]]


def create_container(
    client: Any,
    plan: Plan,
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
        raise image_missing(plan.image) from e
    except docker.errors.DockerException as e:
        raise TracerError(f"cannot create a container of {plan.image}: {e}") from e
    stack.callback(remove_container, container)
    return container


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


def image_missing(ref: str) -> TracerError:
    return TracerError(
        f"the image {ref} is not present in the Docker engine; seccompgen never pulls images",
        hint="build it (`docker build -t "
        f"{ref} .`) or load it (`docker load -i FILE`, from `docker save` elsewhere)",
    )


def image_config(client: Any, ref: str) -> dict[str, Any]:
    import docker.errors

    try:
        image = client.images.get(ref)
    except docker.errors.ImageNotFound as e:
        raise image_missing(ref) from e
    except docker.errors.DockerException as e:
        raise TracerError(f"cannot inspect the image {ref}: {e}") from e
    config = image.attrs.get("Config") or {}
    return dict(config)


def image_env(client: Any, ref: str) -> dict[str, str]:
    return env_dict(image_config(client, ref).get("Env") or [])


def env_dict(items: Sequence[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        env[key] = value
    return env


class ContainerFiles:
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
    return ContainerFiles(container).resolve_program(name, path_env or DEFAULT_PATH)


def missing_libraries(fs: ContainerFiles, info: ElfInfo) -> list[str]:
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


def remove_container(container: Any) -> None:
    """Remove a container, killing it first if it still runs; a gone container is fine."""
    import docker.errors

    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True)
