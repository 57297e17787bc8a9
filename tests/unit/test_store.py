"""Where the trace store is, and what names it accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from seccompgen.errors import StoreError
from seccompgen.store import ENV_VAR, TraceStore, check_workload_name


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
