"""The commands that run containers to check profiles against the engine: verify (a workload
under a profile) and runtime-baseline (what the container runtime itself needs)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from seccompgen import pipeline
from seccompgen._cli.options import (
    Command,
    duration_option,
    engine_option,
    exercise_option,
    image_option,
    network_option,
    no_new_privileges_option,
    resolve_target,
    runtime_option,
    shutdown_options,
    store_option,
    target_arguments,
    timeout_option,
    volume_option,
    workload_option,
)
from seccompgen._cli.render import next_steps
from seccompgen.runtime import RUNTIMES

# --------------------------------------------------------------------------- verify


@click.command(
    cls=Command,
    epilog="""\b
Examples:
  seccompgen verify profiles/httpservice.json ./httpservice --network host \\
      --exercise './loadgen -d 2s http://127.0.0.1:8080/healthz'
  seccompgen verify profiles/httpservice.json --image httpservice:local --no-new-privileges \\
      --duration 3
  seccompgen verify profiles/batch.json ./batch -V $PWD/data:/data \\
      -- -in /data/in.txt -out /data/out.json
  seccompgen verify profiles/httpservice.json --image httpservice:local --duration 3 --strict
  seccompgen verify profiles/httpservice.crun.json --image httpservice:local --runtime crun \\
      --duration 3
""",
)
@click.argument("profile", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@target_arguments
@image_option
@exercise_option("Shell command run on the host while the workload runs; it must exit 0.")
@no_new_privileges_option("Run with --security-opt no-new-privileges.")
@runtime_option(
    "Run under this runtime configured in the Docker engine (docker run --runtime NAME, "
    "e.g. crun) [default: the engine's default runtime]. Emit the profile with the same "
    "--runtime: each runtime makes its own calls under the filter.",
    choices=None,
    default=None,
)
@network_option("Container network; host lets the exercise reach the workload on 127.0.0.1.")
@duration_option("Keep a service running this many seconds (after the exercise), then SIGTERM it.")
@timeout_option("Limit for each run, in seconds.", default=300.0)
@shutdown_options
@volume_option("(repeatable)")
@workload_option(
    "Workload name for the fix commands [default: the workloads the store recorded "
    "emitting PROFILE for (matched by content), else its file name]."
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
@store_option
@engine_option(
    "Container engine; podman is reached through its Docker-compatible API socket, started "
    "for the run when none answers."
)
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
    runtime: str | None,
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
    engine: str,
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
    program, argv = resolve_target(target, args, image)
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
        engine=engine,
        runtime=runtime,
    )
    nnp = ", no-new-privileges" if no_new_privileges else ""
    on = f", {engine}" if engine != "docker" else ""
    on += f", runtime {runtime}" if runtime is not None else ""
    click.echo(f"verifying {profile} on {image or target} (network {network}{nnp}{on})", err=True)
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
        next_steps(*report.fixes)
    sys.exit(1)


# --------------------------------------------------------------------------- runtime-baseline


@click.command(
    "runtime-baseline",
    cls=Command,
    epilog="""\b
Examples:
  seccompgen runtime-baseline                        # the engine's runtime, without NNP
  seccompgen runtime-baseline --no-new-privileges    # the same with no-new-privileges
  seccompgen runtime-baseline --runtime runc --rounds 5 -o runtime-blocks
  seccompgen runtime-baseline --runtime crun --no-new-privileges   # crun, registered as crun
""",
)
@runtime_option(  # the runtime to measure, not the block to merge: no auto
    "Runtime configured in the Docker engine [default: its default runtime].",
    choices=RUNTIMES,
    default=None,
)
@no_new_privileges_option("Measure with no-new-privileges.")
@click.option(
    "--program",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Static program that exits 0 [default: examples/noop, built with Go].",
)
@click.option(
    "--rounds", type=click.IntRange(min=1), default=3, show_default=True, help="Runs to unite."
)
@click.option(
    "--user",
    "users",
    multiple=True,
    metavar="USER",
    help="Container user to measure as (docker run --user; repeatable; the names are united) "
    "[default: root and 65532:65532, distroless's nonroot: runc does more for a non-root user].",
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
    users: tuple[str, ...],
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
        **({"users": tuple(dict.fromkeys(users))} if users else {}),
    )
    report = pipeline.runtime_baseline(opts, log=lambda line: click.echo(line, err=True))
    b = report.block
    per_user = len(opts.users)
    for i, (user, names) in enumerate(report.per_round):
        click.echo(f"round {i // per_user + 1} as {user}: {len(names)} distinct: {' '.join(names)}")
    click.echo(
        f"{b.label}: {len(b.syscalls)} distinct syscalls after the filter "
        f"({b.records} records) -> {report.path}"
    )
    click.echo(f"  {' '.join(b.syscalls)}")
