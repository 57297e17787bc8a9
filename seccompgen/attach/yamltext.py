"""Where things are in YAML text, and line edits that leave every other byte as it was.

ruamel.yaml's composer (round-trip mode) gives each node its start and end mark (line, column);
:func:`compose_all` returns the documents' nodes, :func:`last_line` the last line a node's own
text is on, and :func:`apply` splices whole lines into the text. Lines are split exactly where
ruamel.yaml's reader counts a line break, so a mark's line number indexes :func:`split_lines`,
and each line keeps its own ending (CRLF files stay CRLF).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from seccompgen.errors import ManifestError

# ruamel.yaml's Reader.forward counts these as line breaks ("\r\n" once).
_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


def split_lines(text: str) -> list[str]:
    """``text`` as lines, each with its line ending; joining them gives ``text`` back."""
    lines: list[str] = []
    pos = 0
    for m in _BREAK.finditer(text):
        lines.append(text[pos : m.end()])
        pos = m.end()
    if pos < len(text):
        lines.append(text[pos:])
    return lines


def line_ending(line: str, default: str = "\n") -> str:
    """The line break ``line`` ends with, or ``default`` for a last line without one."""
    m = _BREAK.search(line)
    return m.group(0) if m else default


def compose_all(text: str, *, source: str) -> list[Node | None]:
    """The node tree of every document (None for an empty one), with positions."""
    try:
        return list(YAML(typ="rt").compose_all(text))
    except YAMLError as e:  # load_all has already reported bad YAML with its document index
        raise ManifestError(f"{source}: not valid YAML: {e}") from e


def is_block_mapping(node: Node | None) -> bool:
    """A mapping written one key per line (not ``{...}``)."""
    return isinstance(node, MappingNode) and not node.flow_style


def get(node: Node | None, key: str) -> tuple[ScalarNode, Node] | None:
    """The key node and value node of ``key`` in a mapping node, or None."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == key:
                return k, v
    return None


def items(node: Node | None) -> list[Node]:
    """The item nodes of a sequence node (empty for anything else)."""
    return list(node.value) if isinstance(node, SequenceNode) else []


def key_column(node: MappingNode) -> int:
    """The column a block mapping's keys start at."""
    return int(node.value[0][0].start_mark.column)


@dataclass(frozen=True, slots=True)
class End:
    """Where a node's own text ends: its last line, and the column after it on that line
    (None when the node's text runs to the end of that line, as a block scalar's does)."""

    line: int
    column: int | None


def last_line(lines: Sequence[str], node: Node, floor: int) -> End:
    """The end of ``node``'s text. ``floor`` is the line of the key or dash that owns it: an
    empty value has no text of its own and ends there."""
    if isinstance(node, MappingNode) and not node.flow_style and node.value:
        key, value = node.value[-1]
        return last_line(lines, value, int(key.end_mark.line))
    if isinstance(node, SequenceNode) and not node.flow_style and node.value:
        item = node.value[-1]
        return last_line(lines, item, int(item.start_mark.line))
    if node.start_mark.index == node.end_mark.index:
        return End(floor, None)
    line, column = int(node.end_mark.line), int(node.end_mark.column)
    if line >= len(lines) or not lines[line][:column].strip():
        # A block scalar's end mark is past the line breaks and blank lines that follow it.
        line = min(line, len(lines)) - 1
        while line > floor and not lines[line].strip():
            line -= 1
        return End(line, None)
    return End(line, column)


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``lines[first:stop]`` with ``new`` (``first == stop`` inserts before ``first``)."""

    first: int
    stop: int
    new: tuple[str, ...]


def apply(lines: Sequence[str], edits: Iterable[Edit]) -> str:
    """The text with every edit made; edits must not overlap."""
    out = list(lines)
    ordered = sorted(edits, key=lambda e: (e.first, e.stop), reverse=True)
    for before, after in zip(ordered[1:], ordered, strict=False):
        if before.stop > after.first:
            raise ValueError(f"overlapping edits: {before} and {after}")
    for edit in ordered:
        out[edit.first : edit.stop] = edit.new
    return "".join(out)
