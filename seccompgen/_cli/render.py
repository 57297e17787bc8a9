"""What several commands print the same way: the commands to run next, and the exit status of an
interrupted run."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

EXIT_INTERRUPTED = 130


def store_flag(store: Path | None) -> str:
    """``--store DIR`` for a suggested command when the store is not the default one."""
    return f" --store {shlex.quote(str(store))}" if store else ""


def next_steps(*commands: str) -> None:
    """Print the commands to run next."""
    click.echo("next:")
    for c in commands:
        click.echo(f"  {c}")
