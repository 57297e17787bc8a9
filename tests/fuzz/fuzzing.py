"""The fuzz harness shared by the property tests in this folder and ``benchmarks/fuzz/run.py``.

Each *target* is one way the program reads untrusted input, called the way the program calls it:

* ``strace``: :func:`seccompgen.parsing.parse_strace` on text lines, run twice, with the compiled
  scanner (``seccompgen._speedups``) and with the pure-Python loops, written as trace lines and
  folded into a graph;
* ``strace-ff``: the files of one ``strace -ff`` run, parsed with a shared thread table and
  merged by time as ``import`` does, compiled and pure;
* ``audit``: :class:`seccompgen.parsing.audit.AuditLineParser` (auditd, kmsg, dmesg, journald
  lines) and :func:`~seccompgen.parsing.audit.parse_payload` (netlink payloads);
* ``profile``: a profile file read as ``seccompgen validate`` and ``seccompgen diff`` read it;
* ``trace``: a trace file read with :func:`seccompgen.tracefile.read_trace` and iterated;
* ``graph``: a store's ``graph.json`` read with :meth:`SyscallGraph.from_json`.

A check returns normally when the input was accepted or rejected with one of the project's
typed errors (a :class:`~seccompgen.errors.SeccompgenError`), and raises :class:`Crash` for any
other exception and :class:`Disagreement` when the compiled and pure strace parsers differ.

Inputs come from mutators driven by a :class:`random.Random`: the property tests draw that
from hypothesis (``st.randoms``), the benchmark seeds it from ``--seed``. The seeds are the
recorded traces in ``traces/recorded`` and ``tests/unit/data``, the profiles in ``profiles/``
and Docker's default profile, and trace and graph files written from the recorded traces.
"""

from __future__ import annotations

import io
import json
import random
import string
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import seccompgen.graph.fold as graph_mod
import seccompgen.parsing.strace as strace_mod
from seccompgen import pipeline
from seccompgen.errors import ParseError, SeccompgenError
from seccompgen.events import Event
from seccompgen.graph import SyscallGraph
from seccompgen.parsing import ParseStats, ThreadTable, ff_pid, merge_by_time, parse_strace
from seccompgen.parsing.audit import AuditLineParser, parse_payload
from seccompgen.store import TRACE_SUFFIX, TraceStore
from seccompgen.tracefile import TraceHeader, TraceWriter
from seccompgen.tracefile.writer import _dumps, _event_to_json

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "traces" / "recorded"

try:
    from seccompgen import _speedups
except ImportError:  # pragma: no cover - a build without a C compiler
    _speedups = None  # type: ignore[assignment]

HAVE_COMPILED = _speedups is not None


class Crash(AssertionError):
    """The code under test raised something other than a typed SeccompgenError."""


class Disagreement(AssertionError):
    """The compiled and pure strace parsers gave different results for one input."""


# ---------------------------------------------------------------------------------------------
# Seeds


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)


@cache
def strace_lines() -> tuple[str, ...]:
    """Every line of every recorded strace output (stderr, -o FILE and -ff shapes)."""
    files = [
        *sorted(RECORDED.glob("*.strace")),
        *sorted((RECORDED / "go_ff").iterdir()),
        *sorted((ROOT / "tests" / "unit" / "data").glob("*.strace")),
    ]
    return tuple(line for f in files for line in _lines(f))


@cache
def strace_files() -> tuple[tuple[str, ...], ...]:
    """The recorded strace outputs, each as its lines."""
    return tuple(tuple(_lines(f)) for f in sorted(RECORDED.glob("*.strace")))


@cache
def ff_files() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The files of one recorded ``strace -ff`` run: (file name, lines)."""
    return tuple((f.name, tuple(_lines(f))) for f in sorted((RECORDED / "go_ff").iterdir()))


@cache
def audit_lines() -> tuple[str, ...]:
    """Every line of the recorded audit logs (auditd, dmesg, dmesg -T, kmsg, netlink)."""
    files = sorted(p for p in (RECORDED / "audit").iterdir() if p.suffix in (".log", ".txt"))
    return tuple(line for f in files for line in _lines(f))


@cache
def profile_texts() -> tuple[str, ...]:
    """The profiles shipped in ``profiles/`` and Docker's default profile."""
    files = [
        *sorted((ROOT / "profiles").glob("*.json")),
        ROOT / "seccompgen" / "data" / "docker-default-seccomp.json",
    ]
    return tuple(f.read_text(encoding="utf-8") for f in files)


