"""The commands that show what was recorded or what a program could do: graph (the store's
workloads and syscalls), inspect (a program read without running it) and report (per workload,
why each call a profile allows is there)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from seccompgen import pipeline
from seccompgen._cli.options import (
    Command,
    check_workload,
    engine_option,
    format_option,
    go_runtime_option,
    no_new_privileges_option,
    output_option,
    profile_option,
    runtime_option,
    store_option,
    workload_option,
)
from seccompgen.report import render_dot as render_report_dot
from seccompgen.report import render_image
from seccompgen.report import render_json as render_report_json
from seccompgen.report import render_text as render_report_text
from seccompgen.store import TraceStore

# --------------------------------------------------------------------------- graph


@click.command(
    cls=Command,
    epilog="""\b
Examples:
  seccompgen graph
  seccompgen graph --workload httpservice --format json
  seccompgen graph --format dot | dot -Tsvg > graph.svg
""",
)
@format_option("text", "json", "dot")
@workload_option("Workload to show (repeatable) [default: all].", multiple=True)
@store_option
def graph(fmt: str, workloads: tuple[str, ...], store: Path | None) -> None:
    """Show the recorded workloads, their syscalls with counts and phases, and what each adds."""
    click.echo(pipeline.graph_view(TraceStore.resolve(store), workloads, fmt), nl=False)


# --------------------------------------------------------------------------- inspect


@click.command(
    cls=Command,
    epilog="""\b
Examples:
  seccompgen inspect ./httpservice              # Go version, build settings, static or not
  seccompgen inspect ./httpservice --against httpservice   # what its Go code could do unseen
  seccompgen inspect ./httpservice --format json
""",
)
@click.argument("binary", type=click.Path(path_type=Path))
@format_option("text", "json")
@click.option(
    "--against",
    metavar="WORKLOAD",
    callback=check_workload,
    help="Compare the syscalls the linked Go code can make with this workload's traces.",
)
@store_option
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


@click.command(
    cls=Command,
    epilog="""\b
Examples:
  seccompgen report -w httpservice
  seccompgen report -w httpservice --binary ./httpservice   # reachable but unobserved calls
  seccompgen report -w httpservice --format svg -o httpservice.svg   # the graph (Graphviz)
  seccompgen report --format html -o report.html   # one self-contained page
""",
)
@workload_option("Workload to report on (repeatable) [default: all].", multiple=True)
@format_option("text", "json", "dot", "svg", "png", "html")
@output_option("Write here instead of standard output (required for svg/png on a terminal).")
@runtime_option("The runtime block emit would merge (see emit --runtime).")
@engine_option("As for emit.")
@no_new_privileges_option("As for emit.")
@go_runtime_option("As for emit.")
@click.option(
    "--binary",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Inspect this program for syscalls its Go code can make that no trace showed.",
)
@profile_option(
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="--format html: compare this profile with Docker's default "
    "[default: what emit would write].",
)
@store_option
def report(
    workloads: tuple[str, ...],
    fmt: str,
    output: Path | None,
    runtime: str,
    engine: str,
    no_new_privileges: bool,
    go_runtime: str,
    binary: Path | None,
    profile: Path | None,
    store: Path | None,
) -> None:
    """Per workload: observed syscalls with counts and phases, the calls seen only at startup
    (candidates a stricter post-start filter could drop), what emit adds for the container
    runtime and the Go runtime and why, and optionally what the binary could do unseen.
    """
    opts = pipeline.ReportOptions(
        store=TraceStore.resolve(store),
        workloads=workloads,
        runtime=runtime,
        no_new_privileges=no_new_privileges,
        go_runtime=go_runtime,
        binary=binary,
        engine=engine,
        profile=profile,
    )
    rep = pipeline.report(opts)
    data: bytes
    if fmt == "text":
        data = render_report_text(rep).encode()
    elif fmt == "json":
        data = render_report_json(rep).encode()
    elif fmt == "dot":
        data = render_report_dot(rep).encode()
    elif fmt == "html":
        data = pipeline.html_report(opts, rep).encode()
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
