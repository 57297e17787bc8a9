"""The tracer image: strace, Python 3 and seccompgen, built locally through the Docker SDK.

The image is built from ``Dockerfile.tracer`` in the source tree and a context holding a
wheelhouse (seccompgen and its runtime dependencies, built here with ``pip wheel``), so nothing
inside the build needs a Python index. Its tag is derived from the content that goes into it
(:func:`tracer_image_tag`), so an image built from the same inputs is reused and any change to
the Dockerfile, the package sources or the pinned dependencies gives a new tag. After a new
tag is built, the older tracer images are removed (:func:`prune_tracer_images`): each is some
300 MB, and none is used again once the sources moved on.

Nothing is ever pulled: the base image must be present in the engine (build it with
``scripts/build-base-image.sh`` or ``docker load`` it), and :func:`ensure_tracer_image` checks
that before it builds, because a build whose ``FROM`` image is missing would otherwise try a
registry.

The ``docker`` package (a dependency of seccompgen) is imported lazily, in :func:`docker_client`,
so commands that need no engine start without it; an installation that lost it gets
:data:`DOCKER_MISSING` instead of an ImportError.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seccompgen.errors import TracerError

if TYPE_CHECKING:
    import docker  # type: ignore[import-untyped]

#: The local base image that ``scripts/build-base-image.sh`` builds from Debian packages.
LOCAL_BASE_IMAGE = "seccompgen/debian:bookworm-slim"
#: The repository part of tracer image tags; the tag part is a content hash.
TRACER_REPOSITORY = "seccompgen/tracer"
#: Extras of seccompgen installed in the image: none (python-ptrace, for the ptrace backend, is a
#: plain dependency).
TRACER_EXTRAS: tuple[str, ...] = ()
#: What to say when the Docker SDK cannot be imported although seccompgen depends on it.
DOCKER_MISSING = "the Docker SDK for Python (package `docker`) cannot be imported"
DOCKER_MISSING_HINT = (
    "it is a dependency of seccompgen: reinstall it (pip install --force-reinstall seccompgen) "
    "or install the SDK alone (pip install docker)"
)

_START_HINT = "start it: `scripts/docker-up.sh` or `systemctl start docker`"

Progress = Callable[[str], None]


def docker_client(engine: str = "docker") -> docker.DockerClient:
    """A client for the engine that ``DOCKER_HOST`` (or the default socket) names, or with
    ``engine="podman"`` for podman's Docker-compatible API
    (:func:`seccompgen.containers.podman.podman_client`).

    The API version is negotiated with the daemon (``version="auto"``), so a newer SDK talks to
    an older engine such as Debian's 20.10 (API 1.41).
    """
    try:
        import docker
        import docker.errors  # type: ignore[import-untyped]
    except ImportError as e:
        raise TracerError(f"{DOCKER_MISSING}: {e}", hint=DOCKER_MISSING_HINT) from e
    if engine == "podman":
        from seccompgen.containers.podman import podman_client

        return podman_client()
    if engine != "docker":
        raise TracerError(f"unknown container engine {engine!r}", hint="use docker or podman")
    try:
        client = docker.from_env(version="auto")
        client.ping()
    except docker.errors.DockerException as e:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        hint = _START_HINT
        if shutil.which("podman"):
            hint += ", or use podman instead (--engine podman)"
        raise TracerError(f"the Docker daemon at {where} is unreachable: {e}", hint=hint) from e
    return client


def project_root() -> Path:
    """The source tree seccompgen runs from: the directory holding ``Dockerfile.tracer``.

    Raises :class:`TracerError` for an installed (non-source) copy, which has no Dockerfile.
    """
    root = Path(__file__).resolve().parents[2]
    for name in ("Dockerfile.tracer", "pyproject.toml"):
        if not (root / name).is_file():
            raise TracerError(
                f"{root / name} is missing: building the tracer image needs a seccompgen "
                "source checkout",
                hint="run seccompgen from its source tree (pip install -e .)",
            )
    return root


def _canonical(name: str) -> str:
    # PEP 503 normalisation: runs of -, _ and . are equivalent and case is ignored.
    return re.sub(r"[-_.]+", "-", name).lower()


_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA_MARKER = re.compile(r"\bextra\s*==")
# The legacy builder colours a step's stderr with SGR escapes; progress lines are plain text.
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def _requirement_names(reqs: list[str] | None) -> Iterator[str]:
    """Names of requirements that apply without extras (``extra == ...`` markers are skipped)."""
    for req in reqs or ():
        if _EXTRA_MARKER.search(req):
            continue
        m = _REQ_NAME.match(req)
        if m:
            yield m.group(1)


def runtime_pins(root: Path, extras: tuple[str, ...] = TRACER_EXTRAS) -> list[str]:
    """``name==version`` for seccompgen's runtime dependencies, as installed here, sorted.

    The closure starts from ``[project] dependencies`` and the given optional-dependency groups
    of ``pyproject.toml`` and follows each installed distribution's own requirements. A
    requirement that is not installed here is left to pip's resolver (its marker did not apply,
    or it is missing and pip will say so). Pinning the image to what runs here keeps the image
    and the host on the same versions.
    """
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    todo = list(_requirement_names(project.get("dependencies", [])))
    for extra in extras:
        todo.extend(_requirement_names(project.get("optional-dependencies", {}).get(extra, [])))
    pins: dict[str, str] = {}
    while todo:
        name = _canonical(todo.pop())
        if name in pins:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        pins[name] = dist.version
        todo.extend(_requirement_names(dist.requires))
    return [f"{n}=={v}" for n, v in sorted(pins.items())]


def tracer_context_files(root: Path) -> dict[str, bytes]:
    """The inputs of the tracer image, by path relative to ``root``: what its tag hashes.

    ``Dockerfile.tracer``, ``pyproject.toml``, ``README.md`` (the wheel's long description),
    every file of the package except bytecode, and ``constraints.txt``: the pinned runtime
    dependencies (:func:`runtime_pins`) that the wheelhouse is built from.
    """
    files: dict[str, bytes] = {}
    for name in ("Dockerfile.tracer", "pyproject.toml", "README.md"):
        path = root / name
        if path.is_file():
            files[name] = path.read_bytes()
    for path in sorted((root / "seccompgen").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    files["constraints.txt"] = ("\n".join(runtime_pins(root)) + "\n").encode()
    return files


def tracer_image_tag(context_files: Mapping[str, bytes], *, base: str = "") -> str:
    """The tag for a tracer image built from ``context_files`` on ``base``.

    A SHA-256 over the sorted paths and contents (each length-prefixed, so no two different
    file sets hash alike) and the base image's name or id; the first 16 hex digits name the tag.
    """
    h = hashlib.sha256()
    h.update(f"base\0{len(base)}\0{base}\0".encode())
    for path in sorted(context_files):
        data = context_files[path]
        h.update(f"{len(path)}\0{path}\0{len(data)}\0".encode())
        h.update(data)
    return f"{TRACER_REPOSITORY}:{h.hexdigest()[:16]}"


def build_wheelhouse(root: Path, constraints: Path, dest: Path, *, timeout: float = 900.0) -> None:
    """``pip wheel`` seccompgen (with :data:`TRACER_EXTRAS`) and its pinned dependencies into
    ``dest``, using this machine's pip configuration (its index, find-links and cache)."""
    spec = f"{root}[{','.join(TRACER_EXTRAS)}]" if TRACER_EXTRAS else str(root)
    cmd = [
        sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
        "--wheel-dir", str(dest), "--constraint", str(constraints), spec,
    ]  # fmt: skip
    # seccompgen's own wheel is built pure (without the optional compiled loops): a wheel
    # compiled for this machine's Python would not install into the image's Debian python3
    # when the two differ (cp312 here, cp311 there), and the pure path gives the same results.
    env = dict(os.environ, SECCOMPGEN_BUILD_EXT="0")
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env
        )
    except subprocess.TimeoutExpired as e:
        raise TracerError(f"pip wheel for the tracer image took longer than {timeout:.0f}s") from e
    if proc.returncode != 0:
        raise TracerError(
            f"pip wheel for the tracer image failed (exit {proc.returncode}):\n"
            f"{proc.stderr.strip()[-2000:]}",
            hint="check that pip can reach its package index (pip config list)",
        )


