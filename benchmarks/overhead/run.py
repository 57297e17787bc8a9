"""Tracing overhead: requests/s of the example HTTP service, natively and under each tracer.

Every round runs each mode once, in a rotating order (so no mode always runs first or last on a
warming or cooling machine), with the same loopback load from ``examples/loadgen``:

- ``native``: the service alone;
- ``strace -f``: bare ``strace -f -o /dev/null``, the reference a strace-based recorder is held to;
- ``strace + backend options``: ``strace`` with the options and environment the seccompgen
  backend uses, output to /dev/null (the cost of the options themselves), and the same with
  ``TZ`` unset (glibc then stats /etc/localtime for every timestamped line);
- ``seccompgen strace backend``: ``get_tracer("strace").run(...)`` with the load as the
  exercise: strace writing a file that seccompgen tails, parses and writes into a trace file
  while the load runs.
- ``seccompgen delta (LOG profile)``: ``get_delta_tracer(profile).run(...)``: the service under
  the ``SCMP_ACT_LOG`` variant of a profile built from a strace trace of it made before the
  rounds, with only the misses read from the kernel's audit feed (root; skipped otherwise).
- ``seccompgen ebpf backend``: ``get_tracer("ebpf").run(...)`` the same way: its default engine,
  BPF programs loaded through bpf(2) that count the service's system calls in per-CPU maps,
  incremented in place, read once a second and written as counted events at the end (skipped,
  with the reason, when the ebpf preconditions do not hold here).
- ``seccompgen ebpf backend (bpftrace engine)``: the same with ``SECCOMPGEN_EBPF_ENGINE=bpftrace``:
  the same counts kept by a bpftrace program (a map lookup and a map update per call; skipped
  without bpftrace).
- ``bpftrace tracepoints only``: the service natively while a bpftrace program is attached to
  the same two ``raw_syscalls`` tracepoints as the bpftrace engine and looks every caller up in
  an (empty) map, the first step of that engine's program: what its tracepoints cost the whole
  machine, apart from the counting (root and bpftrace; skipped otherwise). The default engine
  attaches raw tracepoint programs instead, which cost less per call than these.
- ``seccompgen ptrace backend``: ``get_tracer("ptrace").run(...)`` the same way: python-ptrace
  following every thread, one seccomp-triggered stop per call plus the exit stop (skipped, with
  the reason, when python-ptrace is missing).

After the table it compares the syscall sets: the union over rounds of the names each recording
backend saw, against the strace backend's union (``equal``, or the names only one side saw).
Under load a few names depend on timing (``getpid``/``tgkill`` from Go's preemption signals,
``sched_yield``), so a difference there is a property of the run; the tests in
``tests/integration`` check set equality on deterministic programs.

It prints a markdown table of the median requests/s per mode (with min and max), the ratio of
each median to native and to bare strace, and the median over rounds of each round's ratio to
native and to bare strace (steadier when other load on the machine varies between rounds).

Each run of a seccompgen mode is a child process (this script with ``--child``) that imports the
package from one checkout and gets its tracer from the backend registry's public
``get_tracer(name)`` / ``get_delta_tracer(profile)``; the load's result and the recorded names
come back through files, so the child's start-up and imports are outside the measured load.

``--baseline DIR`` names another checkout of this repository (for example
``git worktree add --detach /tmp/seccompgen-base REV``); every seccompgen mode then also runs
with that checkout's code as ``baseline: <mode>``, right after its current counterpart in the
same rotating rounds, and a line after the table gives the current/baseline ratio per mode,
without machine drift between runs. The child puts DIR first on ``sys.path`` and in
``PYTHONPATH`` (so that what a backend starts with ``python -m`` imports from DIR as well),
finds the registry as ``seccompgen.registry`` or ``seccompgen.tracing.registry`` (the layout
before ``registry.py`` moved up), and checks that ``seccompgen`` came from DIR. The baseline
needs its compiled inner loops built in place, or its strace parser would fall back to pure
Python and the comparison would measure that instead; prepare one with::

    git worktree add --detach /tmp/seccompgen-base REV
    cd /tmp/seccompgen-base && /path/to/this/checkout/.venv/bin/python setup.py build_ext --inplace

Usage::

    python benchmarks/overhead/run.py [--rounds 5] [--duration 5] [--connections 8]
        [--modes "seccompgen ebpf backend"] [--baseline /tmp/seccompgen-base]
"""

