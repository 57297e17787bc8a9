"""The commands that record what a program does: trace (run it under a tracer), import (existing
strace logs, or with --spo profiles recorded elsewhere) and learn (the records a staging profile
made the kernel log)."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Any

import click

from seccompgen import pipeline
from seccompgen._cli.options import (
    Command,
    arch_option,
    container_option,
    duration_option,
    engine_option,
    exercise_option,
    image_option,
    network_option,
    resolve_target,
    shutdown_options,
    store_option,
    target_arguments,
    timeout_option,
    volume_option,
    workload_option,
)
from seccompgen._cli.render import EXIT_INTERRUPTED, next_steps, store_flag
from seccompgen.exercise.prober import ProbeError, exercise_command
from seccompgen.parsing.audit import AuditRecord
from seccompgen.registry import backend_names, emulated_arches
from seccompgen.store import TraceStore
from seccompgen.tracing.backends.delta import DeltaOutcome
from seccompgen.tracing.base import TraceProgress


class _ProgressPrinter:
    """Progress on stderr: one rewritten line on a terminal, a line every few seconds otherwise."""

    def __init__(self, stream: Any = None, interval: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self.last = 0.0
        self.width = 0

    def __call__(self, p: TraceProgress) -> None:
        line = (
            f"[{p.elapsed:6.1f}s] {p.phase.value:<8} {p.events:>9,} syscalls, "
            f"{p.distinct:>3} distinct"
        )
        if p.new_names:
            new = ", ".join(p.new_names[:6]) + (" ..." if len(p.new_names) > 6 else "")
            line += f"  new: {new}"
        if self.tty:
            pad = max(0, self.width - len(line))
            self.stream.write("\r" + line + " " * pad)
            self.width = len(line)
            self.stream.flush()
        elif p.new_names or time.monotonic() - self.last >= self.interval:
            self.stream.write(line + "\n")
            self.stream.flush()
            self.last = time.monotonic()

    def done(self) -> None:
        if self.tty and self.width:
            self.stream.write("\n")
            self.stream.flush()


@click.command(
    cls=Command,
    context_settings={"ignore_unknown_options": False},
    epilog="""\b
Examples:
  seccompgen trace ./batch -- -in data/in.txt -out data/out.json
  seccompgen trace ./httpservice --workload web \\
      --exercise './loadgen -n 50 http://127.0.0.1:8080/debug/pprof/'
  seccompgen trace ./httpservice --probe http://127.0.0.1:8080/healthz --probe-duration 2 \\
      -- -addr 127.0.0.1:8080
  seccompgen trace ./httpservice --duration 3 -- -addr 127.0.0.1:9000
  seccompgen trace ./httpservice --container --network host \\
      --exercise './loadgen -d 2s http://127.0.0.1:8080/healthz'
  seccompgen trace --image httpservice:local --network host \\
      --exercise './loadgen -d 2s http://127.0.0.1:8081/healthz' -- -addr 127.0.0.1:8081
  seccompgen trace --delta profiles/httpservice.json --image httpservice:local --network host \\
      --exercise './loadgen -d 2s http://127.0.0.1:8080/healthz' --learn
  seccompgen trace --emulate aarch64 ./httpservice-arm64 \\
      --exercise './loadgen -d 2s http://127.0.0.1:8092/healthz' -- -addr 127.0.0.1:8092
