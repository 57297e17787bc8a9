"""Allow lines: a profile's allowances in a trace file (format version 2), written, read back,
refused where the format does not have them, and folded into the graph as imported usage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seccompgen.errors import TraceFileError
from seccompgen.events import Phase, SyscallEvent
from seccompgen.graph import SyscallGraph
from seccompgen.tracefile import ALLOW_VERSION, TraceHeader, TraceWriter, read_trace


def _header(version: int = ALLOW_VERSION) -> TraceHeader:
    return TraceHeader.new(
        workload="web", arch="x86_64", backend="import-spo", command=["p.yaml"], version=version
    )


def _write_allowed(path: Path, names: list[tuple[str, str | None]]) -> None:
    with TraceWriter.create(path, _header()) as writer:
        for name, arch in names:
            writer.allow(name, arch)


def test_allow_lines_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "a.trace.jsonl"
    _write_allowed(path, [("read", None), ("write", "x86_64"), ("socketcall", "x86")])
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines[0]["version"] == ALLOW_VERSION
    assert lines[1:-1] == [
        {"k": "allow", "name": "read"},
        {"k": "allow", "name": "write"},
        {"k": "allow", "name": "socketcall", "arch": "x86"},
    ]
    assert lines[-1]["events"] == {"syscall": 0, "signal": 0, "exit": 0, "allow": 3}
    reader = read_trace(path)
    assert list(reader) == []  # allow lines are not events
    assert reader.complete
    assert reader.footer is not None and reader.footer.allowed == 3
    assert reader.allowed() == (("read", "x86_64"), ("write", "x86_64"), ("socketcall", "x86"))


def test_events_and_allow_lines_together(tmp_path: Path) -> None:
    path = tmp_path / "b.trace.jsonl"
    event = SyscallEvent("openat", "x86_64", 1, 1, 3, None, 1.0, (), Phase.EXERCISE)
    with TraceWriter.create(path, _header()) as writer:
        writer.write(event)
        writer.allow("read")
    reader = read_trace(path)
    assert list(reader) == [event]
    assert reader.allowed() == (("read", "x86_64"),)


def test_a_version_1_writer_refuses_allow_lines(tmp_path: Path) -> None:
    writer = TraceWriter.create(tmp_path / "c.trace.jsonl", _header(version=1))
    with pytest.raises(ValueError, match="version 2"):
        writer.allow("read")
    writer.discard()


def test_a_version_1_trace_with_an_allow_line_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "d.trace.jsonl"
    _write_allowed(path, [("read", None)])
    lines = path.read_text().splitlines()
    head = json.loads(lines[0])
    head["version"] = 1
    path.write_text("\n".join([json.dumps(head), *lines[1:]]) + "\n")
    with pytest.raises(TraceFileError, match=r":2: unknown record kind 'allow'"):
        list(read_trace(path))
    assert read_trace(path).allowed() == ()  # version 1: no allow lines to look for


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"k":"allow"}', "missing key 'name'"),
        ('{"k":"allow","name":""}', "'name' is empty"),
        ('{"k":"allow","name":7}', "key 'name' has the wrong type"),
    ],
)
def test_bad_allow_lines_name_the_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "e.trace.jsonl"
    _write_allowed(path, [])
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], line, lines[1]]) + "\n")
    with pytest.raises(TraceFileError, match=r":2: " + problem):
        read_trace(path).allowed()


def test_the_footer_counts_allow_lines(tmp_path: Path) -> None:
    path = tmp_path / "f.trace.jsonl"
    _write_allowed(path, [("read", None)])
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], *lines[1:-1], lines[1], lines[-1]]) + "\n")
    with pytest.raises(TraceFileError, match="allow count 1 does not match the 2"):
        read_trace(path).allowed()


def test_a_store_folds_allow_lines_as_imported_usage(tmp_path: Path) -> None:
    from seccompgen.store import TraceStore

    store = TraceStore(tmp_path / "store")
    header = _header()
    path = store.new_trace_path("web", header.trace_id, "20260101T000000Z")
    with TraceWriter.create(path, header) as writer:
        writer.allow("read")
        writer.allow("futex")
    graph = store.add_trace(path)
    usage = graph.usage("web")
    assert sorted(usage) == ["futex", "read"]
    assert all(u.imported and u.count == 0 and u.first_phase is None for u in usage.values())
    assert store.rebuild() == graph
    assert SyscallGraph.from_json(store.graph_path.read_text()) == graph
