"""The command line. click only: parse options, build an options dataclass, call the pipeline,
render the result. Errors from the core are translated here, once (exit 1; traceback with -v)."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from seccompgen import __version__, pipeline
from seccompgen.errors import SeccompgenError, ValidationError
from seccompgen.exercise.prober import ProbeError, exercise_command
from seccompgen.parsing.audit import AuditRecord
from seccompgen.profile.build import ALWAYS_ALLOWED_REASON, Mode
from seccompgen.registry import backend_names
from seccompgen.report import render_dot as render_report_dot
from seccompgen.report import render_image
from seccompgen.report import render_json as render_report_json
from seccompgen.report import render_text as render_report_text
from seccompgen.runtime import CHOICES as RUNTIME_CHOICES
from seccompgen.runtime import RUNTIMES
from seccompgen.store import ENV_VAR, TraceStore, check_workload_name
from seccompgen.tracing.backends.delta import DeltaOutcome
from seccompgen.tracing.base import TraceProgress

EXIT_INTERRUPTED = 130


class _Command(click.Command):
    """A command that remembers how many arguments followed `--` (see :func:`_target`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # click drops the `--` while parsing; count what followed it first. (A literal `--` given
        # as an option's value would be miscounted; no option here takes one.)
        if "--" in args:
            ctx.meta[_AFTER_DASHDASH] = len(args) - args.index("--") - 1
        return super().parse_args(ctx, args)


class _Group(click.Group):
    """Translates core errors into one clear message and exit status 1."""

    command_class = _Command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SeccompgenError as e:
            if ctx.find_root().meta.get("seccompgen.verbose"):
                traceback.print_exc()
            click.echo(f"error: {e.explain()}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)


def _store_option(f: Any) -> Any:
    return click.option(
        "--store",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=f"Trace store directory [default: ${ENV_VAR}, else ./traces].",
    )(f)


def _shutdown_options(f: Any) -> Any:
    """--grace and --ready-delay, shared by trace and verify (one default, one reason)."""
    f = click.option(
        "--ready-delay",
        type=click.FloatRange(min=0),
        default=0.5,
        show_default=True,
        help="Seconds to wait before starting the exercise.",
    )(f)
    return click.option(
        "--grace",
        type=click.FloatRange(min=0),
        default=10.0,
        show_default=True,
        # 10 s is `docker stop`'s default; Go's http.Server.Shutdown alone may wait 5 s for idle
        # connections (golang/go#22682), so a shorter grace can cut the traced shutdown short.
        help="Seconds between SIGTERM and SIGKILL (as `docker stop -t`).",
    )(f)


def _volume_option(where: str) -> Callable[[Any], Any]:
    """-V/--volume, shared by trace and verify (one form, parsed by one parse_volume)."""
    return click.option(
        "--volume",
        "-V",
        "volumes",
        multiple=True,
        metavar="HOST:CONTAINER[:ro|rw]",
        help=f"Bind mount {where}, e.g. a batch job's input and output directory.",
    )


_AFTER_DASHDASH = "seccompgen.after_dashdash"


def _target_arguments(f: Any) -> Any:
    """[TARGET] [ARGS]...: a program and its arguments, or with --image the image's new CMD.

    Shared by every command that runs a target; :func:`_target` applies the rule to the values.
    """
    f = click.argument("args", nargs=-1, type=click.UNPROCESSED)(f)
    return click.argument("target", required=False)(f)


def _image_option(f: Any) -> Any:
    return click.option(
        "--image",
        metavar="IMAGE[:TAG]",
        help="Run this local application image with its ENTRYPOINT/CMD/env/workdir/user; "
        "arguments after `--` replace its CMD. Nothing is pulled.",
    )(f)


def _target(
    target: str | None, args: tuple[str, ...], image: str | None
) -> tuple[Path | None, tuple[str, ...]]:
    """The program (None with --image) and its arguments, from [TARGET] [ARGS]... and --image.

    Without --image the first positional value is the program and the rest its arguments (before
    or after `--`). With --image there is no program: the values after `--` replace the image's
    CMD, and a value before `--` is a TARGET given as well, a usage error.
    """
    given = (*([target] if target is not None else []), *args)
    if image is None:
        if target is None:
            raise click.UsageError("give TARGET (a program), or --image IMAGE")
        return Path(target), args
    after = min(click.get_current_context().meta.get(_AFTER_DASHDASH, 0), len(given))
    before = given[: len(given) - after]
    if before:
        raise click.UsageError(
            f"give TARGET ({before[0]}) or --image IMAGE, not both; the arguments that replace "
            f"the image's CMD go after `--`: --image {image} -- {shlex.join(given)}"
        )
    return None, given


def _workload_callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        if v is None:
            continue
        problem = check_workload_name(v)
        if problem:
            raise click.BadParameter(problem)
    return value


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Typical workflow (examples/httpservice built as ./httpservice, examples/loadgen as ./loadgen):
  seccompgen trace ./httpservice --exercise './loadgen -d 2s http://127.0.0.1:8080/healthz'
  seccompgen emit --workload httpservice --mode log      # stage: misses are only logged
  seccompgen emit --workload httpservice --mode enforce  # enforce: everything else is EPERM
  seccompgen verify profiles/httpservice.json ./httpservice --duration 3
""",
)
@click.version_option(__version__, prog_name="seccompgen")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and more detail.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Synthesize least-privilege seccomp profiles from what a program was seen to do.

    Record a program's system calls (trace, import), look at them (graph), turn them into
    profiles (emit), check profiles (validate, diff).
    """
    ctx.meta["seccompgen.verbose"] = verbose


# --------------------------------------------------------------------------- trace


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


@cli.command(
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
""",
)
@_target_arguments
@click.option(
    "--workload",
    "-w",
    callback=_workload_callback,
    help="Name to record the trace under [default: the target's file name].",
)
@click.option(
    "--exercise",
    metavar="CMD",
    help="Shell command run while the target runs (e.g. a script hitting its endpoints); "
    "the target gets SIGTERM when it exits. $SECCOMPGEN_TARGET_PID holds the target's pid.",
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
@click.option(
    "--duration",
    type=click.FloatRange(min=0),
    help="Keep the target running this many seconds (after the exercise), then send SIGTERM.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Hard limit in seconds; the trace is kept and marked incomplete.",
)
@_shutdown_options
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
@click.option(
    "--container",
    is_flag=True,
    help="Trace TARGET inside the tracer image (built or reused), bind-mounted read-only.",
)
@_image_option
@click.option(
    "--network",
    type=click.Choice(["none", "host"]),
    default=None,
    help="Container network (with --container/--image) [default: none]; host lets an "
    "exercise on the host reach the target on 127.0.0.1.",
)
@click.option(
    "--exercise-in-container",
    is_flag=True,
    help="Run --exercise inside the container (docker exec /bin/sh -c) instead of on the host.",
)
@_volume_option("into the container (with --container/--image; repeatable)")
@_store_option
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
    if exercise_in_container and exercise is None:
        raise click.BadParameter("needs --exercise", param_hint="'--exercise-in-container'")
    program, argv = _target(target, args, image)
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
        exercise_in_container=exercise_in_container,
        volumes=volumes,
        known=known,
        learn=learn or known is None,
    )
    printer = _ProgressPrinter()
    where = f"in a container (network {opts.network})" if container or image else f"with {backend}"
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
    _next(
        f"seccompgen emit --workload {name} --mode log{_store_flag(store)}",
        f"seccompgen graph --workload {name}{_store_flag(store)}",
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
        _next(f"seccompgen emit -w {workload}{_store_flag(store)}")
    elif o.misses:
        click.echo("not kept (rerun with --learn to add them to the workload)")


def _default_workload(target: Path) -> str:
    stem = "".join(c if c.isalnum() or c in "._-" else "-" for c in target.name).lstrip("._-")
    return stem or "workload"


def _store_flag(store: Path | None) -> str:
    return f" --store {shlex.quote(str(store))}" if store else ""


def _next(*commands: str) -> None:
    click.echo("next:")
    for c in commands:
        click.echo(f"  {c}")


# --------------------------------------------------------------------------- import


@cli.command(
    "import",
    epilog="""\b
Examples:
  strace -f -ttt -X raw -o batch.strace ./batch -in data/in.txt -out data/out.json
  seccompgen import batch.strace --workload batch
  mkdir -p out && strace -ff -o out/batch ./batch -in data/in.txt -out data/out.json
  seccompgen import out/batch.* --workload batch
""",
)
@click.argument("logs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--workload", "-w", required=True, callback=_workload_callback, help="Name to record under."
)
@click.option("--arch", help="Architecture of the traced program [default: this machine's].")
@_store_option
def import_(logs: tuple[Path, ...], workload: str, arch: str | None, store: Path | None) -> None:
    """Ingest existing strace text logs (`strace -f -o FILE`, or the FILE.PID files of -ff)."""
    summary = pipeline.import_logs(
        pipeline.ImportOptions(
            logs=logs, workload=workload, store=TraceStore.resolve(store), arch=arch
        )
    )
    for w in summary.warnings:  # a cut-short last line is among them, with its file and line
        click.echo(f"warning: {w}", err=True)
    click.echo(
        f"imported {summary.events:,} syscalls ({summary.distinct} distinct) -> {summary.path}"
    )
    if summary.new_for_workload:
        click.echo(f"new for {workload}: {', '.join(summary.new_for_workload)}")
    _next(f"seccompgen emit --workload {workload} --mode log{_store_flag(store)}")


# --------------------------------------------------------------------------- emit


@cli.command(
    epilog="""\b
Examples:
  seccompgen emit --workload httpservice --mode log   # profiles/httpservice.log.json (staging)
  seccompgen emit --workload httpservice -o build/httpservice.json   # enforce
  seccompgen emit -w httpservice -w batch -o profiles/pod.json       # one profile for both
  seccompgen emit -w httpservice --runtime runc --no-new-privileges  # docker run with NNP
"""
)
@click.option(
    "--workload",
    "-w",
    "workloads",
    multiple=True,
    callback=_workload_callback,
    help="Workload to include (repeatable) [default: every workload in the store].",
)
@click.option(
    "--mode",
    type=click.Choice([m.value for m in Mode]),
    default=Mode.ENFORCE.value,
    show_default=True,
    help="enforce: everything not allowed fails with EPERM; log: it is only logged (staging).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write [default: profiles/NAME.json, or profiles/NAME.log.json for log].",
)
@click.option(
    "--runtime",
    type=click.Choice(list(RUNTIME_CHOICES)),
    default="auto",
    show_default=True,
    help="Merge the measured calls this container runtime makes after installing the filter "
    "(./profiles/runtime/, then the bundled ones); auto: the local Docker engine's default "
    "runtime, else runc.",
)
@click.option(
    "--no-new-privileges",
    is_flag=True,
    help="The container runs with no-new-privileges (docker --security-opt "
    "no-new-privileges): pick the runtime block measured that way (runc then needs fewer calls).",
)
@click.option(
    "--go-runtime",
    type=click.Choice(["auto", "on", "off"]),
    default="auto",
    show_default=True,
    help="Add the syscalls the Go runtime makes on rare paths (preemption, thread exit, "
    "scavenger, CPU profiling) for the traced binaries' Go versions; auto: unless the traced "
    "programs are not Go binaries.",
)
@click.option("--no-go-runtime", is_flag=True, help="Same as --go-runtime off.")
@_store_option
def emit(
    workloads: tuple[str, ...],
    mode: str,
    output: Path | None,
    runtime: str,
    no_new_privileges: bool,
    go_runtime: str,
    no_go_runtime: bool,
    store: Path | None,
) -> None:
    """Write a seccomp profile allowing every syscall the chosen workloads were seen to make.

    The calls the container runtime itself makes after loading the filter (measured by
    `seccompgen runtime-baseline`) are added, so the container can start; so are the calls the
    Go runtime makes on rare paths a short trace misses (--go-runtime).
    """
    summary = pipeline.emit(
        pipeline.EmitOptions(
            store=TraceStore.resolve(store),
            workloads=workloads,
            mode=Mode(mode),
            output=output,
            runtime=runtime,
            no_new_privileges=no_new_privileges,
            go_runtime="off" if no_go_runtime else go_runtime,
        )
    )
    for name, why in summary.unknown:
        click.echo(f"warning: left out {name}: {why}", err=True)
    if summary.record_problem:
        click.echo(
            f"warning: the store did not record which workloads this profile came from: "
            f"{summary.record_problem}",
            err=True,
        )
    kind = "enforce" if summary.mode is Mode.ENFORCE else "staging (log)"
    click.echo(
        f"wrote {kind} profile {summary.path}: {len(summary.allowed)} syscalls allowed, "
        f"default {summary.profile.default_action.value}"
    )
    if summary.runtime is not None:
        click.echo(
            f"runtime: {summary.runtime.note}; {len(summary.runtime_names)} name(s) allowed for "
            f"the runtime, not observed in the workload: {' '.join(summary.runtime_names) or '-'}"
        )
    if summary.go_runtime_names:
        click.echo(
            f"{len(summary.go_runtime_names)} name(s) required by the Go runtime, not observed: "
            + ", ".join(
                f"{n} ({'; '.join(p)})" for n, p in sorted(summary.go_runtime_names.items())
            )
        )
    if summary.always_names:
        click.echo(
            f"{len(summary.always_names)} name(s) {ALWAYS_ALLOWED_REASON}, not observed: "
            + ", ".join(summary.always_names)
        )
    if summary.enosys:
        click.echo(
            f"{len(summary.enosys)} unobserved syscalls that programs probe and fall back from "
            f"answer ENOSYS instead of EPERM: {', '.join(summary.enosys)}"
        )
    click.echo("attach it in Docker:")
    click.echo(f"  {summary.docker}")
    k = summary.kubernetes
    click.echo(f"attach it in Kubernetes: copy it to {k.node_path} on each node, then:")
    for line in k.yaml.rstrip("\n").splitlines():
        click.echo(f"  {line}")
    if summary.mode is Mode.LOG:
        names = " ".join(f"-w {w}" for w in summary.workloads)
        _next(f"seccompgen emit {names} --mode enforce{_store_flag(store)}")
    else:
        _next(f"seccompgen validate {shlex.quote(str(summary.path))}")


# --------------------------------------------------------------------------- validate


@cli.command(
    epilog="""\b
Examples:
  seccompgen validate profiles/httpservice.json
  seccompgen validate profiles/*.json
"""
)
@click.argument("profiles", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(profiles: tuple[Path, ...]) -> None:
    """Check profiles against the OCI runtime-spec schema and seccomp semantics.

    Besides the schema: syscall names libseccomp does not know, duplicates, rules that repeat
    the default action (runtimes skip them), profiles that allow everything, and conditions on
    the same argument index (runtimes OR them). Exit status 1 when any profile has a problem.
    A warning (a profile that refuses exit_group or exit, so its processes cannot end cleanly)
    does not change the exit status.
    """
    failed = 0
    for path in profiles:
        result = pipeline.validate(path)
        if result.problems:
            failed += 1
            click.echo(f"{path}: {len(result.problems)} problem(s)")
            for p in result.problems:
                click.echo(f"  {p}")
        else:
            click.echo(f"{path}: ok")
        for w in result.warnings:
            click.echo(f"  warning: {w}")
    if failed:
        raise ValidationError(f"{failed} of {len(profiles)} profile(s) failed validation", [])


# --------------------------------------------------------------------------- graph, diff


@cli.command(
    epilog="""\b
Examples:
  seccompgen graph
  seccompgen graph --workload httpservice --format json
  seccompgen graph --format dot | dot -Tsvg > graph.svg
"""
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "dot"]),
    default="text",
    show_default=True,
)
@click.option(
    "--workload",
    "-w",
    "workloads",
    multiple=True,
    callback=_workload_callback,
    help="Workload to show (repeatable) [default: all].",
)
@_store_option
def graph(fmt: str, workloads: tuple[str, ...], store: Path | None) -> None:
    """Show the recorded workloads, their syscalls with counts and phases, and what each adds."""
    click.echo(pipeline.graph_view(TraceStore.resolve(store), workloads, fmt), nl=False)


@cli.command(
    epilog="""\b
Examples:
  seccompgen diff profiles/httpservice.json docker-default   # how much smaller than Docker's
  seccompgen diff profiles/httpservice.json docker-default --summary   # counts only
  seccompgen diff profiles/batch.json profiles/httpservice.json
"""
)
@click.argument("a")
@click.argument("b")
@click.option("--summary", is_flag=True, help="Print the counts only, not the names on each side.")
def diff(a: str, b: str, summary: bool) -> None:
    """Compare the syscalls allowed by profiles A and B (`docker-default`: Docker's default)."""
    report = pipeline.diff(a, b)
    d = report.diff
    click.echo(f"compared on {report.arch}")
    click.echo(f"{a}: {d.a_count} syscalls allowed")
    click.echo(f"{b}: {d.b_count} syscalls allowed")
    if summary:
        click.echo(f"only in {b}: {len(d.added)}; only in {a}: {len(d.removed)}")
    else:
        click.echo(f"only in {b} (+{len(d.added)}): {' '.join(d.added) or '-'}")
        click.echo(f"only in {a} (-{len(d.removed)}): {' '.join(d.removed) or '-'}")
    if b == pipeline.DOCKER_DEFAULT and d.b_count:
        fewer = d.b_count - d.a_count
        click.echo(
            f"{a} allows {fewer} fewer syscalls than Docker's default "
            f"({d.a_count} vs {d.b_count}, {100 * d.a_count / d.b_count:.0f}%)"
        )
    elif a == pipeline.DOCKER_DEFAULT and d.a_count:
        fewer = d.a_count - d.b_count
        click.echo(
            f"{b} allows {fewer} fewer syscalls than Docker's default "
            f"({d.b_count} vs {d.a_count}, {100 * d.b_count / d.a_count:.0f}%)"
        )


# --------------------------------------------------------------------------- inspect


@cli.command(
    epilog="""\b
Examples:
  seccompgen inspect ./httpservice              # Go version, build settings, static or not
  seccompgen inspect ./httpservice --against httpservice   # what its Go code could do unseen
  seccompgen inspect ./httpservice --format json
"""
)
@click.argument("binary", type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--against",
    metavar="WORKLOAD",
    callback=_workload_callback,
    help="Compare the syscalls the linked Go code can make with this workload's traces.",
)
@_store_option
def inspect(binary: Path, fmt: str, against: str | None, store: Path | None) -> None:
    """Read a program without running it: architecture, static or dynamic (the `ldd` answer),
    stripped or not, and for Go its version, build settings and linked syscall-capable code.

    With --against, syscalls the binary's Go code can make but the workload was never seen
    making are listed as warnings: static analysis over-approximates, so they are candidates
    to exercise in another trace, never added to profiles automatically.
    """
    report = pipeline.inspect(
        binary, store=TraceStore.resolve(store) if against else None, against=against
    )
    if fmt == "json":
        data = report.info.to_dict()
        data["reachable"] = report.reachable
        data["unobserved"] = [
            {"syscall": w.syscall, "via": list(w.via), "reasons": list(w.reasons)}
            for w in report.unobserved
        ]
        data["blind_spots"] = list(report.blind_spots)
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    click.echo(report.info.render_text().rstrip("\n"))
    if report.info.is_go:
        click.echo(f"syscalls its linked Go code can make: {len(report.reachable)}")
    if against is not None:
        click.echo(
            f"reachable but never seen in {against}: {len(report.unobserved)} "
            "(static over-approximation; exercise them in another trace, or accept them denied)"
        )
        for w in report.unobserved:
            click.echo(f"  {w.render()}")
    for spot in report.blind_spots:
        click.echo(f"note: {spot}")


# --------------------------------------------------------------------------- report


@cli.command(
    epilog="""\b
Examples:
  seccompgen report -w httpservice
  seccompgen report -w httpservice --binary ./httpservice   # reachable but unobserved calls
  seccompgen report -w httpservice --format svg -o httpservice.svg   # the graph (Graphviz)
"""
)
@click.option(
    "--workload",
    "-w",
    "workloads",
    multiple=True,
    callback=_workload_callback,
    help="Workload to report on (repeatable) [default: all].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "dot", "svg", "png"]),
    default="text",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here instead of standard output (required for svg/png on a terminal).",
)
@click.option(
    "--runtime",
    type=click.Choice(list(RUNTIME_CHOICES)),
    default="auto",
    show_default=True,
    help="The runtime block emit would merge (see emit --runtime).",
)
@click.option("--no-new-privileges", is_flag=True, help="As for emit.")
@click.option(
    "--go-runtime",
    type=click.Choice(["auto", "on", "off"]),
    default="auto",
    show_default=True,
    help="As for emit.",
)
@click.option(
    "--binary",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Inspect this program for syscalls its Go code can make that no trace showed.",
)
@_store_option
def report(
    workloads: tuple[str, ...],
    fmt: str,
    output: Path | None,
    runtime: str,
    no_new_privileges: bool,
    go_runtime: str,
    binary: Path | None,
    store: Path | None,
) -> None:
    """Per workload: observed syscalls with counts and phases, the calls seen only at startup
    (candidates a stricter post-start filter could drop), what emit adds for the container
    runtime and the Go runtime and why, and optionally what the binary could do unseen.
    """
    rep = pipeline.report(
        pipeline.ReportOptions(
            store=TraceStore.resolve(store),
            workloads=workloads,
            runtime=runtime,
            no_new_privileges=no_new_privileges,
            go_runtime=go_runtime,
            binary=binary,
        )
    )
    data: bytes
    if fmt == "text":
        data = render_report_text(rep).encode()
    elif fmt == "json":
        data = render_report_json(rep).encode()
    elif fmt == "dot":
        data = render_report_dot(rep).encode()
    else:
        if output is None and sys.stdout.isatty():
            raise click.UsageError(f"--format {fmt} writes an image: give -o FILE")
        data = render_image(render_report_dot(rep), fmt)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)
        click.echo(f"wrote {output}")
    else:
        click.echo(data, nl=False)


# --------------------------------------------------------------------------- learn


@cli.command(
    epilog="""\b
Examples:
  seccompgen learn --listen 10 --workload httpservice --comm httpservice   # while staging runs
  seccompgen learn --from traces/recorded/audit/audit.log -w auditprobe --comm auditprobe-amd6
  journalctl -k -o short > kern.txt && seccompgen learn --from kern.txt -w httpservice
"""
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
@click.option(
    "--workload", "-w", required=True, callback=_workload_callback, help="Workload to add to."
)
@click.option("--pid", "pids", type=int, multiple=True, help="Only records of this pid.")
@click.option("--comm", "comms", multiple=True, help="Only records of this command name.")
@click.option("--exe", "exes", multiple=True, help="Only records of this executable path.")
@click.option("--cgroup", help="With --listen: only processes whose cgroup path contains this.")
@_store_option
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
        _next(f"seccompgen emit --workload {workload} --mode enforce{_store_flag(store)}")
    else:
        click.echo(f"nothing new for {workload}")
    if report.interrupted:
        sys.exit(EXIT_INTERRUPTED)


# --------------------------------------------------------------------------- verify


@cli.command(
    epilog="""\b
Examples:
  seccompgen verify profiles/httpservice.json ./httpservice --network host \\
      --exercise './loadgen -d 2s http://127.0.0.1:8080/healthz'
  seccompgen verify profiles/httpservice.json --image httpservice:local --no-new-privileges \\
      --duration 3
  seccompgen verify profiles/batch.json ./batch -V $PWD/data:/data \\
      -- -in /data/in.txt -out /data/out.json
  seccompgen verify profiles/httpservice.json --image httpservice:local --duration 3 --strict
""",
)
@click.argument("profile", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@_target_arguments
@_image_option
@click.option(
    "--exercise",
    metavar="CMD",
    help="Shell command run on the host while the workload runs; it must exit 0.",
)
@click.option(
    "--no-new-privileges", is_flag=True, help="Run with --security-opt no-new-privileges."
)
@click.option(
    "--network",
    type=click.Choice(["none", "host"]),
    default="none",
    show_default=True,
    help="Container network; host lets the exercise reach the workload on 127.0.0.1.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0),
    help="Keep a service running this many seconds (after the exercise), then SIGTERM it.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=300.0,
    show_default=True,
    help="Limit for each run, in seconds.",
)
@_shutdown_options
@_volume_option("(repeatable)")
@click.option(
    "--workload",
    "-w",
    callback=_workload_callback,
    help="Workload name for the fix commands [default: the workloads the store recorded "
    "emitting PROFILE for (matched by content), else its file name].",
)
@click.option(
    "--records",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the workload's refused calls as audit records "
    "[default: PROFILE with .denied.audit].",
)
@click.option(
    "--no-diagnose",
    is_flag=True,
    help="On failure, do not rerun under the staging variant to find the refused calls.",
)
@_store_option
@click.option(
    "--strict",
    is_flag=True,
    help="Also fail when the workload survived refused calls: after a pass, rerun under the "
    "staging variant and fail on any call it logs (root).",
)
def verify(
    profile: Path,
    target: str | None,
    args: tuple[str, ...],
    image: str | None,
    exercise: str | None,
    no_new_privileges: bool,
    network: str,
    duration: float | None,
    timeout: float,
    grace: float,
    ready_delay: float,
    volumes: tuple[str, ...],
    workload: str | None,
    records: Path | None,
    no_diagnose: bool,
    store: Path | None,
    strict: bool,
) -> None:
    """Prove PROFILE: run the workload in a container with it enforced.

    TARGET is a static program, copied into a throwaway FROM scratch image; or give --image.
    Arguments after `--` follow the program (or replace the image's CMD). Passes when the
    container starts, the exercise exits 0, and the workload exits 0 on its own or runs to the
    end and stops cleanly on SIGTERM. On failure the run is repeated with the staging
    (SCMP_ACT_LOG) variant while the kernel's audit records are read (root), and the refused
    syscalls, the process that made them and the fixing commands are printed. Exit 0 on pass,
    1 on fail.

    A pass shows the workload survived the profile, not that nothing was refused (Go carries on
    when a profiling timer or madvise fails with EPERM). --strict also makes the staging run
    after a pass and fails on any call it logs.
    """
    program, argv = _target(target, args, image)
    req = pipeline.VerifyRequest(
        profile=profile,
        image=image,
        program=program,
        args=argv,
        exercise=exercise,
        no_new_privileges=no_new_privileges,
        network=network,
        duration=duration,
        timeout=timeout,
        grace=grace,
        ready_delay=ready_delay,
        volumes=volumes,
        workload=workload,
        store=store,
        records=records,
        diagnose=not no_diagnose,
        strict=strict,
    )
    nnp = ", no-new-privileges" if no_new_privileges else ""
    click.echo(f"verifying {profile} on {image or target} (network {network}{nnp})", err=True)
    report = pipeline.verify(req, log=lambda line: click.echo(line, err=True))
    run = report.enforce
    if report.passed:
        how = (
            "exited 0 on its own"
            if run.stopped == "exited"
            else f"ran to the end and stopped cleanly on SIGTERM (status {run.exit_code})"
        )
        exercised = ", the exercise exited 0" if exercise else ""
        click.echo(f"PASS: {profile} enforced: the workload started{exercised}, and it {how}")
        if report.strict:
            click.echo("strict: the staging variant logged no call the profile would refuse")
        return
    if report.strict:
        click.echo(
            f"FAIL (strict): {profile} enforced: the workload kept working, but the profile "
            f"refuses {len(report.names())} call(s) it makes: {' '.join(report.names())}"
        )
    else:
        click.echo(f"FAIL: {profile} enforced: {run.failure}")
    if run.logs.strip() and not report.strict:
        click.echo("last output of the workload:")
        for line in run.logs.rstrip("\n").splitlines()[-10:]:
            click.echo(f"  {line}")
    if report.diagnosis_problem:
        click.echo(f"diagnosis: {report.diagnosis_problem}")
    if report.denials:
        click.echo("refused by the profile (seen under its staging variant):")
        for d in report.denials:
            who = "runtime init before exec" if d.process == "runtime" else "workload"
            click.echo(f"  {d.name:<20} {who}: comm={d.comm} exe={d.exe} ({d.count}x)")
    if report.records_path is not None:
        click.echo(f"the workload's audit records: {report.records_path}")
    if report.workloads is not None and report.fixes:
        prefix = "" if report.workloads.known else "note: "
        click.echo(f"{prefix}{report.workloads.note}")
    if report.fixes:
        _next(*report.fixes)
    sys.exit(1)


# --------------------------------------------------------------------------- runtime-baseline


@cli.command(
    "runtime-baseline",
    epilog="""\b
Examples:
  seccompgen runtime-baseline                        # the engine's runtime, without NNP
  seccompgen runtime-baseline --no-new-privileges    # the same with no-new-privileges
  seccompgen runtime-baseline --runtime runc --rounds 5 -o runtime-blocks
""",
)
@click.option(
    "--runtime",
    type=click.Choice(list(RUNTIMES)),
    default=None,
    help="Runtime configured in the Docker engine [default: its default runtime].",
)
@click.option("--no-new-privileges", is_flag=True, help="Measure with no-new-privileges.")
@click.option(
    "--program",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Static program that exits 0 [default: examples/noop, built with Go].",
)
@click.option(
    "--rounds", type=click.IntRange(min=1), default=3, show_default=True, help="Runs to unite."
)
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for the block [default: profiles/runtime under the current directory, "
    "searched by emit before the bundled blocks].",
)
def runtime_baseline(
    runtime: str | None,
    no_new_privileges: bool,
    program: Path | None,
    rounds: int,
    output_dir: Path | None,
) -> None:
    """Measure what the container runtime does after installing the seccomp filter.

    Runs a trivial static program under a profile that logs every call (SCMP_ACT_LOG, no
    rules), reads the kernel's audit records (root or CAP_AUDIT_READ), and keeps those of the
    runtime's init process before its execve of the program: the calls every profile must
    allow for the container to start. Stored as profiles/runtime/RUNTIME-VERSION-NNP.json
    under the current directory, which `emit --runtime` merges (before the bundled blocks).
    """
    from seccompgen.runtime import default_output_dir

    opts = pipeline.BaselineOptions(
        output_dir=output_dir or default_output_dir(),
        runtime=runtime,
        no_new_privileges=no_new_privileges,
        program=program,
        rounds=rounds,
    )
    report = pipeline.runtime_baseline(opts, log=lambda line: click.echo(line, err=True))
    b = report.block
    for i, names in enumerate(report.per_round, 1):
        click.echo(f"round {i}: {len(names)} distinct: {' '.join(names)}")
    click.echo(
        f"{b.label}: {len(b.syscalls)} distinct syscalls after the filter "
        f"({b.records} records) -> {report.path}"
    )
    click.echo(f"  {' '.join(b.syscalls)}")


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the CLI; ``argv`` defaults to ``sys.argv[1:]``. Exits with the command's status."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    cli.main(args=list(argv) if argv is not None else None, prog_name="seccompgen")
    sys.exit(0)