def _events(name: str) -> list[Event]:
    return list(parse_strace(_lines(RECORDED / name), source=name))


@cache
def trace_texts() -> tuple[str, ...]:
    """Trace files written from recorded traces: complete, signals and exits included."""
    import tempfile

    texts = []
    with tempfile.TemporaryDirectory(prefix="seccompgen-fuzz-seed-") as tmp:
        for i, name in enumerate(("sh_segv.strace", "py_threads.strace", "sh_kill9.strace")):
            header = TraceHeader(
                trace_id=f"{i:032x}",
                workload="seed",
                arch="x86_64",
                backend="strace",
                command=("./app", "--flag"),
                started="2026-11-28T07:40:00+00:00",
                host="fuzz",
                seccompgen_version="0",
            )
            path = Path(tmp) / f"{i}.trace.jsonl"
            with TraceWriter.create(path, header) as writer:
                for event in _events(name)[:60]:
                    writer.write(event)
            texts.append(path.read_text(encoding="utf-8"))
    return tuple(texts)


@cache
def graph_texts() -> tuple[str, ...]:
    """``graph.json`` documents of recorded traces, sourced and unsourced."""
    g = SyscallGraph()
    g.add_events("a", _events("sh_segv.strace"), source_id="0" * 32)
    g.add_events("b", _events("py_threads.strace"))
    return (g.to_json(),)


# ---------------------------------------------------------------------------------------------
# Mutators: random.Random in, text out


_SPECIAL = list(" ()<>=,.-x0\"'{}[]/*E?\\:;|+\t\r\x00\x1d\x85é\u2028\ud800")
_NUMBERS = [
    "18446744073709551616",
    "-9223372036854775809",
    "0x10000000000000000",
    "1" * 40,
    "9" * 5000,
    "1e999",
    "1" + "0" * 400,
    "-0",
    "NaN",
    "Infinity",
    "0777",
    "\u0663",
]


def mutate_text(rng: random.Random, text: str, rounds: int | None = None) -> str:
    """``text`` with a few byte-level edits: insert, delete, swap, splice, cut, big numbers."""
    for _ in range(rng.randint(1, 4) if rounds is None else rounds):
        pos = rng.randint(0, len(text))
        kind = rng.randrange(9)
        if kind == 0:
            text = text[:pos] + rng.choice(_SPECIAL) + text[pos:]
        elif kind == 1:
            end = pos + rng.randint(1, 8)
            text = text[:pos] + text[end:]
        elif kind == 2:
            text = text[:pos] + chr(rng.randint(0, 0x7F)) + text[pos + 1 :]
        elif kind == 3:
            text = text[:pos]
        elif kind == 4:
            digit = next((i for i in range(pos, len(text)) if text[i].isdigit()), None)
            if digit is not None:
                text = text[:digit] + rng.choice(_NUMBERS) + text[digit + 1 :]
        elif kind == 5:
            other = rng.randint(0, len(text))
            a, b = sorted((pos, other))
            text = text[:a] + text[a:b] * rng.randint(0, 3) + text[b:]
        elif kind == 6:
            text = text.replace(" ", rng.choice(["", "  ", "\t"]), 1)
        elif kind == 7:
            word = rng.choice(["(", ")", "=", " ", "<", ">", "\n", '"', ":"])
            idx = text.find(word, pos)
            if idx >= 0:
                text = text[:idx] + text[idx + len(word) :]
        else:
            text = text[:pos] + rng.choice(string.printable) * rng.randint(1, 30) + text[pos:]
    return text


def random_bytes_text(rng: random.Random) -> str:
    """Arbitrary bytes as the program reads a log: UTF-8 with replacement characters."""
    raw = bytes(rng.randrange(256) for _ in range(rng.randint(0, 400)))
    return raw.decode("utf-8", errors="replace")


def split_lines(text: str) -> list[str]:
    """Lines as ``open(..., newline="")`` yields them (the import path's reading)."""
    return list(io.StringIO(text, newline=""))