from __future__ import annotations

import argparse
import importlib
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
from typing import Any

# Nothing from seccompgen is imported at the top: a ``--child`` imports it from the checkout it
# measures, which may be another one than this script's.

ROOT = Path(__file__).resolve().parents[2]

#: The seccompgen modes: the registry's backend name and the ebpf engine (None: the default).
BACKEND_MODES: dict[str, tuple[str, str | None]] = {
    "seccompgen strace backend": ("strace", None),
    "seccompgen delta (LOG profile)": ("delta", None),
    "seccompgen ebpf backend": ("ebpf", None),
    "seccompgen ebpf backend (bpftrace engine)": ("ebpf", "bpftrace"),
    "seccompgen ptrace backend": ("ptrace", None),
}
BASELINE = "baseline: "
#: Where each checkout keeps the backend registry, newest layout first.
REGISTRIES = ("seccompgen.registry", "seccompgen.tracing.registry")
EBPF_ENGINE_ENV = "SECCOMPGEN_EBPF_ENGINE"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_command(loadgen: Path, port: int, connections: int, duration: float) -> list[str]:
    url = f"http://127.0.0.1:{port}/healthz"
    return [str(loadgen), "-c", str(connections), "-d", f"{duration}s", url]


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
            load_command(loadgen, port, args.connections, args.duration),
            capture_output=True,
            text=True,
            check=True,
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


# ---------------------------------------------------------------------------------------------
# The child: one seccompgen run with one checkout's code


def import_checkout(root: Path) -> Any:
    """Import ``seccompgen`` from ``root`` (checked) and return its backend registry module."""
    sys.path.insert(0, str(root))
    # An editable install's finder maps any ``seccompgen.*`` name to its own tree, so a module
    # the checkout lacks (``seccompgen.registry`` in an older layout) would come from there.
    sys.meta_path[:] = [f for f in sys.meta_path if not _editable(f)]
    # Backends start helpers with ``python -m seccompgen...``: those must import from root too.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p
    )
    import seccompgen

    inside = os.path.realpath(root) + os.sep
    if not os.path.realpath(seccompgen.__file__ or "").startswith(inside):
        raise SystemExit(f"imported {seccompgen.__file__}, not the checkout in {root}")
    if (root / "seccompgen" / "_speedups.c").exists():
        hint = "build it there with `.venv/bin/python setup.py build_ext --inplace`"
        try:
            speedups = importlib.import_module("seccompgen._speedups")
        except ImportError:
            raise SystemExit(f"{root}: seccompgen._speedups is not built; {hint}") from None
        if not os.path.realpath(speedups.__file__ or "").startswith(inside):
            raise SystemExit(f"{root}: imported {speedups.__file__}; {hint}")
    for name in REGISTRIES:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
    raise SystemExit(f"{root}: no backend registry ({' or '.join(REGISTRIES)})")


def _editable(finder: object) -> bool:
    """Whether ``finder`` is the import hook of a setuptools editable install."""
    module = getattr(finder, "__module__", None) or type(finder).__module__
    return str(module).startswith("__editable__")


def public(name: str, *modules: str) -> Any:
    """``name`` from the first of ``modules`` that has it (layouts differ between checkouts)."""
    for module in modules:
        try:
            found = importlib.import_module(module)
        except ModuleNotFoundError:
            continue
        if hasattr(found, name):
            return getattr(found, name)
    raise SystemExit(f"none of {', '.join(modules)} has {name}")


