"""``seccompgen report --format html``: the report as one self-contained page.

The page carries everything inline -- CSS, the Graphviz SVG of the workload-syscall graph, a few
lines of vanilla JavaScript that sort and filter the tables -- and refers to nothing outside
itself (a Content-Security-Policy of ``default-src 'none'`` says so to the browser), so it opens
from a file on a machine with no network. Without JavaScript every table is still there, in
name order.

Every string that came from a trace or a store (workload names, argument conditions, reasons)
is escaped with :func:`html.escape`; the Graphviz SVG is inlined with its XML prolog and comments
removed (comments repeat node names verbatim).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from seccompgen.events import Phase
from seccompgen.report import Report, WorkloadReport
from seccompgen.risk import RiskNote

__all__ = ["HtmlContext", "Row", "VerifyStatus", "render_html"]

_PHASE_COLOURS: Final = {  # the fills render_dot uses (Graphviz X11 names are CSS names too)
    Phase.STARTUP: "lightblue",
    Phase.EXERCISE: "palegreen",
    Phase.SHUTDOWN: "lightsalmon",
}
_PHASES: Final = tuple(sorted(Phase, key=lambda p: p.order))


@dataclass(frozen=True, slots=True)
class VerifyStatus:
    """The last ``verify`` result recorded for the profile shown."""

    passed: bool
    summary: str
    when: str = ""


@dataclass(frozen=True)
class HtmlContext:
    """What the page shows besides the :class:`~seccompgen.report.Report`.

    - ``graph_svg``: Graphviz SVG of :func:`seccompgen.report.render_dot` (None: no picture).
    - ``allowed``: the names the profile allows (from ``--profile``, or what emit would allow).
    - ``docker_default``: the names Docker's default profile allows an ordinary container.
    - ``risk``: the risk notes by name (:func:`seccompgen.risk.risk_notes`).
    - ``enosys``: names the profile answers ENOSYS for (callers fall back), not allowed.
    - ``learned``: names learned from SCMP_ACT_LOG records, per workload.
    """

    allowed: frozenset[str]
    docker_default: frozenset[str]
    risk: Mapping[str, RiskNote]
    graph_svg: str | None = None
    profile_label: str = "the profile emit would write"
    enosys: frozenset[str] = frozenset()
    learned: Mapping[str, frozenset[str]] = field(default_factory=dict)
    verify: VerifyStatus | None = None
    binary: str | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a workload's table."""

    name: str
    count: int | None
    errors: int | None
    phases: tuple[Phase, ...]
    first_phase: Phase | None
    source: str
    args: str
    risk: RiskNote | None


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def rows_for(workload: WorkloadReport, report: Report, ctx: HtmlContext) -> list[Row]:
    """The table of one workload: its observed calls, then what the profile adds unobserved."""
    args = dict(report.arg_rules)
    args.update({n: f"unconditioned: {w}" for n, w in report.arg_unconditioned})
    learned = ctx.learned.get(workload.workload, frozenset())
    rows: list[Row] = []
    seen: set[str] = set()
    for c in workload.syscalls:
        if c.first_phase is None:
            source = "imported"
        elif c.name in learned:
            source = "learned from LOG"
        else:
            source = "observed" + (" + imported" if c.imported else "")
        traced = c.first_phase is not None
        rows.append(
            Row(
                c.name,
                c.count if traced else None,
                c.errors if traced else None,
                c.phases,
                c.first_phase,
                source,
                args.get(c.name, ""),
                ctx.risk.get(c.name),
            )
        )
        seen.add(c.name)
    added: dict[str, list[str]] = {}
    for title, adds in (
        ("runtime block", report.runtime_additions),
        ("Go safety net", report.go_additions),
        ("always allowed", report.exit_additions),
    ):
        for a in adds:
            if a.name not in seen:
                added.setdefault(a.name, []).append(title)
    for name in ctx.enosys - seen - set(added):
        added[name] = ["ENOSYS answer (callers fall back)"]
    for name in sorted(added):
        rows.append(
            Row(
                name,
                None,
                None,
                (),
                None,
                " + ".join(added[name]),
                args.get(name, ""),
                ctx.risk.get(name),
            )
        )
    return rows


