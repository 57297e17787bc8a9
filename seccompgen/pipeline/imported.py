"""``seccompgen import --spo``: seccomp profiles recorded or written elsewhere (SPO
``SeccompProfile`` resources, Docker/OCI JSON profiles) as observations of named workloads.

Each profile document becomes one trace file in the store (backend ``import-spo`` or
``import-profile``; its command names the file and the document) holding one ``"allow"`` line
per allowed name (:mod:`seccompgen.tracefile`), so ``emit``, ``graph``, ``report`` and the rest
see an imported workload like a traced one, and unite it with local traces of the same name.

Every input is read and checked before anything is written; the traces are then written to
temporary files, and renamed into the store only when all of them were written, so a bad input
(or a failed write) leaves the store as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from seccompgen.errors import ManifestError, StoreError
from seccompgen.parsing.profiles import SPO, ImportedProfile, parse_profiles
from seccompgen.pipeline._shared import known_syscalls, stamp
from seccompgen.store import TraceStore, check_workload_name
from seccompgen.tracefile import ALLOW_VERSION, TraceHeader, TraceWriter

BACKENDS = {SPO: "import-spo", "oci": "import-profile"}
"""The trace ``backend`` per kind of imported profile."""


@dataclass(frozen=True)
class ProfileImportOptions:
    """What ``seccompgen import --spo`` was asked to do: the files, the workload every profile
    goes to (default: an SPO profile's name, a JSON profile's file stem) and the architecture
    of the names (default: the profile's, see :mod:`seccompgen.parsing.profiles`)."""

    files: tuple[Path, ...]
    store: TraceStore
    workload: str | None = None
    arch: str | None = None


@dataclass(frozen=True)
class ImportedDocument:
    """One profile document imported: the trace written, the workload, the profile and the
    names that workload had not been seen with before."""

    path: Path
    workload: str
    profile: ImportedProfile
    new_for_workload: tuple[str, ...]


@dataclass(frozen=True)
class ProfileImportSummary:
    documents: tuple[ImportedDocument, ...]

    @property
    def workloads(self) -> tuple[str, ...]:
        """The workloads imported into, in input order."""
        return tuple(dict.fromkeys(d.workload for d in self.documents))


def import_profiles(opts: ProfileImportOptions) -> ProfileImportSummary:
    """Read every profile in ``opts.files``, then write one trace per profile document.

    Raises :class:`ManifestError` (or :class:`~seccompgen.errors.ProfileError`) naming the file
    and document for input that cannot be imported, before the store is touched.
    """
    if opts.workload is not None:
        _check_name(opts.workload, "--workload")
    planned: list[tuple[str, ImportedProfile, Path]] = []
    for file in opts.files:
        for profile in parse_profiles(_read(file), source=str(file), arch=opts.arch):
            workload = opts.workload or _default_workload(profile, file)
            planned.append((workload, profile, file))
    before = {w: known_syscalls(opts.store, w) for w in dict.fromkeys(w for w, _, _ in planned)}
    writers: list[tuple[TraceWriter, str, ImportedProfile]] = []
    try:
        for workload, profile, file in planned:
            header = TraceHeader.new(
                workload=workload,
                arch=profile.arch,
                backend=BACKENDS[profile.form],
                command=_command(file, profile),
                version=ALLOW_VERSION,
            )
            path = opts.store.new_trace_path(workload, header.trace_id, stamp())
            writer = TraceWriter.create(path, header)
            writers.append((writer, workload, profile))
            for name in profile.allowed:
                writer.allow(name)
    except BaseException:
        for writer, _, _ in writers:
            writer.discard()
        raise
    # Everything is written; only the renames are left (each atomic, rename(2)).
    for writer, _, _ in writers:
        writer.close(complete=True, reason=None)
    for writer, _, _ in writers:
        opts.store.add_trace(writer.path)
    documents = []
    seen = {w: set(names) for w, names in before.items()}
    for writer, workload, profile in writers:
        added = set(profile.allowed) - seen[workload]
        seen[workload] |= added
        documents.append(ImportedDocument(writer.path, workload, profile, tuple(sorted(added))))
    return ProfileImportSummary(tuple(documents))


def _read(file: Path) -> str:
    if file.is_dir():
        raise ManifestError(
            f"{file}: is a directory",
            hint="give the YAML or JSON files themselves (e.g. DIR/*.yaml)",
        )
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ManifestError(f"{file}: no such file", hint="check the path") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(f"{file}: cannot read: {e}") from e


def _default_workload(profile: ImportedProfile, file: Path) -> str:
    if profile.name is not None:
        name, what = profile.name, "its metadata.name"
    else:
        name, what = file.stem, "the file name"
    _check_name(name, f"{profile.where}: the workload name from {what}")
    return name


def _check_name(name: str, what: str) -> None:
    problem = check_workload_name(name)
    if problem:
        raise StoreError(f"{what}: {problem}", hint="name the workload with --workload NAME")


def _command(file: Path, profile: ImportedProfile) -> Sequence[str]:
    where = [str(file), f"document {profile.document}"]
    if profile.item is not None:
        where.append(f"item {profile.item}")
    return where
