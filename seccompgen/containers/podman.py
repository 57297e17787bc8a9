"""Podman as a second engine, through its Docker-compatible API and the same Docker SDK.

``--engine podman`` connects the Docker SDK to podman's API socket instead of the Docker
daemon's; everything else (images, containers, labels, logs, archives) goes through the same
calls as for Docker (:mod:`seccompgen.containers.engine`, :mod:`seccompgen.verify`). Which socket:

1. ``CONTAINER_HOST`` when set (podman's own variable, ``unix://PATH``);
2. the rootful socket ``/run/podman/podman.sock`` (``podman.socket``), or for a non-root user
   ``$XDG_RUNTIME_DIR/podman/podman.sock`` (rootless), when it answers;
3. otherwise, when ``podman`` is installed, ``podman system service --time=0`` on a socket in a
   private temporary directory, started for this process and stopped when it exits (about a
   second; podman has no daemon, the service is just podman answering API calls).

The one difference that matters here, measured with Debian's podman 4.3.1: its compat
``containers/create`` reads ``SecurityOpt`` ``seccomp=VALUE`` as a *file path*, where Docker's
daemon takes the profile's JSON text (the docker CLI reads the file and sends its content).
Given the JSON text, podman fails with "opening seccomp profile failed: open {...: file name
too long". :func:`seccomp_option` hands each engine what it reads; podman's server runs on this
machine (a local socket), so a path here is a path there.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from seccompgen.errors import TracerError

ENGINES: Final = ("docker", "podman")
"""The engines ``--engine`` accepts."""

ROOTFUL_SOCKET: Final = Path("/run/podman/podman.sock")
_SERVICE_WAIT: Final = 20.0  # seconds for a started service's socket to answer

_service: subprocess.Popen[bytes] | None = None
_service_dir: str | None = None


def _sockets() -> list[str]:
    """Candidate ``unix://`` URLs of a running podman API service, in order."""
    out = []
    host = os.environ.get("CONTAINER_HOST", "")
    if host:
        out.append(host)
    if os.geteuid() == 0:
        out.append(f"unix://{ROOTFUL_SOCKET}")
    else:
        runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
        out.append(f"unix://{runtime_dir}/podman/podman.sock")
    return out


def _connect(url: str) -> Any | None:
    import docker  # type: ignore[import-untyped,unused-ignore]
    import docker.errors  # type: ignore[import-untyped,unused-ignore]

    if url.startswith("unix://") and not Path(url[len("unix://") :]).exists():
        return None
    try:
        client = docker.DockerClient(base_url=url, version="auto")
        client.ping()
    except docker.errors.DockerException:
        return None
    return client


def podman_client() -> Any:
    """A Docker SDK client connected to podman (see the module docstring)."""
    for url in _sockets():
        client = _connect(url)
        if client is not None:
            return client
    url = _start_service()
    client = _connect(url)
    if client is None:
        raise TracerError(f"podman's API service at {url} does not answer")
    return client


def _start_service() -> str:
    """Start ``podman system service`` for this process (once); returns its socket URL."""
    global _service, _service_dir
    podman = shutil.which("podman")
    if podman is None:
        raise TracerError(
            f"podman is not installed and no podman API socket answers ({', '.join(_sockets())})",
            hint="install podman (apt-get install podman), or use --engine docker",
        )
    if _service is not None and _service.poll() is None and _service_dir is not None:
        return f"unix://{_service_dir}/podman.sock"
    _service_dir = tempfile.mkdtemp(prefix="seccompgen-podman-")
    sock = Path(_service_dir) / "podman.sock"
    _service = subprocess.Popen(
        [podman, "system", "service", "--time=0", f"unix://{sock}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a Ctrl-C meant for seccompgen reaches it through atexit
    )
    atexit.register(stop_service)
    deadline = time.monotonic() + _SERVICE_WAIT
    while time.monotonic() < deadline:
        if sock.exists() and _connect(f"unix://{sock}") is not None:
            return f"unix://{sock}"
        if _service.poll() is not None:
            err = (_service.stderr.read() if _service.stderr else b"").decode(errors="replace")
            stop_service()
            last = err.strip().splitlines()[-1:] or ["no message"]
            raise TracerError(f"`podman system service` exited at once: {last[0]}")
        time.sleep(0.1)
    stop_service()
    raise TracerError(f"`podman system service` did not answer on {sock} within {_SERVICE_WAIT}s")


def stop_service() -> None:
    """Stop the API service this process started, if any (idempotent)."""
    global _service, _service_dir
    proc, _service = _service, None
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc is not None and proc.stderr is not None:
        proc.stderr.close()
    if _service_dir is not None:
        shutil.rmtree(_service_dir, ignore_errors=True)
        _service_dir = None


def is_podman(client: Any) -> bool:
    """True when ``client`` talks to podman (its version names a "Podman Engine")."""
    cached = getattr(client, "_seccompgen_podman", None)
    if cached is not None:
        return bool(cached)
    try:
        components = client.version().get("Components") or []
    except Exception:  # an engine that cannot say is taken for Docker
        components = []
    found = any("podman" in str(c.get("Name", "")).lower() for c in components)
    with contextlib.suppress(AttributeError):
        client._seccompgen_podman = found
    return found


@contextlib.contextmanager
def seccomp_option(client: Any, profile_json: str) -> Iterator[str]:
    """The ``security_opt`` entry that installs ``profile_json`` on ``client``'s engine, valid
    while the context lasts (create the container inside it): the JSON text for Docker, the
    path of a private copy for podman (see the module docstring)."""
    if not is_podman(client):
        yield f"seccomp={profile_json}"
        return
    with tempfile.TemporaryDirectory(prefix="seccompgen-seccomp-") as tmp:
        path = Path(tmp) / "profile.json"
        path.write_text(profile_json, encoding="utf-8")
        yield f"seccomp={path}"
