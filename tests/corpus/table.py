"""Run the corpus and print its README table (Markdown), or render saved results.

    python -m tests.corpus.table                        # run every program (minutes), print
    python -m tests.corpus.table --only caddy,hugo      # some programs
    python -m tests.corpus.table --save results.json    # keep the results as JSON too
    python -m tests.corpus.table --results results.json # render results saved earlier
                                                        # (or by SECCOMPGEN_CORPUS_RESULTS)

Run it from the repository root, as root, with a Docker engine (as the tests). Progress goes
to stderr, the table to stdout. Exit status 1 when a program failed (its failures on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from .runner import MODES, ModeResult, ProgramResult, run_corpus, save


def _load(path: Path) -> tuple[str, list[ProgramResult], float]:
    data = json.loads(path.read_text(encoding="utf-8"))
    results = []
    for raw in data["programs"]:
        modes = {m: ModeResult(**r) for m, r in raw.pop("modes").items()}
        results.append(ProgramResult(**raw, modes=modes))
    return str(data["image"]), results, float(data["seconds"])


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def render(image: str, results: list[ProgramResult], seconds: float) -> str:
    """The Markdown table and a line saying what ran, how long it took and on which image."""
    head = (
        "| program | Debian package (version) | Go | linking | kind "
        "| allowed names (no NNP / NNP) | Docker default | verify --strict (no NNP / NNP) "
        "| seconds |\n"
        "| --- | --- | --- | --- | --- | ---: | ---: | --- | ---: |\n"
    )
    rows = []
    for r in results:
        modes = [r.modes.get(m, ModeResult()) for m in MODES]
        allowed = " / ".join(_cell(m.allowed) for m in modes)
        default = next((m.docker_default for m in modes if m.docker_default), None)
        if not r.traced:
            verdict = "FAIL (trace)"
        else:
            verdict = " / ".join("pass" if m.passed else "FAIL" for m in modes)
        rows.append(
            f"| {r.name} | `{r.package}` ({r.version}) | {_cell(r.go_version)} | {r.linkage} "
            f"| {r.kind} | {allowed} "
            f"| {_cell(default)} | {verdict} | {r.seconds:.0f} |\n"
        )
    passed = sum(r.passed for r in results)
    foot = (
        f"\n{passed} of {len(results)} programs passed; the whole run took {seconds:.0f} s "
        f"(image `{image}`).\n"
    )
    return head + "".join(rows) + foot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.corpus.table",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--results", type=Path, help="render these saved results, run nothing")
    parser.add_argument("--only", default="", help="comma-separated program names")
    parser.add_argument("--save", type=Path, help="also write the results here (JSON)")
    parser.add_argument("--work", type=Path, help="keep the stores and profiles here")
    args = parser.parse_args(argv)
    if args.results is not None:
        image, results, seconds = _load(args.results)
    else:
        names = [n for n in args.only.split(",") if n]
        with tempfile.TemporaryDirectory(prefix="seccompgen-corpus-") as tmp:
            work = args.work or Path(tmp)
            image, results, seconds = run_corpus(
                work, names, log=lambda line: print(line, file=sys.stderr, flush=True)
            )
        if args.save is not None:
            save(args.save, image, results, seconds)
    sys.stdout.write(render(image, results, seconds))
    failures = [f for r in results for f in r.failures()]
    for failure in failures:
        print(f"\n{failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
