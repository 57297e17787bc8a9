"""The commands on profiles: emit (write one from the store), validate (check files) and diff
(compare two, or one with Docker's default)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import click

from seccompgen import pipeline
from seccompgen._cli.options import (
    Command,
    arch_option,
    args_option,
    engine_option,
    format_option,
    go_runtime_option,
    kubelet_dir_option,
    no_new_privileges_option,
    output_option,
    runtime_option,
    spo_options,
    store_option,
    workload_option,
)
from seccompgen._cli.render import next_steps, store_flag
from seccompgen.attach.kubernetes import kubernetes_snippet
from seccompgen.attach.spo import GROUP as SPO_GROUP
from seccompgen.errors import ValidationError
from seccompgen.profile.args import ArgPlan
from seccompgen.profile.build import ALWAYS_ALLOWED_REASON, Mode
from seccompgen.profile.translate import Translation
from seccompgen.store import TraceStore


@click.command(
    cls=Command,
    epilog="""\b
Examples:
  seccompgen emit --workload httpservice --mode log   # profiles/httpservice.log.json (staging)
  seccompgen emit --workload httpservice -o build/httpservice.json   # enforce
  seccompgen emit -w httpservice -w batch -o profiles/pod.json       # one profile for both
  seccompgen emit -w httpservice --runtime runc --no-new-privileges  # docker run with NNP
  seccompgen emit -w httpservice --format oci -o build/httpservice.oci.json   # runtime-spec only
  seccompgen emit -w httpservice --format oci --kubelet-dir /var/lib/kubelet/seccomp   # on a node
  seccompgen emit -w httpservice --format spo --binding httpservice:local   # SPO, profiles/*.yaml
  seccompgen emit --format spo --api-version v1beta1 --namespace web --label team=web -o sp.yaml
  seccompgen emit -w httpservice --args auto -o build/httpservice.args.json   # argument rules
  seccompgen emit -w httpservice --arch aarch64 -o build/httpservice.arm64.json   # for arm64
  seccompgen emit -w httpservice --arch x86_64 --arch aarch64 -o build/httpservice.multi.json
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
@format_option(
    *(f.value for f in pipeline.OutputFormat),
    help="docker: the profile JSON for docker run; oci: the runtime-spec seccomp object only "
    "(what a kubelet's Localhost profile holds); spo: a Security Profiles Operator "
    "SeccompProfile per workload, as YAML for kubectl apply.",
)
@output_option(
    "Where to write [default: profiles/NAME.json, or profiles/NAME.log.json for log; "
    "with --format spo profiles/NAME.yaml]."
)
@kubelet_dir_option
@spo_options
@runtime_option(
    "Merge the measured calls this container runtime makes after installing the filter "
    "(./profiles/runtime/, then the bundled ones); auto: the local engine's default "
    "runtime (see --engine), else runc."
)
@engine_option("The engine whose default runtime --runtime auto reads.")
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
@args_option(
    "auto: restrict the arguments of a curated set of syscalls (socket families and types, clone "
    "namespace flags, personality, prctl options, W+X mappings, ioctl requests, fcntl "
    "commands, socket option levels) to the values observed, where the observed set is small "
    "and complete; emit says why each other curated name stays unconditioned. Off by default: "
    "a value a short trace missed on a rare path has no safety net, unlike names; stage "
    "with --mode log --args auto first (it logs calls with unseen values)."
)
@arch_option(
    "Target architecture of the profile (repeatable; libseccomp names: x86_64, aarch64, "
    "...) [default: the traced ones]. Observed names the target has no syscall of are "
    "translated to the call the target's port of the program makes (open -> openat, stat -> "
    "newfstatat, epoll_wait -> epoll_pwait, dup2 -> dup3 on aarch64; the table and its "
    "sources are seccompgen/data/arch-translation.json); a warning names each one with no "
    "counterpart, which is left out.",
    multiple=True,
)
@store_option
@click.pass_context
def emit(
    ctx: click.Context,
    workloads: tuple[str, ...],
    mode: str,
    fmt: str,
    output: Path | None,
    kubelet_dir: Path | None,
    api_version: str,
    namespace: str | None,
    labels: tuple[tuple[str, str], ...],
    bindings: tuple[tuple[str | None, str], ...],
    runtime: str,
    engine: str,
    no_new_privileges: bool,
    go_runtime: str,
    no_go_runtime: bool,
    args_mode: str,
    arches: tuple[str, ...],
    store: Path | None,
) -> None:
    """Write a seccomp profile allowing every syscall the chosen workloads were seen to make.

    The calls the container runtime itself makes after loading the filter (measured by
    `seccompgen runtime-baseline`) are added, so the container can start; so are the calls the
    Go runtime makes on rare paths a short trace misses (--go-runtime).

    With --args auto, socket, clone, personality, prctl, mmap, mprotect, ioctl, fcntl,
    setsockopt and getsockopt are allowed only with the argument values observed (one rule per
    value), where that set is small and complete; one line per name says how, or why not.

    With --format spo each workload gets its own SeccompProfile, named after it, all in one
    YAML stream; --binding adds ProfileBindings. With --kubelet-dir the profile is installed
    where the kubelet finds Localhost profiles.
    """
    output_format = pipeline.OutputFormat(fmt)
    _check_emit_flags(ctx, output_format, output, kubelet_dir)
    opts = pipeline.EmitOptions(
        store=TraceStore.resolve(store),
        workloads=workloads,
        mode=Mode(mode),
        output=output,
        runtime=runtime,
        no_new_privileges=no_new_privileges,
        go_runtime="off" if no_go_runtime else go_runtime,
        fmt=output_format,
        kubelet_dir=kubelet_dir,
        args=args_mode,
        arches=arches,
        engine=engine,
    )
    if output_format is pipeline.OutputFormat.SPO:
        spo = pipeline.SpoOptions(
            version=api_version, namespace=namespace, labels=labels, bindings=bindings
        )
        _render_spo(pipeline.emit_spo(opts, spo), store)
    else:
        _render_profile(pipeline.emit(opts), store)


