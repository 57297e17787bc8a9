"""The command line. click only: parse options, build an options dataclass, call the pipeline,
render the result. Errors from the core are translated here, once (exit 1; traceback with -v).

The group and that translation live here; the commands in :mod:`seccompgen._cli.trace` (trace,
import, learn), :mod:`seccompgen._cli.profile` (emit, validate, diff),
:mod:`seccompgen._cli.report` (graph, inspect, report), :mod:`seccompgen._cli.verify`
(verify, runtime-baseline) and :mod:`seccompgen._cli.k8s` (the k8s group: attach); the options
more than one of them takes in :mod:`seccompgen._cli.options`, each defined once.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from seccompgen import __version__
from seccompgen._cli import k8s, profile, report, trace, verify
from seccompgen._cli.options import Command
from seccompgen._cli.render import EXIT_INTERRUPTED
from seccompgen.errors import SeccompgenError

__all__ = ["cli", "main"]


class _Group(click.Group):
    """Translates core errors into one clear message and exit status 1."""

    command_class = Command

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
    profiles (emit), check profiles (validate, diff), attach them to Kubernetes manifests (k8s).
    """
    ctx.meta["seccompgen.verbose"] = verbose


for _command in (
    trace.trace,
    trace.import_,
    profile.emit,
    profile.validate,
    report.graph,
    profile.diff,
    report.inspect,
    report.report,
    trace.learn,
    verify.verify,
    verify.runtime_baseline,
    k8s.k8s,
):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the CLI; ``argv`` defaults to ``sys.argv[1:]``. Exits with the command's status."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    cli.main(args=list(argv) if argv is not None else None, prog_name="seccompgen")
    sys.exit(0)
