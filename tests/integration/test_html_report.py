"""``report --format html`` opened from a file in a real headless browser: Debian's chromium,
driven by Playwright, with every request routed (only the file itself may load).

The store holds fresh traces of the example service (under load, then SIGTERM) and of the batch
job, so the page has two workload sections.
"""

from __future__ import annotations

import re
import shutil
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _rules import missing_tool
from _support import free_port, sg

pytestmark = [
    pytest.mark.strace,
    pytest.mark.go,
    pytest.mark.chromium,
    pytest.mark.slow,
]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"  # Debian's package; never a downloaded browser
WORKLOADS = ("batch", "httpservice")
# A fresh profile, nothing from the network or from earlier runs; the sandbox needs
# namespaces the test machine may not give (the page is our own file).
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
]


@dataclass
class Page:
    path: Path
    html: str
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Traced:
    store: Path
    page: Path
    service: Path
    loadgen: Path


@pytest.fixture(scope="module")
def report_html(traced: Traced) -> Path:
    return traced.page


@pytest.fixture(scope="module")
def traced(
    build_example: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Traced:
    """The page for a fresh trace of the service and of the batch job, with --binary."""
    if shutil.which("dot") is None:
        missing_tool("Graphviz's dot is not on PATH (apt-get install graphviz)")
    work = tmp_path_factory.mktemp("html-report")
    store = work / "traces"
    service, loadgen, batch = (build_example(p) for p in ("httpservice", "loadgen", "batch"))
    port = free_port()
    load = f"{loadgen} -c 4 -d 2s http://127.0.0.1:{port}/healthz"
    for args in (
        ("-w", "httpservice", "--exercise", load, str(service), "--",
         "-addr", f"127.0.0.1:{port}"),
        ("-w", "batch", str(batch), "--", "-in", str(REPO / "README.md"),
         "-out", str(work / "out.json")),
    ):  # fmt: skip
        proc = sg("trace", "--store", str(store), *args, cwd=work, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    out = work / "report.html"
    proc = sg("report", "--format", "html", "-o", str(out), "--binary", str(service),
              "--store", str(store), cwd=work)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Traced(store, out, service, loadgen)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        try:
            yield context
        finally:
            context.close()


def _open(context: Any, path: Path) -> tuple[Any, Page]:
    page = context.new_page()
    seen = Page(path, path.read_text(encoding="utf-8"))
    url = path.as_uri()

    def route(r: Any) -> None:
        seen.requests.append(r.request.url)
        if r.request.url == url:
            r.continue_()
        else:
            seen.blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: seen.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.console_errors.append(str(e)))
    page.goto(url, wait_until="load")
    return page, seen


def test_page_loads_nothing_but_itself_and_logs_no_errors(report_html: Path, browser: Any) -> None:
    page, seen = _open(browser, report_html)
    page.wait_for_timeout(300)
    assert seen.requests == [report_html.as_uri()], seen.requests
    assert seen.blocked == []
    assert seen.console_errors == []
    page.close()


def test_graph_sections_and_rows_render(report_html: Path, browser: Any) -> None:
    page, _ = _open(browser, report_html)
    box = page.locator("#graph svg").bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100
    assert page.locator("#graph .legend li").count() == 4
    for w in WORKLOADS:
        section = page.locator(f'section.workload[data-workload="{w}"]')
        assert section.count() == 1, w
        rows = section.locator("table tbody tr")
        assert rows.count() > 20, w
        for name in ("read", "write", "exit_group"):
            assert section.locator(f'tr[data-syscall="{name}"]').count() == 1, (w, name)
    api = page.locator('section.workload[data-workload="httpservice"]')
    assert api.locator('tr[data-syscall="accept4"] td').nth(5).inner_text() == "observed"
    # The summary compares with Docker's default and says what this profile adds beyond it.
    assert int(page.locator("#docker-count").inner_text()) > 300
    assert int(page.locator("#allowed-count").inner_text()) < 150
    assert page.locator("#beyond-docker").is_visible()
    # Coverage with --binary: the service's Go code can reach calls no trace showed.
    assert page.locator("#unobserved tbody tr").count() > 0
    page.close()


def test_sorting_by_a_header_orders_the_rows(report_html: Path, browser: Any) -> None:
    page, _ = _open(browser, report_html)
    table = page.locator('section.workload[data-workload="httpservice"] table')

    def column(i: int) -> list[str]:
        cells = table.locator(f"tbody tr td:nth-child({i})").all_inner_texts()
        return [c.strip() for c in cells]

    def counts() -> list[int]:
        return [-1 if c == "-" else int(c) for c in column(2)]

    names = column(1)
    assert names[: len(names) // 2] == sorted(names[: len(names) // 2])  # name order, no JS
    table.locator("th", has_text="count").click()
    assert counts() == sorted(counts())
    table.locator("th", has_text="count").click()
    assert counts() == sorted(counts(), reverse=True)
    assert counts()[0] > 1
    table.locator("th", has_text="syscall").click()
    assert column(1) == sorted(column(1))
    # Filtering hides the rows that do not match.
    page.fill("#filter", "accept4")
    visible = table.locator("tbody tr:visible")
    assert visible.count() == 1
    page.close()


def test_screenshot_is_not_blank(report_html: Path, browser: Any, tmp_path: Path) -> None:
    page, _ = _open(browser, report_html)
    page.set_viewport_size({"width": 1280, "height": 900})
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=False)
    page.close()
    pixels = _png_pixels(shot.read_bytes())
    assert len(set(pixels)) > 10, "the screenshot is blank or nearly so"


def _png_pixels(data: bytes) -> list[bytes]:
    """A sample of the PNG's raw scanline bytes (filter bytes included), enough to tell a
    blank image (one colour) from a page."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks = []
    i = 8
    while i < len(data):
        n = int.from_bytes(data[i : i + 4], "big")
        kind = data[i + 4 : i + 8]
        if kind == b"IDAT":
            chunks.append(data[i + 8 : i + 8 + n])
        i += 12 + n
    raw = zlib.decompress(b"".join(chunks))
    return [raw[j : j + 4] for j in range(0, len(raw), 4)][:: max(1, len(raw) // 40000)]


def test_page_escapes_nothing_into_markup(report_html: Path) -> None:
    text = report_html.read_text(encoding="utf-8")
    assert len(re.findall(r"<script>", text)) == 1
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        'xmlns:xlink="http://www.w3.org/1999/xlink"', ""
    )


@pytest.mark.docker
def test_the_verify_result_of_the_emitted_profile_is_shown(
    traced: Traced, browser: Any, tmp_path: Path
) -> None:
    profile = tmp_path / "httpservice.json"
    store = str(traced.store)
    proc = sg("emit", "-w", "httpservice", "--store", store, "-o", str(profile), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    port = free_port()
    proc = sg("verify", str(profile), str(traced.service), "--network", "host", "--store", store,
              "--exercise", f"{traced.loadgen} -d 1s http://127.0.0.1:{port}/healthz",
              "--", "-addr", f"127.0.0.1:{port}", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0 and "PASS" in proc.stdout, proc.stdout + proc.stderr
    page_path = tmp_path / "verified.html"
    # No --profile: the page shows the profile emit recorded for exactly this workload.
    proc = sg("report", "--format", "html", "-w", "httpservice", "-o", str(page_path),
              "--store", store, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page, seen = _open(browser, page_path)
    assert page.locator("#verify").inner_text() == "passed"
    assert seen.console_errors == [] and seen.blocked == []
    page.close()
