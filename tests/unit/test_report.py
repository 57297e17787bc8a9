"""The report: per-workload syscalls and phases, startup-only names, additions with reasons,
and its text, JSON, DOT and Graphviz renderings."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET

import pytest
from _rules import missing_tool

from seccompgen.errors import StoreError
from seccompgen.events import Phase, SyscallEvent
from seccompgen.goruntime import go_runtime_entries, go_runtime_names
from seccompgen.graph import SyscallGraph
from seccompgen.inspect.reachable import Warning as ReachWarning
from seccompgen.profile.build import process_exits
from seccompgen.report import (
    REPORT_FORMAT,
    RUNTIME_REASON,
    ReportError,
    build_report,
    render_dot,
    render_image,
    render_json,
    render_text,
)

S, E, D = Phase.STARTUP, Phase.EXERCISE, Phase.SHUTDOWN


def need_dot() -> None:
    """Skip without Graphviz's dot, or fail when ``CI`` is set (CI installs graphviz)."""
    if shutil.which("dot") is None:
        reason = "Graphviz's dot is not on PATH (apt-get install graphviz)"
        missing_tool(reason)


def _ev(name: str, phase: Phase, errno: str | None = None) -> SyscallEvent:
    return SyscallEvent(name, "x86_64", 1, 1, -1 if errno else 0, errno, 1.0, (), phase)


def _graph(calls: dict[str, list[tuple[str, Phase]]]) -> SyscallGraph:
    g = SyscallGraph()
    for workload, events in calls.items():
        g.add_events(workload, [_ev(n, p) for n, p in events])
    return g


API = [
    ("execve", S),
    ("mmap", S),
    ("mmap", S),
    ("clone", S),
    ("read", S),
    ("read", E),
    ("accept4", E),
    ("write", E),
    ("write", D),
    ("exit_group", D),
]


def test_syscalls_with_counts_and_phases() -> None:
    report = build_report(
        _graph({"api": API}), ["api"], go_runtime={}, runtime_names=(), unobserved=None
    )
    (w,) = report.workloads
    by_name = {c.name: c for c in w.syscalls}
    assert list(by_name) == sorted(by_name)
    assert by_name["mmap"].count == 2 and by_name["mmap"].phases == (S,)
    assert by_name["read"].phases == (S, E) and by_name["read"].first_phase is S
    assert by_name["write"].phases == (E, D) and by_name["write"].first_phase is E
    assert w.phases_seen == (S, E, D) and w.phases_told_apart


def test_startup_only_are_the_names_never_seen_after_startup() -> None:
    report = build_report(
        _graph({"api": API}), [], go_runtime={}, runtime_names=(), unobserved=None
    )
    (w,) = report.workloads
    expected = {n for n, _ in API} - {n for n, p in API if p is not S}
    assert {s.name for s in w.startup_only} == expected == {"execve", "mmap", "clone"}
    assert all(not s.needed_later_by for s in w.startup_only)


def test_startup_only_names_the_go_runtime_needs_later_are_marked() -> None:
    net = go_runtime_names("x86_64")
    report = build_report(
        _graph({"api": API}),
        ["api"],
        go_runtime={},
        runtime_names=(),
        unobserved=None,
        safety_net=net,
    )
    marks = {s.name: s.needed_later_by for s in report.workloads[0].startup_only}
    assert marks["clone"] == net["clone"] and "new OS threads" in marks["clone"]
    assert marks["execve"] == ()
    text = render_text(report)
    assert "the Go runtime may need clone later: " in text


def test_without_later_phases_startup_only_is_unknown_not_everything() -> None:
    g = _graph({"batch": [("execve", S), ("read", S), ("exit_group", S)]})
    report = build_report(g, ["batch"], go_runtime={}, runtime_names=(), unobserved=None)
    (w,) = report.workloads
    assert not w.phases_told_apart and w.startup_only == ()
    assert "startup only: not known" in render_text(report)
    assert json.loads(render_json(report))["workloads"][0]["startup_only"] is None


