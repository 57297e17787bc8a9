"""The ebpf backend on the example Go programs, against the strace backend on the same programs.

Every test here runs real bpftrace on real binaries built from ``examples/``. The ebpf
preconditions (bpftrace, root, BTF, tracefs) follow the marker rule of ``tests/conftest.py``:
a missing one skips the test on a developer's machine and fails it when ``CI`` is set.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from _rules import missing_tool
from _support import GO_SCHEDULING_DEPENDENT, TraceRun, TraceWith, free_port

from seccompgen.errors import TracerError
from seccompgen.events import ExitEvent, Phase
from seccompgen.registry import get_tracer
from seccompgen.tracefile import TraceHeader, TraceWriter
from seccompgen.tracing.backends.ebpf import EbpfTracer
from seccompgen.tracing.backends.strace import StraceTracer
from seccompgen.tracing.base import Tracer, TraceRequest
from seccompgen.tracing.bpf.preconditions import precondition_problem

pytestmark = [pytest.mark.root, pytest.mark.go, pytest.mark.strace, pytest.mark.slow]

# System calls the Go runtime makes or not depending on timing, which differs between tracers
# and between runs of one tracer.
SCHEDULING_DEPENDENT = GO_SCHEDULING_DEPENDENT
RUNS = 2  # runs per tracer whose name sets are united before comparing


@pytest.fixture(params=["bpf", "bpftrace"])
def engine(request: pytest.FixtureRequest) -> str:
    """Each test runs with each counting engine."""
    return str(request.param)


@pytest.fixture
def new_ebpf(engine: str) -> Callable[[], EbpfTracer]:
    """A new ebpf tracer with this test's engine."""
    return lambda: EbpfTracer(engine=engine)


@pytest.fixture(autouse=True)
def ebpf_available(engine: str) -> None:
    """The marker rule for the ebpf preconditions (no ``ebpf`` marker is registered)."""
    problem = precondition_problem(engine=engine)
    if problem is not None:
        reason = f"ebpf backend unavailable: {problem[0]} ({problem[1]})"
        missing_tool(reason)


Run = TraceRun
RunTrace = TraceWith


@pytest.fixture
def trace(trace_with: TraceWith) -> RunTrace:
    """``trace(tracer, argv, **request_fields)`` into a trace file in ``tmp_path``; an ebpf
    tracer must have run with the engine it was given (no silent fallback)."""

    def run(tracer: Tracer, argv: Sequence[object], **fields: object) -> TraceRun:
        fields.setdefault("timeout", 60)
        result = trace_with(tracer, argv, **fields)
        if isinstance(tracer, EbpfTracer):
            assert tracer.engine_used == tracer.engine  # no silent fallback
        return result

    return run


def http_run(
    trace: RunTrace, tracer: Tracer, build: Callable[[str], Path], tmp: Path, load: str
) -> Run:
    service, loadgen = build("httpservice"), build("loadgen")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    result = tmp / f"load-{tracer.name}-{port}.json"
    run = trace(
        tracer,
        [service, "-addr", f"127.0.0.1:{port}"],
        exercise=f"{loadgen} {load} {url}/healthz {url}/debug/pprof/ > {result}",
        grace=15,
    )
    assert run.outcome.complete, run.outcome
    assert run.outcome.exercise_exit_code == 0
    assert run.outcome.exit_code == 0  # graceful shutdown on SIGTERM
    stats = json.loads(result.read_text())
    assert stats["errors"] == 0 and stats["requests"] > 0
    return run


def assert_same_names(ebpf: list[Run], strace: list[Run]) -> None:
    """The union of each tracer's names over its runs is equal, scheduling noise aside."""
    e = set().union(*(r.names() for r in ebpf))
    s = set().union(*(r.names() for r in strace))
    assert e - SCHEDULING_DEPENDENT == s - SCHEDULING_DEPENDENT, (
        f"only under ebpf: {sorted(e - s)}; only under strace: {sorted(s - e)}"
    )


def test_registry_offers_ebpf() -> None:
    tracer = get_tracer("ebpf")
    assert isinstance(tracer, EbpfTracer)
    assert tracer.engine == "auto"
    assert tracer.unavailable_reason() is None


