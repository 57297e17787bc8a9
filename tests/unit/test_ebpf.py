"""The ebpf backend's pure parts: bpftrace output folding, counted events, preconditions; and the
trace file's ``n`` count that counted events are stored with. No bpftrace runs here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seccompgen.errors import TraceFileError
from seccompgen.events import ExitEvent, Phase, SyscallEvent
from seccompgen.tracefile import TraceHeader, TraceWriter, read_trace
from seccompgen.tracing.backends.ebpf import EbpfTracer
from seccompgen.tracing.bpf.bpftrace import MARKER, NOT_FOUND_MESSAGE, bpftrace_script
from seccompgen.tracing.bpf.counts import BpftraceState, counted_events, errno_name, exit_status
from seccompgen.tracing.bpf.preconditions import precondition_problem

# Lines as bpftrace 0.17 prints them with -f json (recorded from a run of `sh -c 'ls /x; exit 3'`,
# cut down to a few keys).
RECORDED = [
    '{"type": "attached_probes", "data": {"probes": 7}}',
    '{"type": "printf", "data": "start 30005 4902594988882\\n"}',
    '{"type": "map", "data": {"@n": {"30005,30005,59,0": 1, "30005,30005,257,0": 3}}}',
    '{"type": "printf", "data": "exit 30006 512 0 4902597623341\\n"}',
    '{"type": "printf", "data": "exit 30005 768 0 4902597811706\\n"}',
    '{"type": "map", "data": {"@n": {"30005,30005,59,0": 1, "30005,30005,257,0": 30, '
    '"30006,30006,257,1": 2, "30005,30005,231,2": 1}}}',
    '{"type": "map", "data": {"@t": {"30005,30005,59,0": 4902595046528, '
    '"30005,30005,257,0": 4902595929635, "30006,30006,257,1": 4902596000000, '
    '"30005,30005,231,2": 4902597000000}}}',
    '{"type": "map", "data": {"@e": {"30005,30005,257,0,2": 8, "30006,30006,257,1,2": 2, '
    '"30005,30005,202,2,512": 1}}}',
    '{"type": "map", "data": {"@a": {"30005,30005,257,0,4294967196,140633685364913,524288,0,0,'
    '94552158138570": 4902595930416}}}',
    '{"type": "printf", "data": "end\\n"}',
]

NAMES = {59: "execve", 257: "openat", 231: "exit_group", 202: "futex"}
OFFSET = 1_790_000_000.0


def folded(lines: list[str] = RECORDED) -> BpftraceState:
    state = BpftraceState()
    for line in lines:
        state.feed(line)
    return state


def events(state: BpftraceState) -> list[tuple[SyscallEvent, int]]:
    return list(counted_events(state, arch="x86_64", name_of=NAMES.get, wall_offset=OFFSET))


def test_feed_keeps_the_last_print_of_each_map() -> None:
    state = folded()
    assert state.started == [(30005, 4902594988882)]
    assert state.exits == [(30006, 512, 0, 4902597623341), (30005, 768, 0, 4902597811706)]
    assert state.counts[(30005, 30005, 257, 0)] == 30  # the later print replaced the first
    assert state.errors[(30005, 30005, 202, 2, 512)] == 1
    assert state.ended


def test_feed_returns_what_each_line_was_and_ignores_the_rest() -> None:
    state = BpftraceState()
    kinds = [state.feed(line) for line in RECORDED]
    assert kinds == [None, "start", "@n", "exit", "exit", "@n", "@t", "@e", "@a", "end"]
    # A line cut short by a killed bpftrace, text from elsewhere, unknown maps: ignored.
    assert state.feed('{"type": "map", "data": {"@n": {"1,1,') is None
    assert state.feed("Attaching 7 probes...") is None
    assert state.feed('{"type": "map", "data": {"@other": {"1": 2}}}') is None
    assert state.counts[(30005, 30005, 257, 0)] == 30


def test_counted_events_keep_every_count() -> None:
    state = folded()
    out = events(state)
    by_name: dict[str, int] = {}
    for event, n in out:
        by_name[event.name] = by_name.get(event.name, 0) + n
    # openat: 30 + 2 entered; execve 1; exit_group 1; the futex that failed with ERESTARTSYS in
    # the shutdown phase was entered before any count was printed, and still shows.
    assert by_name == {"openat": 32, "execve": 1, "exit_group": 1, "futex": 1}


def test_counted_events_split_failures_and_samples() -> None:
    out = events(folded())
    main_openat = [(e, n) for e, n in out if e.name == "openat" and e.pid == 30005]
    failed = [(e, n) for e, n in main_openat if e.errno]
    assert [(e.ret, e.errno, n) for e, n in failed] == [(-1, "ENOENT", 8)]
    sampled = [(e, n) for e, n in main_openat if e.args]
    assert len(sampled) == 1
    [(sample, one)] = sampled
    assert one == 1 and sample.ret == 0 and sample.errno is None
    assert sample.args == (4294967196, 140633685364913, 524288, 0, 0, 94552158138570)
    assert sample.timestamp == pytest.approx(4902595930416 / 1e9 + OFFSET)
    # 30 calls: 8 failed, 1 is the sample, 21 more succeeded.
    rest = [n for e, n in main_openat if not e.errno and not e.args]
    assert rest == [21]
    assert all(e.phase is Phase.STARTUP for e, _ in main_openat)
    # The child's calls are in the exercise phase, the exit_group in shutdown, never returning.
    [(child, n)] = [(e, n) for e, n in out if e.pid == 30006 and e.errno]
    assert (child.phase, n) == (Phase.EXERCISE, 2)
    [(ex, _)] = [(e, n) for e, n in out if e.name == "exit_group"]
    assert ex.ret is None and ex.phase is Phase.SHUTDOWN


def test_counted_events_in_first_seen_order() -> None:
    out = events(folded())
    stamps = [e.timestamp for e, _ in out if e.timestamp is not None]
    assert stamps == sorted(stamps)
    assert out[0][0].name == "execve"
    # The failure seen only after a phase change has no first-seen time; it comes last.
    assert out[-1][0].name == "futex" and out[-1][0].timestamp is None
    assert out[-1][0].errno == "ERESTARTSYS"


def test_counted_events_skip_unknown_numbers_and_phases() -> None:
    state = BpftraceState(counts={(1, 1, 999, 0): 5, (1, 1, 59, 7): 1, (1, 1, 59, 0): 2})
    assert [(e.name, n) for e, n in events(state)] == [("execve", 2)]


def test_samples_beyond_the_successes_take_from_failures() -> None:
    state = BpftraceState(
        counts={(1, 1, 257, 0): 2},
        errors={(1, 1, 257, 0, 13): 2},
        samples={(1, 1, 257, 0, 5, 6, 7, 0, 0, 0): 10, (1, 1, 257, 0, 8, 6, 7, 0, 0, 0): 11},
    )
    out = events(state)
    assert sum(n for _, n in out) == 2
    assert {(e.args[0], e.errno) for e, _ in out} == {(5, "EACCES"), (8, "EACCES")}


def test_errno_names_and_exit_status() -> None:
    assert errno_name(2) == "ENOENT"
    assert errno_name(512) == "ERESTARTSYS"
    assert errno_name(516) == "ERESTART_RESTARTBLOCK"
    assert errno_name(4000) == "E4000"
    assert exit_status(768) == (3, None)
    assert exit_status(0) == (0, None)
    assert exit_status(9) == (None, "SIGKILL")
    assert exit_status(15 | 0x80) == (None, "SIGTERM")  # core-dump bit set


def test_script_filters_on_the_marker_and_tracks_forks() -> None:
    script = bpftrace_script(prctl_nr=157, own_pid=4242, token=99, args_samples=7)
    assert f"args->id == 157 && args->args[0] == {MARKER}" in script
    assert "pid == 4242 && args->args[2] == 99" in script and "pid == cpid" in script
    assert "if ($c < 7)" in script
    assert "sched_process_fork /@track[pid]/ { @track[args->child_pid] = 1; }" in script


def good(tmp_path: Path) -> dict[str, object]:
    btf = tmp_path / "vmlinux"
    btf.write_text("")
    (tmp_path / "tracing" / "events" / "raw_syscalls").mkdir(parents=True)
    return {
        "bpftrace": "sh",  # any command that is on PATH
        "euid": 0,
        "btf": btf,
        "tracefs_dirs": [tmp_path / "tracing"],
        "kernel_release": "6.1.0-13-amd64",
        "memlock": (8 << 10, 8 << 10),
        "python": "/usr/bin/python3",
    }


def test_preconditions_hold(tmp_path: Path) -> None:
    assert precondition_problem(**good(tmp_path)) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"engine": "bpftrace", "bpftrace": "no-such-bpftrace-command"}, NOT_FOUND_MESSAGE),
        ({"euid": 1000}, "needs root"),
        ({"btf": Path("/nonexistent/vmlinux")}, "kernel BTF is missing"),
        ({"tracefs_dirs": [Path("/nonexistent")]}, "tracefs is not mounted"),
        ({"kernel_release": "5.10.0-28-amd64"}, "RLIMIT_MEMLOCK"),
        ({"engine": "bpftrace", "python": "/opt/my python/bin/python3"}, "has a space"),
        ({"engine": "ebpf"}, "unknown ebpf engine"),
    ],
)
def test_each_missing_precondition_is_named(
    tmp_path: Path, change: dict[str, object], expected: str
) -> None:
    problem = precondition_problem(**{**good(tmp_path), **change})  # type: ignore[arg-type]
    assert problem is not None
    message, hint = problem
    assert expected in message
    assert hint


def test_old_kernel_with_enough_memlock_is_fine(tmp_path: Path) -> None:
    args = {**good(tmp_path), "kernel_release": "5.4.0", "memlock": (-1, -1)}
    assert precondition_problem(**args) is None  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the "n" count


def header() -> TraceHeader:
    return TraceHeader.new(workload="w", arch="x86_64", backend="ebpf", command=["prog"])


def test_counted_lines_read_back_as_that_many_events(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    call = SyscallEvent("read", "x86_64", 1, 2, 0, None, 1.5, (), Phase.EXERCISE)
    with TraceWriter.create(path, header()) as w:
        w.write(call, 5)
        w.write(call)
        w.write(ExitEvent(1, 1, 0, None, 2.0, Phase.SHUTDOWN))
        footer = w.close(complete=True, reason=None)
    assert footer.syscalls == 6 and footer.distinct == 1
    lines = path.read_text().splitlines()
    assert json.loads(lines[1])["n"] == 5
    assert "n" not in json.loads(lines[2])  # absent when 1: plain traces are unchanged
    reader = read_trace(path)
    got = list(reader)
    assert got[:6] == [call] * 6 and isinstance(got[6], ExitEvent)
    assert reader.complete


def test_count_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    call = SyscallEvent("read", "x86_64", 1, 1, 0, None, None, ())
    with TraceWriter.create(path, header()) as w:
        with pytest.raises(ValueError):
            w.write(call, 0)
        with pytest.raises(ValueError):
            w.write(ExitEvent(1, 1, 0, None, None), 2)
        w.write(call, 2)
        w.close(complete=True, reason=None)
    text = path.read_text().replace('"n":2', '"n":0')
    bad = tmp_path / "bad.jsonl"
    bad.write_text(text)
    with pytest.raises(TraceFileError, match="positive count"):
        list(read_trace(bad))


def test_the_bpf_engine_needs_neither_bpftrace_nor_a_spaceless_python(tmp_path: Path) -> None:
    args = {**good(tmp_path), "bpftrace": "no-such-bpftrace-command", "python": "/a b/python"}
    assert precondition_problem(engine="bpf", **args) is None  # type: ignore[arg-type]
    assert precondition_problem(engine="bpftrace", **args) is not None  # type: ignore[arg-type]


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown ebpf engine"):
        EbpfTracer(engine="ebpf")
    assert EbpfTracer().engine == "auto"


def test_engine_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from seccompgen.errors import TracerError
    from seccompgen.registry import EBPF_ENGINE_ENV, get_tracer
    from seccompgen.tracing.backends.ebpf import EbpfTracer

    monkeypatch.delenv(EBPF_ENGINE_ENV, raising=False)
    tracer = get_tracer("ebpf")
    assert isinstance(tracer, EbpfTracer) and tracer.engine == "auto"
    monkeypatch.setenv(EBPF_ENGINE_ENV, "bpftrace")
    tracer = get_tracer("ebpf")
    assert isinstance(tracer, EbpfTracer) and tracer.engine == "bpftrace"
    monkeypatch.setenv(EBPF_ENGINE_ENV, "bcc")
    with pytest.raises(TracerError) as err:
        get_tracer("ebpf")
    assert "SECCOMPGEN_EBPF_ENGINE='bcc'" in err.value.message
    assert "auto, bpf, bpftrace" in (err.value.hint or "")


# -- every distinct value of the watched arguments ---------------------------------------------

SOCKET = 41


def _distinct_state(samples: dict[tuple[int, ...], int], distinct: dict[tuple[int, ...], int]):
    state = BpftraceState()
    state.counts = {(7, 7, SOCKET, 0): 20}
    state.first_seen = {(7, 7, SOCKET, 0): 100}
    state.samples = samples
    state.distinct = distinct
    return state


def test_distinct_values_beyond_the_samples_become_events_taken_from_the_count() -> None:
    inet, unix, netlink = 2, 1, 16
    samples = {(7, 7, SOCKET, 0, inet, 1, 0, 0, 0, 0): 101}
    distinct = {
        (7, 7, SOCKET, 0, inet, 1, 0, 0, 0, 0): 101,  # the sampled call itself: no new event
        (7, 7, SOCKET, 0, unix, 2, 0, 0, 0, 0): 150,
        (7, 7, SOCKET, 0, netlink, 3, 0, 0, 0, 0): 120,
    }
    out = list(
        counted_events(
            _distinct_state(samples, distinct),
            arch="x86_64",
            name_of={SOCKET: "socket"}.get,
            wall_offset=OFFSET,
            watched={SOCKET: (0, 1)},
        )
    )
    assert sum(n for _, n in out) == 20  # nothing added, nothing lost
    valued = [e.args for e, n in out if e.args]
    assert valued == [
        (inet, 1, 0, 0, 0, 0),  # the sample, with all six arguments
        (netlink, 3, None, None, None, None),  # then by first-seen time, watched ones only
        (unix, 2, None, None, None, None),
    ]


def test_distinct_values_of_unwatched_numbers_are_ignored() -> None:
    distinct = {(7, 7, SOCKET, 0, 1, 2, 0, 0, 0, 0): 150}
    out = list(
        counted_events(
            _distinct_state({}, distinct),
            arch="x86_64",
            name_of={SOCKET: "socket"}.get,
            wall_offset=OFFSET,
            watched={},
        )
    )
    assert [(e.args, n) for e, n in out] == [((), 20)]


def test_the_bpftrace_engine_folds_its_distinct_map() -> None:
    state = BpftraceState()
    line = '{"type": "map", "data": {"@v": {"7,7,41,0,2,1,0,0,0,0": 123}}}'
    assert state.feed(line) == "@v"
    assert state.distinct == {(7, 7, 41, 0, 2, 1, 0, 0, 0, 0): 123}


def test_the_script_records_every_value_of_watched_arguments_only() -> None:
    script = bpftrace_script(prctl_nr=157, own_pid=1, watched={41: (0, 1), 9: (2,)})
    assert (
        "if (args->id == 41) { if (@v[pid, tid, args->id, $ph, args->args[0], args->args[1], "
        "(uint64)0, (uint64)0, (uint64)0, (uint64)0] == 0)" in script
    )
    assert "args->args[2], (uint64)0, (uint64)0, (uint64)0] = nsecs" in script
    assert "print(@v);" in script and "clear(@v);" in script
    plain = bpftrace_script(prctl_nr=157, own_pid=1)
    assert "@v" not in plain  # an undefined map may not be printed


def test_the_watched_arguments_are_the_ones_argument_rules_read() -> None:
    from seccompgen.profile.args import arg_rules
    from seccompgen.tracing.bpf.counts import watched_args

    watched = watched_args()
    rules = arg_rules()
    assert set(watched) == set(rules)
    for name, entry in rules.items():
        assert entry.index in watched[name]


def _ebpf_trace(tmp_path: Path, every: dict[str, list[int]] | None) -> Path:
    from seccompgen.store import TraceStore

    store = TraceStore(tmp_path / "store")
    header = TraceHeader.new(workload="svc", arch="x86_64", backend="ebpf", command=["x"])
    path = store.new_trace_path("svc", header.trace_id, "20260101T000000Z")
    with TraceWriter.create(path, header) as writer:
        writer.write(SyscallEvent("socket", "x86_64", 1, 1, 3, None, 1.0, (2, 1, 0, 0, 0, 0)))
        writer.write(SyscallEvent("socket", "x86_64", 1, 1, 3, None, 1.0, ()), 30)
        if every is not None:
            writer.note_every_value(every)
    store.add_trace(path)
    return path


def test_the_footer_says_which_values_are_all_there_were(tmp_path: Path) -> None:
    path = _ebpf_trace(tmp_path, {"socket": [1, 0], "clone": [0]})
    footer = json.loads(path.read_text().splitlines()[-1])
    assert footer["every_value"] == {"clone": [0], "socket": [0, 1]}
    reader = read_trace(path)
    assert reader.every_value() == {"clone": frozenset({0}), "socket": frozenset({0, 1})}


@pytest.mark.parametrize(
    ("every", "known"),
    [
        ({"socket": [0, 1]}, {0, 1}),
        ({"socket": [0]}, {0}),
        ({}, set()),  # the map filled up: the footer vouches for nothing
        (None, set()),  # an ebpf trace from before: samples only
    ],
)
def test_only_vouched_for_values_of_a_sampled_trace_reach_the_graph(
    tmp_path: Path, every: dict[str, list[int]] | None, known: set[int]
) -> None:
    from seccompgen.pipeline._shared import observed_args
    from seccompgen.store import TraceStore

    _ebpf_trace(tmp_path, every)
    graph = TraceStore(tmp_path / "store").load_graph()
    args = graph.usage("svc")["socket"].args
    for i, values in enumerate(args):
        assert values.many is (i not in known), (i, values)
    obs = observed_args(graph, ["svc"])["socket"]
    assert obs.complete is (0 in known), obs
    if obs.complete:
        assert obs.values == {2}


def test_a_bad_every_value_names_the_line(tmp_path: Path) -> None:
    path = _ebpf_trace(tmp_path, {"socket": [0]})
    lines = path.read_text().splitlines()
    lines[-1] = lines[-1].replace('"every_value":{"socket":[0]}', '"every_value":{"socket":[9]}')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TraceFileError) as err:
        list(read_trace(path))
    assert f"{path}:{len(lines)}" in err.value.message and "0..5" in err.value.message
