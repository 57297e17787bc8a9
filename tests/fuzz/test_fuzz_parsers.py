"""Property tests: every parser of untrusted input accepts it or raises a typed error.

Inputs are the mutators of :mod:`fuzzing` (shared with ``benchmarks/fuzz/run.py``, the long
run) driven by hypothesis, plus hypothesis' own generators for text, bytes and JSON. The runs
are derandomized (the same examples every time) and small enough for the normal suite; the
benchmark explores further with ``--seed`` and ``--budget``.
"""

from __future__ import annotations

import json
import random
from typing import Any

import fuzzing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seccompgen.events import Phase


def fuzz(examples: int) -> settings:
    """Derandomized (the same examples every run), no deadline, no example database."""
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


randoms = st.randoms(use_true_random=False)


def test_the_seed_corpus_is_there() -> None:
    # Guards every property below against passing on an empty corpus.
    assert len(fuzzing.strace_lines()) > 1000
    assert len(fuzzing.audit_lines()) > 50
    assert len(fuzzing.profile_texts()) >= 3
    assert all(t.count("\n") > 10 for t in fuzzing.trace_texts())
    assert '"sources"' in fuzzing.graph_texts()[0]


def test_a_crash_is_reported_as_one() -> None:
    # The checks must tell an untyped exception from a typed one, or nothing here can fail.
    with pytest.raises(fuzzing.Crash, match="ZeroDivisionError"), fuzzing._typed_errors_only("x"):
        _ = 1 / 0
    with fuzzing._typed_errors_only("x"):
        from seccompgen.errors import ParseError

        raise ParseError("bad", source="s")


# ---------------------------------------------------------------------------------------------
# strace: no untyped exception, and the compiled and pure parsers agree


@fuzz(250)
@given(randoms)
def test_strace_mutated_logs(rng: random.Random) -> None:
    fuzzing.check_strace(fuzzing.strace_input(rng))


@fuzz(100)
@given(st.binary(max_size=600), st.sampled_from([None, 0, 4242]))
def test_strace_arbitrary_bytes(data: bytes, default_pid: int | None) -> None:
    text = data.decode("utf-8", errors="replace")
    fuzzing.check_strace(fuzzing.split_lines(text), default_pid=default_pid)


prefixes = st.sampled_from(["", "[pid  7] ", "7 ", "7  ", "[pid 4194304] ", "0100 "])
timestamps = st.sampled_from(
    [
        "",
        "1700000000.000001 ",
        "07:40:00.123456 ",
        "07:40:00 ",
        "     0.000123 ",
        "23:59:59.999999 ",
        "1e9 ",
    ]
)
names = st.sampled_from(["read", "clone", "clone3", "vfork", "exit_group", "???", "_", "a" * 70])
args = st.text(alphabet=st.sampled_from(list('0x1 ,"{}[]()<>=/*.|-\\NUL')), max_size=40)
returns = st.sampled_from(
    [
        "0",
        "-1 ENOENT (No such file or directory)",
        "?",
        "0x7f",
        "-1",
        "18446744073709551616",
        "1 <0.000010>",
        "0 (flags O_RDONLY)",
    ]
)
bodies = st.one_of(
    st.builds(lambda n, a, r: f"{n}({a}) = {r}", names, args, returns),
    st.builds(lambda n, a: f"{n}({a} <unfinished ...>", names, args),
    st.builds(lambda n, a, r: f"<... {n} resumed>{a}) = {r}", names, args, returns),
    st.builds(lambda n, a: f"{n}({a} <detached ...>", names, args),
    st.builds(lambda n: f"<... {n} resumed>) = ? <unavailable>", names),
    st.sampled_from(
        [
            "+++ exited with 0 +++",
            "+++ killed by SIGKILL +++",
            "+++ killed by SIGSEGV (core dumped) +++",
            "+++ superseded by execve in pid 8 +++",
            "--- SIGTERM {si_signo=SIGTERM, si_code=SI_USER} ---",
            "--- stopped by SIGSTOP ---",
            "[ Process PID=7 runs in 32 bit mode. ]",
            "strace: Process 7 attached",
            "/usr/bin/strace: Process 8 detached",
        ]
    ),
)
ends = st.sampled_from(["\n", "\r\n", ""])


@fuzz(250)
@given(st.lists(st.tuples(prefixes, timestamps, bodies, ends), min_size=1, max_size=25))
def test_strace_generated_line_shapes(parts: list[tuple[str, str, str, str]]) -> None:
    fuzzing.check_strace(["".join(p) for p in parts])


