"""Tracing overhead: requests/s of the example HTTP service, natively and under each tracer.

Every round runs each mode once, in a rotating order (so no mode always runs first or last on a
warming or cooling machine), with the same loopback load from ``examples/loadgen``:

- ``native``: the service alone;
- ``strace -f``: bare ``strace -f -o /dev/null``, the reference a strace-based recorder is held to;
- ``strace + backend options``: ``strace`` with the options and environment the seccompgen
  backend uses, output to /dev/null (the cost of the options themselves), and the same with
  ``TZ`` unset (glibc then stats /etc/localtime for every timestamped line);
- ``seccompgen strace backend``: ``StraceTracer().run(...)`` with the load as the exercise: strace
  writing a file that seccompgen tails, parses and writes into a trace file while the load runs.
- ``seccompgen delta (LOG profile)``: ``DeltaTracer(profile).run(...)``: the service under the
  ``SCMP_ACT_LOG`` variant of a profile built from a strace trace of it made before the rounds,
  with only the misses read from the kernel's audit feed (root; skipped otherwise).
- ``seccompgen ebpf backend``: ``EbpfTracer().run(...)`` the same way: its default engine, BPF
  programs loaded through bpf(2) that count the service's system calls in per-CPU maps,
  incremented in place, read once a second and written as counted events at the end (skipped,
  with the reason, when the ebpf preconditions do not hold here).
- ``seccompgen ebpf backend (bpftrace engine)``: ``EbpfTracer(engine="bpftrace")``: the same
  counts kept by a bpftrace program (a map lookup and a map update per call; skipped without
  bpftrace).
- ``bpftrace tracepoints only``: the service natively while a bpftrace program is attached to
  the same two ``raw_syscalls`` tracepoints as the bpftrace engine and looks every caller up in
  an (empty) map, the first step of that engine's program: what its tracepoints cost the whole
  machine, apart from the counting (root and bpftrace; skipped otherwise). The default engine
  attaches raw tracepoint programs instead, which cost less per call than these.
- ``seccompgen ptrace backend``: ``PtraceTracer().run(...)`` the same way: python-ptrace
  following every thread, one seccomp-triggered stop per call plus the exit stop (skipped, with
  the reason, when python-ptrace is missing).

After the table it compares the syscall sets: the union over rounds of the names each recording
backend saw, against the strace backend's union (``equal``, or the names only one side saw).
Under load a few names depend on timing (``getpid``/``tgkill`` from Go's preemption signals,
``sched_yield``), so a difference there is a property of the run; the tests in
``tests/integration`` check set equality on deterministic programs.

It prints a markdown table of the median requests/s per mode (with min and max), the ratio of
each median to native and to bare strace, and the median over rounds of each round's ratio to
native and to bare strace (steadier when other load on the machine varies between rounds). Usage::

    python benchmarks/overhead/run.py [--rounds 5] [--duration 5] [--connections 8]
        [--modes "seccompgen ebpf backend"]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from seccompgen.tracefile import TraceHeader, TraceWriter
from seccompgen.tracing.backends.ebpf import EbpfTracer
from seccompgen.tracing.backends.ptrace import PtraceTracer
from seccompgen.tracing.backends.strace import STRACE_OPTIONS, StraceTracer
from seccompgen.tracing.base import Tracer, TraceRequest
from seccompgen.tracing.gobuild import build_go

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_command(loadgen: Path, port: int, args: argparse.Namespace) -> list[str]:
    url = f"http://127.0.0.1:{port}/healthz"
    return [str(loadgen), "-c", str(args.connections), "-d", f"{args.duration}s", url]


def requests_per_second(output: str) -> float:
    return float(json.loads(output)["requests_per_second"])


def run_plain(prefix: list[str], service: Path, loadgen: Path, args: argparse.Namespace) -> float:
    """The service (under ``prefix``, if any) with the load; SIGTERM to the service at the end."""
    port = free_port()
    proc = subprocess.Popen(
        [*prefix, str(service), "-addr", f"127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        load = subprocess.run(
            load_command(loadgen, port, args), capture_output=True, text=True, check=True
        )
        return requests_per_second(load.stdout)
    finally:
        # Signal the service, not strace: a signalled strace detaches and leaves it running.
        target = proc.pid
        if prefix:
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            target = int(children[0]) if children else proc.pid
        os.kill(target, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# The ebpf backend's filter alone (bpftrace_script's first step): a map lookup per call. The
# map holds only pid 0 (the idle task, which makes no system calls), so nothing is counted.
PROBES_ONLY = """\
BEGIN { @track[0] = 1; }
tracepoint:raw_syscalls:sys_enter { if (@track[pid]) { @n = count(); } }
tracepoint:raw_syscalls:sys_exit /args->ret < 0/ { if (@track[pid]) { @e = count(); } }
"""


def run_with_probes(service: Path, loadgen: Path, args: argparse.Namespace, tmp: Path) -> float:
    """The service natively, with :data:`PROBES_ONLY` attached for the whole run."""
    script = tmp / "probes.bt"
    script.write_text(PROBES_ONLY)
    ready = tmp / "probes.out"
    ready.unlink(missing_ok=True)
    bpf = subprocess.Popen(
        ["bpftrace", "-o", str(ready), str(script)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while "Attaching" not in (ready.read_text() if ready.exists() else ""):
            if bpf.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bpftrace did not attach its probes")
            time.sleep(0.1)
        return run_plain([], service, loadgen, args)
    finally:
        bpf.terminate()
        bpf.wait()


def run_seccompgen(
    service: Path,
    loadgen: Path,
    args: argparse.Namespace,
    tmp: Path,
    tracer: Tracer | None = None,
    seen: set[str] | None = None,
) -> float:
    """The service under a seccompgen backend (default: strace), the load as its exercise.

    The names of the recorded system calls are added to ``seen`` when it is given.
    """
    if tracer is None:
        tracer = StraceTracer(niceness=args.niceness)
    port = free_port()
    result = tmp / "load.json"
    argv = (str(service), "-addr", f"127.0.0.1:{port}")
    exercise = " ".join(load_command(loadgen, port, args)) + f" > {result}"
    request = TraceRequest(
        argv=argv, workload="bench", exercise=exercise, timeout=args.duration + 60,
        stderr=tmp / "service.err",
        # Go's http.Server.Shutdown waits up to 5s for connections accepted but still without a
        # request (golang/go#22682), which a load cut off by -d can leave behind.
        grace=15,
    )  # fmt: skip
    header = TraceHeader.new(workload="bench", arch="x86_64", backend=tracer.name, command=argv)
    with TraceWriter.create(tmp / "bench.jsonl", header) as writer:
        outcome = tracer.run(request, writer, lambda p: None)
        writer.close(complete=outcome.complete, reason=outcome.reason)
    if outcome.exercise_exit_code != 0:
        raise SystemExit(f"seccompgen run failed: {outcome}")
    if seen is not None:
        seen.update(recorded_names(tmp / "bench.jsonl"))
    return requests_per_second(result.read_text())


def recorded_names(path: Path) -> set[str]:
    from seccompgen.events import SyscallEvent
    from seccompgen.tracefile import read_trace

    return {e.name for e in read_trace(path) if isinstance(e, SyscallEvent)}


def delta_tracer(service: Path, loadgen: Path, args: argparse.Namespace, tmp: Path) -> Tracer:
    """The delta backend with a LOG profile built from a previous strace trace of the service."""
    from seccompgen.profile.build import Mode, build_profile
    from seccompgen.tracing.backends.delta import DeltaTracer

    if os.geteuid() != 0:
        return DeltaTracer()
    run_seccompgen(service, loadgen, args, tmp)  # writes tmp / "bench.jsonl"
    names = recorded_names(tmp / "bench.jsonl")
    return DeltaTracer(build_profile(sorted(names), ["x86_64"], Mode.LOG).profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--niceness", type=int, default=StraceTracer().niceness)
    parser.add_argument(
        "--modes",
        default="",
        help="comma-separated modes to run besides native and strace -f (default: all)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="seccompgen-bench-") as tmpdir:
        tmp = Path(tmpdir)
        service = build_go(ROOT / "examples" / "httpservice", tmp / "httpservice")
        loadgen = build_go(ROOT / "examples" / "loadgen", tmp / "loadgen")
        seen: dict[str, set[str]] = {
            name: set()
            for name in (
                "seccompgen strace backend",
                "seccompgen ebpf backend",
                "seccompgen ebpf backend (bpftrace engine)",
                "seccompgen ptrace backend",
            )
        }
        modes: dict[str, Callable[[], float]] = {
            "native": lambda: run_plain([], service, loadgen, args),
            "strace -f": lambda: run_plain(
                ["strace", "-f", "-o", "/dev/null", "--"], service, loadgen, args
            ),
            "strace + backend options without TZ": lambda: run_plain(
                ["env", "-u", "TZ", "strace", *STRACE_OPTIONS, "-o", "/dev/null", "--"],
                service,
                loadgen,
                args,
            ),
            # What the backend runs: TZ set for strace (see StraceTracer.environment).
            "strace + backend options": lambda: run_plain(
                ["env", "TZ=UTC", "strace", *STRACE_OPTIONS, "-E", "TZ", "-o", "/dev/null", "--"],
                service,
                loadgen,
                args,
            ),
            "seccompgen strace backend": lambda: run_seccompgen(
                service, loadgen, args, tmp, seen=seen["seccompgen strace backend"]
            ),
        }
        delta = delta_tracer(service, loadgen, args, tmp)
        if delta.unavailable_reason() is None:
            modes["seccompgen delta (LOG profile)"] = lambda: run_seccompgen(
                service, loadgen, args, tmp, delta
            )
        else:
            print(f"skipping the delta mode: {delta.unavailable_reason()}", file=sys.stderr)
        ebpf_problem = EbpfTracer().unavailable_reason()
        if ebpf_problem is None:
            modes["seccompgen ebpf backend"] = lambda: run_seccompgen(
                service, loadgen, args, tmp, EbpfTracer(), seen["seccompgen ebpf backend"]
            )
        else:
            print(f"skipping the ebpf backend: {ebpf_problem}", file=sys.stderr)
        bpftrace_problem = EbpfTracer(engine="bpftrace").unavailable_reason()
        if bpftrace_problem is None:
            modes["seccompgen ebpf backend (bpftrace engine)"] = lambda: run_seccompgen(
                service,
                loadgen,
                args,
                tmp,
                EbpfTracer(engine="bpftrace"),
                seen["seccompgen ebpf backend (bpftrace engine)"],
            )
        else:
            print(f"skipping the bpftrace engine: {bpftrace_problem}", file=sys.stderr)
        if bpftrace_problem is None:
            modes["bpftrace tracepoints only"] = lambda: run_with_probes(
                service, loadgen, args, tmp
            )
        ptrace_problem = PtraceTracer().unavailable_reason()
        if ptrace_problem is None:
            modes["seccompgen ptrace backend"] = lambda: run_seccompgen(
                service,
                loadgen,
                args,
                tmp,
                PtraceTracer(niceness=args.niceness),
                seen["seccompgen ptrace backend"],
            )
        else:
            print(f"skipping the ptrace backend: {ptrace_problem}", file=sys.stderr)
        if args.modes:
            wanted = {"native", "strace -f", *(m.strip() for m in args.modes.split(","))}
            unknown = wanted - set(modes)
            if unknown:
                raise SystemExit(f"unknown modes: {sorted(unknown)}; known: {list(modes)}")
            modes = {name: run for name, run in modes.items() if name in wanted}
        names = list(modes)
        results: dict[str, list[float]] = {name: [] for name in names}
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                rps = modes[name]()
                results[name].append(rps)
                print(f"round {r + 1}: {name}: {rps:,.0f} req/s", file=sys.stderr)
                time.sleep(0.5)

    med = {name: statistics.median(v) for name, v in results.items()}
    print(
        f"\n{args.rounds} rounds, {args.duration:g}s of load each, {args.connections} "
        f"connections, {os.cpu_count()} CPUs, tracer worker niceness {args.niceness}\n"
    )

    # On a shared machine the load from elsewhere changes between rounds; the ratio to native
    # within each round (the two ran back to back) is steadier than the ratio of medians.
    def per_round(reference: str) -> dict[str, float]:
        return {
            name: statistics.median(a / b for a, b in zip(v, results[reference], strict=True))
            for name, v in results.items()
        }

    paired, paired_strace = per_round("native"), per_round("strace -f")
    print(
        "| mode | median req/s | min | max | vs native | vs strace -f "
        "| per-round vs native | per-round vs strace -f |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in names:
        v = results[name]
        print(
            f"| {name} | {med[name]:,.0f} | {min(v):,.0f} | {max(v):,.0f} | "
            f"{med[name] / med['native']:.3f} | {med[name] / med['strace -f']:.3f} | "
            f"{paired[name]:.3f} | {paired_strace[name]:.3f} |"
        )

    reference = seen["seccompgen strace backend"]
    if reference:
        print("\nsyscall sets (union over rounds) against the strace backend's:")
        for name, got in seen.items():
            if name == "seccompgen strace backend" or name not in results:
                continue
            missing, extra = sorted(reference - got), sorted(got - reference)
            verdict = "equal" if not missing and not extra else "differ"
            print(f"- {name}: {verdict} ({len(got)} vs {len(reference)} names)", end="")
            if missing:
                print(f"; only strace: {', '.join(missing)}", end="")
            if extra:
                print(f"; only this backend: {', '.join(extra)}", end="")
            print()


if __name__ == "__main__":
    main()