_SPO_ONLY = {
    "api_version": "--api-version",
    "namespace": "--namespace",
    "labels": "--label",
    "bindings": "--binding",
}


def _check_emit_flags(
    ctx: click.Context, fmt: pipeline.OutputFormat, output: Path | None, kubelet_dir: Path | None
) -> None:
    """Flags that do not go together are usage errors (exit 2)."""
    if fmt is not pipeline.OutputFormat.SPO:
        given = [
            flag
            for name, flag in _SPO_ONLY.items()
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
        ]
        if given:
            raise click.UsageError(
                f"{', '.join(given)}: only with --format spo (SPO resources); add --format spo, "
                f"or leave {'it' if len(given) == 1 else 'them'} out for --format {fmt.value}"
            )
    if kubelet_dir is not None:
        if fmt is pipeline.OutputFormat.SPO:
            raise click.UsageError(
                "--kubelet-dir installs a profile file on this node; SPO resources go to the "
                "cluster (kubectl apply) and the operator installs them: use --format oci (or "
                "docker) with --kubelet-dir, or -o FILE with --format spo"
            )
        if output is not None:
            raise click.UsageError(
                "give -o FILE or --kubelet-dir DIR, not both (--kubelet-dir writes "
                "DIR/seccompgen/NAME.json)"
            )


def _render_additions(unknown: tuple[tuple[str, str], ...]) -> None:
    for name, why in unknown:
        click.echo(f"warning: left out {name}: {why}", err=True)


def _render_translations(translations: Sequence[Translation]) -> None:
    """One line per target with the names translated; a warning per name left out."""
    for t in translations:
        if t.mapped:
            click.echo(
                f"{t.target}: translated "
                + ", ".join(f"{name} -> {' '.join(to)}" for name, to in t.mapped)
            )
        for name, why in t.missing:
            click.echo(
                f"warning: {name} has no counterpart on {t.target}, left out: {why}", err=True
            )


