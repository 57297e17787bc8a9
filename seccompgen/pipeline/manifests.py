"""The use cases on Kubernetes manifests: ``k8s attach`` (a Localhost seccomp profile into a
manifest's workloads)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seccompgen.attach.kubernetes import KUBELET_SECCOMP_DIR, localhost_profile_for
from seccompgen.attach.manifest import AttachResult, attach_profile
from seccompgen.errors import ManifestError
from seccompgen.fileio import is_regular_or_new, write_atomically


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


def _write(path: Path, text: str) -> None:
    """The patched manifest to ``path`` (:func:`seccompgen.fileio.write_atomically`: readers see
    the old file or the new one; an existing file keeps its mode; a device or pipe such as
    ``-o /dev/stdout`` is written to, never replaced)."""
    try:
        write_atomically(path, text.encode("utf-8"))
    except OSError as e:
        raise ManifestError(f"{path}: cannot write: {e}") from e


def k8s_attach(opts: AttachOptions) -> AttachReport:
    """Patch the manifest (see :func:`seccompgen.attach.manifest.attach_profile`) and write it
    to ``output``, or over the manifest with ``in_place``. Nothing is written on an error."""
    path = localhost_profile_for(opts.profile)
    if opts.in_place and (opts.data is not None or not is_regular_or_new(opts.manifest)):
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
            _write(opts.manifest, result.text)
            written = opts.manifest
    elif opts.output is not None:
        _write(opts.output, result.text)
        written = opts.output
    return AttachReport(
        result=result,
        localhost_profile=path,
        node_path=str(KUBELET_SECCOMP_DIR / path),
        written=written,
    )
