"""Imported usage in the graph: the ``imported`` flag, no count or phase, the merge rules, and
graph.json (``"imported": true`` only when true, so graphs of traced runs keep their bytes)."""

from __future__ import annotations

import json

import pytest

from seccompgen.errors import TraceFileError
from seccompgen.events import Phase, SyscallEvent
from seccompgen.graph import SyscallGraph, SyscallUsage


def _call(name: str, phase: Phase = Phase.STARTUP) -> SyscallEvent:
    return SyscallEvent(name, "x86_64", 1, 1, 0, None, 1.0, (), phase)


def test_imported_only_usage_has_no_count_and_no_phase() -> None:
    g = SyscallGraph()
    g.add_events("web", [], source_id="imp", allowed=[("read", "x86_64"), ("futex", "x86_64")])
    assert g.workloads() == ["web"]
    assert g.syscalls(["web"]) == ["futex", "read"]
    u = g.usage("web")["read"]
    assert u == SyscallUsage.allowed("read", "x86_64")
    assert (u.count, u.errors, u.first_phase, u.phases, u.imported) == (
        0,
        0,
        None,
        frozenset(),
        True,
    )
    assert g.arches(["web"]) == ["x86_64"]


def test_imported_and_traced_usage_join() -> None:
    g = SyscallGraph()
    g.add_events("web", [_call("read", Phase.EXERCISE)] * 3, source_id="t1")
    g.add_events("web", [], source_id="imp", allowed=[("read", "x86_64"), ("futex", "x86_64")])
    read = g.usage("web")["read"]
    assert (read.count, read.first_phase, read.imported) == (3, Phase.EXERCISE, True)
    assert g.usage("web")["futex"].count == 0
    # The merge rules hold with imported contributions too.
    a, b = SyscallGraph(), SyscallGraph()
    a.add_events("web", [_call("read")], source_id="t1")
    b.add_events("web", [], source_id="imp", allowed=[("read", "x86_64")])
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(b) == a.merge(b)


def test_graph_json_marks_imported_usage_only() -> None:
    traced = SyscallGraph()
    traced.add_events("web", [_call("read")], source_id="t1")
    assert '"imported"' not in traced.to_json()
    g = traced.merge(SyscallGraph())
    g.add_events("web", [], source_id="imp", allowed=[("futex", "x86_64")])
    doc = json.loads(g.to_json())
    by_id = {s["id"]: s for s in doc["sources"]}
    futex = by_id["imp"]["workloads"]["web"]["syscalls"]["futex"]
    assert futex == {
        "count": 0,
        "errors": 0,
        "first_phase": None,
        "phases": [],
        "arches": ["x86_64"],
        "args": [],
        "imported": True,
    }
    assert "imported" not in by_id["t1"]["workloads"]["web"]["syscalls"]["read"]
    assert SyscallGraph.from_json(g.to_json()) == g


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"imported": False}, "expected true"),
        ({"imported": None, "count": 0}, "expected true"),
        ({"count": 0}, "expected an integer >= 1"),
        ({"phases": [], "first_phase": None}, "expected at least one phase"),
    ],
)
def test_graph_json_refuses_what_only_imported_usage_may_be(
    change: dict[str, object], problem: str
) -> None:
    g = SyscallGraph()
    g.add_events("web", [_call("read")], source_id="t1")
    doc = json.loads(g.to_json())
    doc["sources"][0]["workloads"]["web"]["syscalls"]["read"].update(change)
    with pytest.raises(TraceFileError, match=problem):
        SyscallGraph.from_json(json.dumps(doc))
