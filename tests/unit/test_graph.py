"""Tests for seccompgen.graph: folding events, the merge rule, JSON persistence and DOT output."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seccompgen.errors import StoreError, TraceFileError
from seccompgen.events import Event, ExitEvent, Phase, SignalEvent, SyscallEvent
from seccompgen.graph import ARG_VALUES_CAP, ArgValues, SyscallGraph, SyscallUsage
from seccompgen.graph import fold as graph_mod

# ---------------------------------------------------------------------------------------------
# Helpers


def sc(
    name: str,
    *,
    tid: int = 1,
    pid: int = 1,
    arch: str = "x86_64",
    errno: str | None = None,
    args: tuple[int | None, ...] = (),
    phase: Phase = Phase.STARTUP,
) -> SyscallEvent:
    return SyscallEvent(
        name=name,
        arch=arch,
        pid=pid,
        tid=tid,
        ret=-1 if errno else 0,
        errno=errno,
        timestamp=None,
        args=args,
        phase=phase,
    )


def exit_(tid: int, pid: int = 1) -> ExitEvent:
    return ExitEvent(pid=pid, tid=tid, code=0, signal=None, timestamp=None)


def signal(tid: int) -> SignalEvent:
    return SignalEvent(signal="SIGURG", pid=1, tid=tid, timestamp=None)


def reference(
    events: Sequence[Event],
) -> tuple[dict[str, SyscallUsage], dict[tuple[str, str], int]]:
    """The documented semantics, written the obvious way, to check the fast fold against."""
    rows: dict[str, dict[str, Any]] = {}
    trans: Counter[tuple[str, str]] = Counter()
    last: dict[int, str] = {}
    for ev in events:
        if isinstance(ev, SyscallEvent):
            r = rows.setdefault(
                ev.name, {"count": 0, "errors": 0, "phases": set(), "arches": set(), "args": []}
            )
            r["count"] += 1
            r["errors"] += ev.errno is not None
            r["phases"].add(ev.phase)
            r["arches"].add(ev.arch)
            while len(r["args"]) < len(ev.args):
                r["args"].append(set())
            for i, v in enumerate(ev.args):
                if v is not None:
                    r["args"][i].add(v)
            if ev.tid in last:
                trans[(last[ev.tid], ev.name)] += 1
            last[ev.tid] = ev.name
        elif isinstance(ev, ExitEvent):
            last.pop(ev.tid, None)
    usage = {}
    for name in sorted(rows):
        r = rows[name]
        usage[name] = SyscallUsage(
            name=name,
            count=r["count"],
            errors=r["errors"],
            first_phase=min(r["phases"], key=lambda p: p.order),
            phases=frozenset(r["phases"]),
            arches=frozenset(r["arches"]),
            args=tuple(
                ArgValues(frozenset(), True)
                if len(s) > ARG_VALUES_CAP
                else ArgValues(frozenset(s), False)
                for s in r["args"]
            ),
        )
    return usage, dict(trans)


# ---------------------------------------------------------------------------------------------
# Strategies

NAMES = ["read", "write", "futex", "mmap", "close"]
ARCHES = ["x86_64", "x86"]

syscall_events = st.builds(
    sc,
    st.sampled_from(NAMES),
    tid=st.integers(1, 4),
    arch=st.sampled_from(ARCHES),
    errno=st.sampled_from([None, None, None, "EAGAIN", "ENOENT"]),
    args=st.lists(st.one_of(st.none(), st.integers(-3, 90)), max_size=3).map(tuple),
    phase=st.sampled_from(list(Phase)),
)
other_events = st.one_of(
    st.integers(1, 4).map(exit_),
    st.integers(1, 4).map(signal),
)
event_lists = st.lists(st.one_of(syscall_events, syscall_events, syscall_events, other_events))
workload_names = st.sampled_from(["web", "batch", "agent"])


@st.composite
def graphs(draw: st.DrawFn, *, sourced_only: bool = False) -> SyscallGraph:
    """A graph from a few contributions; source ids come from a small pool so graphs overlap."""
    g = SyscallGraph()
    sources = st.sampled_from(["t1", "t2", "t3", "t4"])
    if not sourced_only:
        sources = st.one_of(st.none(), sources)
    for _ in range(draw(st.integers(0, 4))):
        g.add_events(draw(workload_names), draw(event_lists), source_id=draw(sources))
    return g


# ---------------------------------------------------------------------------------------------
# Folding events


def test_usage_counts_errors_phases_arches_and_args() -> None:
    g = SyscallGraph()
    events = [
        sc("openat", args=(-100, None, 0), phase=Phase.STARTUP),
        sc("openat", errno="ENOENT", args=(-100, None, 0x80000), phase=Phase.EXERCISE),
        sc("openat", arch="x86", args=(-100, None), phase=Phase.SHUTDOWN),
        sc("read", tid=2, args=(3, None, 4096), phase=Phase.EXERCISE),
    ]
    assert g.add_events("web", events) == 4
    usage = g.usage("web")
    assert list(usage) == ["openat", "read"]
    openat = usage["openat"]
    assert (openat.count, openat.errors) == (3, 1)
    assert openat.first_phase is Phase.STARTUP
    assert openat.phases == frozenset(Phase)
    assert openat.arches == {"x86_64", "x86"}
    assert openat.args == (
        ArgValues(frozenset({-100})),
        ArgValues(frozenset()),
        ArgValues(frozenset({0, 0x80000})),
    )
    assert usage["read"].first_phase is Phase.EXERCISE
    assert g.syscalls() == ["openat", "read"]
    assert g.arches() == ["x86", "x86_64"]


def test_argument_values_are_capped_and_marked_many() -> None:
    g = SyscallGraph()
    g.add_events("w", [sc("mmap", args=(v, 7)) for v in range(ARG_VALUES_CAP)])
    g.add_events("v", [sc("mmap", args=(v, 7)) for v in range(ARG_VALUES_CAP + 1)])
    at_cap = g.usage("w")["mmap"].args
    assert at_cap[0] == ArgValues(frozenset(range(ARG_VALUES_CAP)), False)
    over = g.usage("v")["mmap"].args
    assert over[0].many and over[0].values == frozenset()
    assert over[1] == ArgValues(frozenset({7}))


def test_cap_holds_across_merge() -> None:
    half = ARG_VALUES_CAP // 2 + 1
    a, b = SyscallGraph(), SyscallGraph()
    a.add_events("w", [sc("mmap", args=(v,)) for v in range(half)], source_id="a")
    b.add_events("w", [sc("mmap", args=(v,)) for v in range(half, 2 * half)], source_id="b")
    assert not a.usage("w")["mmap"].args[0].many
    assert a.merge(b).usage("w")["mmap"].args[0].many


def test_transitions_are_per_thread() -> None:
    g = SyscallGraph()
    # Thread 1 does read, write; thread 2's futex calls are interleaved in between.
    g.add_events(
        "w",
        [sc("read", tid=1), sc("futex", tid=2), sc("write", tid=1), sc("futex", tid=2)],
    )
    assert g.transitions("w") == {("read", "write"): 1, ("futex", "futex"): 1}


def test_exit_ends_a_chain_and_signal_does_not() -> None:
    g = SyscallGraph()
    g.add_events(
        "w",
        [
            sc("read", tid=5),
            signal(5),
            sc("rt_sigreturn", tid=5),
            exit_(5),
            sc("clone", tid=5),  # a new thread reusing tid 5
        ],
    )
    assert g.transitions("w") == {("read", "rt_sigreturn"): 1}
    assert g.usage("w")["clone"].count == 1


def test_transitions_do_not_span_add_events_calls() -> None:
    g = SyscallGraph()
    g.add_events("w", [sc("read")])
    g.add_events("w", [sc("write")])
    assert g.transitions("w") == {}


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(event_lists, st.sampled_from([(1, 1), (3, 2), (4096, 512)]))
def test_fold_matches_reference(events: list[Event], sizes: tuple[int, int]) -> None:
    # Small chunk sizes make the chunk and argument-flush boundaries fall inside the example.
    chunk, flush = sizes
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(graph_mod, "_CHUNK", chunk)
        mp.setattr(graph_mod, "_ARG_TUPLES_FLUSH", flush)
        g = SyscallGraph()
        added = g.add_events("w", events)
    usage, transitions = reference(events)
    assert added == sum(isinstance(e, SyscallEvent) for e in events)
    assert g.usage("w") == usage
    assert g.transitions("w") == transitions


@given(st.lists(st.integers(-(2**63), 2**64 - 1), max_size=200), st.integers(1, 7))
def test_fold_cap_matches_reference(values: list[int], chunk: int) -> None:
    events = [sc("mmap", args=(None, v)) for v in values]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(graph_mod, "_CHUNK", chunk)
        mp.setattr(graph_mod, "_ARG_TUPLES_FLUSH", 1)
        g = SyscallGraph()
        g.add_events("w", events)
    if values:
        assert g.usage("w")["mmap"].args == reference(events)[0]["mmap"].args


def test_workload_without_syscalls_is_kept() -> None:
    g = SyscallGraph()
    assert g.add_events("idle", [exit_(1)]) == 0
    assert g.workloads() == ["idle"]
    assert g.usage("idle") == {}


def test_add_events_accepts_a_generator() -> None:
    def gen() -> Iterator[Event]:
        for i in range(10):
            yield sc("read", tid=i % 2)

    g = SyscallGraph()
    assert g.add_events("w", gen()) == 10
    assert g.transitions("w") == {("read", "read"): 8}


def test_empty_workload_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="workload"):
        SyscallGraph().add_events("", [])


# ---------------------------------------------------------------------------------------------
# Sources and idempotent re-import


def test_reimporting_a_source_adds_nothing_and_does_not_consume() -> None:
    g = SyscallGraph()
    assert g.add_events("w", [sc("read"), sc("read")], source_id="trace-1") == 2
    consumed = []

    def gen() -> Iterator[Event]:
        consumed.append(True)
        yield sc("read")

    assert g.add_events("w", gen(), source_id="trace-1") == 0
    assert consumed == []
    assert g.usage("w")["read"].count == 2
    assert g.sources() == ["trace-1"]


def test_unsourced_contributions_add() -> None:
    g = SyscallGraph()
    g.add_events("w", [sc("read")])
    g.add_events("w", [sc("read")])
    assert g.usage("w")["read"].count == 2
    assert g.sources() == []


def test_failed_fold_leaves_graph_unchanged() -> None:
    def broken() -> Iterator[Event]:
        yield sc("read")
        raise TraceFileError("trace.jsonl: truncated")

    g = SyscallGraph()
    with pytest.raises(TraceFileError):
        g.add_events("w", broken(), source_id="t")
    assert g.sources() == [] and g.workloads() == []
    assert g.add_events("w", [sc("read")], source_id="t") == 1


def test_unknown_workload_names_it_and_lists_known() -> None:
    g = SyscallGraph()
    g.add_events("web", [sc("read")])
    g.add_events("batch", [sc("read")])
    with pytest.raises(StoreError) as info:
        g.usage("wbe")
    text = info.value.explain()
    assert "'wbe'" in text and "batch, web" in text
    for call in (g.transitions, lambda w: g.syscalls([w]), lambda w: g.arches([w])):
        with pytest.raises(StoreError):
            call("wbe")


def test_unknown_workload_on_empty_graph() -> None:
    with pytest.raises(StoreError, match="none"):
        SyscallGraph().usage("web")


# ---------------------------------------------------------------------------------------------
# Merge: the documented rule


def totals(g: SyscallGraph) -> dict[str, Any]:
    return {w: {"usage": g.usage(w), "transitions": g.transitions(w)} for w in g.workloads()}


def sets_of(g: SyscallGraph) -> dict[str, Any]:
    """Everything in a graph except counts."""
    return {
        "sources": g.sources(),
        "workloads": {
            w: {name: (u.first_phase, u.phases, u.arches, u.args) for name, u in g.usage(w).items()}
            for w in g.workloads()
        },
        "transitions": {w: set(g.transitions(w)) for w in g.workloads()},
    }


@given(graphs(), graphs())
def test_merge_is_commutative(a: SyscallGraph, b: SyscallGraph) -> None:
    ab, ba = a.merge(b), b.merge(a)
    assert ab == ba
    assert ab.to_json() == ba.to_json()
    assert totals(ab) == totals(ba)


@settings(max_examples=60)
@given(graphs(), graphs(), graphs())
def test_merge_is_associative(a: SyscallGraph, b: SyscallGraph, c: SyscallGraph) -> None:
    left, right = a.merge(b).merge(c), a.merge(b.merge(c))
    assert left == right
    assert totals(left) == totals(right)


@given(graphs())
def test_merge_is_idempotent_on_sets(g: SyscallGraph) -> None:
    assert sets_of(g.merge(g)) == sets_of(g)


@given(graphs(sourced_only=True))
def test_merge_is_fully_idempotent_when_every_contribution_is_sourced(g: SyscallGraph) -> None:
    gg = g.merge(g)
    assert gg == g
    assert totals(gg) == totals(g)


@given(graphs())
def test_merge_with_self_doubles_only_unsourced_counts(g: SyscallGraph) -> None:
    sourced_only = SyscallGraph.from_json(_strip_unsourced(g.to_json()))
    gg = g.merge(g)
    for w in g.workloads():
        base = sourced_only.usage(w) if w in sourced_only.workloads() else {}
        for name, u in g.usage(w).items():
            b = base.get(name)
            unsourced = u.count - (b.count if b else 0)
            assert gg.usage(w)[name].count == u.count + unsourced


def _strip_unsourced(text: str) -> str:
    doc = json.loads(text)
    doc["unsourced"] = {}
    return json.dumps(doc)


@given(st.lists(st.tuples(workload_names, event_lists), max_size=4))
def test_add_events_equals_merging_single_source_graphs(
    parts: list[tuple[str, list[Event]]],
) -> None:
    together = SyscallGraph()
    merged = SyscallGraph()
    for i, (w, events) in enumerate(parts):
        together.add_events(w, events, source_id=f"s{i}")
        one = SyscallGraph()
        one.add_events(w, events, source_id=f"s{i}")
        merged = merged.merge(one)
    assert together == merged
    assert totals(together) == totals(merged)


def test_merge_counts_shared_source_once_and_distinct_sources_add() -> None:
    a, b = SyscallGraph(), SyscallGraph()
    a.add_events("w", [sc("read"), sc("read")], source_id="t1")
    b.add_events("w", [sc("read"), sc("read")], source_id="t1")
    b.add_events("w", [sc("read", errno="EAGAIN")], source_id="t2")
    m = a.merge(b)
    assert m.usage("w")["read"].count == 3
    assert m.usage("w")["read"].errors == 1
    assert m.sources() == ["t1", "t2"]
    # merge returns a new graph and leaves both inputs alone
    assert a.usage("w")["read"].count == 2 and b.sources() == ["t1", "t2"]


def test_conflicting_accounts_of_one_source_are_joined() -> None:
    a, b = SyscallGraph(), SyscallGraph()
    a.add_events("w", [sc("read")] * 3, source_id="t1")
    b.add_events("w", [sc("read", phase=Phase.SHUTDOWN), sc("write")], source_id="t1")
    u = a.merge(b).usage("w")
    assert u["read"].count == 3
    assert u["read"].phases == {Phase.STARTUP, Phase.SHUTDOWN}
    assert u["write"].count == 1


# ---------------------------------------------------------------------------------------------
# JSON persistence


@given(graphs())
def test_json_round_trip(g: SyscallGraph) -> None:
    text = g.to_json()
    back = SyscallGraph.from_json(text)
    assert back == g
    assert back.to_json() == text
    assert totals(back) == totals(g)
    assert back.sources() == g.sources()


def test_json_shape() -> None:
    g = SyscallGraph()
    g.add_events("web", [sc("read", args=(3, None)), sc("write", tid=1)], source_id="t")
    text = g.to_json()
    assert text.endswith("}\n") and not text.endswith("\n\n")
    doc = json.loads(text)
    assert doc["format"] == "seccompgen.graph" and doc["version"] == 1
    contrib = doc["sources"][0]["workloads"]["web"]
    assert contrib["syscalls"]["read"]["args"] == [[3], []]
    assert contrib["transitions"] == [["read", "write", 1]]
    assert '\n  "format"' in text  # two-space indent


@st.composite
def interleavings(draw: st.DrawFn) -> tuple[list[Event], list[Event]]:
    """Two interleavings of the same per-thread event sequences."""
    threads: dict[int, list[Event]] = {}
    for tid in range(1, draw(st.integers(1, 4)) + 1):
        seq = draw(st.lists(syscall_events, max_size=12))
        threads[tid] = [
            SyscallEvent(e.name, e.arch, e.pid, tid, e.ret, e.errno, e.timestamp, e.args, e.phase)
            for e in seq
            if isinstance(e, SyscallEvent)
        ]
        if draw(st.booleans()):
            threads[tid].append(exit_(tid))
    picks = [tid for tid, seq in threads.items() for _ in seq]

    def weave(order: list[int]) -> list[Event]:
        queues = {tid: list(seq) for tid, seq in threads.items()}
        return [queues[tid].pop(0) for tid in order]

    return weave(draw(st.permutations(picks))), weave(draw(st.permutations(picks)))


@given(interleavings())
def test_to_json_is_deterministic_across_thread_interleavings(
    pair: tuple[list[Event], list[Event]],
) -> None:
    first, second = pair
    a, b = SyscallGraph(), SyscallGraph()
    a.add_events("w", first, source_id="t")
    b.add_events("w", second, source_id="t")
    assert a.to_json() == b.to_json()
    assert a.to_dot() == b.to_dot()


def test_to_json_is_independent_of_insertion_order() -> None:
    a, b = SyscallGraph(), SyscallGraph()
    a.add_events("web", [sc("read")], source_id="t1")
    a.add_events("batch", [sc("write")], source_id="t2")
    b.add_events("batch", [sc("write")], source_id="t2")
    b.add_events("web", [sc("read")], source_id="t1")
    assert a.to_json() == b.to_json()


def _valid_doc() -> dict[str, Any]:
    g = SyscallGraph()
    g.add_events("web", [sc("read", args=(3,)), sc("write")], source_id="t")
    g.add_events("web", [sc("close")])
    doc: dict[str, Any] = json.loads(g.to_json())
    return doc


def _usage_doc(doc: dict[str, Any]) -> dict[str, Any]:
    usage: dict[str, Any] = doc["sources"][0]["workloads"]["web"]["syscalls"]["read"]
    return usage


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(format="something-else"), "$.format"),
        (lambda d: d.update(version=2), "unsupported version 2"),
        (lambda d: d.pop("sources"), "missing key(s) sources"),
        (lambda d: d.update(extra=1), "unexpected key(s) extra"),
        (lambda d: d["sources"].append(d["sources"][0]), "duplicate source id 't'"),
        (lambda d: _usage_doc(d).update(count=True), "syscalls.read.count: expected an integer"),
        (lambda d: _usage_doc(d).update(count=0), "expected an integer >= 1"),
        (lambda d: _usage_doc(d).update(errors=5), "5 errors but only 1 calls"),
        (lambda d: _usage_doc(d).update(phases=["boot"]), "unknown phase 'boot'"),
        (lambda d: _usage_doc(d).update(phases=[]), "at least one phase"),
        (
            lambda d: _usage_doc(d).update(phases=["exercise"]),
            "first_phase: 'startup' is not the earliest",
        ),
        (lambda d: _usage_doc(d).update(arches=[]), "at least one arch"),
        (lambda d: _usage_doc(d).update(args=[[1.5]]), "args[0][0]: expected an integer"),
        (lambda d: _usage_doc(d).update(args=["few"]), 'or "many"'),
        (lambda d: _usage_doc(d).update(args=[list(range(65))]), "exceed the cap of 64"),
        (
            lambda d: d["sources"][0]["workloads"]["web"].update(transitions=[["read", "write"]]),
            "expected [from, to, count]",
        ),
        (lambda d: d.update(unsourced=[]), "$.unsourced: expected an object, found a list"),
    ],
)
def test_from_json_rejects_bad_documents(mutate: Any, expected: str) -> None:
    doc = _valid_doc()
    mutate(doc)
    with pytest.raises(TraceFileError) as info:
        SyscallGraph.from_json(json.dumps(doc), source="store/graph.json")
    assert info.value.message.startswith("store/graph.json: ")
    assert expected in info.value.message


@pytest.mark.parametrize("text", ["", "{", "[]", "null", '"graph"', "[" * 100000, "NaN"])
def test_from_json_rejects_non_graphs(text: str) -> None:
    with pytest.raises(TraceFileError) as info:
        SyscallGraph.from_json(text, source="g.json")
    assert "g.json" in info.value.message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _paths(v: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _paths(x, (*prefix, k))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _paths(x, (*prefix, i))


@given(st.data(), json_values)
def test_from_json_never_raises_anything_but_trace_file_error(
    data: st.DataObject, replacement: Any
) -> None:
    doc = _valid_doc()
    paths = list(_paths(doc))[1:]
    path = data.draw(st.sampled_from(paths))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = replacement
    try:
        g = SyscallGraph.from_json(json.dumps(doc))
    except TraceFileError:
        return
    # Whatever was accepted must read back as itself.
    assert SyscallGraph.from_json(g.to_json()) == g


@given(json_values)
def test_from_json_on_foreign_json(value: Any) -> None:
    with pytest.raises(TraceFileError):
        SyscallGraph.from_json(json.dumps(value))


# ---------------------------------------------------------------------------------------------
# DOT


def test_to_dot() -> None:
    g = SyscallGraph()
    g.add_events("web", [sc("read"), sc("write", errno="EPIPE"), sc("read")])
    g.add_events('we"ird', [sc("read")])
    dot = g.to_dot()
    assert dot.startswith("digraph seccompgen {\n") and dot.endswith("}\n")
    assert '"workload:web" [label="web", shape=box, style="bold"];' in dot
    assert '"syscall:read" [label="read", shape=ellipse];' in dot
    assert '"workload:web" -> "syscall:read" [label="2"];' in dot
    assert '"workload:web" -> "syscall:write" [label="1, 1 err"];' in dot
    assert '"syscall:read" -> "syscall:write" [label="web: 1", style="dashed"];' in dot
    assert '"workload:we\\"ird" [label="we\\"ird"' in dot
    # Every quote inside the document is either a delimiter or escaped: balanced per line.
    for line in dot.splitlines():
        assert line.replace('\\"', "").count('"') % 2 == 0


def test_to_dot_draws_a_subset_of_workloads() -> None:
    g = SyscallGraph()
    g.add_events("web", [sc("read"), sc("write")])
    g.add_events("batch", [sc("read"), sc("write"), sc("openat")])
    dot = g.to_dot(["web"])
    assert '"workload:web"' in dot and "batch" not in dot
    assert '"syscall:openat"' not in dot
    assert '"syscall:read" -> "syscall:write" [label="web: 1", style="dashed"];' in dot
    assert g.to_dot() == g.to_dot(["batch", "web"])
    with pytest.raises(StoreError):
        g.to_dot(["nope"])
