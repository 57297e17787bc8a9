"""Graphviz DOT rendering of the graph's networkx view
(:meth:`~seccompgen.graph.SyscallGraph.to_dot`)."""

from __future__ import annotations

from typing import Any

from seccompgen.graph.values import SYSCALL, WORKLOAD, SyscallUsage


def render_dot(g: Any, chosen: set[str]) -> str:
    """DOT text of networkx view ``g`` drawn for the workloads in ``chosen`` (see
    :meth:`~seccompgen.graph.SyscallGraph.to_dot`)."""
    lines = [
        "digraph seccompgen {",
        "  rankdir=LR;",
        '  node [fontname="monospace"];',
    ]
    edges: list[tuple[tuple[str, str], tuple[str, str], str]] = []
    for u, v in sorted(g.edges):
        data = g.edges[u, v]
        if u[0] == WORKLOAD:
            if u[1] not in chosen:
                continue
            usage: SyscallUsage = data["usage"]
            # An imported profile's allowance has no count (import --spo).
            label = str(usage.count) if usage.count or not usage.imported else "imported"
            if usage.errors:
                label += f", {usage.errors} err"
            edges.append((u, v, f"label={_dot_str(label)}"))
        else:
            counts: dict[str, int] = data["counts"]
            parts = [f"{w}: {n}" for w, n in sorted(counts.items()) if w in chosen]
            if parts:
                # "\n" is DOT's line break inside a label; each part is escaped on its own.
                label = "\\n".join(_dot_escape(p) for p in parts)
                edges.append((u, v, f'label="{label}", style="dashed"'))
    used = {v for u, v, _ in edges if u[0] == WORKLOAD}
    for kind, name in sorted(g.nodes):
        if kind == WORKLOAD and name in chosen:
            lines.append(
                f'  {_dot_id(kind, name)} [label={_dot_str(name)}, shape=box, style="bold"];'
            )
        elif kind == SYSCALL and (kind, name) in used:
            lines.append(f"  {_dot_id(kind, name)} [label={_dot_str(name)}, shape=ellipse];")
    lines.extend(f"  {_dot_id(*u)} -> {_dot_id(*v)} [{attrs}];" for u, v, attrs in edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_escape(text: str) -> str:
    # DOT quoted strings: only the double quote needs escaping; backslash is kept literal
    # unless it starts an escape, so double it to be safe (graphviz.org/doc/info/lang.html).
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _dot_str(text: str) -> str:
    return f'"{_dot_escape(text)}"'


def _dot_id(kind: str, name: str) -> str:
    return _dot_str(f"{kind}:{name}")
