"""The extractor of documented command lines (tests/_doccommands.py), on small documents."""

from __future__ import annotations

import click
import pytest
from _doccommands import command_key, help_commands, help_pages, markdown_commands, strip_comment

DOC = """\
# Title

```sh
seccompgen trace ./app \\
    --exercise './load.sh -n 1'   # a comment
# a whole-line comment

seccompgen emit -w app
```

```text
seccompgen not-a-command
```

```console
$ seccompgen graph
workloads: app
$ seccompgen diff a.json \\
    b.json
only in b.json (+1): read
```

```yaml
seccompProfile: {}
```
"""


def test_shell_and_console_blocks_only_with_continuations_and_prompts() -> None:
    found = markdown_commands(DOC, "DOC.md")
    assert [(c.source, c.key) for c in found] == [
        ("DOC.md:4", "seccompgen trace ./app --exercise './load.sh -n 1'"),
        ("DOC.md:8", "seccompgen emit -w app"),
        ("DOC.md:16", "seccompgen graph"),
        ("DOC.md:18", "seccompgen diff a.json b.json"),
    ]
    # The text is the logical line as written, for the shell: continuation and comment kept.
    assert found[0].text == ("seccompgen trace ./app \\\n--exercise './load.sh -n 1'   # a comment")


def test_an_unclosed_fence_is_an_error() -> None:
    with pytest.raises(ValueError, match="not closed"):
        markdown_commands("```sh\nls\n", "DOC.md")


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("ls   # list", "ls"),
        ("echo '# not a comment' x", "echo '# not a comment' x"),
        ('echo "a # b" # c', 'echo "a # b"'),
        ("echo a#b", "echo a#b"),
        ("# all comment", ""),
    ],
)
def test_strip_comment(line: str, kept: str) -> None:
    assert strip_comment(line) == kept


def test_key_collapses_spaces_and_joins_continuations() -> None:
    assert command_key("a  b \\\n    c   # why") == "a b c"


@click.group(epilog="\b\nTypical workflow (of a group):\n  tool one\n  tool two # x\n")
def tool() -> None:
    """A tool."""


@tool.command(epilog="\b\nExamples:\n  tool one --flag \\\n      value\n  tool one\n")
def one() -> None:
    """First."""


@tool.command()
def two() -> None:
    """Second, without examples."""


def test_help_pages_and_their_examples() -> None:
    pages = help_pages(tool)
    assert list(pages) == ["seccompgen", "seccompgen one", "seccompgen two"]
    assert [c.key for c in help_commands(pages["seccompgen"], "seccompgen")] == [
        "tool one",
        "tool two",
    ]
    one_cmds = help_commands(pages["seccompgen one"], "seccompgen one")
    assert [c.key for c in one_cmds] == ["tool one --flag value", "tool one"]
    assert {c.source for c in one_cmds} == {"seccompgen one --help"}
    assert help_commands(pages["seccompgen two"], "seccompgen two") == []
