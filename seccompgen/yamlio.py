"""YAML in and out, through ruamel.yaml only (the one module that imports it for plain data).

Reading is safe loading (no Python object tags), every document of a ``---`` stream, each
error naming the file, the document index (0-based, as ``kubectl`` counts) and the line.
Writing is deterministic: block style, keys in the order given, two-space indent with sequence
dashes indented under their key (``kubectl get -o yaml`` layout), a ``---`` line between
documents, a trailing newline.

Comment-keeping round trips of user manifests live in :mod:`seccompgen.attach.manifest`, which
edits the text itself so that every byte outside the inserted lines stays as it was.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from seccompgen.errors import ManifestError


def _safe() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    return yaml


def load_all(text: str, *, source: str) -> list[object]:
    """Every document of ``text`` as plain data (dict, list, str, int, float, bool, None).

    An empty document (a stray ``---``) is kept as ``None`` so document indexes match the file.
    Bad YAML raises :class:`ManifestError` naming ``source``, the document index and the line.
    """
    docs: list[object] = []
    try:
        for doc in _safe().load_all(text):
            docs.append(doc)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        what = (e.problem or e.context or "bad YAML").strip()
        raise ManifestError(
            f"{source}{line}: document {len(docs)}: not valid YAML: {what}",
            hint="fix the YAML at that line (`kubectl apply --dry-run=client -f FILE` shows the "
            "same error)",
        ) from e
    except YAMLError as e:
        raise ManifestError(f"{source}: document {len(docs)}: not valid YAML: {e}") from e
    except RecursionError as e:
        raise ManifestError(f"{source}: document {len(docs)}: nested too deeply") from e
    return docs


def read_all(path: Path) -> list[object]:
    """:func:`load_all` of a file; a missing or unreadable file raises :class:`ManifestError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ManifestError(f"{path}: no such file", hint="check the path") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(f"{path}: cannot read: {e}") from e
    return load_all(text, source=str(path))


def dump_all(docs: Sequence[object]) -> str:
    """The documents as one YAML stream: ``---`` between documents, trailing newline."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # never fold long strings: golden files stay line-stable
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]  # keep key order
    out = io.StringIO()
    for i, doc in enumerate(docs):
        if i:
            out.write("---\n")
        yaml.dump(doc, out)
    return out.getvalue()
