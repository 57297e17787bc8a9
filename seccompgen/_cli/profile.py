"""The commands on profiles: emit (write one from the store), validate (check files) and diff
(compare two, or one with Docker's default)."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from seccompgen import pipeline
from seccompgen._cli.options import (
    Command,
    go_runtime_option,
    no_new_privileges_option,
    output_option,
    runtime_option,
    store_option,
    workload_option,
)
from seccompgen._cli.render import next_steps, store_flag
from seccompgen.errors import ValidationError
from seccompgen.profile.build import ALWAYS_ALLOWED_REASON, Mode
from seccompgen.store import TraceStore


@click.command(
    cls=Command,
    epilog="""\b
Examples:
  seccompgen emit --workload httpservice --mode log   # profiles/httpservice.log.json (staging)
  seccompgen emit --workload httpservice -o build/httpservice.json   # enforce
  seccompgen emit -w httpservice -w batch -o profiles/pod.json       # one profile for both
  seccompgen emit -w httpservice --runtime runc --no-new-privileges  # docker run with NNP
""",
)
@workload_option(
    "Workload to include (repeatable) [default: every workload in the store].", multiple=True
)
@click.option(
    "--mode",
    type=click.Choice([m.value for m in Mode]),
    default=Mode.ENFORCE.value,
    show_default=True,
    help="enforce: everything not allowed fails with EPERM; log: it is only logged (staging).",
)
@output_option("Where to write [default: profiles/NAME.json, or profiles/NAME.log.json for log].")
@runtime_option(
    "Merge the measured calls this container runtime makes after installing the filter "
    "(./profiles/runtime/, then the bundled ones); auto: the local Docker engine's default "
    "runtime, else runc."
)
@no_new_privileges_option(
    "The container runs with no-new-privileges (docker --security-opt "
    "no-new-privileges): pick the runtime block measured that way (runc then needs fewer calls)."
)
@go_runtime_option(
    "Add the syscalls the Go runtime makes on rare paths (preemption, thread exit, "
    "scavenger, CPU profiling) for the traced binaries' Go versions; auto: unless the traced "
    "programs are not Go binaries."
)
@click.option("--no-go-runtime", is_flag=True, help="Same as --go-runtime off.")
@store_option
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
        next_steps(f"seccompgen emit {names} --mode enforce{store_flag(store)}")
    else:
        next_steps(f"seccompgen validate {shlex.quote(str(summary.path))}")


# --------------------------------------------------------------------------- validate


@click.command(
    cls=Command,
    epilog="""\b
Examples:
  seccompgen validate profiles/httpservice.json
  seccompgen validate profiles/*.json
""",
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


# --------------------------------------------------------------------------- diff


@click.command(
    cls=Command,
    epilog="""\b
Examples:
  seccompgen diff profiles/httpservice.json docker-default   # how much smaller than Docker's
  seccompgen diff profiles/httpservice.json docker-default --summary   # counts only
  seccompgen diff profiles/batch.json profiles/httpservice.json
""",
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
