"""The command lines the documentation shows, collected from the text itself.

Two sources: README.md's fenced ``sh``/``shell``/``bash``/``console`` blocks, and the example
sections (``Examples:``, ``Typical workflow:``) of every ``seccompgen ... --help`` page. A command
is one logical shell line: a line ending in ``\\`` continues on the next. In ``console`` blocks only
lines after a ``$ `` prompt are commands (the rest is output). Full-line comments are skipped; a
trailing comment stays in the text (the shell ignores it) and is left out of the key.

Importable as ``_doccommands``: pytest puts ``tests/`` on ``sys.path`` for ``tests/conftest.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import click
from click.testing import CliRunner

SHELL_BLOCKS = frozenset({"sh", "shell", "bash", "console"})
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
# A heading in a --help epilog that introduces command lines, e.g. "Examples:".
_HELP_HEADING = re.compile(r"^( *)(?:Examples|Example|Typical workflow)\b.*:\s*$")


@dataclass(frozen=True)
class DocCommand:
    """One documented command line: where it is shown, its text as shown, and its key."""

    source: str  # "README.md:47" or "seccompgen trace --help"
    text: str  # the logical line, continuations joined with "\\\n" as written
    key: str  # the text without a trailing comment, whitespace collapsed

    @classmethod
    def of(cls, source: str, text: str) -> DocCommand:
        return cls(source, text, command_key(text))


def strip_comment(line: str) -> str:
    """``line`` without a trailing shell comment (an unquoted ``#`` at a word start)."""
    quote = ""
    prev = " "
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = ""
            elif c == "\\" and quote == '"':
                prev = c
                continue
        elif c in "'\"":
            quote = c
        elif c == "#" and prev.isspace():
            return line[:i].rstrip()
        prev = c
    return line.rstrip()


def command_key(text: str) -> str:
    """How a command is looked up: continuations joined, comment dropped, spaces collapsed."""
    joined = " ".join(strip_comment(part.rstrip("\\")) for part in text.split("\\\n"))
    return " ".join(strip_comment(joined).split())


def _logical_lines(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """Join ``\\``-continued lines; yields (first line number, text with "\\\\\\n" joins)."""
    start = 0
    parts: list[str] = []
    for number, line in lines:
        if not parts:
            start = number
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            parts.append(stripped)
            continue
        parts.append(stripped)
        yield start, "\n".join(p if i == 0 else p.strip() for i, p in enumerate(parts))
        parts = []
    if parts:
        yield start, "\n".join(p.strip() for p in parts)


def markdown_commands(text: str, name: str) -> list[DocCommand]:
    """Commands in the shell blocks of a Markdown document; sources are ``name:LINE``."""
    found: list[DocCommand] = []
    block: list[tuple[int, str]] | None = None
    lang = ""
    fence = ""
    for number, line in enumerate(text.splitlines(), 1):
        m = _FENCE.match(line)
        if block is None:
            if m:
                fence, lang, block = m.group(2), m.group(3).lower(), []
            continue
        if m and m.group(2).startswith(fence) and not m.group(3):
            if lang in SHELL_BLOCKS:
                found.extend(_block_commands(block, lang, name))
            block = None
            continue
        block.append((number, line))
    if block is not None:
        raise ValueError(f"{name}: a fenced block is not closed")
    return found


def _block_commands(block: list[tuple[int, str]], lang: str, name: str) -> list[DocCommand]:
    if lang == "console":
        lines: list[tuple[int, str]] = []
        inside = False
        for number, line in block:
            if line.startswith("$ "):
                lines.append((number, line[2:]))
                inside = line.rstrip().endswith("\\")
            elif inside:
                lines.append((number, line))
                inside = line.rstrip().endswith("\\")
    else:
        lines = [
            (n, line) for n, line in block if line.strip() and not line.lstrip().startswith("#")
        ]
    return [DocCommand.of(f"{name}:{n}", t.strip()) for n, t in _logical_lines(lines)]


def help_pages(group: click.Group) -> dict[str, str]:
    """``{"seccompgen trace": HELP_TEXT, ...}`` for the group and every subcommand, nested
    groups included, rendered by click as ``--help`` prints them."""
    pages: dict[str, str] = {}
    runner = CliRunner()

    def visit(cmd: click.Command, path: list[str]) -> None:
        result = runner.invoke(group, [*path, "--help"], prog_name="seccompgen")
        if result.exit_code != 0:
            raise RuntimeError(f"seccompgen {' '.join(path)} --help failed: {result.output}")
        pages[" ".join(["seccompgen", *path])] = result.output
        if isinstance(cmd, click.Group):
            for sub in sorted(cmd.list_commands(click.Context(cmd))):
                child = cmd.get_command(click.Context(cmd), sub)
                if child is not None and not child.hidden:
                    visit(child, [*path, sub])

    visit(group, [])
    return pages


def help_commands(page: str, name: str) -> list[DocCommand]:
    """Commands in the example sections of one ``--help`` page: the lines indented under a
    heading such as ``Examples:``, up to the next blank or less indented line."""
    lines: list[tuple[int, str]] = []
    heading_indent: int | None = None
    for number, line in enumerate(page.splitlines(), 1):
        m = _HELP_HEADING.match(line)
        if m:
            heading_indent = len(m.group(1))
            continue
        indent = len(line) - len(line.lstrip())
        if heading_indent is not None and line.strip() and indent > heading_indent:
            lines.append((number, line))
        else:
            heading_indent = None
    return [DocCommand.of(f"{name} --help", t.strip()) for _, t in _logical_lines(lines)]


def collect(readme_text: str, group: click.Group) -> list[DocCommand]:
    """Every documented command: README.md's, then each ``--help`` page's, in order."""
    found = markdown_commands(readme_text, "README.md")
    for name, page in help_pages(group).items():
        found.extend(help_commands(page, name))
    return found