def strace_input(rng: random.Random) -> list[str]:
    """A strace log: real lines, mutated real lines, a cut real file, or random bytes."""
    kind = rng.randrange(5)
    corpus = strace_lines()
    if kind == 0:
        return split_lines(random_bytes_text(rng))
    if kind == 1:
        lines = list(rng.choice(strace_files()))
        cut = rng.randint(0, sum(map(len, lines)))
        return split_lines("".join(lines)[:cut])
    if kind == 2:
        start = rng.randrange(len(corpus))
        window = list(corpus[start : start + rng.randint(1, 40)])
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(window))
            window[i] = mutate_text(rng, window[i])
        return split_lines("".join(window))
    lines = [rng.choice(corpus) for _ in range(rng.randint(1, 30))]
    if kind == 3:
        return lines
    return [mutate_text(rng, x) if rng.random() < 0.5 else x for x in lines]


def strace_ff_input(rng: random.Random) -> list[tuple[str, list[str]]]:
    """The files of a ``strace -ff`` run, some cut or mutated, some renamed to another pid."""
    files = []
    for name, lines in ff_files():
        if rng.random() < 0.3:
            continue
        body = list(lines)
        if body and rng.random() < 0.5:
            i = rng.randrange(len(body))
            body[i] = mutate_text(rng, body[i])
        if rng.random() < 0.2:
            text = "".join(body)
            body = split_lines(text[: rng.randint(0, len(text))])
        if rng.random() < 0.1:
            name = rng.choice(["go", "go.", "go.0", "go.x", "go.99999999999999999999"])
        files.append((name, body))
    return files


def audit_input(rng: random.Random) -> list[str]:
    """Audit text: recorded lines mutated, shuffled, cut, or random bytes."""
    corpus = audit_lines()
    kind = rng.randrange(4)
    if kind == 0:
        return split_lines(random_bytes_text(rng))
    lines = [rng.choice(corpus) for _ in range(rng.randint(1, 12))]
    if kind == 1:
        return split_lines(mutate_text(rng, "".join(lines), rng.randint(1, 8)))
    return [mutate_text(rng, x) if rng.random() < 0.6 else x for x in lines]


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """A JSON value of any shape, shallow or deep."""
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2**32, 2**64, -(2**63) - 1, 10**30, 7])
    if kind == 3:
        return rng.choice([0.5, -1e300, 1e308, 3.0])
    if kind in (4, 5):
        return rng.choice(
            ["", "read", "SCMP_ACT_ALLOW", "SCMP_ARCH_X86_64", "SCMP_CMP_EQ", "x" * 300, "\u0000"]
        )
    if kind in (6, 7):
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["defaultAction", "syscalls", "names", "action", "args", "index", "value", "op",
            "archMap", "architecture", "subArchitectures", "includes", "excludes", "arches",
            "caps", "minKernel", "errnoRet", "flags", "k", "x"]  # fmt: skip
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def replace_subtree(rng: random.Random, doc: Any) -> Any:
    """``doc`` with one value (anywhere in it) replaced by a random JSON value, or removed."""
    paths = list(_paths(doc))
    path = rng.choice(paths)
    new = random_json(rng)
    if not path:
        return new
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if rng.random() < 0.3:
        # An empty value of the same type: "", 0, [], {} pass type checks and break assumptions.
        new = type(parent[path[-1]])()
    if rng.random() < 0.2:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return doc


def deep(rng: random.Random) -> str:
    """JSON nested deeper than any parser's recursion limit, valid or not."""
    n = rng.choice([500, 5000, 100_000])
    opener, closer = rng.choice([("[", "]"), ('{"a":', "}"), ('{"syscalls":[', "]}")])
    tail = closer * n if rng.random() < 0.7 else ""
    return opener * n + "1" + tail


def json_document(rng: random.Random, seeds: tuple[str, ...]) -> str:
    """A mutated, retyped, truncated or deeply nested version of one of ``seeds``."""
    kind = rng.randrange(6)
    seed = rng.choice(seeds)
    if kind == 0:
        doc = json.loads(seed)
        for _ in range(rng.randint(1, 3)):
            doc = replace_subtree(rng, doc)
        return json.dumps(doc)
    if kind == 1:
        return mutate_text(rng, seed, rng.randint(1, 6))
    if kind == 2:
        return seed[: rng.randint(0, len(seed))]
    if kind == 3:
        return deep(rng)
    if kind == 4:
        return json.dumps(random_json(rng))
    return random_bytes_text(rng)