def render_html(report: Report, ctx: HtmlContext, *, title: str = "seccompgen report") -> str:
    """The whole page (UTF-8 text, deterministic for the same inputs)."""
    allowed = ctx.allowed
    beyond = sorted(allowed - ctx.docker_default)
    refused_by_us = sorted(ctx.docker_default - allowed)
    risky_allowed = [ctx.risk[n] for n in sorted(allowed) if n in ctx.risk]
    risky_refused = [ctx.risk[n] for n in sorted(ctx.risk) if n not in allowed]
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        # Nothing may be fetched: the page must open the same on an air-gapped machine.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(title)}</h1>",
        '<section id="summary">',
        "<h2>Summary</h2>",
        "<ul>",
        f"<li>Workloads ({len(report.workloads)}): "
        + ", ".join(f'<a href="#w-{_e(w.workload)}">{_e(w.workload)}</a>' for w in report.workloads)
        + "</li>",
        f'<li>Allowed by {_e(ctx.profile_label)}: <strong id="allowed-count">{len(allowed)}'
        f"</strong> syscalls; Docker's default profile allows "
        f'<strong id="docker-count">{len(ctx.docker_default)}</strong> '
        "to an ordinary container.</li>",
        f"<li>Beyond Docker's default: <strong>{len(beyond)}</strong>; refused although "
        f"Docker's default allows them: <strong>{len(refused_by_us)}</strong>.</li>",
        f"<li>Verify: {_verify_html(ctx.verify)}</li>",
        "</ul>",
    ]
    out.append('<div id="beyond-docker" class="beyond">')
    out.append("<h3>Allowed beyond Docker's default</h3>")
    out.append(
        "<p>" + (", ".join(f"<code>{_e(n)}</code>" for n in beyond) or "none") + "</p></div>"
    )
    if risky_allowed:
        out.append('<div id="risky-allowed" class="beyond"><h3>Allowed calls that matter</h3><ul>')
        out.extend(
            f"<li><code>{_e(n.name)}</code>: {_e(n.reason)} <cite>{_e(n.source)}</cite></li>"
            for n in risky_allowed
        )
        out.append("</ul></div>")
    out.append(
        f'<details id="risky-refused"><summary>Refused by this profile: {len(risky_refused)} '
        "calls that matter</summary><ul>"
    )
    out.extend(
        f"<li><code>{_e(n.name)}</code>: {_e(n.reason)} <cite>{_e(n.source)}</cite></li>"
        for n in risky_refused
    )
    out.append("</ul></details>")
    out.append(
        f'<details id="refused-docker"><summary>Refused although Docker\'s default allows them '
        f"({len(refused_by_us)})</summary><p>"
        + (", ".join(f"<code>{_e(n)}</code>" for n in refused_by_us) or "none")
        + "</p></details>"
    )
    if ctx.enosys:
        out.append(
            f"<p>Answered ENOSYS (callers fall back), not allowed ({len(ctx.enosys)}): "
            + ", ".join(f"<code>{_e(n)}</code>" for n in sorted(ctx.enosys))
            + "</p>"
        )
    out.append("</section>")

    out.append('<section id="graph"><h2>Workloads and their syscalls</h2>')
    out.append(_legend())
    if ctx.graph_svg:
        out.append(f'<div class="graph">{_inline_svg(ctx.graph_svg)}</div>')
    else:
        out.append("<p>(no graph: Graphviz was not used)</p>")
    out.append("</section>")

    out.append(
        '<p class="filter"><label>Filter rows: <input id="filter" type="search" '
        'placeholder="syscall, source, phase..."></label></p>'
    )
    for w in report.workloads:
        out.extend(_workload_section(w, report, ctx))

    if report.arg_rules or report.arg_unconditioned:
        out.append('<section id="arguments"><h2>Argument rules (emit --args auto)</h2><ul>')
        out.extend(f"<li><code>{_e(n)}</code>: {_e(words)}</li>" for n, words in report.arg_rules)
        out.extend(
            f"<li><code>{_e(n)}</code>: unconditioned: {_e(why)}</li>"
            for n, why in report.arg_unconditioned
        )
        out.append("</ul></section>")

    out.append('<section id="coverage"><h2>Coverage</h2>')
    if ctx.binary is None:
        out.append("<p>No binary given (<code>--binary</code>): nothing to compare with.</p>")
    elif not report.unobserved:
        out.append(f"<p>Every syscall {_e(ctx.binary)}'s Go code can make was observed.</p>")
    else:
        out.append(
            f"<p>Reachable from {_e(ctx.binary)}'s Go code but never observed "
            f"({len(report.unobserved)}): exercise them in another trace, or accept that the "
            "profile denies them.</p>"
        )
        out.append('<table class="sortable" id="unobserved"><thead><tr>')
        out.append("<th>syscall</th><th>reachable via</th><th>risk</th></tr></thead><tbody>")
        for u in report.unobserved:
            note = ctx.risk.get(u.name)
            out.append(
                f"<tr><td><code>{_e(u.name)}</code></td><td>{_e(', '.join(u.via))}</td>"
                f"<td>{_risk_cell(note)}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</section>")
    out.append(f"<script>{_JS}</script>")
    out.append("</body>")
    out.append("</html>")
    return "\n".join(out) + "\n"