""",
)
@target_arguments
@workload_option("Name to record the trace under [default: the target's file name].")
@exercise_option(
    "Shell command run while the target runs (e.g. a script hitting its endpoints); "
    "the target gets SIGTERM when it exits. $SECCOMPGEN_TARGET_PID holds the target's pid."
)
@click.option(
    "--probe",
    "probes",
    metavar="URL",
    multiple=True,
    help="Exercise the target with HTTP GET requests to URL (loopback only; repeatable). "
    "Connection refused is retried until the service is ready. Instead of --exercise.",
)
@click.option(
    "--probe-requests",
    type=click.IntRange(min=1),
    help="Requests per --probe URL [default: 1, unless --probe-duration].",
)
@click.option(
    "--probe-duration",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds of round-robin requests to the --probe URLs.",
)
@click.option(
    "--probe-concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Parallel --probe requests.",
)
@duration_option(
    "Keep the target running this many seconds (after the exercise), then send SIGTERM."
)
@timeout_option("Hard limit in seconds; the trace is kept and marked incomplete.")
@shutdown_options
@click.option(
    "--backend",
    type=click.Choice([*backend_names(), "auto"]),
    default="strace",
    show_default=True,
    help="Tracer backend. auto: the fastest complete one available (ebpf with root, kernel BTF "
    "and tracefs; else strace; else ptrace), and says why.",
)
@click.option(
    "--delta",
    "known",
    metavar="PROFILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Re-check TARGET against a known profile at full speed: it runs under the profile's "
    "SCMP_ACT_LOG variant and only the syscalls the profile misses are reported, per process "
    "and phase (from the kernel audit feed; needs root). With --container/--image the Docker "
    "engine installs that variant (docker run --security-opt seccomp=...).",
)
@click.option(
    "--learn",
    is_flag=True,
    help="With --delta: keep the misses in the store, so the next emit includes them.",
)
@container_option("Trace TARGET inside the tracer image (built or reused), bind-mounted read-only.")
@image_option
@network_option(
    "Container network (with --container/--image) [default: none]; host lets an "
    "exercise on the host reach the target on 127.0.0.1.",
    default=None,
)
@click.option(
    "--exercise-in-container",
    is_flag=True,
    help="Run --exercise inside the container (docker exec /bin/sh -c) instead of on the host.",
)
@volume_option("into the container (with --container/--image; repeatable)")
@engine_option(
    "Container engine (with --container/--image) [default: docker]; podman is reached "
    "through its Docker-compatible API socket, started for the run when none answers.",
    default=None,
)
@click.option(
    "--emulate",
    metavar="ARCH",
    type=click.Choice(list(emulated_arches())),
    help="TARGET is built for ARCH (aarch64): run it under qemu-user's -strace "
    "(qemu-aarch64-static, Debian's qemu-user-static) and record the calls the emulated "
    "program makes, with ARCH's names, as a trace of ARCH. Records names only; enforcement "
    "cannot be checked this way (a filter on this host sees qemu's calls).",
)
@store_option
def trace(
    target: str | None,
    args: tuple[str, ...],
    workload: str | None,
    exercise: str | None,
    probes: tuple[str, ...],
    probe_requests: int | None,
    probe_duration: float | None,
    probe_concurrency: int,
    duration: float | None,
    timeout: float | None,
    grace: float,
    ready_delay: float,
    backend: str,
    known: Path | None,
    learn: bool,
    container: bool,
    image: str | None,
    network: str | None,
    exercise_in_container: bool,
    volumes: tuple[str, ...],
    engine: str | None,
    emulate: str | None,
    store: Path | None,
) -> None:
    """Run TARGET under a tracer and record every system call it and its threads and children make.

    Put the target's own arguments after `--`. Without --exercise or --duration the target runs
    until it exits (a batch job). Ctrl-C stops tracing and still saves every complete event.

    With --container or --image the target runs in a Docker container (CAP_SYS_PTRACE added,
    the default seccomp profile kept, --network none unless asked), which is removed afterwards.
    With --delta PROFILE as well, the container runs under the profile's SCMP_ACT_LOG variant
    instead (no strace, no capability added); a --container TARGET is bind-mounted into the
    local base image. Calls the runtime's init makes before exec are reported apart.
    """
    if container and image:
        raise click.UsageError("--container and --image exclude each other")
    if emulate is not None and (container or image or known is not None):
        raise click.UsageError(
            "--emulate runs TARGET on this host under qemu-user: leave out --container, "
            "--image and --delta"
        )
    if probes:
        if exercise is not None:
            raise click.UsageError("--probe and --exercise exclude each other")
        try:
            exercise = exercise_command(
                probes,
                requests=probe_requests,
                duration=probe_duration,
                concurrency=probe_concurrency,
            )
        except ProbeError as e:
            raise click.BadParameter(e.message, param_hint="'--probe'") from e
    elif probe_requests is not None or probe_duration is not None:
        raise click.BadParameter(
            "needs --probe URL", param_hint="'--probe-requests/--probe-duration'"
        )
    if not (container or image):
        if network is not None:
            raise click.BadParameter("only with --container or --image", param_hint="'--network'")
        if exercise_in_container:
            raise click.BadParameter(
                "only with --container or --image", param_hint="'--exercise-in-container'"
            )
        if volumes:
            raise click.BadParameter("only with --container or --image", param_hint="'--volume'")
        if engine is not None:
            raise click.BadParameter("only with --container or --image", param_hint="'--engine'")
    if exercise_in_container and exercise is None:
        raise click.BadParameter("needs --exercise", param_hint="'--exercise-in-container'")
    program, argv = resolve_target(target, args, image)
    if learn and known is None:
        raise click.BadParameter("only with --delta PROFILE", param_hint="'--learn'")
    if image is not None:
        name = workload or _default_workload(Path(image.rsplit("/", 1)[-1].split(":")[0]))
        shown = ["--image", image, *(["--", *argv] if argv else [])]
    else:
        assert program is not None
        name = workload or _default_workload(program)
        shown = [str(target), *argv]  # as typed (a Path would drop a leading ./)
    opts = pipeline.TraceOptions(
        target=program,
        args=argv,
        workload=name,
        store=TraceStore.resolve(store),
        backend=backend,
        exercise=exercise,
        duration=duration,
        timeout=timeout,
        grace=grace,
        ready_delay=ready_delay,
        container=container,
        image=image,
        network=network or "none",
        engine=engine or "docker",
        exercise_in_container=exercise_in_container,
        volumes=volumes,
        known=known,
        learn=learn or known is None,
        emulate=emulate,
    )
    printer = _ProgressPrinter()
    where = f"in a container (network {opts.network})" if container or image else f"with {backend}"
    if emulate is not None:
        where = f"as {emulate} under qemu-user -strace"
    if known is not None:
        where = (where + " " if container or image else "") + (
            f"against {known} (delta: only misses are recorded)"
        )
    click.echo(f"tracing {shlex.join(shown)} {where} (workload {name})", err=True)
    try:
        summary = pipeline.trace(opts, printer, log=lambda line: click.echo(line, err=True))
    finally:
        printer.done()
    if summary.backend_reason:
        click.echo(f"backend: {summary.backend_reason}", err=True)
    o = summary.outcome
    if isinstance(o, DeltaOutcome):
        _render_delta(o, known, summary.path, name, store)
        if not o.complete:
            sys.exit(EXIT_INTERRUPTED if o.reason == "interrupted" else 1)
        return
    state = "complete" if o.complete else f"INCOMPLETE ({o.reason})"
    click.echo(f"trace {state}: {o.events:,} syscalls, {o.distinct} distinct -> {summary.path}")
    if o.exit_code is not None:
        click.echo(f"target exit status: {o.exit_code}")
    if o.exercise_exit_code not in (None, 0):
        click.echo(f"warning: the exercise command exited with {o.exercise_exit_code}", err=True)
    click.echo(
        f"workload {name}: {summary.total_syscalls} distinct syscalls in the store"
        + (f", {len(summary.new_for_workload)} new" if summary.new_for_workload else "")
    )
    next_steps(
        f"seccompgen emit --workload {name} --mode log{store_flag(store)}",
        f"seccompgen graph --workload {name}{store_flag(store)}",
    )
    if not o.complete:
        sys.exit(EXIT_INTERRUPTED if o.reason == "interrupted" else 1)


def _render_delta(
    o: DeltaOutcome, known: Path | None, path: Path | None, workload: str, store: Path | None
) -> None:
    if not o.misses:
        click.echo(f"no new syscalls: {known} covers everything the target did")
    else:
        click.echo(f"{len(o.new_names)} new syscall(s):")
        for m in o.misses:
            click.echo(
                f"  {m.name:<18} pid {m.pid} ({m.comm or '?'})  {m.phase.value:<8} x{m.count}"
            )
    if o.runtime:
        names = sorted({m.name for m in o.runtime})
        comms = sorted({m.comm or "?" for m in o.runtime})
        click.echo(
            f"runtime init ({', '.join(comms)}) before exec, not the workload: "
            f"{' '.join(names)}; the profile's runtime block does not cover them "
            f"(seccompgen emit -w {workload} --runtime auto)"
        )
    if not o.complete:
        click.echo(f"run INCOMPLETE ({o.reason}): only the misses seen until then", err=True)
    if o.exit_code is not None:
        click.echo(f"target exit status: {o.exit_code}")
    if o.exercise_exit_code not in (None, 0):
        click.echo(f"warning: the exercise command exited with {o.exercise_exit_code}", err=True)
    if o.unattributed:
        click.echo(
            f"warning: {o.unattributed} logged call(s) from processes not attributed to the run",
            err=True,
        )
    if o.overruns:
        click.echo(
            f"warning: the audit socket overflowed {o.overruns} time(s): records were lost",
            err=True,
        )
    if o.misses and path is not None:
        click.echo(f"kept as {path}; to drop them instead: rm {shlex.quote(str(path))}")
        next_steps(f"seccompgen emit -w {workload}{store_flag(store)}")
    elif o.misses:
        click.echo("not kept (rerun with --learn to add them to the workload)")


def _default_workload(target: Path) -> str:
    stem = "".join(c if c.isalnum() or c in "._-" else "-" for c in target.name).lstrip("._-")
    return stem or "workload"


# --------------------------------------------------------------------------- import


@click.command(
    "import",
    cls=Command,
    epilog="""\b
