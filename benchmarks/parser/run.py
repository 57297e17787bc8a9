"""Benchmark the strace parser: lines/s into the graph, parse-only, awk, and peak memory.

Run as ``.venv/bin/python benchmarks/parser/run.py [--lines N] [--scale K] [--baseline DIR]``.
Builds the Go echo server in traces/recorded/src, records it under ``strace -f -ttt -X raw``,
repeats the recording with renumbered pids and shifted timestamps into a trace of at least N
lines, and measures each case in its own child process (peak RSS from that child's rusage).

Each seccompgen case runs twice: with the compiled inner loops (``seccompgen._speedups``) and
with the pure-Python loops (``SECCOMPGEN_PURE=1``), on the same file in the same run.  The
seconds column is the child's whole wall time (interpreter start and imports included, as for
awk); "in-process s" is the parse/fold statement alone, timed inside the child.

``--baseline DIR`` names another checkout of this repository (for example
``git worktree add --detach /tmp/seccompgen-base REV``); its parser and graph are measured on
the same trace in the same run, so the table compares the two without machine drift between
runs. Its compiled inner loops must be built in place first (the run stops otherwise)::

    cd /tmp/seccompgen-base && /path/to/this/checkout/.venv/bin/python setup.py build_ext --inplace
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


def _editable(finder: object) -> bool:
    """Whether ``finder`` is the import hook of a setuptools editable install."""
    module = getattr(finder, "__module__", None) or type(finder).__module__
    return str(module).startswith("__editable__")


def child(mode: str, path: str, root: str) -> None:
    sys.path.insert(0, root)
    # An editable install's finder maps any ``seccompgen.*`` name to its own tree, so a module
    # the checkout lacks (an unbuilt ``_speedups``) would silently come from there.
    sys.meta_path[:] = [f for f in sys.meta_path if not _editable(f)]
    import seccompgen
    from seccompgen.parsing import parse_strace

    inside = os.path.realpath(root) + os.sep
    if not os.path.realpath(seccompgen.__file__ or "").startswith(inside):
        raise SystemExit(f"imported {seccompgen.__file__}, not the checkout in {root}")
    from seccompgen.parsing import strace as strace_mod

    want_pure = os.environ.get("SECCOMPGEN_PURE", "") not in ("", "0")
    compiled = getattr(strace_mod, "_COMPILED", None)  # None: a checkout without the switch
    if compiled is not None and compiled == want_pure:
        raise SystemExit(
            f"{root}: the compiled loops are not what this case measures (build them with "
            "`.venv/bin/python setup.py build_ext --inplace` there)"
        )
    speedups = sys.modules.get("seccompgen._speedups")
    if speedups is not None and not os.path.realpath(speedups.__file__ or "").startswith(inside):
        raise SystemExit(f"{root}: imported {speedups.__file__}, not its own compiled loops")
    if mode == "graph":
        from seccompgen.graph import SyscallGraph
    start = time.perf_counter()
    with open(path, encoding="utf-8") as f:
        if mode == "graph":
            SyscallGraph().add_events("bench", parse_strace(f, source=path))
        else:
            for _ in parse_strace(f, source=path):
                pass
    print(time.perf_counter() - start)


Row = tuple[str, float, float | None, float | None]


def measure(argv: list[str], *, pure: bool = False) -> tuple[float, float, float | None]:
    """Wall seconds, peak RSS (MiB) and the child's own timing (if it prints one)."""
    env = dict(os.environ)
    env.pop("SECCOMPGEN_PURE", None)
    if pure:
        env["SECCOMPGEN_PURE"] = "1"
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, stdout=out, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode().strip()
    if status != 0:
        raise SystemExit(f"{argv} failed with status {status}")
    inner = float(text) if argv[-4:-3] == ["--child"] and text else None
    return elapsed, usage.ru_maxrss / 1024, inner


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
        rows: list[Row] = []
        if baseline is not None:
            tb_graph, mb_graph, ib_graph = measure([*py, "graph", str(big), str(baseline)])
            tb_parse, mb_parse, ib_parse = measure([*py, "parse", str(big), str(baseline)])
            rows.append(
                ("baseline: parse -> SyscallGraph.add_events", tb_graph, mb_graph, ib_graph)
            )
            rows.append(("baseline: parse only", tb_parse, mb_parse, ib_parse))
        t_graph, m_graph, i_graph = measure([*py, "graph", str(big), str(ROOT)])
        t_parse, m_parse, i_parse = measure([*py, "parse", str(big), str(ROOT)])
        tp_graph, mp_graph, ip_graph = measure([*py, "graph", str(big), str(ROOT)], pure=True)
        tp_parse, mp_parse, ip_parse = measure([*py, "parse", str(big), str(ROOT)], pure=True)
        t_awk, _, _ = measure(["sh", "-c", f"awk '{{print $2}}' {big} > /dev/null"])
        rows.append(("compiled: parse -> SyscallGraph.add_events", t_graph, m_graph, i_graph))
        rows.append(("compiled: parse only", t_parse, m_parse, i_parse))
        rows.append(("pure Python: parse -> SyscallGraph.add_events", tp_graph, mp_graph, ip_graph))
        rows.append(("pure Python: parse only", tp_parse, mp_parse, ip_parse))
        awk_name = os.path.basename(os.path.realpath(shutil.which("awk") or "awk"))
        rows.append((f"awk '{{print $2}}' ({awk_name})", t_awk, None, None))
        if shutil.which("mawk"):
            t_mawk, _, _ = measure(["sh", "-c", f"mawk '{{print $2}}' {big} > /dev/null"])
            rows.append(("mawk '{print $2}'", t_mawk, None, None))
        big.unlink()
        n10 = build(base, args.lines * args.scale, big)
        t10, m10, i10 = measure([*py, "graph", str(big), str(ROOT)])
        pyver = sys.version.split()[0]
        print(f"\nrecording: {len(base)} lines of strace -f -ttt -X raw (Go echo server)")
        print(f"1x = {n1:,} lines, {args.scale}x = {n10:,} lines; python {pyver}\n")
        print("| case | lines/s | seconds | in-process s | peak RSS MiB |")
        print("| --- | ---: | ---: | ---: | ---: |")
        rows.append((f"compiled: graph, {args.scale}x trace", t10, m10, i10))
        for name, t, m, inner in rows:
            rss = f"{m:.0f}" if m is not None else "-"
            ins = f"{inner:.2f}" if inner is not None else "-"
            n = n10 if name.endswith("x trace") else n1
            print(f"| {name} | {n / t:,.0f} | {t:.2f} | {ins} | {rss} |")
        print(
            f"\nratio parse->graph / awk: compiled {t_awk / t_graph:.2f}x, pure "
            f"{t_awk / tp_graph:.2f}x; parse-only / awk: compiled {t_awk / t_parse:.2f}x, pure "
            f"{t_awk / tp_parse:.2f}x"
        )
        print(
            f"compiled over pure: parse->graph {tp_graph / t_graph:.2f}x, "
            f"parse-only {tp_parse / t_parse:.2f}x"
        )
        print(f"peak RSS {args.scale}x / 1x (compiled graph): {m10 / m_graph:.2f}")
        if baseline is not None:
            print(
                f"speed-up over the baseline: parse->graph {tb_graph / t_graph:.2f}x, "
                f"parse-only {tb_parse / t_parse:.2f}x"
            )


if __name__ == "__main__":
    main()