def child(spec: dict[str, Any]) -> None:
    """Check (``"check"``) or run (``"run"``) one seccompgen mode; print the answer as JSON."""
    root = Path(spec["root"])
    registry = import_checkout(root)
    backend, engine = spec["backend"], spec.get("engine")
    if engine:
        os.environ[EBPF_ENGINE_ENV] = engine
    else:
        os.environ.pop(EBPF_ENGINE_ENV, None)
    if backend == "delta":
        tracer = registry.get_delta_tracer(Path(spec["profile"]))
    else:
        tracer = registry.get_tracer(backend)
    if backend in ("strace", "ptrace"):
        tracer.niceness = spec["niceness"]
    if spec["action"] == "check":
        print(json.dumps({"problem": tracer.unavailable_reason()}))
        return
    trace_request = public("TraceRequest", registry.__name__, "seccompgen.tracing.base")
    trace_header = public("TraceHeader", "seccompgen.tracefile")
    trace_writer = public("TraceWriter", "seccompgen.tracefile")
    read_trace = public("read_trace", "seccompgen.tracefile")
    syscall_event = public("SyscallEvent", "seccompgen.events")

    tmp = Path(spec["tmp"])
    port = free_port()
    result = tmp / "load.json"
    result.unlink(missing_ok=True)
    argv = (spec["service"], "-addr", f"127.0.0.1:{port}")
    load = load_command(Path(spec["loadgen"]), port, spec["connections"], spec["duration"])
    request = trace_request(
        argv=argv, workload="bench", exercise=" ".join(load) + f" > {result}",
        timeout=spec["duration"] + 60, stderr=tmp / "service.err",
        # Go's http.Server.Shutdown waits up to 5s for connections accepted but still without a
        # request (golang/go#22682), which a load cut off by -d can leave behind.
        grace=15,
    )  # fmt: skip
    trace = tmp / "bench.jsonl"
    header = trace_header.new(workload="bench", arch="x86_64", backend=tracer.name, command=argv)
    with trace_writer.create(trace, header) as writer:
        outcome = tracer.run(request, writer, lambda p: None)
        writer.close(complete=outcome.complete, reason=outcome.reason)
    if outcome.exercise_exit_code != 0:
        raise SystemExit(f"seccompgen run failed: {outcome}")
    names = sorted({e.name for e in read_trace(trace) if isinstance(e, syscall_event)})
    print(json.dumps({"rps": requests_per_second(result.read_text()), "names": names}))


# ---------------------------------------------------------------------------------------------
# The parent