Examples:
  strace -f -ttt -X raw -o batch.strace ./batch -in data/in.txt -out data/out.json
  seccompgen import batch.strace --workload batch
  mkdir -p out && strace -ff -o out/batch ./batch -in data/in.txt -out data/out.json
  seccompgen import out/batch.* --workload batch
  seccompgen import --spo deploy/recorded.yaml
  seccompgen import --spo profiles/httpservice.json --workload httpservice
""",
)
@click.argument(
    "files", metavar="FILES...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@workload_option(
    "Name to record under (required for strace logs) [with --spo default: an SPO profile's "
    "name, a JSON profile's file name without .json]."
)
@click.option(
    "--spo",
    is_flag=True,
    help="FILES are seccomp profiles, not strace logs: Security Profiles Operator "
    "SeccompProfile resources (YAML, v1 or v1beta1, several documents or a List; what its "
    "recorders made) or Docker/OCI JSON profiles. What each allows is added to the workload, "
    "marked imported (no counts or phases).",
)
@arch_option(
    "Architecture of the traced program, or with --spo of the profiles' names "
    "[default: this machine's, or a profile's first listed one]."
)
@store_option
def import_(
    files: tuple[Path, ...], workload: str | None, spo: bool, arch: str | None, store: Path | None
) -> None:
    """Ingest existing strace text logs (`strace -f -o FILE`, or the FILE.PID files of -ff), or
    with --spo seccomp profiles recorded or written elsewhere.

    With --spo (e.g. on `kubectl get seccompprofiles -o yaml > recorded.yaml` after an SPO
    ProfileRecording) every input is checked before anything is written: one bad document (bad YAML,
    another kind or version, an unknown action, a profile allowing everything) leaves the
    store as it was. Names libseccomp does not know are skipped with a warning, as runtimes
    skip them.
    """
    if spo:
        _import_profiles(files, workload, arch, store)
        return
    if workload is None:
        raise click.UsageError("Missing option '--workload' / '-w' (needed for strace logs).")
    summary = pipeline.import_logs(
        pipeline.ImportOptions(
            logs=files, workload=workload, store=TraceStore.resolve(store), arch=arch
        )
    )
    for w in summary.warnings:  # a cut-short last line is among them, with its file and line
        click.echo(f"warning: {w}", err=True)
    click.echo(
        f"imported {summary.events:,} syscalls ({summary.distinct} distinct) -> {summary.path}"
    )
    if summary.new_for_workload:
        click.echo(f"new for {workload}: {', '.join(summary.new_for_workload)}")
    next_steps(f"seccompgen emit --workload {workload} --mode log{store_flag(store)}")


def _import_profiles(
    files: tuple[Path, ...], workload: str | None, arch: str | None, store: Path | None
) -> None:
    summary = pipeline.import_profiles(
        pipeline.ProfileImportOptions(
            files=files, store=TraceStore.resolve(store), workload=workload, arch=arch
        )
    )
    for doc in summary.documents:
        p = doc.profile
        new = f", {len(doc.new_for_workload)} new" if doc.new_for_workload else ""
        click.echo(
            f"{doc.path}: workload {doc.workload}: {len(p.allowed)} syscalls{new} from "
            f"{p.where} ({p.label})"
        )
        for note in p.notes:
            click.echo(f"warning: {p.where}: {note}", err=True)
    next_steps(*(f"seccompgen emit --workload {w}{store_flag(store)}" for w in summary.workloads))


# --------------------------------------------------------------------------- learn


@click.command(
    cls=Command,
    epilog="""\b
