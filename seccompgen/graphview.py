"""Human and scripting views of a :class:`~seccompgen.graph.SyscallGraph`.

:func:`render_text` is what ``seccompgen graph --format text`` prints; :func:`render_json` is a
summary for scripts (``--format json``). Neither is the persistence format -- that is
:meth:`SyscallGraph.to_json`. Both are deterministic: workloads and syscalls are sorted and the
phases are listed in their lifecycle order (startup, exercise, shutdown).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from seccompgen.events import Phase
from seccompgen.graph import SyscallGraph, SyscallUsage

__all__ = ["SUMMARY_FORMAT", "render_json", "render_text"]

SUMMARY_FORMAT = "seccompgen.graph-summary"
"""The ``format`` field of :func:`render_json` output (``version`` 1)."""

_WIDTH = 100  # wrap name lists to fit a wide terminal without horizontal scrolling
_PHASES = sorted(Phase, key=lambda p: p.order)


@dataclass(frozen=True)
class _Summary:
    workloads: list[str]
    usage: dict[str, dict[str, SyscallUsage]]
    adds: dict[str, list[str]]  # syscalls only this workload uses, among the selected ones
    first_seen: dict[Phase, list[str]]  # earliest phase of each syscall across the selection


def _summarize(graph: SyscallGraph, workloads: Sequence[str] | None) -> _Summary:
    chosen = graph.workloads() if workloads is None else sorted(set(workloads))
    usage = {w: graph.usage(w) for w in chosen}  # StoreError names an unknown workload
    users: dict[str, set[str]] = {}
    earliest: dict[str, Phase] = {}
    for w, calls in usage.items():
        for name, u in calls.items():
            users.setdefault(name, set()).add(w)
            seen = earliest.get(name)
            # An imported-only usage (import --spo) has no phase: it is in no phase list.
            if u.first_phase is not None and (seen is None or u.first_phase.order < seen.order):
                earliest[name] = u.first_phase
    adds = {w: sorted(n for n in calls if users[n] == {w}) for w, calls in usage.items()}
    first_seen = {p: sorted(n for n, q in earliest.items() if q is p) for p in _PHASES}
    return _Summary(chosen, usage, adds, first_seen)


def render_text(graph: SyscallGraph, workloads: Sequence[str] | None = None) -> str:
    """A terminal report: per-workload syscall tables, what each workload adds, per-phase lists.

    ``workloads`` selects and orders nothing but the set shown (output is sorted); ``None`` means
    every workload. An unknown name raises :class:`~seccompgen.errors.StoreError`.
    """
    s = _summarize(graph, workloads)
    if not s.workloads:
        return "no workloads in the graph\n"
    total = len({n for calls in s.usage.values() for n in calls})
    out = [
        f"workloads: {', '.join(s.workloads)}",
        f"{len(s.workloads)} workload(s), {total} distinct syscall(s)",
        "",
    ]
    for w in s.workloads:
        out.append(f"{w}: {_plural(len(s.usage[w]), 'syscall')}")
        out.extend(_table(s.usage[w]))
        out.append("")

    out.append("what each workload adds (syscalls no other selected workload makes):")
    if len(s.workloads) == 1:
        out.append("  (one workload selected; nothing to compare with)")
    else:
        out.extend(_name_lists([(w, s.adds[w]) for w in s.workloads]))
    out.append("")
    out.append("syscalls by the phase they were first seen in:")
    out.extend(_name_lists([(p.value, s.first_seen[p]) for p in _PHASES]))
    return "\n".join(out) + "\n"


def _table(calls: dict[str, SyscallUsage]) -> list[str]:
    if not calls:
        return ["  (no syscalls recorded)"]
    header = ("syscall", "count", "errors", "first phase")
    rows = [(n, *_counts(u)) for n, u in calls.items()]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]

    def line(r: tuple[str, str, str, str]) -> str:
        # Names left-aligned, numbers right-aligned so digits line up.
        return f"  {r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}".rstrip()

    return [line(header), *(line(r) for r in rows)]


def _counts(u: SyscallUsage) -> tuple[str, str, str]:
    """Count, errors and first phase; an imported profile's allowance has none of them."""
    if u.first_phase is None:
        return "-", "-", "imported"
    return str(u.count), str(u.errors), u.first_phase.value + (" (+imported)" if u.imported else "")


def _name_lists(groups: list[tuple[str, list[str]]]) -> list[str]:
    labels = [f"{label} ({len(names)})" for label, names in groups]
    width = max(len(lb) for lb in labels)
    lines: list[str] = []
    for lb, (_, names) in zip(labels, groups, strict=True):
        head = f"  {lb:<{width}}  "
        body = ", ".join(names) if names else "-"
        lines.extend(
            textwrap.wrap(
                body,
                width=_WIDTH,
                initial_indent=head,
                subsequent_indent=" " * len(head),
                break_on_hyphens=False,
                break_long_words=False,
            )
        )
    return lines


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def render_json(graph: SyscallGraph, workloads: Sequence[str] | None = None) -> str:
    """A summary for scripts: workloads -> syscalls -> usage, plus ``adds`` and ``first_seen``.

    Layout::

        {"format": "seccompgen.graph-summary", "version": 1,
         "workloads": {W: {"syscall_count": N, "adds": [NAME, ...],
                           "syscalls": {NAME: {"count", "errors", "first_phase", "phases",
                                               "arches", "args"}}}},
         "first_seen": {"startup": [NAME, ...], "exercise": [...], "shutdown": [...]}}

    ``args`` lists per argument index the sorted raw values or ``"many"``. Keys are sorted,
    indent is two spaces, and the text ends with a newline.
    """
    s = _summarize(graph, workloads)
    doc: dict[str, Any] = {
        "format": SUMMARY_FORMAT,
        "version": 1,
        "workloads": {
            w: {
                "syscall_count": len(s.usage[w]),
                "adds": s.adds[w],
                "syscalls": {n: _usage_json(u) for n, u in s.usage[w].items()},
            }
            for w in s.workloads
        },
        "first_seen": {p.value: s.first_seen[p] for p in _PHASES},
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _usage_json(u: SyscallUsage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "count": u.count,
        "errors": u.errors,
        "first_phase": None if u.first_phase is None else u.first_phase.value,
        "phases": [p.value for p in _PHASES if p in u.phases],
        "arches": sorted(u.arches),
        "args": ["many" if a.many else sorted(a.values) for a in u.args],
    }
    if u.imported:  # only when true: the output for traced runs stays as it was
        out["imported"] = True
    return out
