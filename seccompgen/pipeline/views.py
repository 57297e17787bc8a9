"""``seccompgen graph``, ``inspect`` and ``report``: views of the store and of a binary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from seccompgen.errors import StoreError
from seccompgen.events import SyscallEvent
from seccompgen.goruntime import go_runtime_names, workloads_are_go
from seccompgen.graph import SyscallGraph
from seccompgen.graphview import render_json, render_text
from seccompgen.htmlreport import HtmlContext, VerifyStatus, render_html
from seccompgen.inspect import (
    BinaryInfo,
    blind_spots,
    inspect_binary,
    reachable_syscalls,
    unobserved,
)
from seccompgen.inspect import Warning as ReachWarning
from seccompgen.learn import BACKEND as LEARN_BACKEND
from seccompgen.pipeline._shared import go_runtime_additions, observed_args
from seccompgen.profile.args import plan_args
from seccompgen.profile.build import enosys_fallbacks, process_exit_names
from seccompgen.profile.diff import allowed_names, docker_default_profile
from seccompgen.profile.emit import profile_digest
from seccompgen.profile.model import load_profile
from seccompgen.report import Report, build_report, render_dot, render_image
from seccompgen.risk import risk_notes
from seccompgen.runtime import resolve_runtime
from seccompgen.store import TraceStore
from seccompgen.syscalls import native_arch
from seccompgen.tracefile import read_trace


def graph_view(store: TraceStore, workloads: Sequence[str], fmt: str) -> str:
    """The store's graph as text, summary JSON or Graphviz DOT."""
    graph = store.load_graph()
    chosen = list(workloads) or None
    if chosen:
        unknown = [w for w in chosen if w not in graph.workloads()]
        if unknown:
            raise StoreError(
                f"no trace of workload {', '.join(unknown)} in the store {store.root}",
                hint=f"known workloads: {', '.join(graph.workloads()) or 'none'}",
            )
    if fmt == "text":
        return render_text(graph, chosen)
    if fmt == "json":
        return render_json(graph, chosen)
    if fmt == "dot":
        return _dot(graph, chosen)
    raise ValueError(fmt)


def _dot(graph: SyscallGraph, workloads: Sequence[str] | None) -> str:
    return graph.to_dot(workloads)


@dataclass(frozen=True)
class InspectReport:
    """A binary read without running it, and, against a workload, what it could do unseen."""

    info: BinaryInfo
    reachable: dict[str, list[str]]
    unobserved: tuple[ReachWarning, ...]
    blind_spots: tuple[str, ...]
    against: str | None


def inspect(
    path: Path, *, store: TraceStore | None = None, against: str | None = None
) -> InspectReport:
    """Inspect ``path``; with ``against``, list syscalls its Go code can make that the
    workload's traces never saw (static over-approximation: warnings, never added)."""
    info = inspect_binary(path)
    reachable = reachable_syscalls(info)
    warnings: list[ReachWarning] = []
    if against is not None:
        if store is None:
            raise StoreError("--against needs a trace store")
        graph = store.load_graph()
        if against not in graph.workloads():
            raise StoreError(
                f"no trace of workload {against} in the store {store.root}",
                hint=f"known workloads: {', '.join(graph.workloads()) or 'none'}",
            )
        warnings = unobserved(reachable, set(graph.syscalls([against])))
    return InspectReport(
        info=info,
        reachable=reachable,
        unobserved=tuple(warnings),
        blind_spots=tuple(blind_spots(info)),
        against=against,
    )


@dataclass(frozen=True)
class ReportOptions:
    """What ``seccompgen report`` was asked to do."""

    store: TraceStore
    workloads: tuple[str, ...] = ()
    runtime: str = "auto"
    no_new_privileges: bool = False
    go_runtime: str = "auto"
    binary: Path | None = None
    engine: str = "docker"
    profile: Path | None = None
    """``--format html``: compare this profile (not what emit would write) with Docker's."""


