"""Helpers shared by the use cases: trace file names, workload names, what a workload already
has, and the Go runtime safety net."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from seccompgen.errors import StoreError
from seccompgen.goruntime import go_runtime_names, workload_go_versions
from seccompgen.graph import SyscallGraph, SyscallUsage
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
    its entry's argument index, united over the workloads, and likewise at its ``pairIndex``
    (``ObservedArg.pair``); incomplete when one of them has no values recorded there (a backend
    that records names only, an imported profile) or more than the graph keeps."""
    out: dict[str, ObservedArg] = {}
    for name, entry in arg_rules().items():
        usages = [(w, u) for w in chosen if (u := graph.usage(w).get(name)) is not None]
        if not usages:
            continue
        obs = _values_at(usages, entry.index, entry.what)
        if entry.pair_index is not None:
            obs = replace(obs, pair=_values_at(usages, entry.pair_index, entry.pair_what))
        out[name] = obs
    return out


def _values_at(usages: Sequence[tuple[str, SyscallUsage]], index: int, what: str) -> ObservedArg:
    values: set[int] = set()
    why = ""
    for w, usage in usages:
        if usage.imported:
            why = why or f"allowed by an imported profile for {w}: values unknown"
        elif len(usage.args) <= index:
            why = why or f"no {what} values recorded for {w} (the trace has names only)"
        elif usage.args[index].many:
            # ``many``: more values than the graph keeps, or a sample (an ebpf trace whose
            # footer does not vouch for them, seccompgen.store.SAMPLED_ARGS_BACKENDS).
            why = why or (
                f"not every {what} value is known for {w} (more than the graph keeps, or "
                "a sample from an ebpf trace that does not vouch for them)"
            )
        else:
            values.update(usage.args[index].values)
    return ObservedArg(frozenset(values), not why, why)
