"""The syscall graph: which workload made which system calls, how often, when, and in what order.

:class:`SyscallGraph` folds streams of :class:`~seccompgen.events.SyscallEvent` into a
``networkx.DiGraph`` (this is the only module that imports networkx, and only when a graph is
first queried) with two kinds of node:

* workload nodes, keyed ``("workload", name)``, and
* syscall nodes, keyed ``("syscall", name)``: one node per syscall *name*; the architectures a
  workload used it under are recorded on the edge, because a seccomp rule names a syscall once
  and lists the arches separately (OCI runtime-spec, ``linux.seccomp``).

A workload -> syscall edge carries the totals for that pair (``count``, ``errors``,
``first_phase``, ``phases``, ``arches``, ``args``). A syscall -> syscall edge is a transition:
``counts`` maps each workload to the number of times one thread made the second call right after
the first (bigrams per thread, so the interleaving of threads does not create false orders).

Merge semantics (the rule the property tests check)
---------------------------------------------------

Every ``add_events`` call is a *contribution*. A contribution made with a ``source_id`` (the
trace id of a trace file) is kept under that id; the totals on the graph are the sum of all
contributions. Consequently:

* ``add_events`` with an id the graph already holds adds nothing (re-importing a trace is
  idempotent), and
* ``merge`` takes the union of the contributions: a source present in both graphs is counted
  once. A source id names one immutable trace, so both sides normally agree about it; if they
  do not (an id was reused), the two are joined -- the larger of each count, the union of each
  set -- which keeps ``merge`` commutative and associative.
* Contributions made *without* a ``source_id`` cannot be recognised again; they are pooled per
  workload and **add** on merge.

So ``merge`` is always commutative and associative, always idempotent on every set (workloads,
syscall names, phases, arches, argument values, sources), and ``g.merge(g) == g`` exactly --
counts included -- when every contribution in ``g`` has a source id.

Argument values are kept per argument index up to :data:`ARG_VALUES_CAP` distinct values; past
that the index is marked ``many`` and its values are dropped. "Many" absorbs, so the result is
the same whatever order values or graphs arrive in: an index is ``many`` exactly when the union
of everything seen holds more than the cap.

Folding uses the compiled ``seccompgen._speedups.fold_chunk`` when the extension was built; it
updates the same dicts as the Python loop in ``_fold``, with the same results, and hands back
any event it is not sure about.  Setting the environment variable ``SECCOMPGEN_PURE=1`` before
import (or ``_COMPILED = False`` in tests) keeps the Python loop.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice, zip_longest
from types import ModuleType
from typing import Any, NoReturn

from seccompgen.errors import StoreError, TraceFileError
from seccompgen.events import Event, ExitEvent, Phase, SyscallEvent

__all__ = [
    "ARG_VALUES_CAP",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ArgValues",
    "SyscallGraph",
    "SyscallUsage",
]

ARG_VALUES_CAP = 64
"""Distinct raw values kept per argument index before the index is marked ``many``."""

FORMAT_NAME = "seccompgen.graph"
"""The ``format`` field of :meth:`SyscallGraph.to_json` documents."""

FORMAT_VERSION = 1
"""The ``version`` field of :meth:`SyscallGraph.to_json` documents this module writes and reads."""

# Events are folded in chunks so that the distinct argument tuples seen per syscall can be
# reduced to per-index value sets before they pile up (pointer arguments are nearly all distinct).
_CHUNK = 4096
_ARG_TUPLES_FLUSH = 512

# The compiled fold (seccompgen/_speedups.c), unless the extension is missing or
# SECCOMPGEN_PURE is set to anything but "0"; see the module docstring.
_speedups: ModuleType | None
try:
    from seccompgen import _speedups
except ImportError:  # built without a C compiler: the Python loop does everything
    _speedups = None
_COMPILED = _speedups is not None and os.environ.get("SECCOMPGEN_PURE", "") in ("", "0")

_WORKLOAD = "workload"
_SYSCALL = "syscall"


# --------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class ArgValues:
    """The distinct raw values seen at one argument index.

    ``many`` is true when more than :data:`ARG_VALUES_CAP` distinct values were seen; ``values``
    is then empty, so a consumer that forgets to check ``many`` cannot mistake a sample for the
    full set.
    """

    values: frozenset[int] = frozenset()
    many: bool = False

    @classmethod
    def of(cls, values: Iterable[int]) -> ArgValues:
        """Values capped at :data:`ARG_VALUES_CAP`."""
        vals = frozenset(values)
        if len(vals) > ARG_VALUES_CAP:
            return _MANY
        return cls(vals, False)

    def union(self, other: ArgValues) -> ArgValues:
        """Union with the cap applied; commutative, associative and idempotent."""
        if self.many or other.many:
            return _MANY
        if other.values <= self.values:
            return self
        return ArgValues.of(self.values | other.values)


_MANY = ArgValues(frozenset(), True)
_NO_VALUES = ArgValues(frozenset(), False)


@dataclass(frozen=True)
class SyscallUsage:
    """How one workload used one syscall.

    ``count`` calls, of which ``errors`` returned an errno; ``first_phase`` is the earliest phase
    it was seen in (phases are ordered STARTUP < EXERCISE < SHUTDOWN, so this is the minimum of
    ``phases``); ``arches`` are libseccomp arch names; ``args[i]`` holds the raw numeric values
    seen at argument index ``i``.
    """

    name: str
    count: int
    errors: int
    first_phase: Phase
    phases: frozenset[Phase]
    arches: frozenset[str]
    args: tuple[ArgValues, ...]

    def add(self, other: SyscallUsage) -> SyscallUsage:
        """Totals of two different observations: counts add, sets unite."""
        return self._combine(other, self.count + other.count, self.errors + other.errors)

    def join(self, other: SyscallUsage) -> SyscallUsage:
        """Two accounts of the *same* observation: the larger count, sets unite."""
        return self._combine(other, max(self.count, other.count), max(self.errors, other.errors))

    def _combine(self, other: SyscallUsage, count: int, errors: int) -> SyscallUsage:
        phases = self.phases | other.phases
        return SyscallUsage(
            name=self.name,
            count=count,
            errors=errors,
            first_phase=_first_phase(phases),
            phases=phases,
            arches=self.arches | other.arches,
            args=_union_args(self.args, other.args),
        )


def _first_phase(phases: Iterable[Phase]) -> Phase:
    return min(phases, key=lambda p: p.order)


def _union_args(a: tuple[ArgValues, ...], b: tuple[ArgValues, ...]) -> tuple[ArgValues, ...]:
    return tuple(x.union(y) for x, y in zip_longest(a, b, fillvalue=_NO_VALUES))


@dataclass(frozen=True)
class _Contribution:
    """What one ``add_events`` call (or the pool of unsourced ones) saw for one workload.

    Treated as immutable: graphs produced by ``merge`` share these objects.
    """

    usage: Mapping[str, SyscallUsage]
    transitions: Mapping[tuple[str, str], int]

    def add(self, other: _Contribution) -> _Contribution:
        return self._combine(other, SyscallUsage.add, lambda x, y: x + y)

    def join(self, other: _Contribution) -> _Contribution:
        return self._combine(other, SyscallUsage.join, max)

    def _combine(
        self,
        other: _Contribution,
        usage_op: Callable[[SyscallUsage, SyscallUsage], SyscallUsage],
        count_op: Callable[[int, int], int],
    ) -> _Contribution:
        usage = dict(self.usage)
        for name, u in other.usage.items():
            mine = usage.get(name)
            usage[name] = u if mine is None else usage_op(mine, u)
        transitions = dict(self.transitions)
        for pair, n in other.transitions.items():
            mine_n = transitions.get(pair)
            transitions[pair] = n if mine_n is None else count_op(mine_n, n)
        return _Contribution(usage, transitions)


_EMPTY = _Contribution({}, {})


def _add_maps(
    a: Mapping[str, _Contribution], b: Mapping[str, _Contribution]
) -> dict[str, _Contribution]:
    out = dict(a)
    for w, c in b.items():
        out[w] = c if w not in out else out[w].add(c)
    return out


def _join_maps(
    a: Mapping[str, _Contribution], b: Mapping[str, _Contribution]
) -> dict[str, _Contribution]:
    out = dict(a)
    for w, c in b.items():
        out[w] = c if w not in out else out[w].join(c)
    return out


# --------------------------------------------------------------------------------------------
# Folding events


def _fold(events: Iterable[Event]) -> tuple[int, _Contribution]:
    """Reduce an event stream to one contribution; the hot loop of the whole program.

    Per event this does a handful of dict operations and no allocation beyond two small key
    tuples: counts are keyed by ``(name, arch, phase, errno)`` and folded into
    :class:`SyscallUsage` values once at the end.
    """
    counts: dict[tuple[str, str, Phase, str | None], int] = {}
    transitions: dict[tuple[str, str], int] = {}
    arg_tuples: dict[str, set[tuple[int | None, ...]]] = {}
    arg_acc: dict[str, list[set[int] | None]] = {}
    last: dict[int, str] = {}  # tid -> the name of its previous syscall
    syscall_event = SyscallEvent
    exit_event = ExitEvent
    last_get = last.get
    last_pop = last.pop
    fold_chunk = _speedups.fold_chunk if _speedups is not None and _COMPILED else None
    it = iter(events)
    while True:
        chunk = list(islice(it, _CHUNK))
        if not chunk:
            break
        i = 0
        n = len(chunk)
        while i < n:
            if fold_chunk is not None:
                # folds what it can and stops at the first event it leaves to this loop
                i = fold_chunk(chunk, i, counts, transitions, arg_tuples, last)
                if i >= n:
                    break
            ev = chunk[i]
            i += 1
            cls = ev.__class__
            if cls is syscall_event:
                name = ev.name  # type: ignore[union-attr]
                key = (name, ev.arch, ev.phase, ev.errno)  # type: ignore[union-attr]
                try:
                    counts[key] += 1
                except KeyError:
                    counts[key] = 1
                # Bigrams per thread: strace -f interleaves threads, and only the order within
                # one thread says "this call followed that one" (strace(1), -f).
                tid = ev.tid
                prev = last_get(tid)
                last[tid] = name
                if prev is not None:
                    pair = (prev, name)
                    try:
                        transitions[pair] += 1
                    except KeyError:
                        transitions[pair] = 1
                a = ev.args  # type: ignore[union-attr]
                if a:
                    s = arg_tuples.get(name)
                    if s is None:
                        arg_tuples[name] = {a}
                    else:
                        s.add(a)
            elif cls is exit_event:
                # A thread that exited ends its chain; its tid may be reused by a new thread.
                last_pop(ev.tid, None)
            # Signals do not end a chain: the interrupted thread carries on (rt_sigreturn).
        for name, tuples in arg_tuples.items():
            if len(tuples) > _ARG_TUPLES_FLUSH:
                _fold_arg_tuples(arg_acc.setdefault(name, []), tuples)
                tuples.clear()
    for name, tuples in arg_tuples.items():
        _fold_arg_tuples(arg_acc.setdefault(name, []), tuples)

    by_name: dict[str, list[tuple[str, Phase, str | None, int]]] = {}
    total = 0
    for (name, arch, phase, errno), n in counts.items():
        by_name.setdefault(name, []).append((arch, phase, errno, n))
        total += n
    usage: dict[str, SyscallUsage] = {}
    for name, rows in by_name.items():
        phases = frozenset(r[1] for r in rows)
        acc = arg_acc.get(name, [])
        usage[name] = SyscallUsage(
            name=name,
            count=sum(r[3] for r in rows),
            errors=sum(r[3] for r in rows if r[2] is not None),
            first_phase=_first_phase(phases),
            phases=phases,
            arches=frozenset(r[0] for r in rows),
            args=tuple(_MANY if s is None else ArgValues(frozenset(s)) for s in acc),
        )
    return total, _Contribution(usage, transitions)


def _fold_arg_tuples(acc: list[set[int] | None], tuples: set[tuple[int | None, ...]]) -> None:
    """Add distinct argument tuples to per-index value sets (``None`` in ``acc`` means many)."""
    if not tuples:
        return
    for i, column in enumerate(zip_longest(*tuples)):
        if i >= len(acc):
            acc.append(set())
        s = acc[i]
        if s is None:
            continue
        s.update(column)  # type: ignore[arg-type]
        s.discard(None)
        if len(s) > ARG_VALUES_CAP:
            acc[i] = None


# --------------------------------------------------------------------------------------------
# The graph


class SyscallGraph:
    """Workloads, the syscalls they made, and the order they made them in.

    See the module docstring for the merge rule. Instances are mutable only through
    :meth:`add_events`; :meth:`merge` returns a new graph. Two graphs are equal when they hold
    the same contributions, which is exactly when their :meth:`to_json` texts are equal.
    """

    def __init__(self) -> None:
        # The contributions are the graph's record; the networkx view of their totals is
        # derived from them, built on the first query (:attr:`_g`) and kept up to date from
        # then on. Folding traces in therefore needs neither networkx nor its import time
        # (about 0.14 s, more than parsing 250,000 strace lines takes).
        self._view: Any = None
        self._sourced: dict[str, dict[str, _Contribution]] = {}
        self._unsourced: dict[str, _Contribution] = {}

    # -- building ------------------------------------------------------------------------------

    def add_events(
        self,
        workload: str,
        events: Iterable[Event],
        *,
        source_id: str | None = None,
        ordered: bool = True,
    ) -> int:
        """Fold ``events`` in as what ``workload`` did; return the number of syscall events added.

        Only :class:`SyscallEvent` is counted. An :class:`ExitEvent` ends its thread's chain of
        transitions; signals are ignored. When ``source_id`` (a trace id) is already in
        :meth:`sources`, nothing is added, ``events`` is not consumed, and 0 is returned.
        ``ordered=False`` is for streams whose order means nothing (counted traces of the ebpf
        backend, learned audit records): their calls are counted but add no transitions.
        """
        if not isinstance(workload, str) or not workload:
            raise ValueError(f"workload must be a non-empty string, not {workload!r}")
        if source_id is not None and source_id in self._sourced:
            return 0
        total, contribution = _fold(events)
        if not ordered:
            contribution = _Contribution(contribution.usage, {})
        if source_id is None:
            prev = self._unsourced.get(workload)
            self._unsourced[workload] = contribution if prev is None else prev.add(contribution)
        else:
            self._sourced[source_id] = {workload: contribution}
        if self._view is not None:
            self._apply(workload, contribution)
        return total

    def merge(self, other: SyscallGraph) -> SyscallGraph:
        """A new graph holding both graphs' contributions (see the module docstring)."""
        out = SyscallGraph()
        for sid, contribs in self._sourced.items():
            out._sourced[sid] = dict(contribs)
        for sid, contribs in other._sourced.items():
            mine = out._sourced.get(sid)
            out._sourced[sid] = dict(contribs) if mine is None else _join_maps(mine, contribs)
        out._unsourced = _add_maps(self._unsourced, other._unsourced)
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

    def _apply(self, workload: str, contribution: _Contribution) -> None:
        """Add one contribution to the totals held in the networkx graph."""
        g = self._view
        wnode = (_WORKLOAD, workload)
        if wnode not in g:
            g.add_node(wnode, kind=_WORKLOAD, name=workload)
        for name, u in contribution.usage.items():
            snode = (_SYSCALL, name)
            if snode not in g:
                g.add_node(snode, kind=_SYSCALL, name=name)
            data = g.get_edge_data(wnode, snode)
            total = u if data is None else data["usage"].add(u)
            g.add_edge(wnode, snode, **_edge_attrs(total))
        for (a, b), n in contribution.transitions.items():
            na, nb = (_SYSCALL, a), (_SYSCALL, b)
            data = g.get_edge_data(na, nb)
            if data is None:
                g.add_edge(na, nb, counts={workload: n})
            else:
                counts = data["counts"]
                counts[workload] = counts.get(workload, 0) + n

    # -- queries -------------------------------------------------------------------------------

    def workloads(self) -> list[str]:
        """Every workload name, sorted."""
        return sorted(name for kind, name in self._g.nodes if kind == _WORKLOAD)

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
            names.update(snode[1] for snode in self._g.successors((_WORKLOAD, w)))
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
        node = (_WORKLOAD, workload)
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

        Contributions are stored per source so that a graph read back merges exactly as the
        original would.
        """
        doc = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "sources": [
                {
                    "id": sid,
                    "workloads": {w: _contribution_json(c) for w, c in self._sourced[sid].items()},
                }
                for sid in sorted(self._sourced)
            ],
            "unsourced": {w: _contribution_json(c) for w, c in self._unsourced.items()},
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
            sourced, unsourced = _parse_doc(doc)
        except _Bad as e:
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
        g = self._g
        chosen = set(self._select(workloads))
        lines = [
            "digraph seccompgen {",
            "  rankdir=LR;",
            '  node [fontname="monospace"];',
        ]
        edges: list[tuple[tuple[str, str], tuple[str, str], str]] = []
        for u, v in sorted(g.edges):
            data = g.edges[u, v]
            if u[0] == _WORKLOAD:
                if u[1] not in chosen:
                    continue
                usage: SyscallUsage = data["usage"]
                label = str(usage.count)
                if usage.errors:
                    label += f", {usage.errors} err"
                edges.append((u, v, f"label={_dot_str(label)}"))
            else:
                counts: dict[str, int] = data["counts"]
                parts = [f"{w}: {n}" for w, n in sorted(counts.items()) if w in chosen]
                if parts:
                    # "\n" is DOT's line break inside a label; each part is escaped on its own.
                    label = "\\n".join(_dot_escape(p) for p in parts)
                    edges.append((u, v, f'label="{label}", style="dashed"'))
        used = {v for u, v, _ in edges if u[0] == _WORKLOAD}
        for kind, name in sorted(g.nodes):
            if kind == _WORKLOAD and name in chosen:
                lines.append(
                    f'  {_dot_id(kind, name)} [label={_dot_str(name)}, shape=box, style="bold"];'
                )
            elif kind == _SYSCALL and (kind, name) in used:
                lines.append(f"  {_dot_id(kind, name)} [label={_dot_str(name)}, shape=ellipse];")
        lines.extend(f"  {_dot_id(*u)} -> {_dot_id(*v)} [{attrs}];" for u, v, attrs in edges)
        lines.append("}")
        return "\n".join(lines) + "\n"


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


def _dot_escape(text: str) -> str:
    # DOT quoted strings: only the double quote needs escaping; backslash is kept literal
    # unless it starts an escape, so double it to be safe (graphviz.org/doc/info/lang.html).
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _dot_str(text: str) -> str:
    return f'"{_dot_escape(text)}"'


def _dot_id(kind: str, name: str) -> str:
    return _dot_str(f"{kind}:{name}")


# --------------------------------------------------------------------------------------------
# JSON


def _contribution_json(c: _Contribution) -> dict[str, Any]:
    return {
        "syscalls": {name: _usage_json(u) for name, u in c.usage.items()},
        "transitions": [[a, b, n] for (a, b), n in sorted(c.transitions.items())],
    }


def _usage_json(u: SyscallUsage) -> dict[str, Any]:
    return {
        "count": u.count,
        "errors": u.errors,
        "first_phase": u.first_phase.value,
        "phases": [p.value for p in sorted(u.phases, key=lambda p: p.order)],
        "arches": sorted(u.arches),
        "args": ["many" if a.many else sorted(a.values) for a in u.args],
    }


class _Bad(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _bad(path: str, problem: str) -> NoReturn:
    raise _Bad(path, problem)


def _obj(v: object, path: str, keys: Iterable[str]) -> dict[str, Any]:
    if not isinstance(v, dict):
        _bad(path, f"expected an object, found {_kind(v)}")
    wanted = set(keys)
    missing = sorted(wanted - v.keys())
    if missing:
        _bad(path, f"missing key(s) {', '.join(missing)}")
    extra = sorted(v.keys() - wanted)
    if extra:
        _bad(path, f"unexpected key(s) {', '.join(extra)}")
    return v


def _map(v: object, path: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        _bad(path, f"expected an object, found {_kind(v)}")
    for k in v:
        if not k:
            _bad(path, "empty name as key")
    return v


def _list(v: object, path: str) -> list[Any]:
    if not isinstance(v, list):
        _bad(path, f"expected a list, found {_kind(v)}")
    return v


def _int(v: object, path: str, minimum: int | None = None) -> int:
    # bool is an int subclass in Python but not a count.
    if not isinstance(v, int) or isinstance(v, bool):
        _bad(path, f"expected an integer, found {_kind(v)}")
    if minimum is not None and v < minimum:
        _bad(path, f"expected an integer >= {minimum}, found {v}")
    return v


def _str(v: object, path: str) -> str:
    if not isinstance(v, str) or not v:
        _bad(path, f"expected a non-empty string, found {_kind(v)}")
    return v


def _phase(v: object, path: str) -> Phase:
    s = _str(v, path)
    try:
        return Phase(s)
    except ValueError:
        known = ", ".join(p.value for p in Phase)
        _bad(path, f"unknown phase {s!r} (known: {known})")


def _kind(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    return {dict: "an object", list: "a list", str: "a string", int: "an integer"}.get(
        type(v), f"a {type(v).__name__}"
    )


def _parse_doc(doc: object) -> tuple[dict[str, dict[str, _Contribution]], dict[str, _Contribution]]:
    if not isinstance(doc, dict):
        _bad("$", f"expected an object, found {_kind(doc)}")
    fmt = doc.get("format")
    if fmt != FORMAT_NAME:
        _bad("$.format", f"expected {FORMAT_NAME!r}, found {fmt!r}; not a seccompgen graph")
    version = doc.get("version")
    if version != FORMAT_VERSION:
        _bad(
            "$.version", f"unsupported version {version!r}; this seccompgen reads {FORMAT_VERSION}"
        )
    _obj(doc, "$", ["format", "version", "sources", "unsourced"])
    sourced: dict[str, dict[str, _Contribution]] = {}
    for i, entry in enumerate(_list(doc["sources"], "$.sources")):
        p = f"$.sources[{i}]"
        _obj(entry, p, ["id", "workloads"])
        sid = _str(entry["id"], f"{p}.id")
        if sid in sourced:
            _bad(f"{p}.id", f"duplicate source id {sid!r}")
        workloads = _map(entry["workloads"], f"{p}.workloads")
        sourced[sid] = {
            w: _parse_contribution(c, f"{p}.workloads.{w}") for w, c in workloads.items()
        }
    unsourced = {
        w: _parse_contribution(c, f"$.unsourced.{w}")
        for w, c in _map(doc["unsourced"], "$.unsourced").items()
    }
    return sourced, unsourced


def _parse_contribution(v: object, path: str) -> _Contribution:
    _obj(v, path, ["syscalls", "transitions"])
    assert isinstance(v, dict)
    usage = {
        name: _parse_usage(name, u, f"{path}.syscalls.{name}")
        for name, u in _map(v["syscalls"], f"{path}.syscalls").items()
    }
    transitions: dict[tuple[str, str], int] = {}
    for i, t in enumerate(_list(v["transitions"], f"{path}.transitions")):
        p = f"{path}.transitions[{i}]"
        row = _list(t, p)
        if len(row) != 3:
            _bad(p, f"expected [from, to, count], found {len(row)} item(s)")
        pair = (_str(row[0], f"{p}[0]"), _str(row[1], f"{p}[1]"))
        if pair in transitions:
            _bad(p, f"duplicate transition {pair[0]} -> {pair[1]}")
        transitions[pair] = _int(row[2], f"{p}[2]", 1)
    return _Contribution(usage, transitions)


def _parse_usage(name: str, v: object, path: str) -> SyscallUsage:
    keys = ["count", "errors", "first_phase", "phases", "arches", "args"]
    _obj(v, path, keys)
    assert isinstance(v, dict)
    count = _int(v["count"], f"{path}.count", 1)
    errors = _int(v["errors"], f"{path}.errors", 0)
    if errors > count:
        _bad(f"{path}.errors", f"{errors} errors but only {count} calls")
    phases = frozenset(
        _phase(p, f"{path}.phases[{i}]") for i, p in enumerate(_list(v["phases"], f"{path}.phases"))
    )
    if not phases:
        _bad(f"{path}.phases", "expected at least one phase")
    first = _phase(v["first_phase"], f"{path}.first_phase")
    if first != _first_phase(phases):
        _bad(f"{path}.first_phase", f"{first.value!r} is not the earliest of phases")
    arches = frozenset(
        _str(a, f"{path}.arches[{i}]") for i, a in enumerate(_list(v["arches"], f"{path}.arches"))
    )
    if not arches:
        _bad(f"{path}.arches", "expected at least one arch")
    args: list[ArgValues] = []
    for i, a in enumerate(_list(v["args"], f"{path}.args")):
        p = f"{path}.args[{i}]"
        if a == "many":
            args.append(_MANY)
            continue
        if not isinstance(a, list):
            _bad(p, f'expected a list of integers or "many", found {_kind(a)}')
        values = frozenset(_int(x, f"{p}[{j}]") for j, x in enumerate(a))
        if len(values) > ARG_VALUES_CAP:
            _bad(p, f'{len(values)} values exceed the cap of {ARG_VALUES_CAP}; expected "many"')
        args.append(ArgValues(values))
    return SyscallUsage(
        name=name,
        count=count,
        errors=errors,
        first_phase=first,
        phases=phases,
        arches=arches,
        args=tuple(args),
    )