def report(opts: ReportOptions) -> Report:
    """Per workload what was observed (counts, phases, startup-only calls), what ``emit`` would
    add for the runtime and the Go runtime and why, and with ``binary`` what its linked Go code
    could do that no trace showed."""
    graph = opts.store.load_graph()
    known = graph.workloads()
    chosen = opts.workloads or tuple(known)
    missing = [w for w in chosen if w not in known]
    if missing:
        raise StoreError(
            f"no trace of workload {', '.join(missing)} in the store {opts.store.root}",
            hint=f"known workloads: {', '.join(known) or 'none'}",
        )
    arches = graph.arches(list(chosen))
    observed = set(graph.syscalls(list(chosen)))
    selection = resolve_runtime(opts.runtime, opts.no_new_privileges, engine=opts.engine)
    runtime_names = (
        sorted(set(selection.block.syscalls) - observed) if selection is not None else []
    )
    go_names = go_runtime_additions(opts.store, opts.go_runtime, chosen, arches, observed)
    safety_net: dict[str, tuple[str, ...]] | None = None
    if go_names or (opts.go_runtime != "off" and workloads_are_go(opts.store, chosen)):
        safety_net = {}
        for arch in arches:
            safety_net.update(go_runtime_names(arch))
    warnings: list[ReachWarning] | None = None
    if opts.binary is not None:
        warnings = unobserved(reachable_syscalls(inspect_binary(opts.binary)), observed)
    plan = plan_args(
        observed | set(runtime_names) | set(go_names),
        observed_args(graph, chosen),
        arches=arches,
        runtime_names=selection.block.syscalls if selection is not None else (),
        go_names=go_names,
    )
    return build_report(
        graph,
        list(chosen),
        args=(plan.conditioned, plan.unconditioned),
        go_runtime=go_names,
        runtime_names=runtime_names,
        unobserved=warnings,
        safety_net=safety_net,
        exits=process_exit_names(),
    )


def html_report(opts: ReportOptions, rep: Report) -> str:
    """``report --format html``: ``rep`` as one self-contained page
    (:func:`seccompgen.htmlreport.render_html`), with the Graphviz picture inline, the allowed
    names compared with Docker's default profile and the risk notes beside the calls that
    matter. Needs Graphviz's ``dot`` (:class:`~seccompgen.report.ReportError` says how to
    install it)."""
    graph = opts.store.load_graph()
    arches = graph.arches(list(opts.workloads) or None)
    arch = arches[0] if arches else native_arch()
    if opts.profile is not None:
        allowed = allowed_names(load_profile(opts.profile), arch=arch)
        label = str(opts.profile)
    else:
        allowed = frozenset(rep.observed) | {
            a.name for a in (*rep.runtime_additions, *rep.go_additions, *rep.exit_additions)
        }
        label = "the profile emit would write"
    enosys = frozenset(e.name for e in enosys_fallbacks()) - allowed
    verify = _verify_status(opts, rep)
    learned = _learned_only(opts.store, [w.workload for w in rep.workloads])
    svg = render_image(render_dot(rep), "svg").decode()
    ctx = HtmlContext(
        allowed=frozenset(allowed),
        docker_default=allowed_names(docker_default_profile(), arch=arch),
        risk=risk_notes(),
        graph_svg=svg,
        profile_label=label,
        enosys=enosys,
        verify=verify,
        learned=learned,
        binary=None if opts.binary is None else str(opts.binary),
    )
    names = ", ".join(w.workload for w in rep.workloads)
    return render_html(rep, ctx, title=f"seccompgen report: {names}")


def _verify_status(opts: ReportOptions, rep: Report) -> VerifyStatus | None:
    """The newest verify result recorded for the profile shown: ``--profile``'s, else the
    newest profile emit recorded for exactly these workloads."""
    if opts.profile is not None:
        digest = profile_digest(load_profile(opts.profile))
    else:
        chosen = tuple(sorted(w.workload for w in rep.workloads))
        emitted = [e for e in opts.store.emitted() if tuple(sorted(e.workloads)) == chosen]
        if not emitted:
            return None
        digest = emitted[0].digest
    found = opts.store.verified(digest)
    if not found:
        return None
    v = found[0]
    return VerifyStatus(v.passed, f"{v.target}: {v.summary}", v.verified)


def _learned_only(store: TraceStore, workloads: Sequence[str]) -> dict[str, frozenset[str]]:
    """Per workload, the names only ``learn`` recorded (from SCMP_ACT_LOG records: trace files
    of backend ``audit``), never a trace of the program itself."""
    out: dict[str, frozenset[str]] = {}
    for w in workloads:
        learned: set[str] = set()
        traced: set[str] = set()
        for path in store.traces([w]):
            reader = read_trace(path)
            into = learned if reader.header.backend == LEARN_BACKEND else traced
            into.update(e.name for e in reader if isinstance(e, SyscallEvent))
        out[w] = frozenset(learned - traced)
    return out
