"""The ``k8s`` command group: Kubernetes manifests. ``k8s attach`` adds a Localhost seccomp
profile to a manifest's workloads."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import click

from seccompgen import pipeline
from seccompgen._cli.options import Command, container_option, output_option, profile_option
from seccompgen.attach import podman as podman_kube
from seccompgen.attach.kubernetes import KUBELET_SECCOMP_DIR, localhost_profile_for
from seccompgen.attach.manifest import Outcome
from seccompgen.errors import ProfileError

_EXAMPLES = """\b
Examples:
  seccompgen k8s attach deployment.yaml --profile httpservice > patched.yaml   # pod-wide
  seccompgen k8s attach deployment.yaml --profile httpservice --container app -o patched.yaml
  seccompgen k8s attach deployment.yaml --profile operator/httpservice.json --in-place --force
  seccompgen k8s attach deployment.yaml --profile httpservice --podman -o pod.yaml
"""


def _check_profile(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A profile path the API server would refuse is a usage error (exit 2)."""
    try:
        localhost_profile_for(value)
    except ProfileError as e:
        raise click.BadParameter(e.message) from e
    return value


@click.group(epilog=_EXAMPLES)
def k8s() -> None:
    """Kubernetes manifests: attach a generated profile to their workloads."""


@k8s.command(cls=Command, epilog=_EXAMPLES)
@click.argument("manifest", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@profile_option(
    required=True,
    metavar="NAME",
    callback=_check_profile,
    help="The profile, relative to the kubelet's seccomp directory (/var/lib/kubelet/seccomp): "
    "a path such as operator/httpservice.json, or a bare name: httpservice means "
    "seccompgen/httpservice.json, where `seccompgen emit` says to copy it. No absolute "
    "path, no '..' (the API server refuses them).",
)
@container_option(
    "Attach to this container's securityContext (repeatable; containers and initContainers) "
    "[default: the pod spec's, for every container].",
    names=True,
)
@output_option("Write the patched manifest here [default: stdout].")
@click.option(
    "--in-place",
    is_flag=True,
    help="Replace MANIFEST with the patched manifest (atomically, keeping its file mode).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace a seccompProfile already set (RuntimeDefault, Unconfined, another Localhost).",
)
@click.option(
    "--podman",
    is_flag=True,
    help="Also write the annotations `podman kube play` reads (it ignores "
    "securityContext.seccompProfile; Kubernetes ignores the annotations since 1.27).",
)
def attach(
    manifest: Path,
    profile: str,
    containers: tuple[str, ...],
    output: Path | None,
    in_place: bool,
    force: bool,
    podman: bool,
) -> None:
    """Add a Localhost seccomp profile to the workloads of a Kubernetes manifest.

    Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, PodTemplate,
    Job and CronJob objects get securityContext.seccompProfile (type Localhost); other objects
    pass through. MANIFEST may be - (standard input). Only the new lines are added: comments,
    key order, line endings and every other byte stay as they were. The result is checked
    against the Kubernetes v1.32.2 schemas before anything is written. What changed goes to
    stderr.

    podman kube play applies a Localhost profile only from the annotations --podman adds, and
    looks for the file itself (not a path below it) in its --seccomp-profile-root.
    """
    if in_place and output is not None:
        raise click.UsageError("give -o/--output FILE or --in-place, not both")
    stdin = str(manifest) == "-"
    if stdin and in_place:
        raise click.UsageError("--in-place needs a MANIFEST file, not - (standard input)")
    data = sys.stdin.buffer.read() if stdin else None
    report = pipeline.k8s_attach(
        pipeline.AttachOptions(
            manifest=manifest,
            profile=profile,
            containers=containers,
            output=output,
            in_place=in_place,
            force=force,
            podman=podman,
            data=data,
        )
    )
    result = report.result
    for change in result.changes:
        click.echo(change.describe(), err=True)
    if not in_place and output is None:
        # As bytes: the text is written exactly as patched (CRLF kept, nothing stripped).
        sys.stdout.flush()
        sys.stdout.buffer.write(result.text.encode("utf-8"))
        sys.stdout.buffer.flush()
    if not result.changes:
        click.echo(f"no Kubernetes objects in {manifest}", err=True)
        return
    if not result.changed:
        click.echo(f"nothing to change in {manifest}", err=True)
        return
    if report.written is not None:
        click.echo(f"wrote {report.written}", err=True)
        apply = f"kubectl apply -f {shlex.quote(str(report.written))}"
    else:
        apply = "kubectl apply -f -   # with the manifest above piped in"
    skipped = any(c.outcome is Outcome.SKIPPED for c in result.changes)
    click.echo("next:", err=True)
    click.echo(
        f"  put the profile at {report.node_path} on every node (or install it with the "
        "Security Profiles Operator); a pod whose profile is missing fails to start",
        err=True,
    )
    click.echo(f"  {apply}", err=True)
    if podman:
        target = shlex.quote(str(report.written)) if report.written is not None else "FILE"
        root = podman_kube.profile_root(str(KUBELET_SECCOMP_DIR), report.localhost_profile)
        click.echo(f"  podman kube play --seccomp-profile-root {root} {target}", err=True)
    if skipped:
        click.echo("  (skipped objects were left as they were)", err=True)
