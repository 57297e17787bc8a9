"""The HTML page of ``report --format html``: strings from traces are escaped, the summary
compares with Docker's default, risky calls carry their note, additions say where they came
from."""

from __future__ import annotations

import html.parser

from seccompgen.events import Phase, SyscallEvent
from seccompgen.graph import SyscallGraph
from seccompgen.htmlreport import HtmlContext, render_html, rows_for
from seccompgen.report import Report, build_report
from seccompgen.risk import risk_notes

S, E = Phase.STARTUP, Phase.EXERCISE
HOSTILE = '<script>alert("x")</script>&amp;\'"'


def _ev(name: str, phase: Phase) -> SyscallEvent:
    return SyscallEvent(name, "x86_64", 1, 1, 0, None, 1.0, (), phase)


def _report(workload: str = "api", arg_words: str = "domain in AF_INET") -> Report:
    g = SyscallGraph()
    g.add_events(workload, [_ev("read", S), _ev("ptrace", E), _ev("socket", E)])
    return build_report(
        g,
        [workload],
        go_runtime={"sigaltstack": ("runtime.minit",)},
        runtime_names=("capset",),
        unobserved=None,
        exits=("exit_group",),
        args=((("socket", arg_words),), ()),
    )


def _ctx(**kw: object) -> HtmlContext:
    base: dict[str, object] = {
        "allowed": frozenset({"read", "ptrace", "socket", "sigaltstack", "capset"}),
        "docker_default": frozenset({"read", "socket", "sigaltstack", "exit_group"}),
        "risk": risk_notes(),
        "graph_svg": '<?xml version="1.0"?><!DOCTYPE svg><!-- workload:x --><svg></svg>',
    }
    base.update(kw)
    return HtmlContext(**base)  # type: ignore[arg-type]


class _Collect(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Collect:
    p = _Collect()
    p.feed(page)
    return p


def test_workload_names_and_argument_strings_from_traces_are_escaped() -> None:
    page = render_html(_report(HOSTILE, HOSTILE), _ctx())
    assert HOSTILE not in page
    assert "<script>alert" not in page
    parsed = _parse(page)
    assert parsed.tags.count("script") == 1  # the page's own sorting script, nothing injected
    text = "".join(parsed.text)
    assert HOSTILE in text  # shown as text, exactly as recorded


def test_page_refers_to_nothing_outside_itself() -> None:
    page = render_html(_report(), _ctx())
    assert "default-src 'none'" in page
    for ref in ("http://", "https://", "src=", "@import", "url("):
        body = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert ref not in body, ref
    assert "<!DOCTYPE svg" not in page and "<?xml" not in page and "workload:x" not in page


def test_summary_counts_and_what_goes_beyond_docker() -> None:
    page = render_html(_report(), _ctx())
    assert '<strong id="allowed-count">5</strong>' in page
    assert '<strong id="docker-count">4</strong>' in page
    beyond = page.split('id="beyond-docker"')[1].split("</div>")[0]
    assert "<code>capset</code>" in beyond and "<code>ptrace</code>" in beyond
    assert "<code>read</code>" not in beyond
    assert "CVE-2019-13272" in page.split('id="risky-allowed"')[1].split("</div>")[0]
    refused = page.split('id="risky-refused"')[1].split("</details>")[0]
    assert "<code>bpf</code>" in refused and "<code>ptrace</code>" not in refused
    assert "no verify result recorded" in page


def test_rows_name_where_each_call_came_from() -> None:
    report = _report()
    rows = {r.name: r for r in rows_for(report.workloads[0], report, _ctx())}
    assert rows["read"].source == "observed" and rows["read"].count == 1
    assert rows["capset"].source == "runtime block" and rows["capset"].count is None
    assert rows["sigaltstack"].source == "Go safety net"
    assert rows["exit_group"].source == "always allowed"
    assert rows["socket"].args == "domain in AF_INET"
    assert rows["ptrace"].risk is not None and rows["read"].risk is None
    with_enosys = rows_for(report.workloads[0], report, _ctx(enosys=frozenset({"clone3"})))
    assert {r.name: r.source for r in with_enosys}["clone3"] == "ENOSYS answer (callers fall back)"


def test_only_allowed_names_are_marked_beyond_docker() -> None:
    page = render_html(_report(), _ctx(enosys=frozenset({"clone3"})))
    assert '<tr class="beyond risky" data-syscall="ptrace">' in page
    assert (
        '<tr data-syscall="clone3">' in page or '<tr class="risky" data-syscall="clone3">' in page
    )