def test_http_service_same_names_as_strace(
    build_example: Callable[[str], Path],
    trace: RunTrace,
    tmp_path: Path,
    new_ebpf: Callable[[], EbpfTracer],
) -> None:
    load = "-c 4 -n 400"
    ebpf = [http_run(trace, new_ebpf(), build_example, tmp_path, load) for _ in range(RUNS)]
    strace = [http_run(trace, StraceTracer(), build_example, tmp_path, load) for _ in range(RUNS)]
    assert_same_names(ebpf, strace)

    run = ebpf[0]
    assert {"execve", "bind", "listen"} <= run.names(Phase.STARTUP)
    assert "accept4" in run.names(Phase.EXERCISE)
    assert {"epoll_ctl", "epoll_pwait"} <= run.names()
    # The SIGTERM handler returns with rt_sigreturn, and the service exits with exit_group.
    assert {"rt_sigreturn", "exit_group"} <= run.names(Phase.SHUTDOWN)
    # execve is the target's, made once; nothing of the launcher (a Python process) is counted.
    assert run.count("execve") == 1
    assert not {"getdents64", "readlink", "ioctl"} & run.names()
    # One process: the service never forks.
    assert {e.pid for e in run.syscalls()} == {run.syscalls()[0].pid}
    # Counts, not samples: 4 connections each accepted once at least, and 400 requests need
    # at least 400 reads and writes.
    accepted = [e for e in run.syscalls() if e.name == "accept4" and e.errno is None]
    assert len(accepted) >= 4
    assert run.count("read") >= 400 and run.count("write") >= 400
    # Failed calls carry their errno: the non-blocking accept4 that found no connection.
    assert any(e.name == "accept4" and e.errno == "EAGAIN" for e in run.syscalls())
    # The footer's counts agree with the events read back (read_trace checks this) and with
    # the outcome.
    assert run.reader.footer is not None
    assert run.reader.footer.syscalls == run.outcome.events == len(run.syscalls())


def test_http_service_progress_while_loaded(
    build_example: Callable[[str], Path],
    trace: RunTrace,
    tmp_path: Path,
    new_ebpf: Callable[[], EbpfTracer],
) -> None:
    run = http_run(trace, new_ebpf(), build_example, tmp_path, "-c 4 -d 3s")
    during = [p for p in run.progress if p.phase is Phase.EXERCISE and p.events > 0]
    assert during, run.progress
    # Reports grow while the load runs, and the last one matches the outcome.
    assert during[-1].events > during[0].events
    assert run.progress[-1].events == run.outcome.events
    assert run.progress[-1].distinct == run.outcome.distinct
    phases = [b[1] for b in run.outcome.boundaries]
    assert phases == [Phase.STARTUP, Phase.EXERCISE, Phase.SHUTDOWN]
    # Each event's time lies in its phase's range (first-seen times, in the trace's clock).
    # Only a call entered in one phase that failed in the next has no time of its own there.
    bounds = {phase: ts for ts, phase in run.outcome.boundaries}
    for e in run.syscalls():
        if e.timestamp is None:
            assert e.errno is not None, e
        else:
            assert e.timestamp >= bounds[e.phase], e


def test_batch_job_same_names_and_counts_as_strace(
    build_example: Callable[[str], Path],
    trace: RunTrace,
    tmp_path: Path,
    new_ebpf: Callable[[], EbpfTracer],
) -> None:
    batch = build_example("batch")
    src = tmp_path / "words.txt"
    src.write_text("the quick brown fox jumps over the lazy dog the end\n")

    def once(tracer: Tracer, n: int) -> Run:
        out = tmp_path / f"counts-{tracer.name}-{n}.json"
        run = trace(tracer, [batch, "-in", src, "-out", out])
        assert run.outcome.complete and run.outcome.exit_code == 0
        counts = json.loads(out.read_text())
        assert counts["total"] == 11 and counts["words"]["the"] == 3
        return run

    ebpf = [once(new_ebpf(), n) for n in range(RUNS)]
    strace = [once(StraceTracer(), n) for n in range(RUNS)]
    assert_same_names(ebpf, strace)
    run, ref = ebpf[0], strace[0]
    assert {"openat", "read", "write", "renameat", "exit_group"} <= run.names()
    # The file work is deterministic: the same number of calls under both tracers.
    for name in ("openat", "renameat", "execve"):
        assert run.count(name) == ref.count(name), name
    # exit_group is not: more than one thread can enter it as the process ends (the first call
    # kills the others inside theirs); seen twice under strace, which slows the threads, in one
    # run of many. Each tracer sees it at least once per run.
    assert run.count("exit_group") >= 1 and ref.count("exit_group") >= 1

    # The same calls fail with the same errnos, except two timing-dependent failures:
    # - ERESTART*: a thread blocked in futex when another calls exit_group returns -ERESTARTSYS
    #   into its kill; sys_exit sees that return, while strace shows the call as never
    #   returning ("= ?", strace(1)) as the thread is gone before strace can stop it again;
    # - futex: FUTEX_WAIT fails with EAGAIN when another thread changed the futex word first
    #   (futex(2)), a race between the runtime's threads.
    def failed(r: Run) -> set[tuple[str, str]]:
        return {
            (e.name, e.errno)
            for e in r.syscalls()
            if e.errno and not e.errno.startswith("ERESTART") and e.name != "futex"
        }

    assert failed(run) == failed(ref)
    assert not run.names(Phase.SHUTDOWN)


