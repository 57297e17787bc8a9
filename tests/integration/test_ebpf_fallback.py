"""``--backend ebpf`` with the default engine (auto): when the in-kernel counter cannot be
loaded, bpftrace counts instead, and the user is told why.

The loader is replaced by one that refuses (the edge: the kernel's answer); the fallback run is
real bpftrace on a real program.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from _rules import missing_tool

from seccompgen.events import SyscallEvent
from seccompgen.tracefile import TraceHeader, TraceWriter, read_trace
from seccompgen.tracing.backends import ebpf
from seccompgen.tracing.base import TraceRequest
from seccompgen.tracing.bpf import counter as bpfcount
from seccompgen.tracing.bpf.loader import BpfError

pytestmark = [pytest.mark.root]


def test_auto_falls_back_to_bpftrace_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    problem = ebpf.precondition_problem(engine="bpftrace")
    if problem is not None:
        missing_tool(f"bpftrace engine unavailable: {problem[0]}")

    def refuse(*_args: object, **_kwargs: object) -> object:
        raise BpfError(errno.EACCES, "BPF_PROG_LOAD sys_enter", "the verifier said no (test)")

    monkeypatch.setattr(bpfcount, "BpfCounter", refuse)
    lines: list[str] = []
    tracer = ebpf.EbpfTracer(log=lines.append)
    request = TraceRequest(argv=("/bin/true",), workload="t", timeout=60)
    header = TraceHeader.new(workload="t", arch="x86_64", backend="ebpf", command=["/bin/true"])
    path = tmp_path / "t.jsonl"
    with TraceWriter.create(path, header) as writer:
        outcome = tracer.run(request, writer, lambda _p: None)
        writer.close(complete=outcome.complete, reason=outcome.reason)
    assert tracer.engine_used == "bpftrace"
    assert tracer.fallback_reason is not None and "the verifier said no" in tracer.fallback_reason
    assert len(lines) == 1, lines
    assert lines[0].startswith("ebpf: cannot load the in-kernel counter: BPF_PROG_LOAD sys_enter")
    assert "the verifier said no (test)" in lines[0]
    assert lines[0].endswith("counting with bpftrace instead (slower)")
    names = {e.name for e in read_trace(path) if isinstance(e, SyscallEvent)}
    assert "execve" in names and "exit_group" in names

    strict = ebpf.EbpfTracer(engine="bpf")
    with (
        pytest.raises(ebpf.TracerError) as err,
        TraceWriter.create(tmp_path / "u.jsonl", header) as writer,
    ):
        strict.run(request, writer, lambda _p: None)
    assert "the verifier said no" in err.value.message
