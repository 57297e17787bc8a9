"""The syscall graph: which workload made which system calls, how often, when, and in what order.

:class:`SyscallGraph` folds streams of :class:`~seccompgen.events.SyscallEvent` into a
``networkx.DiGraph`` (:mod:`seccompgen.graph.model` is the only module that imports networkx,
and only when a graph is first queried) with two kinds of node:

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

The package: :mod:`~seccompgen.graph.values` (argument values, usage, contributions and their
add/join rules), :mod:`~seccompgen.graph.fold` (events to a contribution, the hot loop),
:mod:`~seccompgen.graph.model` (:class:`SyscallGraph`), :mod:`~seccompgen.graph.persist` (the JSON
document) and :mod:`~seccompgen.graph.dot` (Graphviz DOT).
"""

from __future__ import annotations

from seccompgen.graph.model import SyscallGraph
from seccompgen.graph.persist import FORMAT_NAME, FORMAT_VERSION
from seccompgen.graph.values import ARG_VALUES_CAP, ArgValues, SyscallUsage

__all__ = [
    "ARG_VALUES_CAP",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ArgValues",
    "SyscallGraph",
    "SyscallUsage",
]