def test_thread_only_syscall_on_its_thread(
    build_example: Callable[[str], Path], trace: RunTrace, new_ebpf: Callable[[], EbpfTracer]
) -> None:
    program = build_example("threadonly")
    ebpf = [trace(new_ebpf(), [program]) for _ in range(RUNS)]
    strace = [trace(StraceTracer(), [program]) for _ in range(RUNS)]
    assert_same_names(ebpf, strace)
    for run in ebpf:
        assert run.outcome.complete and run.outcome.exit_code == 0
        m = re.search(r"pid=(\d+) main_tid=(\d+) sysinfo_tid=(\d+)", run.stdout.read_text())
        assert m, run.stdout.read_text()
        pid, main_tid, sysinfo_tid = map(int, m.groups())
        [call] = [e for e in run.syscalls() if e.name == "sysinfo"]
        assert call.pid == pid == main_tid
        assert call.tid == sysinfo_tid != pid
        assert call.ret == 0 and call.errno is None


def test_descendants_are_followed_and_exit_codes_reported(
    build_example: Callable[[str], Path], trace: RunTrace, new_ebpf: Callable[[], EbpfTracer]
) -> None:
    program = build_example("threadonly")
    run = trace(new_ebpf(), ["/bin/sh", "-c", f"{program}; exit 7"])
    assert run.outcome.complete and run.outcome.exit_code == 7
    m = re.search(r"pid=(\d+) main_tid=\d+ sysinfo_tid=(\d+)", run.stdout.read_text())
    assert m
    child, sysinfo_tid = int(m.group(1)), int(m.group(2))
    shell = run.syscalls()[0].pid
    assert child != shell
    [call] = [e for e in run.syscalls() if e.name == "sysinfo"]
    assert (call.pid, call.tid) == (child, sysinfo_tid)
    # Both processes exec'd under the trace, and each one's exit is recorded.
    assert {e.pid for e in run.syscalls() if e.name == "execve"} == {shell, child}
    exits = {e.pid: e.code for e in run.events if isinstance(e, ExitEvent)}
    assert exits == {child: 0, shell: 7}


def test_target_may_start_its_own_session(
    trace: RunTrace, new_ebpf: Callable[[], EbpfTracer]
) -> None:
    # setsid(2) fails with EPERM for a process-group leader: the target must not be one, as
    # under strace (a daemon detaching from its terminal calls it).
    run = trace(new_ebpf(), [sys.executable, "-c", "import os; os.setsid()"])
    assert run.outcome.complete and run.outcome.exit_code == 0, run.outcome
    [call] = [e for e in run.syscalls() if e.name == "setsid"]
    assert call.errno is None


def test_target_ignoring_sigterm_is_killed(
    trace: RunTrace, new_ebpf: Callable[[], EbpfTracer]
) -> None:
    run = trace(
        new_ebpf(),
        ["/bin/sh", "-c", "trap '' TERM; sleep 30"],
        duration=0.5,
        grace=1.0,
        timeout=20,
    )
    assert not run.outcome.complete and run.outcome.reason == "killed"
    assert run.outcome.exit_code == -9
    assert "execve" in run.names(Phase.STARTUP)
    assert run.reader.footer is not None and run.reader.footer.reason == "killed"


def test_ctrl_c_saves_counts_and_returns_interrupted(
    build_example: Callable[[str], Path], trace: RunTrace, new_ebpf: Callable[[], EbpfTracer]
) -> None:
    service = build_example("httpservice")
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        run = trace(new_ebpf(), [service, "-addr", f"127.0.0.1:{free_port()}"], grace=15)
    finally:
        timer.cancel()
    assert not run.outcome.complete and run.outcome.reason == "interrupted"
    assert run.reader.footer is not None and run.reader.footer.reason == "interrupted"
    # The service still got its orderly SIGTERM and shut down while counted.
    assert {"rt_sigreturn", "exit_group"} <= run.names(Phase.SHUTDOWN)
    assert run.outcome.exit_code == 0
    assert {"bind", "listen"} <= run.names(Phase.STARTUP)


def test_missing_target_is_a_tracer_error(
    tmp_path: Path, new_ebpf: Callable[[], EbpfTracer]
) -> None:
    with pytest.raises(TracerError, match="does not exist"):
        header = TraceHeader.new(workload="w", arch="x86_64", backend="ebpf", command=["x"])
        with TraceWriter.create(tmp_path / "t.jsonl", header) as writer:
            new_ebpf().run(
                TraceRequest(argv=(str(tmp_path / "nope"),), workload="w"), writer, print
            )