def test_additions_carry_their_reasons_and_skip_observed_names() -> None:
    entries = {e.path: e for e in go_runtime_entries("x86_64")}
    go = {"tgkill": ("asynchronous preemption",), "read": ("signal delivery",)}
    report = build_report(
        _graph({"api": API}),
        ["api"],
        go_runtime=go,
        runtime_names=("setgroups", "capset", "read", "capset"),
        unobserved=None,
    )
    assert [a.name for a in report.go_additions] == ["tgkill"]  # read was observed
    (reason,) = report.go_additions[0].reasons
    assert reason == f"asynchronous preemption: {entries['asynchronous preemption'].reason}"
    assert [(a.name, a.reasons) for a in report.runtime_additions] == [
        ("capset", (RUNTIME_REASON,)),
        ("setgroups", (RUNTIME_REASON,)),
    ]
    text = render_text(report)
    assert "added for the Go runtime's rare paths, not observed (1):" in text
    assert "added for the container runtime, not observed (2):" in text


def test_exit_syscalls_are_listed_as_always_allowed_unless_seen_or_added() -> None:
    g = _graph({"api": [("read", S), ("exit_group", D)]})
    report = build_report(
        g, ["api"], go_runtime={}, runtime_names=(), unobserved=None, exits=("exit", "exit_group")
    )
    assert [a.name for a in report.exit_additions] == ["exit"]  # exit_group was observed
    (reason,) = report.exit_additions[0].reasons
    assert reason == {e.name: e.reason for e in process_exits()}["exit"]
    text = render_text(report)
    assert "always allowed: a process must be able to end, not observed (1):" in text
    assert json.loads(render_json(report))["additions"]["process_exit"][0]["name"] == "exit"
    assert '[label="always allowed"' in render_dot(report)
    # Already added for the Go runtime's thread exit: listed there, not twice.
    go = build_report(
        g,
        ["api"],
        go_runtime={"exit": ("thread exit",)},
        runtime_names=(),
        unobserved=None,
        exits=("exit", "exit_group"),
    )
    assert go.exit_additions == () and [a.name for a in go.go_additions] == ["exit"]


def test_unobserved_warnings_are_reported_sorted() -> None:
    warnings = [
        ReachWarning("unlinkat", ("os.Remove",), ("os.Remove: removes files (os/file.go)",)),
        ReachWarning("connect", ("net.Dial",), ()),
    ]
    report = build_report(
        _graph({"api": API}), ["api"], go_runtime={}, runtime_names=(), unobserved=warnings
    )
    assert [u.name for u in report.unobserved] == ["connect", "unlinkat"]
    assert "  unlinkat: reachable via os.Remove" in render_text(report)
    doc = json.loads(render_json(report))
    assert doc["unobserved"][1] == {
        "name": "unlinkat",
        "via": ["os.Remove"],
        "reasons": ["os.Remove: removes files (os/file.go)"],
    }


def test_unknown_workload_is_a_store_error() -> None:
    with pytest.raises(StoreError):
        build_report(
            _graph({"api": API}), ["nope"], go_runtime={}, runtime_names=(), unobserved=None
        )


def test_json_holds_the_report_and_is_deterministic() -> None:
    g = _graph({"api": API, "worker": [("read", S), ("futex", E)]})
    kwargs = {"go_runtime": {"tgkill": ("asynchronous preemption",)}, "runtime_names": ("capset",)}
    one = render_json(build_report(g, [], unobserved=None, **kwargs))  # type: ignore[arg-type]
    two = render_json(build_report(g, ["worker", "api"], unobserved=None, **kwargs))  # type: ignore[arg-type]
    assert one == two and one.endswith("}\n")
    doc = json.loads(one)
    assert (doc["format"], doc["version"]) == (REPORT_FORMAT, 1)
    assert [w["workload"] for w in doc["workloads"]] == ["api", "worker"]
    api = {c["name"]: c for c in doc["workloads"][0]["syscalls"]}
    assert api["write"] == {
        "name": "write",
        "count": 2,
        "errors": 0,
        "first_phase": "exercise",
        "phases": ["exercise", "shutdown"],
    }
    assert [s["name"] for s in doc["workloads"][1]["startup_only"]] == ["read"]
    assert [a["name"] for a in doc["additions"]["go_runtime"]] == ["tgkill"]
    assert [a["name"] for a in doc["additions"]["container_runtime"]] == ["capset"]


