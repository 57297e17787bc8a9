"""The ebpf backend's built-in counter (``engine="bpf"``) on a program with known counts.

``programs/getppidloop`` makes an exact number of getppid calls in each phase, so the counts,
the phase split and the exit status are checked exactly; the BPF programs and fds the run
created must all be gone afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _rules import missing_tool

from seccompgen.events import ExitEvent, Phase, SyscallEvent
from seccompgen.tracefile import TraceHeader, TraceWriter, read_trace
from seccompgen.tracing.backends.ebpf import EbpfTracer
from seccompgen.tracing.base import TraceProgress, TraceRequest
from seccompgen.tracing.bpf.counter import BpfCounter
from seccompgen.tracing.bpf.counts import ARGS_SAMPLES, MAP_KEYS_MAX, BpftraceState
from seccompgen.tracing.bpf.loader import loaded_program_ids
from seccompgen.tracing.bpf.preconditions import precondition_problem
from seccompgen.tracing.gobuild import build_go

pytestmark = [pytest.mark.root, pytest.mark.go, pytest.mark.slow]

PROGRAM = Path(__file__).resolve().parent / "programs" / "getppidloop"
TRACEFS = Path("/sys/kernel/tracing")
EXECVE, GETPPID = 59, 110  # x86_64 (arch/x86/entry/syscalls/syscall_64.tbl)


@pytest.fixture(autouse=True)
def bpf_available() -> None:
    """The marker rule of ``tests/conftest.py`` for the ebpf preconditions."""
    problem = precondition_problem(engine="bpf")
    if problem is not None:
        reason = f"ebpf backend unavailable: {problem[0]} ({problem[1]})"
        missing_tool(reason)


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

    # Detached and closed: no fd of the run is open, and no program of it stays loaded (the
    # kernel frees a detached raw tracepoint program after an RCU grace period).
    assert open_fds() <= fds_before
    deadline = time.monotonic() + 5.0
    while not set(loaded_program_ids()) <= programs_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(loaded_program_ids()) <= programs_before


@pytest.mark.parametrize("raw", [True, False], ids=["raw-tracepoints", "tracepoints"])
def test_both_program_flavours_count_exactly(getppidloop: Path, raw: bool) -> None:
    """The counter alone, with each kind of syscall program: arm a process, let it exec the
    program, move the phase, and read the maps."""
    with BpfCounter(
        tracefs=TRACEFS,
        btf=Path("/sys/kernel/btf/vmlinux"),
        execve_nr=EXECVE,
        args_samples=ARGS_SAMPLES,
        max_keys=MAP_KEYS_MAX,
        raw=raw,
    ) as counter:
        assert counter.raw is raw
        exec_it = (
            "import os, sys; sys.stdin.buffer.read(1); "
            f"os.execv({str(getppidloop)!r}, ['getppidloop', '300', '0', '7'])"
        )
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", exec_it],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stdout is not None
        counter.arm(proc.pid)
        proc.stdin.write(b"g")
        proc.stdin.close()
        assert proc.stdout.readline() == b"ready\n"
        counter.set_phase(2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 5
        proc.stdout.close()
        state = BpftraceState()
        counter.read_all(state)
    pid = proc.pid
    # Per phase, over the threads (the main goroutine may move between threads).
    getppid: dict[int, int] = {}
    for (p, _tid, nr, ph), n in state.counts.items():
        if p == pid and nr == GETPPID:
            getppid[ph] = getppid.get(ph, 0) + n
    assert getppid == {0: 300, 2: 7}
    # The exec'd program's execve is counted once; nothing of the Python before it is.
    execs = [n for (p, _t, nr, _ph), n in state.counts.items() if p == pid and nr == EXECVE]
    assert execs == [1]
    assert min(state.first_seen[k] for k in state.counts) == state.first_seen[(pid, pid, EXECVE, 0)]
    assert [(p, code, ph) for p, code, ph, _ns in state.exits] == [(pid, 5 << 8, 2)]
    # Sampled arguments: getppid's six registers, up to ARGS_SAMPLES per CPU.
    sampled = [k for k in state.samples if (k[0], k[2], k[3]) == (pid, GETPPID, 0)]
    assert sampled and all(len(k) == 10 for k in sampled)
    # An errno is counted per failed call: the Go runtime's failing calls at startup are few,
    # and none is getppid's.
    assert not [k for k in state.errors if k[2] == GETPPID]


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
