"""The core of ``seccompgen report``: what the workloads did, when, and what a profile adds.

:func:`build_report` reads the :class:`~seccompgen.graph.SyscallGraph` and gathers, per workload,

- every observed syscall with its count, failures and the phases it was seen in;
- the syscalls seen **only at startup** (phases exactly ``{startup}``): the candidates a stricter
  filter, installed once the service has started, could drop. A name the Go runtime may need
  again on a rare path (``safety_net``) is marked, because dropping it would crash the program
  later, not at once;

and, for the profile as a whole, the names added without being observed (the container runtime's
init calls, the Go runtime's rare paths, the exit syscalls every profile allows, each with its
reason) and the reachable-but-unobserved
warnings of ``inspect``. Renderers: :func:`render_text`, :func:`render_json`, :func:`render_dot`
(DOT coloured by first phase) and :func:`render_image` (Graphviz ``dot``, SVG or PNG).

Everything is deterministic: sorted names, phases in lifecycle order, trailing newline.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from seccompgen.errors import SeccompgenError
from seccompgen.events import Phase
from seccompgen.goruntime import go_runtime_entries
from seccompgen.graph import SyscallGraph
from seccompgen.profile.build import ALWAYS_ALLOWED_REASON, process_exits

__all__ = [
    "REPORT_FORMAT",
    "Addition",
    "ObservedSyscall",
    "Report",
    "ReportError",
    "StartupOnly",
    "Unobserved",
    "WorkloadReport",
    "build_report",
    "render_dot",
    "render_image",
    "render_json",
    "render_text",
]

REPORT_FORMAT: Final = "seccompgen.report"
"""The ``format`` field of :func:`render_json` output (``version`` 1)."""

RUNTIME_REASON: Final = (
    "the container runtime's init makes it after loading the filter and before exec'ing the "
    "workload; without it the container does not start"
)

_PHASES: Final = tuple(sorted(Phase, key=lambda p: p.order))
_WIDTH: Final = 100
# Fill colours per first phase (Graphviz X11 colour names, graphviz.org/doc/info/colors.html).
_PHASE_COLOURS: Final = {
    Phase.STARTUP: "lightblue",
    Phase.EXERCISE: "palegreen",
    Phase.SHUTDOWN: "lightsalmon",
}
_ADDED_COLOUR: Final = "lightgrey"
_IMAGE_FORMATS: Final = ("svg", "png")


class ReportError(SeccompgenError):
    """A report could not be rendered (Graphviz missing or failing)."""


class UnobservedWarning(Protocol):
    """What the report needs of a reachable-but-unobserved warning
    (:class:`seccompgen.inspect.reachable.Warning` satisfies it)."""

    @property
    def syscall(self) -> str: ...

    @property
    def via(self) -> tuple[str, ...]: ...

    @property
    def reasons(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class ObservedSyscall:
    """One syscall a workload made: ``count`` calls, ``errors`` of them failed, seen in
    ``phases`` (lifecycle order), first in ``first_phase``. ``imported``: an imported profile
    allowed it (``import --spo``); with no traced call as well, ``count`` is 0, ``phases``
    empty and ``first_phase`` None."""

    name: str
    count: int
    errors: int
    first_phase: Phase | None
    phases: tuple[Phase, ...]
    imported: bool = False


@dataclass(frozen=True, slots=True)
class StartupOnly:
    """A syscall seen only at startup; ``needed_later_by`` names the Go runtime paths that may
    make it after startup (empty: a candidate to drop from a post-start filter)."""

    name: str
    needed_later_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WorkloadReport:
    """One workload: its syscalls, the startup-only ones, and the phases its traces reached.

    When ``phases_seen`` is only ``startup`` (the program ran to its end with no exercise and no
    SIGTERM), every call counts as startup and ``startup_only`` says nothing; it is then empty.
    """

    workload: str
    syscalls: tuple[ObservedSyscall, ...]
    startup_only: tuple[StartupOnly, ...]
    phases_seen: tuple[Phase, ...]

    @property
    def phases_told_apart(self) -> bool:
        """True when the traces recorded a phase after startup."""
        return any(p is not Phase.STARTUP for p in self.phases_seen)


@dataclass(frozen=True, slots=True)
class Addition:
    """A name a profile allows without it being observed, with why (one reason per cause)."""

    name: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unobserved:
    """A syscall the binary can reach that no trace saw, and the code that can make it."""

    name: str
    via: tuple[str, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Report:
    """The whole report; see the module docstring."""

    workloads: tuple[WorkloadReport, ...]
    runtime_additions: tuple[Addition, ...]
    go_additions: tuple[Addition, ...]
    unobserved: tuple[Unobserved, ...]
    exit_additions: tuple[Addition, ...] = ()
    """Exit syscalls every profile allows (a process must be able to end), not observed and not
    added for another reason."""
    arg_rules: tuple[tuple[str, str], ...] = ()
    """What ``emit --args auto`` would restrict: (name, the condition in words)."""
    arg_unconditioned: tuple[tuple[str, str], ...] = ()
    """Curated names ``emit --args auto`` would leave unconditioned: (name, why)."""

    @property
    def observed(self) -> tuple[str, ...]:
        """The sorted union of every workload's observed syscalls."""
        return tuple(sorted({s.name for w in self.workloads for s in w.syscalls}))


