"""learn(): seccomp audit records into the trace store, de-duplicated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seccompgen.errors import StoreError
from seccompgen.events import SyscallEvent
from seccompgen.learn import BACKEND, LearnFilters, learn
from seccompgen.parsing.audit import AuditRecord, parse_audit_lines, parse_payload
from seccompgen.store import TraceStore
from seccompgen.tracefile import TraceHeader, TraceWriter, read_trace

RECORDED = Path(__file__).resolve().parents[2] / "traces" / "recorded" / "audit"


def _records(name: str = "netlink.txt") -> list[AuditRecord]:
    text = (RECORDED / name).read_text(encoding="utf-8")
    return parse_audit_lines(text.splitlines(), source=name)[0]


def _pairs(records: list[AuditRecord]) -> set[tuple[str, str]]:
    return {(r.arch, r.name) for r in records if r.arch and r.name}


def _store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "store")


def test_learn_into_an_empty_store(tmp_path: Path) -> None:
    store = _store(tmp_path)
    records = _records()
    summary = learn(store, "probe", records, source="netlink.txt", filters=LearnFilters())
    assert set(summary.new) == _pairs(records)
    assert summary.new_names == tuple(sorted({r.name for r in records if r.name}))
    assert sum(summary.counts.values()) == len(records)
    assert summary.counts["uname"] == sum(r.name == "uname" for r in records)
    assert summary.records == summary.matched == len(records)
    assert summary.duplicates == len(records) - len(summary.new)
    assert summary.trace_path is not None and summary.trace_path.is_file()
    reader = read_trace(summary.trace_path)
    assert reader.header.backend == BACKEND and reader.header.workload == "probe"
    events = [e for e in reader if isinstance(e, SyscallEvent)]
    assert {(e.arch, e.name) for e in events} == _pairs(records)
    graph = store.load_graph()
    assert set(graph.syscalls(["probe"])) == set(summary.new_names)
    assert set(graph.arches(["probe"])) == {"x86", "x86_64"}
    assert summary.trace_id in graph.sources()


def test_relearning_the_same_file_changes_no_name_set(tmp_path: Path) -> None:
    store = _store(tmp_path)
    first = learn(store, "probe", _records(), source="a", filters=LearnFilters())
    before = store.graph_path.read_text(encoding="utf-8")
    again = learn(store, "probe", _records("audit.log"), source="b", filters=LearnFilters())
    assert again.new == () and again.trace_path is None
    assert again.duplicates == again.matched == len(_records("audit.log"))
    assert store.graph_path.read_text(encoding="utf-8") == before
    assert len(store.traces(["probe"])) == 1
    assert first.new


def test_known_names_of_the_workload_are_not_added_again(tmp_path: Path) -> None:
    store = _store(tmp_path)
    header = TraceHeader.new(workload="probe", arch="x86_64", backend="strace", command=["p"])
    path = store.new_trace_path("probe", header.trace_id, "20260101T000000")
    with TraceWriter.create(path, header) as writer:
        writer.write(SyscallEvent("getppid", "x86_64", 1, 1, 0, None, 0.0, ()))
    store.add_trace(path)
    summary = learn(store, "probe", _records(), source="x", filters=LearnFilters())
    assert ("x86_64", "getppid") not in summary.new
    # Same name, other architecture: a new pair.
    assert ("x86", "getppid") in summary.new
    # Another workload's names do not count for this one.
    other = learn(store, "other", _records(), source="x", filters=LearnFilters())
    assert ("x86_64", "getppid") in other.new


def test_filters(tmp_path: Path) -> None:
    records = _records()
    i386 = [r for r in records if r.arch == "x86"]
    by_pid = learn(
        _store(tmp_path / "a"),
        "w",
        records,
        source="x",
        filters=LearnFilters(pids=frozenset({i386[0].pid})),
    )
    assert {arch for arch, _ in by_pid.new} == {"x86"}
    assert by_pid.filtered == len(records) - len(i386)
    by_comm = learn(
        _store(tmp_path / "b"),
        "w",
        records,
        source="x",
        filters=LearnFilters(comms=frozenset({"my uname"})),
    )
    assert by_comm.new == (("x86_64", "uname"),) and by_comm.matched == 1
    shell_exe = next(r.exe for r in records if r.comm == "my uname")
    assert shell_exe is not None
    by_exe = learn(
        _store(tmp_path / "c"),
        "w",
        records,
        source="x",
        filters=LearnFilters(exes=frozenset({shell_exe})),
    )
    assert by_exe.new == by_comm.new
    none = learn(
        _store(tmp_path / "d"), "w", records, source="x", filters=LearnFilters(pids=frozenset({-1}))
    )
    assert none.new == () and none.trace_path is None and none.filtered == len(records)


def test_unknown_numbers_are_counted_not_written(tmp_path: Path) -> None:
    base = _records()[0].raw
    unknown = parse_payload(re.sub(r"syscall=\d+", "syscall=999", base))
    foreign = parse_payload(re.sub(r"arch=[0-9a-f]+", "arch=9026", base))  # AUDIT_ARCH_ALPHA-ish
    summary = learn(
        _store(tmp_path), "w", [unknown, foreign, unknown], source="x", filters=LearnFilters()
    )
    assert summary.new == () and summary.trace_path is None
    assert summary.unknown == {("0x9026", foreign.syscall_number): 1, ("x86_64", 999): 2}


def test_bad_workload_name(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not allowed"):
        learn(_store(tmp_path), "../x", _records(), source="x", filters=LearnFilters())
