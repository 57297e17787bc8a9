"""The trace store: where recorded traces and the merged graph live.

Layout (documented in ``docs/trace-format.md``)::

    <store>/graph.json                         the merged SyscallGraph of every trace below
    <store>/<workload>/<UTC stamp>-<id8>.trace.jsonl   one trace file per run or import
    <store>/emitted.json                       the profiles emit wrote: content digest -> workloads

The store is ``--store DIR`` when given, else ``$SECCOMPGEN_STORE``, else ``./traces`` under the
current directory. ``graph.json`` is a cache of the traces: ``rebuild()`` recreates it from them,
and adding a trace twice does not count it twice (the graph remembers trace ids).
``emitted.json`` lets ``verify`` name the workloads a profile was emitted for, found by the
digest of its content (so a copied or renamed profile is still recognised); the profile itself
carries no such key, which keeps it a plain runtime-spec profile.

Crash safety. Every file appears under its final name complete or not at all (a temporary file
in the same directory, fsync, then rename(2)). A command killed between renaming its trace into
the store and saving ``graph.json`` leaves a graph that lacks that trace: :meth:`load_graph`
sees that the graph's trace ids are not the trace files' and brings it up to date (folding in
the missing traces, or rebuilding when a trace was removed or the file is unreadable). Writers
of ``graph.json`` hold an exclusive flock(2) on ``<store>/.lock``, which the kernel releases
when the holder dies, so two commands never lose each other's trace.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seccompgen.errors import StoreError, TraceFileError
from seccompgen.graph import SyscallGraph
from seccompgen.tracefile import read_trace

ENV_VAR = "SECCOMPGEN_STORE"
DEFAULT_DIR = "traces"
GRAPH_FILE = "graph.json"
EMITTED_FILE = "emitted.json"
EMITTED_FORMAT = "seccompgen-emitted"
EMITTED_VERSION = 1
VERIFIED_FILE = "verified.json"
VERIFIED_FORMAT = "seccompgen-verified"
VERIFIED_VERSION = 1
TRACE_SUFFIX = ".trace.jsonl"
LOCK_FILE = ".lock"
_GRAPH_TMP_PREFIX = ".graph."
_TMP_SUFFIX = ".tmp"
# new_trace_path's names end in the first 8 hex digits of the trace id: "<stamp>-<id8>.trace.jsonl".
_ID8_RE = re.compile(r"-([0-9a-f]{8})" + re.escape(TRACE_SUFFIX) + "$")

# Backends whose trace lines are not in call order: ebpf writes per-thread counts, learned audit
# records carry no thread ids, and a delta trace holds only the misses (two misses in a row were
# not two calls in a row). Their calls count, their order does not (no transitions).
# Traces imported from a profile (import --spo) hold allow lines and no events.
PROFILE_BACKENDS = frozenset({"import-spo", "import-profile"})
UNORDERED_BACKENDS = frozenset({"ebpf", "audit", "delta"}) | PROFILE_BACKENDS

# Backends that keep a sample of argument values, not every call's (ebpf: the argument tuples
# of the first calls per thread, syscall and phase): only the arguments their footer's
# every_value lists hold every value, so argument rules are drawn from those alone. strace and
# ptrace record every call's arguments.
SAMPLED_ARGS_BACKENDS = frozenset({"ebpf"})

_WORKLOAD_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def check_workload_name(name: str) -> str | None:
    """Return why ``name`` is not a usable workload name, or None when it is.

    Workload names become directory and file names, so they are kept to a portable alphabet.
    """
    if _WORKLOAD_RE.match(name):
        return None
    return (
        f"workload name {name!r} is not allowed: use 1-63 letters, digits, '.', '_' or '-', "
        "starting with a letter or digit"
    )


@dataclass(frozen=True)
class EmittedProfile:
    """One profile ``emit`` wrote: its content digest, the workloads it was built from, where it
    was written (absolute), its mode and when (ISO 8601, UTC)."""

    digest: str
    workloads: tuple[str, ...]
    path: str
    mode: str
    emitted: str

    def to_dict(self) -> dict[str, object]:
        return {
            "digest": self.digest,
            "workloads": list(self.workloads),
            "path": self.path,
            "mode": self.mode,
            "emitted": self.emitted,
        }


@dataclass(frozen=True)
class VerifiedProfile:
    """One ``verify`` result: the profile's content digest, where it was read from (absolute),
    what ran under it (image or program), whether it passed, a one-line summary, and when (ISO
    8601, UTC)."""

    digest: str
    path: str
    target: str
    passed: bool
    summary: str
    verified: str

    def to_dict(self) -> dict[str, object]:
        return {
            "digest": self.digest,
            "path": self.path,
            "target": self.target,
            "passed": self.passed,
            "summary": self.summary,
            "verified": self.verified,
        }


class TraceStore:
    """A directory of trace files plus the graph merged from them."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def resolve(
        cls,
        store: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> TraceStore:
        """The store chosen by ``--store``, else ``$SECCOMPGEN_STORE``, else ``./traces``."""
        env = os.environ if environ is None else environ
        base = cwd if cwd is not None else Path.cwd()
        chosen = store if store is not None else env.get(ENV_VAR) or DEFAULT_DIR
        path = Path(chosen).expanduser()
        return cls(path if path.is_absolute() else base / path)

    @property
    def graph_path(self) -> Path:
        return self.root / GRAPH_FILE

    def new_trace_path(self, workload: str, trace_id: str, stamp: str) -> Path:
        """Where a new trace of ``workload`` goes; ``stamp`` is a compact UTC time."""
        problem = check_workload_name(workload)
        if problem:
            raise StoreError(problem)
        safe_stamp = re.sub(r"[^0-9A-Za-z]", "", stamp)
        return self.root / workload / f"{safe_stamp}-{trace_id[:8]}{TRACE_SUFFIX}"

    def traces(self, workloads: Sequence[str] | None = None) -> list[Path]:
        """Trace files in the store, sorted; only those of ``workloads`` when given."""
        if not self.root.is_dir():
            return []
        wanted = set(workloads) if workloads else None
        found = []
        for path in self.root.glob(f"*/*{TRACE_SUFFIX}"):
            if wanted is None or path.parent.name in wanted:
                found.append(path)
        return sorted(found)

    def load_graph(self) -> SyscallGraph:
        """The merged graph of every trace in the store, brought up to date if it is behind.

        ``graph.json`` is read as it is when it holds exactly the store's traces; otherwise
        (missing, unreadable, lacking a trace or holding one that was removed) it is updated
        from the trace files and saved. Raises StoreError when the store holds no traces at all.
        """
        traces = self.traces()
        graph = self._read_graph()
        if graph is not None and self._matches_names(graph, traces):
            return graph
        if not traces and graph is None:
            raise StoreError(
                f"no traces in the store {self.root}",
                hint="record one with `seccompgen trace ./app --workload NAME`, import one with "
                "`seccompgen import strace.log --workload NAME`, or point --store (or "
                f"${ENV_VAR}) at the store that holds them",
            )
        with self._locked(optional=True) as writable:
            # A store this user cannot write (a read-only mount, another user's store) is
            # still readable: the graph is then brought up to date in memory only.
            return self._reconcile(save=writable)

    def rebuild(self) -> SyscallGraph:
        """Recreate ``graph.json`` from every trace file in the store."""
        with self._locked():
            return self._rebuild_locked()

    def add_trace(self, path: Path) -> SyscallGraph:
        """Fold one trace file into ``graph.json`` (a no-op for a trace already folded in)."""
        with self._locked():
            graph = self._reconcile(save=False)
            graph = self._fold(graph, path)
            self.save_graph(graph)
            return graph

    def save_graph(self, graph: SyscallGraph) -> None:
        """Write ``graph.json`` atomically (temp file in the store, fsync, then rename)."""
        self._write_atomically(self.graph_path, graph.to_json())

    @property
    def emitted_path(self) -> Path:
        return self.root / EMITTED_FILE

    def emitted(self, digest: str | None = None) -> tuple[EmittedProfile, ...]:
        """The recorded emitted profiles (those with ``digest`` when given), newest first.

        Raises StoreError naming the file when ``emitted.json`` is not what emit writes.
        """
        path = self.emitted_path
        hint = (
            "delete it: it only records which workloads emitted profiles came from, "
            "and the next emit starts it again"
        )
        entries = _read_record(
            path, EMITTED_FORMAT, EMITTED_VERSION, "profiles", "emitted-profiles record", hint
        )
        found: list[EmittedProfile] = []
        for i, entry in enumerate(entries):
            try:
                if not isinstance(entry["workloads"], list):
                    raise TypeError("workloads is not a list")
                item = EmittedProfile(
                    digest=str(entry["digest"]),
                    workloads=tuple(str(w) for w in entry["workloads"]),
                    path=str(entry["path"]),
                    mode=str(entry["mode"]),
                    emitted=str(entry["emitted"]),
                )
            except (KeyError, TypeError) as e:
                raise StoreError(
                    f"{path}: profiles[{i}] lacks a field or has the wrong type ({e})", hint=hint
                ) from e
            if digest is None or item.digest == digest:
                found.append(item)
        return tuple(sorted(found, key=lambda e: e.emitted, reverse=True))

    def record_emitted(self, entry: EmittedProfile) -> None:
        """Add ``entry`` to ``emitted.json`` (atomically, under the store's writer lock),
        replacing an older record of the same profile written to the same path for the same
        workloads."""
        with self._locked():
            self._record_emitted(entry)

    def _record_emitted(self, entry: EmittedProfile) -> None:
        kept = [
            e
            for e in self.emitted()
            if (e.digest, e.path, e.workloads) != (entry.digest, entry.path, entry.workloads)
        ]
        records = sorted([*kept, entry], key=lambda e: (e.emitted, e.path))
        data = {
            "format": EMITTED_FORMAT,
            "version": EMITTED_VERSION,
            "profiles": [e.to_dict() for e in records],
        }
        self._write_atomically(self.emitted_path, json.dumps(data, indent=2) + "\n")

    @property
    def verified_path(self) -> Path:
        return self.root / VERIFIED_FILE

    def verified(self, digest: str | None = None) -> tuple[VerifiedProfile, ...]:
        """The recorded ``verify`` results (of the profile with ``digest`` when given), newest
        first. Raises StoreError naming the file when ``verified.json`` is not what verify
        writes."""
        path = self.verified_path
        hint = "delete it: it only records verify results, and the next verify starts it again"
        entries = _read_record(
            path, VERIFIED_FORMAT, VERIFIED_VERSION, "results", "verify record", hint
        )
        found: list[VerifiedProfile] = []
        for i, entry in enumerate(entries):
            try:
                item = VerifiedProfile(
                    digest=str(entry["digest"]),
                    path=str(entry["path"]),
                    target=str(entry["target"]),
                    passed=bool(entry["passed"]),
                    summary=str(entry["summary"]),
                    verified=str(entry["verified"]),
                )
            except (KeyError, TypeError) as e:
                raise StoreError(
                    f"{path}: results[{i}] lacks a field or has the wrong type ({e})", hint=hint
                ) from e
            if digest is None or item.digest == digest:
                found.append(item)
        return tuple(sorted(found, key=lambda e: e.verified, reverse=True))

    def record_verified(self, entry: VerifiedProfile) -> None:
        """Add ``entry`` to ``verified.json`` (atomically, under the store's writer lock),
        replacing an older result of the same profile on the same target."""
        with self._locked():
            kept = [
                e for e in self.verified() if (e.digest, e.target) != (entry.digest, entry.target)
            ]
            records = sorted([*kept, entry], key=lambda e: (e.verified, e.path))
            data = {
                "format": VERIFIED_FORMAT,
                "version": VERIFIED_VERSION,
                "results": [e.to_dict() for e in records],
            }
            self._write_atomically(self.verified_path, json.dumps(data, indent=2) + "\n")

    def _write_atomically(self, path: Path, text: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=_TMP_SUFFIX, dir=self.root)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                # Without fsync a crash of the machine can leave the new name on an empty file
                # (rename(2) orders names, not data; see the ext4 data=ordered discussions).
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- consistency ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, *, optional: bool = False) -> Iterator[bool]:
        """Hold the store's writer lock: flock(2) on ``.lock``, released when the fd closes or
        the process dies (so a killed command never leaves the store locked). Yields True; with
        ``optional``, yields False without a lock when the store cannot be written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            if optional and e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                yield False
                return
            raise StoreError(
                f"cannot lock the store {self.root}: {e.strerror or e}",
                hint="check that the store directory exists and is writable",
            ) from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # Only the lock holder writes graph temp files: any left now belong to a writer that
            # was killed before its rename.
            for stale in self.root.glob(f"{_GRAPH_TMP_PREFIX}*{_TMP_SUFFIX}"):
                stale.unlink(missing_ok=True)
            yield True
        finally:
            os.close(fd)

    def _read_graph(self) -> SyscallGraph | None:
        """``graph.json`` parsed, or None when it is missing or unreadable (it is a cache)."""
        try:
            text = self.graph_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError):
            return None
        try:
            return SyscallGraph.from_json(text, source=str(self.graph_path))
        except TraceFileError:
            return None

    @staticmethod
    def _matches_names(graph: SyscallGraph, traces: Sequence[Path]) -> bool:
        """The cheap check, from file names alone: the graph holds one trace id per file."""
        id8s = []
        for path in traces:
            m = _ID8_RE.search(path.name)
            if m is None:
                return False  # a file not named by new_trace_path: read its header instead
            id8s.append(m.group(1))
        return sorted(id8s) == sorted(s[:8] for s in graph.sources())

    def _reconcile(self, *, save: bool = True) -> SyscallGraph:
        """Under the lock: the graph updated to the store's traces, saved when it changed.

        Trace files are matched to the graph by name first, then by the ids in their headers
        (a file renamed by hand, or two copies of one trace, which count once).
        """
        traces = self.traces()
        graph = self._read_graph()
        if graph is not None and self._matches_names(graph, traces):
            return graph
        ids = {path: read_trace(path).header.trace_id for path in traces}
        if graph is None or not set(graph.sources()) <= set(ids.values()):
            return self._rebuild_locked(save=save)
        have = set(graph.sources())
        missing = [path for path in traces if ids[path] not in have]
        for path in missing:
            graph = self._fold(graph, path)
        if save and missing:
            self.save_graph(graph)
        return graph

    def _rebuild_locked(self, *, save: bool = True) -> SyscallGraph:
        graph = SyscallGraph()
        for path in self.traces():
            graph = self._fold(graph, path)
        if save:
            self.save_graph(graph)
        return graph

    @staticmethod
    def _fold(graph: SyscallGraph, path: Path) -> SyscallGraph:
        try:
            reader = read_trace(path)
            every = reader.every_value() if reader.header.backend in SAMPLED_ARGS_BACKENDS else None
            graph.add_events(
                reader.header.workload,
                reader,
                source_id=reader.header.trace_id,
                ordered=reader.header.backend not in UNORDERED_BACKENDS,
                allowed=reader.allowed(),  # a trace imported from a profile (import --spo)
                every_value=every,
            )
        except TraceFileError:
            raise
        except OSError as e:
            raise StoreError(f"cannot read trace {path}: {e.strerror or e}") from e
        return graph


def _read_record(path: Path, fmt: str, version: int, key: str, what: str, hint: str) -> list[Any]:
    """The list under ``key`` of a JSON record file the store keeps (``emitted.json``,
    ``verified.json``); empty when the file does not exist. Raises StoreError naming the file
    (and line) when it is not such a record of ``version``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as e:
        raise StoreError(f"cannot read {path}: {e.strerror or e}") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise StoreError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}", hint=hint) from e
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise StoreError(f"{path}: not a seccompgen {what}", hint=hint)
    if data.get("version") != version:
        raise StoreError(
            f"{path}: version {data.get('version')!r} is not {version}",
            hint="written by another seccompgen version; " + hint,
        )
    entries = data.get(key) or []
    if not isinstance(entries, list):
        raise StoreError(f"{path}: {key} is not a list", hint=hint)
    return entries
