"""Benchmark the strace parser: lines/s into the graph, parse-only, awk, and peak memory.

Run as ``.venv/bin/python benchmarks/parser/run.py [--lines N] [--scale K] [--baseline DIR]``.
Builds the Go echo server in traces/recorded/src, records it under ``strace -f -ttt -X raw``,
repeats the recording with renumbered pids and shifted timestamps into a trace of at least N
lines, and measures each case in its own child process (peak RSS from that child's rusage).

``--baseline DIR`` names another checkout of this repository (for example
``git worktree add --detach /tmp/seccompgen-base REV``); its parser and graph are measured on
the same trace in the same run, so the table compares the two without machine drift between
runs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GO_SRC = ROOT / "traces" / "recorded" / "src" / "echoserver"
LINE = re.compile(r"^(\d+)( +)(\d+)\.(\d+)( .*)$", re.S)


def record(work: Path) -> list[str]:
    exe = work / "echoserver"
    env = dict(os.environ, GOTOOLCHAIN="local", GOPROXY="off", GOFLAGS="-mod=mod", CGO_ENABLED="0")
    go = shutil.which("go") or str(ROOT / ".venv" / "bin" / "go")
    subprocess.run([go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(exe), "."],
                   cwd=GO_SRC, env=env, check=True)  # fmt: skip
    out = work / "base.strace"
    cmd = ["strace", "-f", "-ttt", "-X", "raw", "-o", str(out), str(exe), "-n", "200", "-c", "4"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out.read_text().splitlines(keepends=True)


def build(base: list[str], n_lines: int, path: Path) -> int:
    """Repeat ``base`` with pids and timestamps shifted so each copy is a new run."""
    parsed = []
    for line in base:
        m = LINE.match(line)
        if m is None:
            raise SystemExit(f"unexpected line in recording: {line!r}")
        parsed.append((int(m[1]), m[2], int(m[3]), m[4], m[5]))
    first_ts = parsed[0][2]
    span = parsed[-1][2] - first_ts + 1
    pid_re = re.compile(r"(?<=[= ])(\d{3,7})(?=\n|\)|$)")
    pids = {p[0] for p in parsed}
    written = 0
    copy = 0
    with open(path, "w") as f:
        while written < n_lines:
            pid_shift = (copy * 1000) % 4_000_000

            def shift(m: re.Match[str], by: int = pid_shift) -> str:
                return str(int(m[1]) + by) if int(m[1]) in pids else m[1]

            for pid, pad, sec, frac, rest in parsed:
                # clone()/fork() return values are child pids: shift them too
                rest = pid_re.sub(shift, rest)
                f.write(f"{pid + pid_shift}{pad}{sec + copy * span}.{frac}{rest}")
            written += len(parsed)
            copy += 1
    return written


def child(mode: str, path: str, root: str) -> None:
    sys.path.insert(0, root)
    import seccompgen
    from seccompgen.parsing import parse_strace

    if not os.path.realpath(seccompgen.__file__).startswith(os.path.realpath(root) + os.sep):
        raise SystemExit(f"imported {seccompgen.__file__}, not the checkout in {root}")

    with open(path, encoding="utf-8") as f:
        if mode == "graph":
            from seccompgen.graph import SyscallGraph

            SyscallGraph().add_events("bench", parse_strace(f, source=path))
        else:
            for _ in parse_strace(f, source=path):
                pass


def measure(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{argv} failed with status {status}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--scale", type=int, default=10, help="size factor for the memory check")
    ap.add_argument("--baseline", type=Path, help="another checkout to measure side by side")
    ap.add_argument("--child", nargs=3, metavar=("MODE", "FILE", "ROOT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    baseline = args.baseline.resolve() if args.baseline else None
    if baseline is not None and not (baseline / "seccompgen" / "parsing").is_dir():
        raise SystemExit(f"--baseline {baseline}: not a seccompgen checkout")
    with tempfile.TemporaryDirectory(prefix="seccompgen-bench-") as tmp:
        work = Path(tmp)
        base = record(work)
        big = work / "trace1x.strace"
        n1 = build(base, args.lines, big)
        py = [sys.executable, __file__, "--child"]
        rows: list[tuple[str, float, float | None]] = []
        if baseline is not None:
            tb_graph, mb_graph = measure([*py, "graph", str(big), str(baseline)])
            tb_parse, mb_parse = measure([*py, "parse", str(big), str(baseline)])
            rows.append(("baseline: parse -> SyscallGraph.add_events", tb_graph, mb_graph))
            rows.append(("baseline: parse only", tb_parse, mb_parse))
        t_graph, m_graph = measure([*py, "graph", str(big), str(ROOT)])
        t_parse, m_parse = measure([*py, "parse", str(big), str(ROOT)])
        t_awk, _ = measure(["sh", "-c", f"awk '{{print $2}}' {big} > /dev/null"])
        rows.append(("seccompgen parse -> SyscallGraph.add_events", t_graph, m_graph))
        rows.append(("seccompgen parse only", t_parse, m_parse))
        rows.append(
            (
                "awk '{print $2}' ("
                + os.path.basename(os.path.realpath(shutil.which("awk") or "awk"))
                + ")",
                t_awk,
                None,
            )
        )
        if shutil.which("mawk"):
            t_mawk, _ = measure(["sh", "-c", f"mawk '{{print $2}}' {big} > /dev/null"])
            rows.append(("mawk '{print $2}'", t_mawk, None))
        big.unlink()
        n10 = build(base, args.lines * args.scale, big)
        t10, m10 = measure([*py, "graph", str(big), str(ROOT)])
        pyver = sys.version.split()[0]
        print(f"\nrecording: {len(base)} lines of strace -f -ttt -X raw (Go echo server)")
        print(f"1x = {n1:,} lines, {args.scale}x = {n10:,} lines; python {pyver}\n")
        print("| case | lines/s | seconds | peak RSS MiB |")
        print("| --- | ---: | ---: | ---: |")
        for name, t, m in rows:
            rss = f"{m:.0f}" if m is not None else "-"
            print(f"| {name} | {n1 / t:,.0f} | {t:.2f} | {rss} |")
        print(f"| graph, {args.scale}x trace | {n10 / t10:,.0f} | {t10:.2f} | {m10:.0f} |")
        print(
            f"\nratio parse->graph / awk: {t_awk / t_graph:.2f}x; "
            f"parse-only / awk: {t_awk / t_parse:.2f}x"
        )
        print(f"peak RSS {args.scale}x / 1x (graph): {m10 / m_graph:.2f}")
        if baseline is not None:
            print(
                f"speed-up over the baseline: parse->graph {tb_graph / t_graph:.2f}x, "
                f"parse-only {tb_parse / t_parse:.2f}x"
            )


if __name__ == "__main__":
    main()
