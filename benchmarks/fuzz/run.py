"""Fuzz every input parser for a budget: inputs tried, crashes and compiled/pure disagreements.

Run as ``.venv/bin/python benchmarks/fuzz/run.py [--seed N] [--budget 600s | 50000]
[--targets strace,audit,...] [--out DIR]``. The targets and mutators are the ones the property
tests in ``tests/fuzz`` run (``tests/fuzz/fuzzing.py``); here they run longer, from a chosen
seed, and report per target:

* inputs tried;
* crashes: any exception other than a typed ``SeccompgenError``, grouped by exception type and
  the innermost seccompgen frame, with the first input of each group saved under ``--out``
  (a ``.json`` file holding the input, the target and the traceback);
* disagreements between the compiled strace scanner (``seccompgen._speedups``) and the pure
  Python loops, with their first input saved the same way.

``--budget`` is split evenly across the targets: ``600s`` (or ``600``, seconds) or ``50000``
inputs (a bare number above 10000, or ``50000i``). The run is deterministic for a given seed
and input budget. Exit status 1 when anything was found.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fuzz"))

import fuzzing  # noqa: E402


@dataclass
class Tally:
    inputs: int = 0
    seconds: float = 0.0
    crashes: dict[str, int] = field(default_factory=dict)
    disagreements: int = 0


def parse_budget(text: str) -> tuple[float | None, int | None]:
    """``600s`` / ``600`` -> (600.0 seconds, None); ``50000i`` / ``50000`` -> (None, 50000)."""
    t = text.strip().lower()
    if t.endswith("s"):
        return float(t[:-1]), None
    if t.endswith("i"):
        return None, int(t[:-1])
    n = float(t)
    return (None, int(n)) if n > 10_000 else (n, None)


def save(out: Path, target: str, kind: str, key: str, value: Any, exc: BaseException) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() else "-" for c in key)[:80]
    path = out / f"{target}-{kind}-{safe}.json"
    if isinstance(value, bytes):
        payload: Any = {"bytes_latin1": value.decode("latin-1")}
    else:
        payload = {"value": value}
    record = {
        "target": target,
        "kind": kind,
        "key": key,
        "input": payload,
        "traceback": "".join(traceback.format_exception(exc)),
    }
    path.write_text(json.dumps(record, indent=1, ensure_ascii=True) + "\n", encoding="utf-8")
    return path


def run_target(
    target: fuzzing.Target,
    seed: int,
    seconds: float | None,
    inputs: int | None,
    out: Path,
    tmp: Path,
) -> Tally:
    rng = random.Random(f"{seed}:{target.name}")
    tally = Tally()
    start = time.monotonic()
    deadline = start + seconds if seconds is not None else None
    while True:
        if inputs is not None and tally.inputs >= inputs:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        value = target.make(rng)
        tally.inputs += 1
        try:
            target.check(value, tmp)
        except fuzzing.Disagreement as e:
            tally.disagreements += 1
            if tally.disagreements == 1:
                saved = save(out, target.name, "disagree", "first", value, e)
                print(f"  {target.name}: disagreement, saved {saved}")
        except fuzzing.Crash as e:
            key = fuzzing.describe(e)
            tally.crashes[key] = tally.crashes.get(key, 0) + 1
            if tally.crashes[key] == 1:
                saved = save(out, target.name, "crash", key, value, e)
                print(f"  {target.name}: crash {key}, saved {saved}")
    tally.seconds = time.monotonic() - start
    return tally


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budget", default="60s", help="seconds (600s) or inputs (50000i), in all")
    ap.add_argument("--targets", default=",".join(t.name for t in fuzzing.TARGETS))
    ap.add_argument("--out", type=Path, default=Path("fuzz-findings"))
    args = ap.parse_args(argv)
    chosen = [t for t in fuzzing.TARGETS if t.name in args.targets.split(",")]
    if not chosen:
        ap.error(f"no such target in {args.targets!r}")
    seconds, inputs = parse_budget(args.budget)
    share_s = seconds / len(chosen) if seconds is not None else None
    share_n = -(-inputs // len(chosen)) if inputs is not None else None
    compiled = "compiled and pure" if fuzzing.HAVE_COMPILED else "pure only (no _speedups)"
    print(f"seed {args.seed}, budget {args.budget} over {len(chosen)} targets; strace: {compiled}")
    results: dict[str, Tally] = {}
    with tempfile.TemporaryDirectory(prefix="seccompgen-fuzz-") as tmp:
        for target in chosen:
            results[target.name] = run_target(
                target, args.seed, share_s, share_n, args.out, Path(tmp)
            )
    print()
    print(
        f"{'target':<8} {'inputs':>9} {'inputs/s':>9} {'crashes':>8} {'kinds':>6} {'disagree':>9}"
    )
    for name, t in results.items():
        rate = t.inputs / t.seconds if t.seconds else 0.0
        print(
            f"{name:<8} {t.inputs:>9} {rate:>9.0f} {sum(t.crashes.values()):>8} "
            f"{len(t.crashes):>6} {t.disagreements:>9}"
        )
        for key, n in sorted(t.crashes.items()):
            print(f"           {n:>6} x {key}")
    total = sum(t.inputs for t in results.values())
    found = sum(sum(t.crashes.values()) + t.disagreements for t in results.values())
    print(f"total    {total:>9} inputs, {found} findings")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