def _verify_html(v: VerifyStatus | None) -> str:
    if v is None:
        return "no verify result recorded for this profile"
    cls = "pass" if v.passed else "fail"
    word = "passed" if v.passed else "failed"
    when = f" ({_e(v.when)})" if v.when else ""
    return f'<span id="verify" class="{cls}">{word}</span>{when}: {_e(v.summary)}'


def _legend() -> str:
    items = [
        f'<li><span class="swatch" style="background:{c}"></span>first seen at {p.value}</li>'
        for p, c in _PHASE_COLOURS.items()
    ]
    items.append(
        '<li><span class="swatch dashed" style="background:lightgrey"></span>'
        "added, not observed</li>"
    )
    return '<ul class="legend">' + "".join(items) + "</ul>"


_PROLOG = re.compile(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<!--.*?-->", re.DOTALL)


def _inline_svg(svg: str) -> str:
    return _PROLOG.sub("", svg).strip()


def _phase_cell(phases: Iterable[Phase]) -> str:
    return " ".join(
        f'<span class="phase" style="background:{_PHASE_COLOURS[p]}">{p.value}</span>'
        for p in phases
    )


def _risk_cell(note: RiskNote | None) -> str:
    if note is None:
        return ""
    return f'<span class="risk">{_e(note.reason)}</span> <cite>{_e(note.source)}</cite>'


def _workload_section(w: WorkloadReport, report: Report, ctx: HtmlContext) -> Sequence[str]:
    rows = rows_for(w, report, ctx)
    out = [
        f'<section class="workload" id="w-{_e(w.workload)}" data-workload="{_e(w.workload)}">',
        f"<h2>Workload <code>{_e(w.workload)}</code></h2>",
        f"<p>{len(w.syscalls)} syscalls observed; phases reached: "
        f"{_phase_cell(w.phases_seen) or 'none'}.</p>",
        '<table class="sortable syscalls"><thead><tr>',
        '<th data-type="text">syscall</th><th data-type="num">count</th>'
        '<th data-type="num">errors</th><th data-type="text">phases</th>'
        '<th data-type="text">first seen</th><th data-type="text">source</th>'
        '<th data-type="text">argument rule</th><th data-type="text">risk</th>',
        "</tr></thead><tbody>",
    ]
    for r in rows:
        classes = []
        if r.name in ctx.allowed and r.name not in ctx.docker_default:
            classes.append("beyond")
        if r.risk is not None:
            classes.append("risky")
        cls = f' class="{" ".join(classes)}"' if classes else ""
        first = r.first_phase.value if r.first_phase is not None else "-"
        out.append(
            f'<tr{cls} data-syscall="{_e(r.name)}">'
            f"<td><code>{_e(r.name)}</code></td>"
            f'<td class="num" data-sort="{-1 if r.count is None else r.count}">'
            f"{'-' if r.count is None else r.count}</td>"
            f'<td class="num" data-sort="{-1 if r.errors is None else r.errors}">'
            f"{'-' if r.errors is None else r.errors}</td>"
            f"<td>{_phase_cell(r.phases)}</td><td>{first}</td><td>{_e(r.source)}</td>"
            f"<td>{_e(r.args)}</td><td>{_risk_cell(r.risk)}</td></tr>"
        )
    out.append("</tbody></table>")
    if w.phases_told_apart and w.startup_only:
        out.append(
            "<p>Seen only at startup (candidates a filter installed after startup could drop): "
            + ", ".join(f"<code>{_e(s.name)}</code>" for s in w.startup_only)
            + "</p>"
        )
    out.append("</section>")
    return out


_CSS: Final = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:78em;padding:0 1em;color:#222}
code{font-family:ui-monospace,monospace}
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.2em .4em;text-align:left;vertical-align:top}
th{background:#eee;cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right}
tr.beyond td:first-child{border-left:4px solid #c00;font-weight:bold}
tr.risky td:last-child{background:#fff0e0}
.beyond{border-left:4px solid #c00;padding:.2em .8em;background:#fff5f5;margin:.5em 0}
.phase{border-radius:3px;padding:0 .3em;margin-right:.2em}
.legend{list-style:none;padding:0;display:flex;gap:1.5em}
.swatch{display:inline-block;width:1em;height:1em;border:1px solid #555;margin-right:.3em;
vertical-align:middle}.swatch.dashed{border-style:dashed}
.graph{overflow:auto;max-height:40em;border:1px solid #ddd}.graph svg{max-width:100%;height:auto}
.pass{color:#060;font-weight:bold}.fail{color:#c00;font-weight:bold}
cite{color:#666;font-size:.85em}
"""

# Sorting: click a header (again to reverse); numbers sort by data-sort. Filtering: rows whose
# text does not contain the filter are hidden. No JavaScript: the tables stay in name order.
_JS: Final = """
(function(){
function key(td,num){var v=td.getAttribute('data-sort');
 return num?parseFloat(v===null?td.textContent:v):td.textContent.trim().toLowerCase();}
document.querySelectorAll('table.sortable').forEach(function(t){
 t.querySelectorAll('th').forEach(function(th,i){
  th.addEventListener('click',function(){
   var num=th.getAttribute('data-type')==='num';
   var asc=th.getAttribute('aria-sort')!=='ascending';
   t.querySelectorAll('th').forEach(function(h){h.removeAttribute('aria-sort');});
   th.setAttribute('aria-sort',asc?'ascending':'descending');
   var tb=t.tBodies[0];var rows=Array.prototype.slice.call(tb.rows);
   rows.sort(function(a,b){var x=key(a.cells[i],num),y=key(b.cells[i],num);
    var c=x<y?-1:x>y?1:0;return asc?c:-c;});
   rows.forEach(function(r){tb.appendChild(r);});
  });
 });
});
var f=document.getElementById('filter');
if(f){f.addEventListener('input',function(){var q=f.value.toLowerCase();
 document.querySelectorAll('table.sortable tbody tr').forEach(function(r){
  r.style.display=r.textContent.toLowerCase().indexOf(q)<0?'none':'';});});}
})();
"""