def profile_input(rng: random.Random) -> bytes:
    """Bytes of a profile file: mostly JSON derived from real profiles, sometimes not UTF-8."""
    text = json_document(rng, profile_texts())
    data = text.encode("utf-8", errors="surrogatepass")
    if rng.random() < 0.05:
        data = data[: rng.randint(0, len(data))] + bytes([rng.randrange(0x80, 0x100)])
    return data


def trace_input(rng: random.Random) -> bytes:
    """Bytes of a trace file: a real one cut anywhere, with lines mutated or retyped."""
    seed = rng.choice(trace_texts())
    lines = seed.splitlines(keepends=True)
    kind = rng.randrange(5)
    if kind == 0:
        text = seed[: rng.randint(0, len(seed))]
    elif kind == 1:
        i = rng.randrange(len(lines))
        lines[i] = mutate_text(rng, lines[i])
        text = "".join(lines)
    elif kind == 2:
        # The header (line 1) and footer decide how everything else is read: retype them often.
        i = rng.choice([0, 0, -1, rng.randrange(len(lines))])
        doc = json.loads(lines[i])
        for _ in range(rng.randint(1, 2)):
            doc = replace_subtree(rng, doc)
        lines[i] = json.dumps(doc) + "\n"
        text = "".join(lines)
    elif kind == 3:
        text = "".join(rng.choice(lines) for _ in range(rng.randint(1, 10)))
    else:
        text = lines[0] + json_document(rng, tuple(lines[1:])) + "\n"
    data = text.encode("utf-8", errors="surrogatepass")
    if rng.random() < 0.05:
        data += bytes([rng.randrange(0x80, 0x100)])
    return data


def graph_input(rng: random.Random) -> str:
    """Text of a ``graph.json``: mutated, retyped, cut or deeply nested."""
    return json_document(rng, graph_texts())


# ---------------------------------------------------------------------------------------------
# Checks


@contextmanager
def _typed_errors_only(target: str) -> Iterator[None]:
    try:
        yield
    except SeccompgenError as e:
        # A typed error must still be one a user can read: a message, no traceback needed.
        if not e.message:
            raise Crash(f"{target}: {type(e).__name__} without a message") from e
    except (Crash, Disagreement):
        raise
    except Exception as e:  # the point: anything untyped is a crash (RecursionError too)
        raise Crash(f"{target}: {type(e).__name__}: {e}"[:500]) from e


@contextmanager
def compiled(on: bool) -> Iterator[None]:
    """Switch the compiled scanner and fold on or off for the duration."""
    saved = strace_mod._COMPILED, graph_mod._COMPILED
    strace_mod._COMPILED = graph_mod._COMPILED = on and HAVE_COMPILED
    try:
        yield
    finally:
        strace_mod._COMPILED, graph_mod._COMPILED = saved


Outcome = tuple[Any, ...]


def _strace_outcome(lines: list[str], default_pid: int | None) -> Outcome:
    stats = ParseStats()
    seen: list[Event] = []
    try:
        for ev in parse_strace(lines, source="fuzz", stats=stats, default_pid=default_pid):
            seen.append(ev)
    except ParseError as e:
        return ("error", str(e), e.line, seen)
    # What `import` and `trace` do next: write each event as a trace line, fold into a graph.
    lines = [_dumps(_event_to_json(ev, "x86_64")) for ev in seen]
    g = SyscallGraph()
    g.add_events("w", seen, source_id="s")
    return ("ok", seen, stats, g.to_json(), lines)


def check_strace(lines: list[str], default_pid: int | None = None) -> None:
    """Both parsers take ``lines`` without an untyped exception and give the same outcome."""
    with _typed_errors_only("strace (compiled)"), compiled(True):
        fast = _strace_outcome(lines, default_pid)
    if not HAVE_COMPILED:
        return
    with _typed_errors_only("strace (pure)"), compiled(False):
        pure = _strace_outcome(lines, default_pid)
    if fast != pure:
        raise Disagreement(f"compiled and pure parsers differ: {fast[:2]!r} vs {pure[:2]!r}"[:600])


