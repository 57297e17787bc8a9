"""Size and render time of ``seccompgen report --format html`` for the example service.

Builds examples/httpservice and examples/loadgen, traces the service under load (then SIGTERM)
into a fresh store, writes the page with ``--binary``, and opens it from the file in Debian's
chromium (driven by Playwright, every request but the file's own blocked) ``--rounds`` times,
each in a new page. Render time is the browser's own navigation timing, from the start of the
navigation to the end of the load event (layout of the inline SVG included); the wall-clock time of
``page.goto`` is shown too. ``--screenshot PATH`` saves the top of the page as a PNG.

    .venv/bin/python benchmarks/htmlreport/run.py --rounds 5 --screenshot docs/report.png
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from seccompgen.tracing.gobuild import build_go  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LIMIT_BYTES = 2 * 1024 * 1024
LIMIT_SECONDS = 2.0


def _sg(*args: str, cwd: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "seccompgen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        # this checkout's seccompgen, whichever one the interpreter has installed
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH")))),
        },
    )
    if proc.returncode != 0:
        raise SystemExit(f"seccompgen {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def make_page(work: Path) -> Path:
    """A fresh trace of the service under load, and its HTML report."""
    service = build_go(REPO / "examples" / "httpservice", work / "httpservice")
    loadgen = build_go(REPO / "examples" / "loadgen", work / "loadgen")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    load = (
        f"{loadgen} -c 4 -d 2s http://127.0.0.1:{port}/healthz http://127.0.0.1:{port}/debug/pprof/"
    )
    store = work / "traces"
    _sg("trace", "--store", str(store), "-w", "httpservice", "--exercise", load, str(service),
        "--", "-addr", f"127.0.0.1:{port}", cwd=work)  # fmt: skip
    out = work / "report.html"
    _sg("report", "--format", "html", "-o", str(out), "--binary", str(service),
        "--store", str(store), cwd=work)  # fmt: skip
    return out


def measure(page_path: Path, rounds: int, screenshot: Path | None) -> list[dict[str, float]]:
    """Open the page ``rounds`` times in a fresh browser profile; the timings of each."""
    from playwright.sync_api import sync_playwright

    url = page_path.as_uri()
    results: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS,
            viewport={"width": 1280, "height": 900},
        )  # fmt: skip
        try:
            for _ in range(rounds):
                page = context.new_page()
                blocked: list[str] = []

                def route(r: Any, blocked: list[str] = blocked) -> None:
                    if r.request.url == url:
                        r.continue_()
                    else:
                        blocked.append(r.request.url)
                        r.abort()

                page.route("**/*", route)
                start = time.perf_counter()
                page.goto(url, wait_until="load")
                wall = time.perf_counter() - start
                load_ms = page.evaluate(
                    "() => { const n = performance.getEntriesByType('navigation')[0];"
                    " return n.loadEventEnd - n.startTime; }"
                )
                if blocked:
                    raise SystemExit(f"the page asked for {blocked}")
                results.append({"wall": wall, "load": float(load_ms) / 1000})
                if screenshot is not None and len(results) == rounds:
                    screenshot.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(screenshot))
                page.close()
        finally:
            context.close()
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--page", type=Path, help="measure this page instead of tracing afresh")
    ap.add_argument("--screenshot", type=Path, help="save the top of the page here (PNG)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        page = args.page or make_page(Path(tmp))
        size = page.stat().st_size
        runs = measure(page, args.rounds, args.screenshot)
    print(f"page: {size:,} bytes ({size / 1024 / 1024:.2f} MiB; limit 2 MiB)")
    print("| measure | median s | max s |")
    print("| --- | ---: | ---: |")
    for key, label in (
        ("load", "navigation start to load event end"),
        ("wall", "`page.goto` wall clock"),
    ):
        values = [r[key] for r in runs]
        print(f"| {label} | {statistics.median(values):.3f} | {max(values):.3f} |")
    worst = max(r["load"] for r in runs)
    ok = size < LIMIT_BYTES and worst < LIMIT_SECONDS
    print(f"within limits (< 2 MiB, load < {LIMIT_SECONDS:.0f} s): {'yes' if ok else 'NO'}")
    if args.screenshot:
        print(f"wrote {args.screenshot}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