Examples:
  seccompgen learn --listen 10 --workload httpservice --comm httpservice   # while staging runs
  seccompgen learn --from traces/recorded/audit/audit.log -w auditprobe --comm auditprobe-amd6
  journalctl -k -o short > kern.txt && seccompgen learn --from kern.txt -w httpservice
""",
)
@click.option(
    "--from",
    "source_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read records from a file: auditd's log, `journalctl -k` or `dmesg` output.",
)
@click.option(
    "--listen",
    "listen_seconds",
    type=click.FloatRange(min=0, min_open=True),
    help="Read records live from the kernel's audit netlink group for this many seconds "
    "(lossless; needs root or CAP_AUDIT_READ; Ctrl-C stops early and keeps what arrived).",
)
@workload_option("Workload to add to.", required=True)
@click.option("--pid", "pids", type=int, multiple=True, help="Only records of this pid.")
@click.option("--comm", "comms", multiple=True, help="Only records of this command name.")
@click.option("--exe", "exes", multiple=True, help="Only records of this executable path.")
@click.option("--cgroup", help="With --listen: only processes whose cgroup path contains this.")
@store_option
def learn(
    source_file: Path | None,
    listen_seconds: float | None,
    workload: str,
    pids: tuple[int, ...],
    comms: tuple[str, ...],
    exes: tuple[str, ...],
    cgroup: str | None,
    store: Path | None,
) -> None:
    """Add the syscalls a staging (SCMP_ACT_LOG) profile logged to a workload.

    The staging loop: `emit --mode log`, deploy, `learn`, then `emit --mode enforce`. Records
    are kernel audit records of type 1326 (SECCOMP); calls the workload already has are counted
    and not added again.
    """
    if (source_file is None) == (listen_seconds is None):
        raise click.UsageError("give exactly one of --from FILE and --listen SECONDS")
    if cgroup is not None and listen_seconds is None:
        raise click.BadParameter("--cgroup works only with --listen", param_hint="--cgroup")
    opts = pipeline.LearnOptions(
        store=TraceStore.resolve(store),
        workload=workload,
        source_file=source_file,
        listen_seconds=listen_seconds,
        pids=pids,
        comms=comms,
        exes=exes,
        cgroup=cgroup,
    )
    if listen_seconds is not None:
        click.echo(f"listening for seccomp audit records for {listen_seconds:g}s ...", err=True)

    def seen(record: AuditRecord) -> None:
        click.echo(
            f"  {record.comm or '?'}[{record.pid}] {record.name or record.syscall_number}", err=True
        )

    report = pipeline.learn(opts, seen)
    for w in report.warnings:
        click.echo(f"warning: {w}", err=True)
    sm = report.summary
    click.echo(
        f"{sm.records} record(s), {sm.matched} for {workload}, {sm.duplicates} already known"
    )
    for (arch, number), n in sorted(sm.unknown.items()):
        click.echo(
            f"warning: {n} record(s) of syscall {number} on {arch} with no known name", err=True
        )
    if sm.new_names:
        click.echo(f"new for {workload}: {', '.join(sm.new_names)} -> {sm.trace_path}")
        next_steps(f"seccompgen emit --workload {workload} --mode enforce{store_flag(store)}")
    else:
        click.echo(f"nothing new for {workload}")
    if report.interrupted:
        sys.exit(EXIT_INTERRUPTED)