def _image_id(client: Any, ref: str) -> str | None:
    import docker.errors

    try:
        return str(client.images.get(ref).id)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.DockerException as e:
        raise TracerError(f"cannot ask the Docker daemon about {ref}: {e}", hint=_START_HINT) from e


def ensure_tracer_image(
    client: Any, base: str | None = None, progress: Progress | None = None
) -> str:
    """Build the tracer image on ``base`` unless an image with its content tag exists; its tag.

    ``base`` defaults to :data:`LOCAL_BASE_IMAGE` and must be present in the engine: nothing is
    pulled. The build runs with ``network_mode="host"`` so the base image's apt reaches the
    mirrors this machine reaches. ``progress`` receives one line per build step and output line.
    """
    import docker.errors

    report = progress or (lambda _line: None)
    base = base or LOCAL_BASE_IMAGE
    base_id = _image_id(client, base)
    if base_id is None:
        raise TracerError(
            f"the base image {base} is not present in the Docker engine, and seccompgen never "
            "pulls images",
            hint="build it from Debian packages with `scripts/build-base-image.sh`, or "
            "`docker load -i <file>` an image saved elsewhere (`docker save`)",
        )
    root = project_root()
    files = tracer_context_files(root)
    tag = tracer_image_tag(files, base=base_id)
    if _image_id(client, tag) is not None:
        report(f"reusing {tag}")
        return tag

    report(f"building {tag} on {base}")
    with tempfile.TemporaryDirectory(prefix="seccompgen-tracer-") as tmp:
        ctx = Path(tmp)
        shutil.copyfile(root / "Dockerfile.tracer", ctx / "Dockerfile")
        (ctx / "constraints.txt").write_bytes(files["constraints.txt"])
        report("building the wheelhouse (pip wheel)")
        build_wheelhouse(root, ctx / "constraints.txt", ctx / "wheels")
        try:
            # The low-level API streams the build's output; images.build() returns it only at
            # the end. pull=False: never refresh the FROM image from a registry.
            stream = client.api.build(
                path=str(ctx),
                dockerfile="Dockerfile",
                tag=tag,
                buildargs={"BASE": base},
                network_mode="host",
                pull=False,
                rm=True,
                forcerm=True,
                decode=True,
                labels={"io.seccompgen.base": base_id},
            )
            for chunk in stream:
                if "error" in chunk:
                    raise TracerError(
                        f"building {tag} failed: {str(chunk['error']).strip()}",
                        hint="see the build output above; apt inside the build needs the "
                        "host's network (--network host) or a base built with --include",
                    )
                text = _SGR.sub("", str(chunk.get("stream", ""))).rstrip()
                for line in text.splitlines():
                    if line.strip():
                        report(line)
        except docker.errors.DockerException as e:
            raise TracerError(f"building {tag} failed: {e}", hint=_START_HINT) from e
    if _image_id(client, tag) is None:
        raise TracerError(f"the build of {tag} ended without an image")
    removed = prune_tracer_images(client, keep=tag)
    if removed:
        report(f"removed {len(removed)} older tracer image(s): {', '.join(removed)}")
    return tag


def prune_tracer_images(client: Any, *, keep: str) -> list[str]:
    """Remove the :data:`TRACER_REPOSITORY` images other than ``keep``; the tags removed.

    An image a container still uses (running or stopped) is left alone: the engine refuses to
    remove it without force, and none is asked for. Other repositories are never touched.
    """
    import docker.errors

    removed: list[str] = []
    try:
        images = client.images.list(name=TRACER_REPOSITORY)
    except docker.errors.DockerException:
        return removed
    for image in images:
        tags = [t for t in image.tags if t.startswith(TRACER_REPOSITORY + ":")]
        if not tags or keep in image.tags or len(tags) != len(image.tags):
            continue  # the one in use, or an image also tagged outside the tracer repository
        for tag in sorted(tags):  # by tag: an id with several tags needs force
            try:
                client.images.remove(tag, force=False, noprune=False)
            except docker.errors.DockerException:
                break  # in use by a container, or removed meanwhile
            removed.append(tag)
    return removed