def _ff_outcome(files: list[tuple[str, list[str]]]) -> Outcome:
    # As `import` reads several logs: one parser per file sharing the thread table, each file's
    # lines belonging to the pid in its name, merged by time.
    threads: ThreadTable = {}
    stats = [ParseStats() for _ in files]
    streams = [
        parse_strace(lines, source=name, default_pid=ff_pid(name), stats=st, threads=threads)
        for (name, lines), st in zip(files, stats, strict=True)
    ]
    seen: list[Event] = []
    try:
        for ev in merge_by_time(streams):
            seen.append(ev)
    except ParseError as e:
        return ("error", str(e), e.line, seen)
    lines_out = [_dumps(_event_to_json(ev, "x86_64")) for ev in seen]
    g = SyscallGraph()
    g.add_events("w", seen, source_id="s")
    return ("ok", seen, stats, g.to_json(), lines_out)


def check_strace_ff(files: list[tuple[str, list[str]]]) -> None:
    """The files of an ``strace -ff`` run, as ``import`` reads them, both parsers agreeing."""
    with _typed_errors_only("strace -ff (compiled)"), compiled(True):
        fast = _ff_outcome(files)
    if not HAVE_COMPILED:
        return
    with _typed_errors_only("strace -ff (pure)"), compiled(False):
        pure = _ff_outcome(files)
    if fast != pure:
        raise Disagreement(f"compiled and pure parsers differ: {fast[:2]!r} vs {pure[:2]!r}"[:600])


def check_audit(lines: list[str]) -> None:
    """The line parser and the netlink payload decoder raise only ParseError."""
    with _typed_errors_only("audit"):
        parser = AuditLineParser("fuzz")
        for record in parser.parse(lines):
            record.to_event()
    for line in lines[:5]:
        with _typed_errors_only("audit payload"):
            parse_payload(line, source="fuzz").to_event()


def check_profile(data: bytes, tmp: Path) -> None:
    """The profile file as ``validate`` and ``diff`` read it: problems or a typed error."""
    path = tmp / "profile.json"
    path.write_bytes(data)
    with _typed_errors_only("validate"):
        result = pipeline.validate(path)
        lines = [*result.problems, *result.warnings]
        if not all(isinstance(p, str) and "\n" not in p for p in lines):
            raise Crash(f"validate: problems are not one line each: {lines!r}"[:500])
    with _typed_errors_only("diff"):
        pipeline.diff(str(path), pipeline.DOCKER_DEFAULT)


def check_trace(data: bytes, tmp: Path) -> None:
    """The trace file read as the store reads it: rebuilding ``graph.json`` from it."""
    store = TraceStore(tmp / "store")
    path = store.root / "w" / f"20260101T000000Z-00000000{TRACE_SUFFIX}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    store.graph_path.unlink(missing_ok=True)
    with _typed_errors_only("trace"):
        store.load_graph()


def check_graph(text: str) -> None:
    """``graph.json`` text read back, then written again."""
    with _typed_errors_only("graph"):
        SyscallGraph.from_json(text, source="graph.json").to_json()


@dataclass(frozen=True)
class Target:
    """One fuzz target: how to make an input and how to check it."""

    name: str
    make: Callable[[random.Random], Any]
    check: Callable[[Any, Path], None]


TARGETS: tuple[Target, ...] = (
    Target("strace", strace_input, lambda x, _tmp: check_strace(x)),
    Target("strace-ff", strace_ff_input, lambda x, _tmp: check_strace_ff(x)),
    Target("audit", audit_input, lambda x, _tmp: check_audit(x)),
    Target("profile", profile_input, check_profile),
    Target("trace", trace_input, check_trace),
    Target("graph", graph_input, lambda x, _tmp: check_graph(x)),
)


def describe(exc: BaseException) -> str:
    """Where an exception came from: its type and the innermost seccompgen frame."""
    cause = exc.__cause__ or exc
    frames = [f for f in traceback.extract_tb(cause.__traceback__) if "seccompgen" in f.filename]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(cause).__name__} at {where}"
