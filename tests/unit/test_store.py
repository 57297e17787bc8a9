"""Where the trace store is, and what names it accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seccompgen.errors import StoreError
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
