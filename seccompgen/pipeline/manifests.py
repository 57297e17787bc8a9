"""The use cases on Kubernetes manifests: ``k8s attach`` (a Localhost seccomp profile into a
manifest's workloads)."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from seccompgen.attach.kubernetes import KUBELET_SECCOMP_DIR, localhost_profile_for
from seccompgen.attach.manifest import AttachResult, attach_profile
from seccompgen.errors import ManifestError


@dataclass(frozen=True, slots=True)
class AttachOptions:
    """What ``k8s attach`` was asked to do."""

    manifest: Path
    profile: str
    """``--profile NAME``: a bare name or a path relative to the kubelet's seccomp directory."""
    containers: tuple[str, ...] = ()
    """Containers to attach to; empty: pod-wide."""
    output: Path | None = None
    """Where to write; None with ``in_place`` False: nowhere (the caller prints ``text``)."""
    in_place: bool = False
    force: bool = False
    podman: bool = False
    """Also write the annotations ``podman kube play`` reads (:mod:`seccompgen.attach.podman`)."""
    data: bytes | None = None
    """The manifest when it is not read from ``manifest`` (standard input)."""


@dataclass(frozen=True, slots=True)
class AttachReport:
    """The patched manifest and where it went."""

    result: AttachResult
    localhost_profile: str
    node_path: str
    """Where the profile file must be on each node."""
    written: Path | None
    """The file written, or None (stdout, or --in-place with nothing to change)."""


def _read(path: Path, data: bytes | None) -> str:
    # Read as bytes: CRLF line ends stay as they are (text mode would turn them into LF).
    source = "<stdin>" if data is not None else str(path)
    try:
        return (path.read_bytes() if data is None else data).decode("utf-8")
    except FileNotFoundError as e:
        raise ManifestError(f"{path}: no such file", hint="check the path") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(f"{source}: cannot read: {e}") from e


def _is_regular_or_new(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)  # through symbolic links
    except FileNotFoundError:
        return True
    except OSError as e:
        raise ManifestError(f"{path}: cannot write: {e}") from e


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a
    part: a temporary file in the same directory, fsync, ``os.replace`` (rename(2)). An
    existing file keeps its mode (through a symbolic link, its target is replaced); a new one
    gets 0666 minus the umask, as ``open`` would give it. A device or pipe (``-o /dev/stdout``)
    is written to, never replaced."""
    data = text.encode("utf-8")
    if not _is_regular_or_new(path):
        try:
            with path.open("wb") as f:
                f.write(data)
        except OSError as e:
            raise ManifestError(f"{path}: cannot write: {e}") from e
        return
    target = path.resolve() if path.is_symlink() else path
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    except OSError as e:
        raise ManifestError(f"{path}: cannot write: {e}") from e
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as e:
        raise ManifestError(f"{path}: cannot write: {e}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ManifestError(f"{path}: cannot write: {e}") from e


def k8s_attach(opts: AttachOptions) -> AttachReport:
    """Patch the manifest (see :func:`seccompgen.attach.manifest.attach_profile`) and write it
    to ``output``, or over the manifest with ``in_place``. Nothing is written on an error."""
    path = localhost_profile_for(opts.profile)
    if opts.in_place and (opts.data is not None or not _is_regular_or_new(opts.manifest)):
        raise ManifestError(
            f"--in-place needs a regular manifest file, not {'-' if opts.data else opts.manifest}"
        )
    text = _read(opts.manifest, opts.data)
    result = attach_profile(
        text,
        source=str(opts.manifest) if opts.data is None else "<stdin>",
        profile_path=path,
        containers=opts.containers,
        force=opts.force,
        podman=opts.podman,
    )
    written: Path | None = None
    if opts.in_place:
        if result.changed:
            write_atomically(opts.manifest, result.text)
            written = opts.manifest
    elif opts.output is not None:
        write_atomically(opts.output, result.text)
        written = opts.output
    return AttachReport(
        result=result,
        localhost_profile=path,
        node_path=str(KUBELET_SECCOMP_DIR / path),
        written=written,
    )