def _render_profile(summary: pipeline.EmitSummary, store: Path | None) -> None:
    _render_additions(summary.unknown)
    _render_translations(summary.translations)
    if summary.record_problem:
        click.echo(
            f"warning: the store did not record which workloads this profile came from: "
            f"{summary.record_problem}",
            err=True,
        )
    kind = "enforce" if summary.mode is Mode.ENFORCE else "staging (log)"
    form = "" if summary.fmt is pipeline.OutputFormat.DOCKER else f" ({summary.fmt.value} form)"
    click.echo(
        f"wrote {kind} profile{form} {summary.path}: {len(summary.allowed)} syscalls allowed, "
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
    _render_args(summary.args)
    if summary.enosys:
        click.echo(
            f"{len(summary.enosys)} unobserved syscalls that programs probe and fall back from "
            f"answer ENOSYS instead of EPERM: {', '.join(summary.enosys)}"
        )
    k = summary.kubernetes
    if summary.kubelet_dir is not None:
        click.echo(f"installed for the kubelet: localhostProfile {k.localhost_profile}; use it:")
    else:
        click.echo("attach it in Docker:")
        click.echo(f"  {summary.docker}")
        click.echo(f"attach it in Kubernetes: copy it to {k.node_path} on each node, then:")
    for line in k.yaml.rstrip("\n").splitlines():
        click.echo(f"  {line}")
    if summary.mode is Mode.LOG:
        names = " ".join(f"-w {w}" for w in summary.workloads)
        next_steps(f"seccompgen emit {names} --mode enforce{store_flag(store)}")
    else:
        next_steps(f"seccompgen validate {shlex.quote(str(summary.path))}")


def _render_args(plan: ArgPlan | None) -> None:
    if plan is None:
        return
    for name, words in plan.conditioned:
        click.echo(f"arguments: {name}: {words}")
    for name in plan.enosys_instead:
        click.echo(
            f"arguments: {name}: not allowed (ENOSYS in an enforcing profile), so callers fall "
            "back to the conditioned call, whose arguments seccomp can read"
        )
    for name, why in plan.unconditioned:
        click.echo(f"arguments: {name}: unconditioned: {why}")


def _render_spo(summary: pipeline.SpoEmitSummary, store: Path | None) -> None:
    for p in summary.profiles:
        _render_additions(p.built.unknown)
        _render_translations(p.built.translations)
    bound = sum(len(p.bindings) for p in summary.profiles)
    kind = "enforce" if summary.mode is Mode.ENFORCE else "staging (log)"
    click.echo(
        f"wrote {len(summary.profiles)} SeccompProfile(s) and {bound} ProfileBinding(s) "
        f"({kind}, {SPO_GROUP}/{summary.version}) to {summary.path}"
    )
    if summary.runtime is not None:
        click.echo(f"runtime: {summary.runtime.note}")
    for p in summary.profiles:
        b = p.built
        added = [
            f"{len(names)} {why}"
            for names, why in (
                (b.runtime_names, "for the runtime"),
                (b.go_runtime_names, "for the Go runtime"),
                (b.result.always, "always allowed"),
            )
            if names
        ]
        click.echo(
            f"  SeccompProfile {p.name} (workload {p.workload}): {len(b.allowed)} syscalls "
            f"allowed{' (' + ', '.join(added) + ', not observed)' if added else ''}, default "
            f"{b.result.profile.default_action.value}; localhostProfile {p.localhost_profile}"
        )
        if b.args is not None:
            for name, words in b.args.conditioned:
                click.echo(f"    arguments: {name}: {words}")
        for name, image in p.bindings:
            click.echo(f"    ProfileBinding {name}: image {image}")
    if summary.version != "v1":
        click.echo(
            f"note: SPO up to v0.8 installs {summary.version} profiles per namespace, as above "
            f"(namespace {summary.namespace or 'default'}); SPO v0.9 and v0.10 install them "
            "cluster-wide as operator/NAME.json"
        )
    elif summary.namespace and not bound:
        click.echo(
            "note: a v1 SeccompProfile is cluster-wide: --namespace applies to ProfileBindings only"
        )
    if bound:
        ns = summary.namespace or "NAMESPACE"
        click.echo(
            f"note: SPO applies ProfileBindings only in namespaces labelled for it: "
            f"kubectl label ns {ns} spo.x-k8s.io/enable-binding="
        )
    first = summary.profiles[0]
    others = " (the others likewise, each with its own)" if len(summary.profiles) > 1 else ""
    click.echo(
        f"attach it in Kubernetes once `kubectl get sp {first.name}` shows Installed{others}:"
    )
    snippet = kubernetes_snippet(
        Path(PurePosixPath(first.localhost_profile).name),
        subdir=str(PurePosixPath(first.localhost_profile).parent),
    )
    for line in snippet.yaml.rstrip("\n").splitlines():
        click.echo(f"  {line}")
    steps = [f"kubectl apply -f {shlex.quote(str(summary.path))}"]
    if summary.mode is Mode.LOG:
        names = " ".join(f"-w {p.workload}" for p in summary.profiles)
        steps.append(f"seccompgen emit {names} --format spo --mode enforce{store_flag(store)}")
    next_steps(*steps)


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
    the default action (runtimes skip them), profiles that allow everything, conditions on
    the same argument index (runtimes OR them), SCMP_CMP_MASKED_EQ conditions that match no call
    or every call, and conditions made void by an unconditional rule for the same name. Exit
    status 1 when any profile has a problem.
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
    for ref, words in ((a, d.a_args), (b, d.b_args)):
        for name, condition in words:
            click.echo(f"argument rule in {ref}: {name}: {condition}")
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
