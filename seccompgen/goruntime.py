"""The Go runtime's safety net: syscalls Go programs make on rare paths a short trace misses.

A tight profile built from one trace can crash a Go service later: the first goroutine that runs
long enough to be preempted needs ``tgkill`` and ``rt_sigreturn``, the first idle thread that
exits needs ``exit``, the first CPU profile needs ``timer_create``. The list, with the reason and
the runtime source of each path, is data (``seccompgen/data/go-runtime.json``); ``emit`` adds it
to profiles of Go programs and reports those names as "required by the Go runtime, not observed".

Whether a workload is a Go program is read from the programs its traces ran (the first item of
each trace header's command), inspected without running them (:mod:`seccompgen.inspect`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from seccompgen.errors import ProfileError, SeccompgenError
from seccompgen.store import PROFILE_BACKENDS, TraceStore
from seccompgen.tracefile import read_trace

_DATA = "go-runtime.json"


@dataclass(frozen=True, slots=True)
class GoRuntimeEntry:
    """One rare path of the Go runtime and the syscalls it makes."""

    path: str
    names: tuple[str, ...]
    reason: str
    source: str
    go: str = ">=1.14"
    """The Go versions that take this path (``>=1.N``)."""

    def applies_to(self, go_version: str) -> bool:
        """Whether a binary built by ``go_version`` (``go1.22.3``) takes this path."""
        want = _version(self.go.removeprefix(">="))
        have = _version(go_version.removeprefix("go"))
        return want is None or have is None or have >= want


def go_runtime_entries(arch: str = "x86_64") -> tuple[GoRuntimeEntry, ...]:
    """The bundled entries for ``arch`` (empty for an architecture the data does not cover).

    ``names`` and ``source`` are linux/amd64's; an entry's ``aarch64`` object gives the
    linux/arm64 source and, where the arm64 port differs, its names (each proven under
    qemu-aarch64-static by tests/integration/test_go_rare_paths.py).
    """
    resource = resources.files("seccompgen") / "data" / _DATA
    try:
        data = json.loads(resource.read_text(encoding="utf-8"))
        if arch not in data["arches"]:
            return ()
        default = data.get("go", ">=1.14")
        entries: list[GoRuntimeEntry] = []
        for e in data["entries"]:
            port = e.get(arch, {}) if arch != data["arch"] else {}
            entries.append(
                GoRuntimeEntry(
                    path=e["path"],
                    names=tuple(port.get("names", e["names"])),
                    reason=e["reason"],
                    source=port.get("source", e["source"]),
                    go=e.get("go", default),
                )
            )
        return tuple(entries)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ProfileError(
            f"bundled {_DATA} is unreadable: {e}", hint="reinstall seccompgen"
        ) from e


def _version(text: str) -> tuple[int, ...] | None:
    """``1.22.3`` -> (1, 22, 3); None for anything else (a devel build, a typo)."""
    parts = text.split(".")
    if not parts or not all(p.isdigit() for p in parts[:2]):
        return None
    return tuple(int(p) for p in parts if p.isdigit())


def go_runtime_names(
    arch: str = "x86_64", go_versions: Sequence[str] = ()
) -> dict[str, tuple[str, ...]]:
    """Each safety-net syscall name with the runtime paths that need it.

    With ``go_versions`` (of the inspected binaries), only the paths one of those versions
    takes; with none known, every path (the safe side).
    """
    found: dict[str, list[str]] = {}
    for entry in go_runtime_entries(arch):
        if go_versions and not any(entry.applies_to(v) for v in go_versions):
            continue
        for name in entry.names:
            found.setdefault(name, []).append(entry.path)
    return {name: tuple(paths) for name, paths in sorted(found.items())}


def traced_programs(store: TraceStore, workloads: Sequence[str]) -> list[str]:
    """The programs the workloads' traces ran (``image:REF`` for container images)."""
    programs: set[str] = set()
    for path in store.traces(workloads):
        try:
            header = read_trace(path).header
        except SeccompgenError:
            continue
        # Imported logs and profiles and learned audit records name their input files, not a
        # program.
        if header.command and header.backend not in ("import", "audit", *PROFILE_BACKENDS):
            programs.add(header.command[0])
    return sorted(programs)


def workload_go_versions(
    store: TraceStore, workloads: Sequence[str]
) -> tuple[bool | None, tuple[str, ...]]:
    """Whether the workloads' traced programs are Go binaries, and their Go versions.

    The first item is True when any traced program is a Go binary, False when every one was
    inspected and none is, None when none could be inspected (deleted since, inside an image, or
    only imported).
    """
    from seccompgen.inspect import inspect_binary

    inspected = False
    versions: set[str] = set()
    for program in traced_programs(store, workloads):
        candidate = Path(program)
        if not candidate.is_file():
            continue
        try:
            info = inspect_binary(candidate)
        except SeccompgenError:
            continue
        inspected = True
        if info.is_go and info.go is not None:
            versions.add(info.go.go_version)
    if versions:
        return True, tuple(sorted(versions))
    return (False if inspected else None), ()


def workloads_are_go(store: TraceStore, workloads: Sequence[str]) -> bool | None:
    """The first item of :func:`workload_go_versions`."""
    return workload_go_versions(store, workloads)[0]
