"""The ebpf backend's built-in counter (``engine="bpf"``) on a program with known counts.

``programs/getppidloop`` makes an exact number of getppid calls in each phase, so the counts,
the phase split and the exit status are checked exactly; the BPF programs and fds the run
created must all be gone afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seccompgen.events import ExitEvent, Phase, SyscallEvent
from seccompgen.tracefile import TraceHeader, TraceWriter, read_trace
from seccompgen.tracing.base import TraceProgress, TraceRequest
from seccompgen.tracing.bpf import loaded_program_ids
from seccompgen.tracing.ebpf import EbpfTracer, precondition_problem
from seccompgen.tracing.gobuild import build_go

pytestmark = [pytest.mark.root, pytest.mark.go, pytest.mark.slow]

PROGRAM = Path(__file__).resolve().parent / "programs" / "getppidloop"


@pytest.fixture(autouse=True)
def bpf_available() -> None:
    """The marker rule of ``tests/conftest.py`` for the ebpf preconditions."""
    problem = precondition_problem(engine="bpf")
    if problem is not None:
        reason = f"ebpf backend unavailable: {problem[0]} ({problem[1]})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def getppidloop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_go(PROGRAM, tmp_path_factory.mktemp("getppidloop") / "getppidloop")


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_exact_counts_per_phase_exit_status_and_nothing_left(
    getppidloop: Path, tmp_path: Path, no_leaked_processes: None
) -> None:
    programs_before, fds_before = set(loaded_program_ids()), open_fds()
    tracer = EbpfTracer(engine="bpf")
    request = TraceRequest(
        argv=(str(getppidloop), "1234", "567", "89"),
        workload="w",
        exercise='kill -USR1 "$SECCOMPGEN_TARGET_PID"',
        ready_delay=1.0,
        duration=1.0,
        grace=10,
        timeout=60,
        stdout=tmp_path / "out.txt",
        stderr=tmp_path / "err.txt",
    )
    header = TraceHeader.new(workload="w", arch="x86_64", backend="ebpf", command=request.argv)
    path = tmp_path / "t.jsonl"
    progress: list[TraceProgress] = []
    with TraceWriter.create(path, header) as writer:
        outcome = tracer.run(request, writer, progress.append)
        writer.close(complete=outcome.complete, reason=outcome.reason)
    assert tracer.engine_used == "bpf"
    assert outcome.complete, outcome
    assert outcome.exit_code == 5
    assert (tmp_path / "out.txt").read_text() == "ready\n"

    events = list(read_trace(path))
    calls = [e for e in events if isinstance(e, SyscallEvent)]
    by_phase = {
        phase: sum(1 for e in calls if e.name == "getppid" and e.phase is phase) for phase in Phase
    }
    assert by_phase == {Phase.STARTUP: 1234, Phase.EXERCISE: 567, Phase.SHUTDOWN: 89}
    # The target's execve is its first call and its only one: nothing of the launcher.
    execs = [e for e in calls if e.name == "execve"]
    assert len(execs) == 1 and execs[0].phase is Phase.STARTUP and execs[0].ret == 0
    assert calls[0].name == "execve"
    # Sampled argument tuples are the six registers of real calls.
    assert any(e.name == "getppid" and len(e.args) == 6 for e in calls)
    exits = [e for e in events if isinstance(e, ExitEvent)]
    assert [(e.pid, e.code, e.signal, e.phase) for e in exits] == [
        (execs[0].pid, 5, None, Phase.SHUTDOWN)
    ]
    assert progress[-1].events == outcome.events == len(calls)

    # Detached and closed: no program of the run is loaded, no fd of it is open.
    assert set(loaded_program_ids()) <= programs_before
    assert open_fds() <= fds_before


def test_killed_by_a_signal_is_reported_as_that_signal(
    getppidloop: Path, tmp_path: Path, no_leaked_processes: None
) -> None:
    tracer = EbpfTracer(engine="bpf")
    request = TraceRequest(
        argv=("/bin/sh", "-c", f"{getppidloop} 3 0 0 & kill -KILL $$"),
        workload="w",
        timeout=30,
        stdout=tmp_path / "out.txt",
        stderr=tmp_path / "err.txt",
    )
    header = TraceHeader.new(workload="w", arch="x86_64", backend="ebpf", command=request.argv)
    path = tmp_path / "t.jsonl"
    with TraceWriter.create(path, header) as writer:
        outcome = tracer.run(request, writer, lambda p: None)
        writer.close(complete=outcome.complete, reason=outcome.reason)
    assert outcome.exit_code == -9
    exits = [e for e in read_trace(path) if isinstance(e, ExitEvent)]
    assert ("SIGKILL", None) in {(e.signal, e.code) for e in exits}