@fuzz(40)
@given(randoms)
def test_strace_with_phase_boundaries(rng: random.Random) -> None:
    # The boundary bisection is part of the scanner: run both loops through a phase change.
    from seccompgen.parsing import parse_strace

    lines = list(rng.choice(fuzzing.strace_files()))
    i = rng.randrange(len(lines))
    lines[i] = fuzzing.mutate_text(rng, lines[i])
    words = [x.split() for x in lines]
    stamps = sorted(float(w[1]) for w in words if len(w) > 1 and _is_float(w[1]))
    bounds = [(stamps[len(stamps) // 2], Phase.EXERCISE)] if stamps else []

    def run() -> Any:
        try:
            return list(parse_strace(lines, boundaries=bounds))
        except fuzzing.ParseError as e:
            return str(e)

    with fuzzing._typed_errors_only("strace"), fuzzing.compiled(True):
        fast = run()
    with fuzzing._typed_errors_only("strace"), fuzzing.compiled(False):
        pure = run()
    assert fast == pure


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# audit: auditd, kmsg, dmesg, journald lines and netlink payloads


@fuzz(300)
@given(randoms)
def test_audit_mutated_logs(rng: random.Random) -> None:
    fuzzing.check_audit(fuzzing.audit_input(rng))


fields = st.sampled_from(["pid", "arch", "syscall", "code", "uid", "sig", "comm", "exe", "ses"])
values = st.sampled_from(
    [
        "1",
        "-1",
        "c000003e",
        "0x7ffc0000",
        "7ffc0000",
        "40000003",
        '"a b"',
        "6E6F",
        "(null)",
        "",
        "ffffffffff",
        "1" * 30,
        "٣",
        "²",
        "--5",
        "0x",
    ]
)
heads = st.sampled_from(
    [
        "",
        "type=SECCOMP msg=",
        "node=h type=1326 msg=",
        "audit: type=1326 ",
        "[ 12.5] audit: type=1326 ",
        "5,1234,5678,-;audit: type=1326 ",
        "Nov 28 07:40:00 host kernel: audit: type=1326 ",
        "type=SYSCALL msg=",
    ]
)
stamps = st.sampled_from(
    [
        "audit(1700000000.123:456): ",
        "audit(1.1:1):",
        "audit(x): ",
        "audit(",
        "audit(99999999999999.1:1): ",
        "",
    ]
)


@fuzz(300)
@given(
    heads,
    stamps,
    st.lists(st.tuples(fields, values), max_size=10),
    st.sampled_from(["", "\x1dARCH=x86_64 SYSCALL=read", "\n"]),
)
def test_audit_generated_records(
    head: str, stamp: str, kv: list[tuple[str, str]], tail: str
) -> None:
    line = head + stamp + " ".join(f"{k}={v}" for k, v in kv) + tail
    fuzzing.check_audit([line])


# ---------------------------------------------------------------------------------------------
# profiles as `validate` and `diff` load them


@fuzz(150)
@given(rng=randoms)
def test_profile_files_mutated(
    rng: random.Random, tmp_path_factory: pytest.TempPathFactory
) -> None:
    fuzzing.check_profile(fuzzing.profile_input(rng), tmp_path_factory.mktemp("p"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "defaultAction",
                    "syscalls",
                    "names",
                    "action",
                    "args",
                    "archMap",
                    "architectures",
                    "flags",
                    "index",
                    "value",
                    "op",
                    "errnoRet",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@fuzz(150)
@given(doc=json_values)
def test_profile_arbitrary_json(doc: object, tmp_path_factory: pytest.TempPathFactory) -> None:
    fuzzing.check_profile(json.dumps(doc).encode(), tmp_path_factory.mktemp("p"))


@fuzz(60)
@given(data=st.binary(max_size=300))
def test_profile_arbitrary_bytes(data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    fuzzing.check_profile(data, tmp_path_factory.mktemp("p"))


# ---------------------------------------------------------------------------------------------
# trace files and graph.json, as the store reads them


@fuzz(200)
@given(rng=randoms)
def test_trace_files_mutated_and_truncated(
    rng: random.Random, tmp_path_factory: pytest.TempPathFactory
) -> None:
    fuzzing.check_trace(fuzzing.trace_input(rng), tmp_path_factory.mktemp("t"))


@fuzz(200)
@given(randoms)
def test_graph_json_mutated(rng: random.Random) -> None:
    fuzzing.check_graph(fuzzing.graph_input(rng))


@fuzz(25)
@given(randoms)
def test_strace_ff_files(rng: random.Random) -> None:
    fuzzing.check_strace_ff(fuzzing.strace_ff_input(rng))