def build_report(
    graph: SyscallGraph,
    workloads: Sequence[str],
    *,
    go_runtime: Mapping[str, tuple[str, ...]],
    runtime_names: Sequence[str],
    unobserved: Sequence[UnobservedWarning] | None,
    safety_net: Mapping[str, tuple[str, ...]] | None = None,
    exits: Sequence[str] = (),
    args: tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = ((), ()),
) -> Report:
    """The report for ``workloads`` (empty: every workload in the graph).

    - ``go_runtime``: names the Go runtime's safety net adds, each with the rare paths that need
      it (``EmitSummary.go_runtime_names``); reasons come from ``seccompgen/data/go-runtime.json``.
    - ``runtime_names``: names the container runtime's block adds (``EmitSummary.runtime_names``).
    - ``unobserved``: reachable-but-unobserved warnings (:func:`seccompgen.inspect.unobserved`).
    - ``safety_net``: every name of the Go runtime's safety net with its paths
      (:func:`seccompgen.goruntime.go_runtime_names`), to mark startup-only names the runtime may
      need later; None when the workloads are not Go programs.
    - ``exits``: the exit syscalls every built profile allows
      (:func:`seccompgen.profile.build.process_exit_names`); reasons come from
      ``seccompgen/data/process-exit.json``. Those also added for a runtime are listed there only.
    - ``args``: what ``emit --args auto`` would condition and leave unconditioned
      (:class:`seccompgen.profile.args.ArgPlan` ``conditioned``, ``unconditioned``).

    Additions that a selected workload was in fact seen making are left out: they are observed.
    An unknown workload raises :class:`~seccompgen.errors.StoreError`.
    """
    chosen = sorted(set(workloads)) if workloads else graph.workloads()
    net = safety_net or {}
    reports = []
    for w in chosen:
        usage = graph.usage(w)
        calls = tuple(
            ObservedSyscall(
                name=u.name,
                count=u.count,
                errors=u.errors,
                first_phase=u.first_phase,
                phases=tuple(p for p in _PHASES if p in u.phases),
                imported=u.imported,
            )
            for u in (usage[n] for n in sorted(usage))
        )
        seen = tuple(p for p in _PHASES if any(p in c.phases for c in calls))
        startup_only: tuple[StartupOnly, ...] = ()
        if any(p is not Phase.STARTUP for p in seen):
            startup_only = tuple(
                StartupOnly(c.name, tuple(net.get(c.name, ())))
                for c in calls
                if c.phases == (Phase.STARTUP,)
            )
        reports.append(WorkloadReport(w, calls, startup_only, seen))
    observed = {c.name for r in reports for c in r.syscalls}

    path_reasons = {e.path: e.reason for e in go_runtime_entries()}
    go_additions = tuple(
        Addition(name, tuple(f"{p}: {path_reasons.get(p, 'Go runtime path')}" for p in paths))
        for name, paths in sorted(go_runtime.items())
        if name not in observed
    )
    runtime_additions = tuple(
        Addition(name, (RUNTIME_REASON,))
        for name in sorted(set(runtime_names))
        if name not in observed
    )
    added = {a.name for a in (*go_additions, *runtime_additions)}
    exit_reasons = {e.name: e.reason for e in process_exits()}
    exit_additions = tuple(
        Addition(name, (exit_reasons.get(name, ALWAYS_ALLOWED_REASON),))
        for name in sorted(set(exits))
        if name not in observed and name not in added
    )
    warnings = tuple(
        sorted(
            (Unobserved(u.syscall, tuple(u.via), tuple(u.reasons)) for u in unobserved or ()),
            key=lambda u: u.name,
        )
    )
    return Report(tuple(reports), runtime_additions, go_additions, warnings, exit_additions, *args)


# ------------------------------------------------------------------------------------- text


