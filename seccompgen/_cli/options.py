"""The options and arguments more than one command takes, each defined once.

A decorator when every command words it the same (``--store``, ``--image``, TARGET/ARGS,
``--grace``/``--ready-delay``); a factory taking the help text when a command words it for its
own use (``--workload``, ``--exercise``, ``--duration``, ...). Either way the name, type,
default, callback and metavar live here only.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from seccompgen import syscalls
from seccompgen.attach.spo import SECCOMP_PROFILE
from seccompgen.attach.spo import VERSIONS as SPO_VERSIONS
from seccompgen.attach.spo_emit import parse_binding, parse_label, parse_namespace
from seccompgen.errors import SeccompgenError
from seccompgen.profile.args import ARGS_CHOICES
from seccompgen.runtime import CHOICES as RUNTIME_CHOICES
from seccompgen.store import ENV_VAR, check_workload_name

F = TypeVar("F", bound=Callable[..., Any])

_AFTER_DASHDASH = "seccompgen.after_dashdash"


class Command(click.Command):
    """A command that remembers how many arguments followed `--` (see :func:`resolve_target`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # click drops the `--` while parsing; count what followed it first. (A literal `--` given
        # as an option's value would be miscounted; no option here takes one.)
        if "--" in args:
            ctx.meta[_AFTER_DASHDASH] = len(args) - args.index("--") - 1
        return super().parse_args(ctx, args)


def check_workload(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Callback of every option naming a workload: a bad name is a usage error (exit 2)."""
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        if v is None:
            continue
        problem = check_workload_name(v)
        if problem:
            raise click.BadParameter(problem)
    return value


# --------------------------------------------------------------------------- the store, workloads


def store_option(f: F) -> F:
    """--store DIR, the trace store every command reading or writing traces uses."""
    return click.option(
        "--store",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=f"Trace store directory [default: ${ENV_VAR}, else ./traces].",
    )(f)


def workload_option(
    help: str, *, multiple: bool = False, required: bool = False
) -> Callable[[F], F]:
    """-w/--workload: one workload name (``workload``), or with ``multiple`` several
    (``workloads``, repeatable)."""
    names = ("--workload", "-w", "workloads") if multiple else ("--workload", "-w")
    return click.option(
        *names, multiple=multiple, required=required, callback=check_workload, help=help
    )


# --------------------------------------------------------------------------- what runs


def target_arguments(f: F) -> F:
    """[TARGET] [ARGS]...: a program and its arguments, or with --image the image's new CMD.

    Shared by every command that runs a target; :func:`resolve_target` applies the rule to the
    values.
    """
    f = click.argument("args", nargs=-1, type=click.UNPROCESSED)(f)
    return click.argument("target", required=False)(f)


def image_option(f: F) -> F:
    """--image IMAGE[:TAG], a local application image to run instead of TARGET."""
    return click.option(
        "--image",
        metavar="IMAGE[:TAG]",
        help="Run this local application image with its ENTRYPOINT/CMD/env/workdir/user; "
        "arguments after `--` replace its CMD. Nothing is pulled.",
    )(f)


def resolve_target(
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


def container_option(help: str, *, names: bool = False) -> Callable[[F], F]:
    """--container: trace's flag (run TARGET in the tracer image), or with ``names`` a container
    name, repeatable (``containers``: k8s attach's containers of a pod spec)."""
    extra: dict[str, Any] = {"multiple": True, "metavar": "NAME"} if names else {"is_flag": True}
    return click.option("--container", "containers" if names else "container", help=help, **extra)


def exercise_option(help: str) -> Callable[[F], F]:
    """--exercise CMD, a shell command run while the target runs."""
    return click.option("--exercise", metavar="CMD", help=help)


def network_option(help: str, *, default: str | None = "none") -> Callable[[F], F]:
    """--network none|host. ``default=None`` lets a command tell "not given" from "none" (trace
    refuses the option without a container); its help then names the default itself."""
    return click.option(
        "--network",
        type=click.Choice(["none", "host"]),
        default=default,
        show_default=True if default is not None else None,
        help=help,
    )


def engine_option(help: str, *, default: str | None = "docker") -> Callable[[F], F]:
    """--engine docker|podman: the container engine, through its Docker-compatible API
    (:mod:`seccompgen.containers.podman`). ``default=None`` lets a command tell "not given"."""
    return click.option(
        "--engine",
        type=click.Choice(["docker", "podman"]),
        default=default,
        show_default=True if default is not None else None,
        help=help,
    )


def duration_option(help: str) -> Callable[[F], F]:
    """--duration SECONDS a service is kept running after the exercise."""
    return click.option("--duration", type=click.FloatRange(min=0), help=help)


def timeout_option(help: str, *, default: float | None = None) -> Callable[[F], F]:
    """--timeout SECONDS, a hard limit on a run."""
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=default,
        show_default=True if default is not None else None,
        help=help,
    )


def shutdown_options(f: F) -> F:
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


def volume_option(where: str) -> Callable[[F], F]:
    """-V/--volume, shared by trace and verify (one form, parsed by one parse_volume)."""
    return click.option(
        "--volume",
        "-V",
        "volumes",
        multiple=True,
        metavar="HOST:CONTAINER[:ro|rw]",
        help=f"Bind mount {where}, e.g. a batch job's input and output directory.",
    )


def no_new_privileges_option(help: str) -> Callable[[F], F]:
    """--no-new-privileges, the container's (or the measured or emitted profile's) setting."""
    return click.option("--no-new-privileges", is_flag=True, help=help)


# --------------------------------------------------------------------------- what a profile adds


def runtime_option(
    help: str, *, choices: Sequence[str] | None = RUNTIME_CHOICES, default: str | None = "auto"
) -> Callable[[F], F]:
    """--runtime: the container runtime block a profile gets (emit, report: ``auto`` picks the
    engine's), or with other ``choices`` and no default, the runtime runtime-baseline measures;
    with no ``choices``, any runtime NAME configured in the engine (verify runs under it)."""
    return click.option(
        "--runtime",
        type=click.Choice(list(choices)) if choices is not None else str,
        metavar=None if choices is not None else "NAME",
        default=default,
        show_default=default is not None,
        help=help,
    )


def go_runtime_option(help: str) -> Callable[[F], F]:
    """--go-runtime auto|on|off: whether the Go runtime's rare-path calls are added."""
    return click.option(
        "--go-runtime",
        type=click.Choice(["auto", "on", "off"]),
        default="auto",
        show_default=True,
        help=help,
    )


def arch_option(help: str, *, multiple: bool = False) -> Callable[[F], F]:
    """--arch ARCH: a libseccomp architecture name (``arch``), or with ``multiple`` several
    (``arches``, repeatable)."""
    names = ("--arch", "arches") if multiple else ("--arch",)
    return click.option(
        *names,
        multiple=multiple,
        type=click.Choice(sorted(syscalls.ARCHES)),
        metavar="ARCH",
        help=help,
    )


def args_option(help: str) -> Callable[[F], F]:
    """--args auto|off: whether argument conditions are derived from the observed values."""
    return click.option(
        "--args",
        "args_mode",
        type=click.Choice(list(ARGS_CHOICES)),
        default="off",
        show_default=True,
        help=help,
    )


# --------------------------------------------------------------------------- output


def format_option(*choices: str, help: str | None = None) -> Callable[[F], F]:
    """--format, the first of ``choices`` the default."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=choices[0],
        show_default=True,
        help=help,
    )


def profile_option(help: str, **kwargs: Any) -> Callable[[F], F]:
    """--profile: which profile (a file for report, a kubelet name for k8s attach); ``kwargs``
    go to :func:`click.option` (type, required, metavar, callback)."""
    return click.option("--profile", help=help, **kwargs)


def output_option(help: str) -> Callable[[F], F]:
    """-o/--output FILE."""
    return click.option(
        "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help=help
    )


# --------------------------------------------------------------------------- Kubernetes output


def _parsed(parse: Callable[[str], Any]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A callback applying ``parse`` to the value (to each, for a repeatable option; None stays
    None); its error becomes a usage error (exit 2)."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        try:
            if isinstance(value, tuple):
                return tuple(parse(v) for v in value)
            return None if value is None else parse(value)
        except SeccompgenError as e:
            raise click.BadParameter(e.message) from e

    return callback


def spo_options(f: F) -> F:
    """--api-version, --namespace, --label, --binding: the resources of ``--format spo``."""
    f = click.option(
        "--binding",
        "bindings",
        multiple=True,
        metavar="[WORKLOAD=]IMAGE",
        callback=_parsed(parse_binding),
        help="With --format spo: also a ProfileBinding giving containers of IMAGE the "
        "workload's profile ('*': every container in the namespace); repeatable.",
    )(f)
    f = click.option(
        "--label",
        "labels",
        multiple=True,
        metavar="KEY=VALUE",
        callback=_parsed(parse_label),
        help="With --format spo: a label on every resource; repeatable.",
    )(f)
    f = click.option(
        "--namespace",
        "-n",
        metavar="NS",
        callback=_parsed(parse_namespace),
        help="With --format spo: the namespace of the ProfileBindings (and of v1beta1 "
        "SeccompProfiles; v1 ones are cluster-wide).",
    )(f)
    return click.option(
        "--api-version",
        type=click.Choice(list(SPO_VERSIONS[SECCOMP_PROFILE])),
        default=SPO_VERSIONS[SECCOMP_PROFILE][0],
        show_default=True,
        help="With --format spo: the SeccompProfile version (v1: SPO 1.0 and later; v1beta1: "
        "older releases).",
    )(f)


def kubelet_dir_option(f: F) -> F:
    """--kubelet-dir DIR, a kubelet's seccomp directory to install a profile into."""
    return click.option(
        "--kubelet-dir",
        type=click.Path(file_okay=False, path_type=Path),
        metavar="DIR",
        help="Install the profile into this kubelet seccomp directory (on a node: "
        "/var/lib/kubelet/seccomp) as seccompgen/NAME.json, atomically, instead of -o.",
    )(f)