def in_child(root: Path, mode: str, action: str, common: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`child` for ``mode`` with the code of ``root``; its JSON answer."""
    backend, engine = BACKEND_MODES[mode]
    spec = {**common, "root": str(root), "backend": backend, "engine": engine, "action": action}
    # In root: ``python -m`` puts the working directory first on its path, so the helpers a
    # backend starts that way import from root only when they start there.
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
    )
    if proc.returncode != 0:
        raise SystemExit(
            f"{mode} ({action}) with the code of {root} failed: exit {proc.returncode}"
        )
    answer: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return answer


def delta_profile(common: dict[str, Any], tmp: Path) -> Path:
    """A LOG profile of the service for the delta mode, from a strace trace of it (as root)."""
    from seccompgen.profile.build import Mode, build_profile
    from seccompgen.profile.emit import write_profile

    # Without root the delta mode is skipped; any profile lets its tracer say why.
    names = ["exit_group"]
    if os.geteuid() == 0:
        names = in_child(ROOT, "seccompgen strace backend", "run", common)["names"]
    path = tmp / "delta-profile.json"
    write_profile(path, build_profile(sorted(names), ["x86_64"], Mode.LOG).profile)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--niceness", type=int, default=None, help="tracer worker niceness")
    parser.add_argument(
        "--modes",
        default="",
        help="comma-separated modes to run besides native and strace -f (default: all)",
    )
    parser.add_argument("--baseline", type=Path, help="another checkout to measure side by side")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    baseline = args.baseline.resolve() if args.baseline else None
    if baseline is not None and not (baseline / "seccompgen" / "tracing").is_dir():
        raise SystemExit(f"--baseline {baseline}: not a seccompgen checkout")

    from seccompgen.tracing.backends.strace import STRACE_OPTIONS, StraceTracer
    from seccompgen.tracing.gobuild import build_go

    if args.niceness is None:
        args.niceness = StraceTracer().niceness
    with tempfile.TemporaryDirectory(prefix="seccompgen-bench-") as tmpdir:
        tmp = Path(tmpdir)
        service = build_go(ROOT / "examples" / "httpservice", tmp / "httpservice")
        loadgen = build_go(ROOT / "examples" / "loadgen", tmp / "loadgen")
        common: dict[str, Any] = {
            "service": str(service),
            "loadgen": str(loadgen),
            "tmp": str(tmp),
            "connections": args.connections,
            "duration": args.duration,
            "niceness": args.niceness,
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
        }
        common["profile"] = str(delta_profile(common, tmp))
        # Names recorded by each mode (union over rounds), for the comparison after the table;
        # the delta mode records only the calls its profile misses, so it is not compared.
        seen: dict[str, set[str]] = {}
        sides = [("", ROOT)] + ([(BASELINE, baseline)] if baseline is not None else [])

        def traced(prefix: str, name: str, root: Path) -> Callable[[], float]:
            def run() -> float:
                answer = in_child(root, name, "run", common)
                if BACKEND_MODES[name][0] != "delta":
                    seen.setdefault(prefix + name, set()).update(answer["names"])
                return float(answer["rps"])

            return run

        for name in BACKEND_MODES:
            for prefix, root in sides:
                problem = in_child(root, name, "check", common)["problem"]
                if problem is None:
                    modes[prefix + name] = traced(prefix, name, root)
                else:
                    print(f"skipping {prefix}{name}: {problem}", file=sys.stderr)
            if name == "seccompgen ebpf backend (bpftrace engine)" and name in modes:
                modes["bpftrace tracepoints only"] = lambda: run_with_probes(
                    service, loadgen, args, tmp
                )
        if args.modes:
            wanted = {"native", "strace -f", *(m.strip() for m in args.modes.split(","))}
            wanted |= {BASELINE + m for m in wanted if m in BACKEND_MODES}
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
        f"connections, {os.cpu_count()} CPUs, tracer worker niceness {args.niceness}"
    )
    if baseline is not None:
        print(f"baseline: {baseline} ({git_describe(baseline)}); current: {git_describe(ROOT)}")
    print()

    # On a shared machine the load from elsewhere changes between rounds; the ratio to native
    # within each round (the two ran back to back) is steadier than the ratio of medians.
    def per_round(name: str, reference: str) -> float:
        pairs = zip(results[name], results[reference], strict=True)
        return statistics.median(a / b for a, b in pairs)

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
            f"{per_round(name, 'native'):.3f} | {per_round(name, 'strace -f'):.3f} |"
        )
    compared = [name for name in BACKEND_MODES if name in results and BASELINE + name in results]
    if compared:
        print("\ncurrent / baseline req/s (ratio of medians; median of per-round ratios):")
        for name in compared:
            other = BASELINE + name
            print(f"- {name}: {med[name] / med[other]:.3f}; {per_round(name, other):.3f} per round")

    reference = seen.get("seccompgen strace backend", set())
    if reference:
        print("\nsyscall sets (union over rounds) against the strace backend's:")
        for name, got in seen.items():
            if name == "seccompgen strace backend":
                continue
            missing, extra = sorted(reference - got), sorted(got - reference)
            verdict = "equal" if not missing and not extra else "differ"
            print(f"- {name}: {verdict} ({len(got)} vs {len(reference)} names)", end="")
            if missing:
                print(f"; only strace: {', '.join(missing)}", end="")
            if extra:
                print(f"; only this backend: {', '.join(extra)}", end="")
            print()


def git_describe(root: Path) -> str:
    """The checkout's commit (short hash, ``-dirty`` with local changes), or ``?``."""
    proc = subprocess.run(
        ["git", "-C", str(root), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    )
    return proc.stdout.strip() or "?"


if __name__ == "__main__":
    main()