def render_text(report: Report) -> str:
    """A terminal report: per workload a syscall table and the startup-only list, then the
    additions with reasons and the reachable-but-unobserved warnings."""
    out: list[str] = []
    if not report.workloads:
        out.append("no workloads in the graph")
    for w in report.workloads:
        out.append(f"{w.workload}: {len(w.syscalls)} syscall(s) observed")
        out.extend(_table(w.syscalls))
        out.append("")
        if not w.phases_told_apart:
            out.append(
                "  startup only: not known -- the traces recorded no exercise or shutdown phase "
                "(trace with --exercise or --duration so the phases can be told apart)"
            )
        else:
            drop = [s.name for s in w.startup_only if not s.needed_later_by]
            keep = [s for s in w.startup_only if s.needed_later_by]
            out.append(
                f"  seen only at startup ({len(w.startup_only)}): candidates a filter installed "
                "after startup could drop"
            )
            out.extend(_wrap(", ".join(drop) or "-", "    "))
            for s in keep:
                paths = ", ".join(s.needed_later_by)
                out.append(f"    but the Go runtime may need {s.name} later: {paths}")
        out.append("")
    out.extend(
        _additions("added for the container runtime, not observed", report.runtime_additions)
    )
    out.extend(
        _additions("added for the Go runtime's rare paths, not observed", report.go_additions)
    )
    out.extend(_additions(f"{ALWAYS_ALLOWED_REASON}, not observed", report.exit_additions))
    if report.arg_rules or report.arg_unconditioned:
        out.append(f"argument rules with emit --args auto ({len(report.arg_rules)}):")
        out.extend(f"  {name}: {words}" for name, words in report.arg_rules)
        out.extend(f"  {name}: unconditioned: {why}" for name, why in report.arg_unconditioned)
        out.append("")
    if report.unobserved:
        out.append(
            f"reachable but never observed ({len(report.unobserved)}): exercise them in another "
            "trace, or accept that the profile denies them"
        )
        for u in report.unobserved:
            out.append(f"  {u.name}: reachable via {', '.join(u.via)}")
    return "\n".join(out).rstrip("\n") + "\n"


