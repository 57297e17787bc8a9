"""The :class:`SyscallGraph`: contributions per source, their merge, and the networkx view of
their totals that answers queries. This is the only module that imports networkx, and only when
a graph is first queried."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from seccompgen.errors import StoreError, TraceFileError
from seccompgen.events import Event
from seccompgen.graph.dot import render_dot
from seccompgen.graph.fold import fold_events
from seccompgen.graph.persist import (
    FORMAT_NAME,
    FORMAT_VERSION,
    BadDocument,
    contribution_json,
    parse_doc,
)
from seccompgen.graph.values import (
    SYSCALL,
    WORKLOAD,
    Contribution,
    SyscallUsage,
    add_maps,
    join_maps,
)


class SyscallGraph:
    """Workloads, the syscalls they made, and the order they made them in.

    See :mod:`seccompgen.graph` for the merge rule. Instances are mutable only through
    :meth:`add_events`; :meth:`merge` returns a new graph. Two graphs are equal when they hold
    the same contributions, which is exactly when their :meth:`to_json` texts are equal.
    """

    def __init__(self) -> None:
        # The contributions are the graph's record; the networkx view of their totals is
        # derived from them, built on the first query (:attr:`_g`) and kept up to date from
        # then on. Folding traces in therefore needs neither networkx nor its import time
        # (about 0.14 s, more than parsing 250,000 strace lines takes).
        self._view: Any = None
        self._sourced: dict[str, dict[str, Contribution]] = {}
        self._unsourced: dict[str, Contribution] = {}

    # -- building ------------------------------------------------------------------------------

    def add_events(
        self,
        workload: str,
        events: Iterable[Event],
        *,
        source_id: str | None = None,
        ordered: bool = True,
        allowed: Iterable[tuple[str, str]] = (),
        every_value: Mapping[str, frozenset[int]] | None = None,
    ) -> int:
        """Fold ``events`` in as what ``workload`` did; return the number of syscall events added.

        Only :class:`SyscallEvent` is counted. An :class:`ExitEvent` ends its thread's chain of
        transitions; signals are ignored. When ``source_id`` (a trace id) is already in
        :meth:`sources`, nothing is added, ``events`` is not consumed, and 0 is returned.
        ``ordered=False`` is for streams whose order means nothing (counted traces of the ebpf
        backend, learned audit records): their calls are counted but add no transitions.
        ``allowed`` holds ``(name, arch)`` pairs an imported profile allowed: each becomes (or
        joins) a usage marked ``imported``, with no calls (:meth:`SyscallUsage.allowed`).
        ``every_value`` is for streams whose arguments were sampled (a counting backend): only
        the argument indexes it lists per name hold every value the workload passed; every
        other index is kept as ``many`` (not all values known), so no argument rule is drawn
        from a sample (:meth:`SyscallUsage.sampled`).
        """
        if not isinstance(workload, str) or not workload:
            raise ValueError(f"workload must be a non-empty string, not {workload!r}")
        if source_id is not None and source_id in self._sourced:
            return 0
        total, contribution = fold_events(events)
        if not ordered:
            contribution = Contribution(contribution.usage, {})
        if every_value is not None:
            contribution = Contribution(
                {
                    name: u.sampled(every_value.get(name, frozenset()))
                    for name, u in contribution.usage.items()
                },
                contribution.transitions,
            )
        pairs = list(allowed)
        if pairs:
            usage = dict(contribution.usage)
            for name, arch in pairs:
                imported = SyscallUsage.allowed(name, arch)
                mine = usage.get(name)
                usage[name] = imported if mine is None else mine.add(imported)
            contribution = Contribution(usage, contribution.transitions)
        if source_id is None:
            prev = self._unsourced.get(workload)
            self._unsourced[workload] = contribution if prev is None else prev.add(contribution)
        else:
            self._sourced[source_id] = {workload: contribution}
        if self._view is not None:
            self._apply(workload, contribution)
        return total

    def merge(self, other: SyscallGraph) -> SyscallGraph:
        """A new graph holding both graphs' contributions (see :mod:`seccompgen.graph`)."""
        out = SyscallGraph()
        for sid, contribs in self._sourced.items():
            out._sourced[sid] = dict(contribs)
        for sid, contribs in other._sourced.items():
            mine = out._sourced.get(sid)
            out._sourced[sid] = dict(contribs) if mine is None else join_maps(mine, contribs)
        out._unsourced = add_maps(self._unsourced, other._unsourced)
        return out

    @property
    def _g(self) -> Any:
        """The networkx view, built from the contributions when first needed."""
        if self._view is None:
            self._rebuild()
        return self._view

    def _rebuild(self) -> None:
        import networkx as nx

        self._view = nx.DiGraph()
        for sid in sorted(self._sourced):
            for workload, contribution in sorted(self._sourced[sid].items()):
                self._apply(workload, contribution)
        for workload, contribution in sorted(self._unsourced.items()):
            self._apply(workload, contribution)

    def _apply(self, workload: str, contribution: Contribution) -> None:
        """Add one contribution to the totals held in the networkx graph."""
        g = self._view
        wnode = (WORKLOAD, workload)
        if wnode not in g:
            g.add_node(wnode, kind=WORKLOAD, name=workload)
        for name, u in contribution.usage.items():
            snode = (SYSCALL, name)
            if snode not in g:
                g.add_node(snode, kind=SYSCALL, name=name)
            data = g.get_edge_data(wnode, snode)
            total = u if data is None else data["usage"].add(u)
            g.add_edge(wnode, snode, **_edge_attrs(total))
        for (a, b), n in contribution.transitions.items():
            na, nb = (SYSCALL, a), (SYSCALL, b)
            data = g.get_edge_data(na, nb)
            if data is None:
                g.add_edge(na, nb, counts={workload: n})
            else:
                counts = data["counts"]
                counts[workload] = counts.get(workload, 0) + n

    # -- queries -------------------------------------------------------------------------------

    def workloads(self) -> list[str]:
        """Every workload name, sorted."""
        return sorted(name for kind, name in self._g.nodes if kind == WORKLOAD)

    def sources(self) -> list[str]:
        """The source ids (trace ids) folded in, sorted."""
        return sorted(self._sourced)

    def usage(self, workload: str) -> dict[str, SyscallUsage]:
        """Each syscall ``workload`` made, by name (sorted); :class:`StoreError` if unknown."""
        wnode = self._workload_node(workload)
        g = self._g
        return {snode[1]: g.edges[wnode, snode]["usage"] for snode in sorted(g.successors(wnode))}

    def syscalls(self, workloads: Sequence[str] | None = None) -> list[str]:
        """Sorted union of the syscall names the given workloads (default: all) made."""
        names: set[str] = set()
        for w in self._select(workloads):
            names.update(snode[1] for snode in self._g.successors((WORKLOAD, w)))
        return sorted(names)

    def arches(self, workloads: Sequence[str] | None = None) -> list[str]:
        """Sorted union of the architectures the given workloads (default: all) made calls under."""
        found: set[str] = set()
        for w in self._select(workloads):
            for u in self.usage(w).values():
                found |= u.arches
        return sorted(found)

    def transitions(self, workload: str) -> dict[tuple[str, str], int]:
        """``(first, second) -> n``: how often one thread of ``workload`` made ``second`` next."""
        self._workload_node(workload)
        out: dict[tuple[str, str], int] = {}
        for a, b, counts in self._g.edges(data="counts"):
            if counts is not None and workload in counts:
                out[(a[1], b[1])] = counts[workload]
        return dict(sorted(out.items()))

    def _workload_node(self, workload: str) -> tuple[str, str]:
        node = (WORKLOAD, workload)
        if node not in self._g:
            known = self.workloads()
            listing = ", ".join(known) if known else "none"
            raise StoreError(
                f"no workload named {workload!r} in the graph (known workloads: {listing})",
                hint="trace or import that workload first, or pick one of the known names",
            )
        return node

    def _select(self, workloads: Sequence[str] | None) -> list[str]:
        if workloads is None:
            return self.workloads()
        for w in workloads:
            self._workload_node(w)
        return sorted(set(workloads))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SyscallGraph):
            return NotImplemented
        return self._sourced == other._sourced and self._unsourced == other._unsourced

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"SyscallGraph(workloads={self.workloads()!r}, "
            f"syscalls={len(self.syscalls())}, sources={len(self._sourced)})"
        )

    # -- persistence ---------------------------------------------------------------------------

    def to_json(self) -> str:
        """The graph as deterministic JSON (sorted keys and lists, 2-space indent, final newline).

        Layout (``version`` 1)::

            {"format": "seccompgen.graph", "version": 1,
             "sources": [{"id": ID, "workloads": {WORKLOAD: CONTRIBUTION}}, ...],   # sorted by id
             "unsourced": {WORKLOAD: CONTRIBUTION}}
            CONTRIBUTION = {"syscalls": {NAME: USAGE}, "transitions": [[FROM, TO, N], ...]}
            USAGE = {"count": N, "errors": N, "first_phase": PHASE, "phases": [PHASE, ...],
                     "arches": [ARCH, ...], "args": [[INT, ...] | "many", ...]}
                    + "imported": true   # only when an imported profile allowed the call;
                                         # count may then be 0, phases [] and first_phase null

        Contributions are stored per source so that a graph read back merges exactly as the
        original would.
        """
        doc = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "sources": [
                {
                    "id": sid,
                    "workloads": {w: contribution_json(c) for w, c in self._sourced[sid].items()},
                }
                for sid in sorted(self._sourced)
            ],
            "unsourced": {w: contribution_json(c) for w, c in self._unsourced.items()},
        }
        return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str = "<graph>") -> SyscallGraph:
        """Read :meth:`to_json` output; anything else raises :class:`TraceFileError`."""
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError, TypeError) as e:
            raise TraceFileError(
                f"{source}: not a JSON document ({e})",
                hint="the graph is a cache; rebuild it from the trace files",
            ) from e
        graph = cls()
        try:
            sourced, unsourced = parse_doc(doc)
        except BadDocument as e:
            raise TraceFileError(
                f"{source}: {e.path}: {e.problem}",
                hint="the graph is a cache; rebuild it from the trace files",
            ) from None
        graph._sourced = sourced
        graph._unsourced = unsourced
        return graph

    def to_dot(self, workloads: Sequence[str] | None = None) -> str:
        """Graphviz DOT: workload boxes, syscall ellipses, edges labelled with counts.

        Workload edges read ``count`` (``count, N err`` when some failed); transition edges are
        dashed and read ``workload: n`` per workload. ``workloads`` (default: all) limits the
        drawing to those workloads, the syscalls they made and their transitions; an unknown
        name raises :class:`StoreError`. Output is sorted and so deterministic.
        """
        return render_dot(self._g, set(self._select(workloads)))


def _edge_attrs(u: SyscallUsage) -> dict[str, Any]:
    return {
        "usage": u,
        "count": u.count,
        "errors": u.errors,
        "first_phase": u.first_phase,
        "phases": u.phases,
        "arches": u.arches,
        "args": u.args,
    }