def test_errors_are_counted() -> None:
    g = SyscallGraph()
    g.add_events("w", [_ev("openat", S, "ENOENT"), _ev("openat", E), _ev("read", E)])
    report = build_report(g, ["w"], go_runtime={}, runtime_names=(), unobserved=None)
    openat = report.workloads[0].syscalls[0]
    assert (openat.name, openat.count, openat.errors) == ("openat", 2, 1)
    rows = [line.split() for line in render_text(report).splitlines()]
    assert ["openat", "2", "1", "startup,", "exercise"] in rows


def _dot_nodes(dot: str) -> dict[str, str]:
    """``"kind:name" -> attribute text`` for every node statement."""
    nodes = {}
    for line in dot.splitlines():
        line = line.strip()
        if line.startswith('"') and "->" not in line and "[" in line:
            ident, attrs = line.split(" [", 1)
            nodes[ident.strip('"')] = attrs
    return nodes


def test_dot_colours_syscalls_by_their_earliest_phase() -> None:
    g = _graph({"api": API, "worker": [("write", S)]})
    report = build_report(
        g,
        [],
        go_runtime={"tgkill": ("asynchronous preemption",)},
        runtime_names=(),
        unobserved=None,
    )
    dot = render_dot(report)
    nodes = _dot_nodes(dot)
    assert 'fillcolor="lightblue"' in nodes["syscall:mmap"]
    assert 'fillcolor="palegreen"' in nodes["syscall:accept4"]
    assert 'fillcolor="lightsalmon"' in nodes["syscall:exit_group"]
    assert 'fillcolor="lightblue"' in nodes["syscall:write"]  # worker made it at startup
    assert 'style="filled,dashed"' in nodes["syscall:tgkill"]
    assert '"workload:api" -> "syscall:tgkill" [label="Go runtime"' in dot
    assert '"workload:api" -> "syscall:accept4" [label="1", color="forestgreen"];' in dot
    assert render_dot(report) == dot


def test_dot_escapes_quotes_in_names() -> None:
    g = _graph({'we"ird\\': [("read", S)]})
    dot = render_dot(build_report(g, [], go_runtime={}, runtime_names=(), unobserved=None))
    assert '"workload:we\\"ird\\\\"' in dot


def test_missing_dot_says_how_to_install_it() -> None:
    with pytest.raises(ReportError, match="apt-get install graphviz"):
        render_image("digraph {}", "svg", dot_command="seccompgen-no-such-dot")


def test_unknown_image_format_is_refused() -> None:
    with pytest.raises(ReportError, match="unknown image format"):
        render_image("digraph {}", "gif")


def test_svg_holds_every_node() -> None:
    need_dot()
    report = build_report(
        _graph({"api": API}),
        [],
        go_runtime={"tgkill": ("asynchronous preemption",)},
        runtime_names=(),
        unobserved=None,
    )
    svg = render_image(render_dot(report), "svg")
    root = ET.fromstring(svg)
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {n for n, _ in API} | {"api", "tgkill"} <= texts


def test_png_is_a_png() -> None:
    need_dot()
    png = render_image(
        render_dot(
            build_report(_graph({"api": API}), [], go_runtime={}, runtime_names=(), unobserved=None)
        ),
        "png",
    )
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_bad_dot_is_a_report_error() -> None:
    need_dot()
    with pytest.raises(ReportError, match="failed"):
        render_image("digraph { -> }", "svg")