def _table(calls: Sequence[ObservedSyscall]) -> list[str]:
    if not calls:
        return ["  (no syscalls recorded)"]
    header = ("syscall", "count", "errors", "phases")
    rows = [
        (c.name, str(c.count), str(c.errors), ", ".join(p.value for p in c.phases))
        if c.phases
        else (c.name, "-", "-", "imported")
        for c in calls
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    return [
        f"  {r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}".rstrip()
        for r in [header, *rows]
    ]


def _additions(title: str, additions: Sequence[Addition]) -> list[str]:
    if not additions:
        return []
    out = [f"{title} ({len(additions)}):"]
    for a in additions:
        out.append(f"  {a.name}")
        for reason in a.reasons:
            out.extend(_wrap(reason, "    - ", "      "))
    out.append("")
    return out


def _wrap(text: str, first: str, rest: str | None = None) -> list[str]:
    return textwrap.wrap(
        text,
        width=_WIDTH,
        initial_indent=first,
        subsequent_indent=first if rest is None else rest,
        break_on_hyphens=False,
        break_long_words=False,
    )


# ------------------------------------------------------------------------------------- JSON


def render_json(report: Report) -> str:
    """The report as deterministic JSON (``format`` :data:`REPORT_FORMAT`, ``version`` 1)."""
    doc: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "version": 1,
        "workloads": [
            {
                "workload": w.workload,
                "phases_seen": [p.value for p in w.phases_seen],
                "syscalls": [
                    {
                        "name": c.name,
                        "count": c.count,
                        "errors": c.errors,
                        "first_phase": None if c.first_phase is None else c.first_phase.value,
                        "phases": [p.value for p in c.phases],
                        # only when true: reports of traced runs stay as they were
                        **({"imported": True} if c.imported else {}),
                    }
                    for c in w.syscalls
                ],
                "startup_only": (
                    [
                        {"name": s.name, "needed_later_by": list(s.needed_later_by)}
                        for s in w.startup_only
                    ]
                    if w.phases_told_apart
                    else None
                ),
            }
            for w in report.workloads
        ],
        "additions": {
            "container_runtime": [_addition_json(a) for a in report.runtime_additions],
            "go_runtime": [_addition_json(a) for a in report.go_additions],
            "process_exit": [_addition_json(a) for a in report.exit_additions],
        },
        "unobserved": [
            {"name": u.name, "via": list(u.via), "reasons": list(u.reasons)}
            for u in report.unobserved
        ],
        "arguments": {
            "conditioned": [{"name": n, "condition": w} for n, w in report.arg_rules],
            "unconditioned": [{"name": n, "reason": w} for n, w in report.arg_unconditioned],
        },
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _addition_json(a: Addition) -> dict[str, Any]:
    return {"name": a.name, "reasons": list(a.reasons)}


# -------------------------------------------------------------------------------------- DOT


def render_dot(report: Report) -> str:
    """Graphviz DOT of the workload-syscall graph, coloured by the phase each syscall was first
    seen in (a legend says which colour is which); added-but-unobserved names are grey dashed
    nodes joined by dashed edges labelled with their cause. Deterministic."""
    lines = [
        "digraph seccompgen_report {",
        "  rankdir=LR;",
        '  node [fontname="monospace", style="filled", fillcolor="white"];',
        '  edge [fontname="monospace"];',
        "  subgraph cluster_legend {",
        '    label="first seen in";',
    ]
    for p in _PHASES:
        lines.append(
            f"    {_id('legend', p.value)} [label={_q(p.value)}, shape=note, "
            f"fillcolor={_q(_PHASE_COLOURS[p])}];"
        )
    lines.append(
        f'    {_id("legend", "added")} [label="added, not observed", shape=note, '
        f'fillcolor={_q(_ADDED_COLOUR)}, style="filled,dashed"];'
    )
    lines.append("  }")
    # A syscall's node colour is the earliest phase any selected workload made it in.
    earliest: dict[str, Phase] = {}
    for w in report.workloads:
        lines.append(
            f'  {_id("workload", w.workload)} [label={_q(w.workload)}, shape=box, style="bold"];'
        )
        for c in w.syscalls:
            e = earliest.get(c.name)
            if c.first_phase is not None and (e is None or c.first_phase.order < e.order):
                earliest[c.name] = c.first_phase
    for name in sorted(earliest):
        lines.append(
            f"  {_id('syscall', name)} [label={_q(name)}, shape=ellipse, "
            f"fillcolor={_q(_PHASE_COLOURS[earliest[name]])}];"
        )
    imported_only = sorted(
        {c.name for w in report.workloads for c in w.syscalls if c.first_phase is None}
        - set(earliest)
    )
    for name in imported_only:  # allowed by an imported profile, never traced: no phase colour
        lines.append(f"  {_id('syscall', name)} [label={_q(name)}, shape=ellipse];")
    added = {a.name: "container runtime" for a in report.runtime_additions}
    for a in report.go_additions:
        added[a.name] = "Go runtime" if a.name not in added else "container + Go runtime"
    for a in report.exit_additions:
        added.setdefault(a.name, "always allowed")
    for name in sorted(added):
        lines.append(
            f"  {_id('syscall', name)} [label={_q(name)}, shape=ellipse, "
            f'fillcolor={_q(_ADDED_COLOUR)}, style="filled,dashed"];'
        )
    for w in report.workloads:
        for c in w.syscalls:
            if c.first_phase is None:
                lines.append(
                    f"  {_id('workload', w.workload)} -> {_id('syscall', c.name)} "
                    f'[label="imported", style="dotted", color="grey50"];'
                )
                continue
            label = str(c.count) + (f", {c.errors} err" if c.errors else "")
            lines.append(
                f"  {_id('workload', w.workload)} -> {_id('syscall', c.name)} "
                f"[label={_q(label)}, color={_q(_edge_colour(c.first_phase))}];"
            )
        for name in sorted(added):
            lines.append(
                f"  {_id('workload', w.workload)} -> {_id('syscall', name)} "
                f'[label={_q(added[name])}, style="dashed", color="grey50"];'
            )
    lines.append("}")
    return "\n".join(lines) + "\n"


def _edge_colour(phase: Phase) -> str:
    # Darker shades of the node fills, so edges stay visible on white.
    return {Phase.STARTUP: "steelblue", Phase.EXERCISE: "forestgreen", Phase.SHUTDOWN: "sienna"}[
        phase
    ]


def _q(text: str) -> str:
    # DOT quoted string: escape backslashes and double quotes (graphviz.org/doc/info/lang.html).
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _id(kind: str, name: str) -> str:
    return _q(f"{kind}:{name}")


def render_image(dot: str, fmt: str, *, dot_command: str = "dot", timeout: float = 60.0) -> bytes:
    """Lay out ``dot`` (DOT text) with Graphviz's ``dot -T<fmt>``; ``fmt`` is ``svg`` or ``png``.

    Raises :class:`ReportError` when ``dot`` is not installed (with how to install it), when
    the format is unknown, or when Graphviz fails (with its stderr).
    """
    if fmt not in _IMAGE_FORMATS:
        raise ReportError(
            f"unknown image format {fmt!r}", hint=f"use one of {', '.join(_IMAGE_FORMATS)}"
        )
    exe = shutil.which(dot_command)
    if exe is None:
        raise ReportError(
            f"Graphviz's {dot_command} was not found on PATH; install it with "
            "`apt-get install graphviz`",
            hint="or write the DOT text instead and lay it out elsewhere",
        )
    try:
        proc = subprocess.run(
            [exe, f"-T{fmt}"], input=dot.encode(), capture_output=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ReportError(f"running {exe} failed: {e}") from e
    if proc.returncode != 0 or not proc.stdout:
        err = proc.stderr.decode(errors="replace").strip()
        raise ReportError(f"{exe} -T{fmt} failed (exit {proc.returncode}): {err}")
    return proc.stdout
