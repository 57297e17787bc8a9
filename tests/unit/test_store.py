"""Where the trace store is, and what names it accepts."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
from pathlib import Path

import pytest

from seccompgen.errors import StoreError, TraceFileError
from seccompgen.graph import SyscallGraph
from seccompgen.store import ENV_VAR, EmittedProfile, TraceStore, check_workload_name


def test_store_flag_beats_environment_beats_default(tmp_path: Path) -> None:
    env = {ENV_VAR: "/srv/traces"}
    assert TraceStore.resolve("mine", environ=env, cwd=tmp_path).root == tmp_path / "mine"
    assert TraceStore.resolve(None, environ=env, cwd=tmp_path).root == Path("/srv/traces")
    assert TraceStore.resolve(None, environ={}, cwd=tmp_path).root == tmp_path / "traces"
    assert TraceStore.resolve(None, environ={ENV_VAR: ""}, cwd=tmp_path).root == tmp_path / "traces"


@pytest.mark.parametrize("name", ["api", "api-v2", "a.b_c", "0svc"])
def test_good_workload_names(name: str) -> None:
    assert check_workload_name(name) is None


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "-flag", "x" * 64, "sp ace"])
def test_bad_workload_names(name: str) -> None:
    problem = check_workload_name(name)
    assert problem is not None and repr(name) in problem


def test_empty_store_raises_with_hint(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as err:
        TraceStore(tmp_path / "none").load_graph()
    assert "seccompgen trace" in err.value.explain()


def test_counted_traces_add_no_transitions(tmp_path: Path) -> None:
    from seccompgen.events import SyscallEvent
    from seccompgen.tracefile import TraceHeader, TraceWriter

    def ev(name: str) -> SyscallEvent:
        return SyscallEvent(name, "x86_64", 1, 1, 0, None, 1.0, ())

    store = TraceStore(tmp_path)
    for backend in ("strace", "ebpf", "delta"):
        header = TraceHeader.new(workload=backend, arch="x86_64", backend=backend, command=["x"])
        path = store.new_trace_path(backend, header.trace_id, "20260101T000000Z")
        with TraceWriter.create(path, header) as writer:
            for name in ("read", "write", "read"):
                writer.write(ev(name))
        store.add_trace(path)
    graph = store.load_graph()
    assert graph.transitions("strace") == {("read", "write"): 1, ("write", "read"): 1}
    for unordered in ("ebpf", "delta"):
        assert graph.transitions(unordered) == {}
        assert graph.usage(unordered)["read"].count == 2


def emitted(digest: str, *workloads: str, path: str = "/p/x.json", when: str) -> EmittedProfile:
    return EmittedProfile(digest, workloads, path, "enforce", when)


def test_emitted_profiles_round_trip_newest_first(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    assert store.emitted("sha256:aa") == ()  # no file yet: nothing recorded
    first = emitted("sha256:aa", "api", when="2026-01-01T00:00:00.000000+00:00")
    other = emitted("sha256:bb", "worker", when="2026-01-02T00:00:00.000000+00:00")
    again = emitted("sha256:aa", "api", "worker", when="2026-01-03T00:00:00.000000+00:00")
    for entry in (first, other, again):
        store.record_emitted(entry)
    assert store.emitted("sha256:aa") == (again, first)
    assert store.emitted("sha256:bb") == (other,)
    assert store.emitted() == (again, other, first)
    data = json.loads(store.emitted_path.read_text())
    assert (data["format"], data["version"]) == ("seccompgen-emitted", 1)
    assert data["profiles"][0] == {
        "digest": "sha256:aa",
        "workloads": ["api"],
        "path": "/p/x.json",
        "mode": "enforce",
        "emitted": "2026-01-01T00:00:00.000000+00:00",
    }


def test_re_emitting_the_same_profile_replaces_its_record(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    store.record_emitted(emitted("sha256:aa", "api", when="2026-01-01T00:00:00+00:00"))
    store.record_emitted(emitted("sha256:aa", "api", when="2026-01-05T00:00:00+00:00"))
    store.record_emitted(emitted("sha256:aa", "api", path="/q.json", when="2026-01-06T00:00Z"))
    assert [(e.path, e.emitted) for e in store.emitted("sha256:aa")] == [
        ("/q.json", "2026-01-06T00:00Z"),
        ("/p/x.json", "2026-01-05T00:00:00+00:00"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"format": "seccompgen-emitted",\n "version": 1,,}', "emitted.json:2:15: not valid JSON"),
        ('{"profiles": []}', "not a seccompgen emitted-profiles record"),
        ('{"format": "seccompgen-emitted", "version": 9}', "version 9 is not 1"),
        (
            '{"format": "seccompgen-emitted", "version": 1, "profiles": [{"digest": "x"}]}',
            "profiles[0] lacks a field",
        ),
        (
            '{"format": "seccompgen-emitted", "version": 1, "profiles": [{"digest": "x", '
            '"workloads": "api", "path": "/p", "mode": "enforce", "emitted": "t"}]}',
            "profiles[0] lacks a field or has the wrong type (workloads is not a list)",
        ),
    ],
)
def test_a_damaged_emitted_record_names_the_file_and_the_way_out(
    tmp_path: Path, text: str, message: str
) -> None:
    store = TraceStore(tmp_path)
    store.emitted_path.write_text(text)
    with pytest.raises(StoreError) as err:
        store.emitted("x")
    assert str(store.emitted_path) in err.value.message
    assert message in err.value.message
    assert err.value.hint is not None and "delete it" in err.value.hint


# ---------------------------------------------------------------------------------------------
# Crash safety: graph.json follows the trace files whatever state a killed command left


def _write_trace(store: TraceStore, workload: str, names: list[str]) -> Path:
    from seccompgen.events import SyscallEvent
    from seccompgen.tracefile import TraceHeader, TraceWriter

    header = TraceHeader.new(workload=workload, arch="x86_64", backend="strace", command=["x"])
    path = store.new_trace_path(workload, header.trace_id, "20260101T000000Z")
    with TraceWriter.create(path, header) as writer:
        for name in names:
            writer.write(SyscallEvent(name, "x86_64", 1, 1, 0, None, 1.0, ()))
    return path


def _fresh_json(store: TraceStore) -> str:
    """graph.json as a rebuild from the trace files writes it, without touching the store."""
    copy = TraceStore(store.root)
    graph = SyscallGraph()
    for path in copy.traces():
        graph = TraceStore._fold(graph, path)
    return graph.to_json()


def test_a_trace_renamed_in_but_not_folded_is_folded_on_the_next_load(tmp_path: Path) -> None:
    # A command killed after renaming its trace into the store, before saving graph.json.
    store = TraceStore(tmp_path)
    store.add_trace(_write_trace(store, "a", ["read", "write"]))
    before = store.graph_path.read_text()
    _write_trace(store, "b", ["openat"])
    assert store.graph_path.read_text() == before
    graph = store.load_graph()
    assert graph.workloads() == ["a", "b"]
    assert store.graph_path.read_text() == _fresh_json(store) == graph.to_json()


def test_a_removed_trace_leaves_the_graph_on_the_next_load(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    store.add_trace(_write_trace(store, "a", ["read"]))
    gone = _write_trace(store, "b", ["openat"])
    store.add_trace(gone)
    gone.unlink()
    assert store.load_graph().workloads() == ["a"]
    assert store.graph_path.read_text() == _fresh_json(store)


@pytest.mark.parametrize("content", ["", '{"format": "seccompgen.graph"', "\xff", "[]"])
def test_an_unreadable_graph_json_is_rebuilt(tmp_path: Path, content: str) -> None:
    store = TraceStore(tmp_path)
    store.add_trace(_write_trace(store, "a", ["read"]))
    store.graph_path.write_text(content, encoding="latin-1")
    assert store.load_graph().workloads() == ["a"]
    assert store.graph_path.read_text() == _fresh_json(store)


def test_a_consistent_graph_is_read_not_rewritten(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    store.add_trace(_write_trace(store, "a", ["read"]))
    stat = store.graph_path.stat()
    store.load_graph()
    again = store.graph_path.stat()
    assert (again.st_ino, again.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)


def test_a_trace_not_named_by_the_store_is_matched_by_its_header(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    path = _write_trace(store, "a", ["read"])
    path.rename(path.with_name("copied-by-hand.trace.jsonl"))
    assert store.load_graph().workloads() == ["a"]
    assert store.graph_path.read_text() == _fresh_json(store)


def test_stale_graph_temp_files_go_and_trace_temp_files_are_ignored(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    store.add_trace(_write_trace(store, "a", ["read"]))
    stale = tmp_path / ".graph.abc123.tmp"
    stale.write_text('{"half": ')
    half_trace = tmp_path / "a" / ".20260101T000000Z-deadbeef.trace.jsonl.xyz.tmp"
    half_trace.write_text('{"k":"header"')
    store.add_trace(_write_trace(store, "b", ["openat"]))
    assert not stale.exists()
    assert half_trace.exists()  # a trace being recorded right now looks the same
    assert store.load_graph().workloads() == ["a", "b"]


def test_a_trace_with_an_empty_workload_is_a_trace_file_error(tmp_path: Path) -> None:
    # Found by benchmarks/fuzz/run.py: the graph refused the empty name with ValueError.
    store = TraceStore(tmp_path)
    path = _write_trace(store, "a", ["read"])
    text = path.read_text().replace('"workload":"a"', '"workload":""', 1)
    path.write_text(text)
    with pytest.raises(TraceFileError, match="'workload' is empty") as info:
        store.load_graph()
    assert str(path) in info.value.message


def _add_many(root: str, workload: str, n: int) -> None:
    store = TraceStore(Path(root))
    for i in range(n):
        store.add_trace(_write_trace(store, workload, [f"call{i}"]))


def test_concurrent_writers_lose_no_trace(tmp_path: Path) -> None:
    # Four processes adding traces at once: without the store lock, one's graph.json
    # overwrote another's and the graph lost traces.
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_add_many, args=(str(tmp_path), f"w{k}", 6)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    graph = SyscallGraph.from_json(TraceStore(tmp_path).graph_path.read_text())
    assert len(graph.sources()) == 24
    assert graph.to_json() == _fresh_json(TraceStore(tmp_path))


def test_a_read_only_store_is_read_and_brought_up_to_date_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TraceStore(tmp_path / "s")
    store.add_trace(_write_trace(store, "a", ["read"]))
    _write_trace(store, "b", ["openat"])
    before = store.graph_path.read_bytes()
    real_open = os.open

    def read_only(path: os.PathLike[str] | str, flags: int, *args: int) -> int:
        if Path(path).name == ".lock":  # as on a read-only mount
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr("seccompgen.store.os.open", read_only)
    assert store.load_graph().workloads() == ["a", "b"]
    assert store.graph_path.read_bytes() == before
    with pytest.raises(StoreError, match="cannot lock the store"):
        store.add_trace(_write_trace(store, "c", ["close"]))


def test_two_copies_of_one_trace_count_once_and_do_not_rewrite_the_graph(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    path = _write_trace(store, "a", ["read"])
    store.add_trace(path)
    (path.parent / f"copy-{path.name}").write_bytes(path.read_bytes())
    before = store.graph_path.stat().st_mtime_ns
    graph = store.load_graph()
    assert graph.usage("a")["read"].count == 1
    assert store.graph_path.stat().st_mtime_ns == before
