"""Helpers shared by the use cases: trace file names, workload names, what a workload already
has, and the Go runtime safety net."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from seccompgen.errors import StoreError
from seccompgen.goruntime import go_runtime_names, workload_go_versions
from seccompgen.graph import SyscallGraph
from seccompgen.profile.args import ObservedArg, arg_rules
from seccompgen.store import TraceStore, check_workload_name


def stamp() -> str:
    """A compact UTC time for trace file names, so they sort by when they were recorded."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def check_workload(name: str) -> None:
    problem = check_workload_name(name)
    if problem:
        raise StoreError(problem)


def known_syscalls(store: TraceStore, workload: str) -> set[str]:
    try:
        graph = store.load_graph()
    except StoreError:
        return set()
    if workload not in graph.workloads():
        return set()
    return set(graph.syscalls([workload]))


def go_runtime_additions(
    store: TraceStore,
    go_runtime: str,
    chosen: Sequence[str],
    arches: Sequence[str],
    names: set[str],
) -> dict[str, tuple[str, ...]]:
    """The Go runtime safety-net names (with their paths) not already in ``names``."""
    if go_runtime == "off":
        return {}
    is_go, versions = workload_go_versions(store, chosen)
    if go_runtime == "auto" and is_go is False:
        return {}
    added: dict[str, tuple[str, ...]] = {}
    for arch in arches:
        for name, paths in go_runtime_names(arch, versions).items():
            if name not in names:
                added[name] = paths
    return added


def observed_args(graph: SyscallGraph, chosen: Sequence[str]) -> dict[str, ObservedArg]:
    """For each curated name (:func:`arg_rules`) the chosen workloads made, the values seen at
    its entry's argument index, united over the workloads; incomplete when one of them has no
    values recorded there (a backend that records names only, an imported profile) or more than
    the graph keeps."""
    out: dict[str, ObservedArg] = {}
    for name, entry in arg_rules().items():
        values: set[int] = set()
        why = ""
        seen = False
        for w in chosen:
            usage = graph.usage(w).get(name)
            if usage is None:
                continue
            seen = True
            if usage.imported:
                why = why or f"allowed by an imported profile for {w}: values unknown"
            elif len(usage.args) <= entry.index:
                why = why or f"no {entry.what} values recorded for {w} (the trace has names only)"
            elif usage.args[entry.index].many:
                why = why or f"more distinct {entry.what} values than the graph keeps"
            else:
                values.update(usage.args[entry.index].values)
        if seen:
            out[name] = ObservedArg(frozenset(values), not why, why)
    return out
