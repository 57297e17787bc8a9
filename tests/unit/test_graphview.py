"""Tests for seccompgen.graphview: the text report and the JSON summary of a graph."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seccompgen.errors import StoreError
from seccompgen.events import Phase, SyscallEvent
from seccompgen.graph import SyscallGraph
from seccompgen.graphview import render_json, render_text


def sc(
    name: str, phase: Phase = Phase.STARTUP, errno: str | None = None, tid: int = 1
) -> SyscallEvent:
    return SyscallEvent(name, "x86_64", 1, tid, 0, errno, None, (3, None), phase)


def three_workloads() -> SyscallGraph:
    g = SyscallGraph()
    g.add_events(
        "web",
        [sc("execve"), sc("accept4", Phase.EXERCISE, "EAGAIN"), sc("accept4", Phase.EXERCISE)]
        + [sc("read", Phase.EXERCISE)] * 1200
        + [sc("exit_group", Phase.SHUTDOWN)],
        source_id="t-web",
    )
    g.add_events(
        "batch",
        [sc("execve"), sc("openat", errno="ENOENT"), sc("read", Phase.SHUTDOWN)],
        source_id="t-batch",
    )
    g.add_events("agent", [sc("execve"), sc("exit_group", Phase.EXERCISE)], source_id="t-agent")
    return g


def section(text: str, start: str) -> list[str]:
    """The lines after the line starting with ``start`` up to the next blank line."""
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith(start))
    out = []
    for line in lines[i + 1 :]:
        if not line.strip():
            break
        out.append(line)
    return out


def name_lists(lines: list[str]) -> dict[str, list[str]]:
    """Parse ``label (n)  a, b,`` lines (with wrapped continuations) back into lists."""
    out: dict[str, list[str]] = {}
    label = ""
    for line in lines:
        m = re.match(r"^  (\S+) \((\d+)\)\s+(.*)$", line)
        if m:
            label = m.group(1)
            out[label] = []
            rest = m.group(3)
        else:
            rest = line.strip()
        out[label] += [n for n in (p.strip() for p in rest.split(",")) if n and n != "-"]
    return out


def test_text_tables_match_the_graph_and_are_aligned() -> None:
    g = three_workloads()
    text = render_text(g)
    assert text.endswith("\n") and not text.endswith("\n\n")
    for w in g.workloads():
        usage = g.usage(w)
        assert f"{w}: {len(usage)} syscall" in text
        table = section(text, f"{w}: ")
        header, rows = table[0], table[1:]
        assert header.split()[:3] == ["syscall", "count", "errors"]
        parsed = {r.split()[0]: r.split()[1:] for r in rows}
        assert parsed == {
            n: [str(u.count), str(u.errors), u.first_phase.value] for n, u in usage.items()
        }
        # Right-aligned numbers: each numeric column ends at one offset, the header's.
        for col in ("count", "errors"):
            end = header.index(col) + len(col)
            for r, (_, u) in zip(rows, usage.items(), strict=True):
                value = str(u.count if col == "count" else u.errors)
                assert r[end - len(value) : end] == value


def test_text_adds_are_relative_to_the_selection() -> None:
    g = three_workloads()
    everyone = name_lists(section(render_text(g), "what each workload adds"))
    assert everyone == {"agent": [], "batch": ["openat"], "web": ["accept4"]}
    # Without agent, web is the only one left calling exit_group.
    two = name_lists(section(render_text(g, ["web", "batch"]), "what each workload adds"))
    assert two == {"batch": ["openat"], "web": ["accept4", "exit_group"]}


def test_text_phases_use_the_earliest_phase_across_the_selection() -> None:
    g = three_workloads()
    phases = name_lists(section(render_text(g), "syscalls by the phase"))
    assert phases == {
        "startup": ["execve", "openat"],
        "exercise": ["accept4", "exit_group", "read"],
        "shutdown": [],
    }
    only_batch = name_lists(section(render_text(g, ["batch"]), "syscalls by the phase"))
    assert only_batch["shutdown"] == ["read"]


def test_text_single_workload_has_nothing_to_compare() -> None:
    text = render_text(three_workloads(), ["agent"])
    assert "agent: 2 syscalls" in text
    assert "web" not in text
    assert "nothing to compare" in text


def test_text_is_deterministic() -> None:
    a = three_workloads()
    b = SyscallGraph()
    for w in ["agent", "batch", "web"]:
        b = b.merge(_only(a, w))
    assert render_text(a) == render_text(b)
    assert render_text(a, ["web", "batch"]) == render_text(a, ["batch", "web", "batch"])


def _only(g: SyscallGraph, workload: str) -> SyscallGraph:
    doc = json.loads(g.to_json())
    doc["sources"] = [s for s in doc["sources"] if workload in s["workloads"]]
    return SyscallGraph.from_json(json.dumps(doc))


def test_long_lists_wrap_to_the_terminal_width() -> None:
    g = SyscallGraph()
    g.add_events("big", [sc(f"call_{i:03d}") for i in range(80)])
    g.add_events("small", [sc("read")])
    text = render_text(g)
    assert max(len(line) for line in text.splitlines()) <= 100
    adds = name_lists(section(text, "what each workload adds"))
    assert adds["big"] == [f"call_{i:03d}" for i in range(80)]


def test_empty_graph_and_unknown_workload() -> None:
    assert "no workloads" in render_text(SyscallGraph())
    with pytest.raises(StoreError, match="'nope'"):
        render_text(three_workloads(), ["nope"])
    with pytest.raises(StoreError, match="'nope'"):
        render_json(three_workloads(), ["web", "nope"])


def test_json_summary() -> None:
    g = three_workloads()
    text = render_json(g, ["web", "batch"])
    assert text.endswith("}\n")
    doc = json.loads(text)
    assert doc["format"] == "seccompgen.graph-summary" and doc["version"] == 1
    assert sorted(doc["workloads"]) == ["batch", "web"]
    web = doc["workloads"]["web"]
    assert web["syscall_count"] == len(g.usage("web"))
    assert web["syscalls"]["accept4"] == {
        "count": 2,
        "errors": 1,
        "first_phase": "exercise",
        "phases": ["exercise"],
        "arches": ["x86_64"],
        "args": [[3], []],
    }
    assert web["adds"] == ["accept4", "exit_group"]
    # agent (not selected) calls exit_group during exercise; web only at shutdown.
    assert doc["first_seen"]["shutdown"] == ["exit_group"]
    assert json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text


events = st.lists(
    st.builds(
        sc,
        st.sampled_from(["read", "write", "futex", "mmap", "close", "openat"]),
        st.sampled_from(list(Phase)),
        st.sampled_from([None, "EAGAIN"]),
        st.integers(1, 3),
    ),
    max_size=30,
)


@given(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), events, min_size=1))
def test_json_summary_agrees_with_the_graph(parts: dict[str, list[SyscallEvent]]) -> None:
    g = SyscallGraph()
    for w, evs in parts.items():
        g.add_events(w, evs, source_id=w)
    doc = json.loads(render_json(g))
    selected = g.workloads()
    for w in selected:
        got = doc["workloads"][w]
        assert {n: s["count"] for n, s in got["syscalls"].items()} == {
            n: u.count for n, u in g.usage(w).items()
        }
        others = set(g.syscalls([o for o in selected if o != w])) if len(selected) > 1 else set()
        assert got["adds"] == sorted(set(g.usage(w)) - others)
    seen = [n for p in ("startup", "exercise", "shutdown") for n in doc["first_seen"][p]]
    assert sorted(seen) == g.syscalls()
    for p in ("startup", "exercise", "shutdown"):
        for n in doc["first_seen"][p]:
            earliest = min(
                (g.usage(w)[n].first_phase for w in selected if n in g.usage(w)),
                key=lambda ph: ph.order,
            )
            assert earliest.value == p
    assert render_text(g) == render_text(SyscallGraph.from_json(g.to_json()))
