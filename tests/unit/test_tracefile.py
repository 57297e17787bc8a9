"""The trace file format: round trips, atomic saving, incomplete and malformed files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seccompgen.errors import TraceFileError
from seccompgen.events import Event, ExitEvent, Phase, SignalEvent, SyscallEvent
from seccompgen.tracefile import (
    FORMAT_NAME,
    FORMAT_VERSION,
    TraceHeader,
    TraceWriter,
    read_trace,
)

ARCH = "x86_64"


def _header(**kw: object) -> TraceHeader:
    args: dict[str, object] = {
        "workload": "svc",
        "arch": ARCH,
        "backend": "strace",
        "command": ("/bin/svc", "-addr", "127.0.0.1:0"),
        "boundaries": ((1700000000.5, Phase.STARTUP),),
    }
    args.update(kw)
    return TraceHeader.new(**args)  # type: ignore[arg-type]


def _sample_events() -> list[Event]:
    return [
        SyscallEvent("execve", ARCH, 10, 10, 0, None, 1700000000.5, (None, None, None)),
        SyscallEvent(
            "openat", ARCH, 10, 11, -1, "ENOENT", 1700000000.6, (4294967196, None, 524288)
        ),
        SyscallEvent("read", "x86", 12, 12, None, None, None, (3, None, 2**64 - 1), Phase.EXERCISE),
        SignalEvent("SIGURG", 10, 11, 1700000000.7, Phase.EXERCISE),
        SignalEvent("SIGTERM", 10, 10, 1700000001.0, Phase.SHUTDOWN),
        ExitEvent(10, 11, 0, None, 1700000001.1, Phase.SHUTDOWN),
        ExitEvent(10, 10, None, "SIGKILL", None, Phase.SHUTDOWN),
    ]


def _write(path: Path, events: list[Event], *, complete: bool = True) -> TraceHeader:
    header = _header()
    with TraceWriter.create(path, header) as w:
        for e in events:
            w.write(e)
        w.add_boundary(1700000001.0, Phase.SHUTDOWN)
        w.add_boundary(1700000000.65, Phase.EXERCISE)
        w.close(complete=complete, reason=None if complete else "timeout")
    return header


def test_round_trip_keeps_header_events_and_footer(tmp_path: Path) -> None:
    path = tmp_path / "svc" / "t.jsonl"
    events = _sample_events()
    header = _write(path, events)

    r = read_trace(path)
    assert r.header == header
    assert r.footer is None  # not read until iterated to the end
    assert list(r) == events
    assert r.footer is not None
    assert r.complete
    assert (r.footer.syscalls, r.footer.signals, r.footer.exits) == (3, 2, 2)
    assert r.footer.events == len(events)
    assert r.footer.distinct == 3
    # add_boundary keeps them sorted by time, whatever the call order.
    assert r.boundaries == (
        (1700000000.5, Phase.STARTUP),
        (1700000000.65, Phase.EXERCISE),
        (1700000001.0, Phase.SHUTDOWN),
    )


def test_file_layout_is_header_events_footer(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    _write(path, _sample_events())
    text = path.read_text()
    assert text.endswith("\n")
    lines = [json.loads(x) for x in text.splitlines()]
    assert lines[0]["k"] == "header"
    assert lines[0]["format"] == FORMAT_NAME
    assert lines[0]["version"] == 1  # version 2 only for traces with allow lines
    assert len(lines[0]["trace_id"]) == 32
    assert lines[0]["started"].endswith("+00:00")
    assert [x["k"] for x in lines[1:-1]] == ["sys", "sys", "sys", "sig", "sig", "exit", "exit"]
    # The arch is only spelled out where it differs from the header's.
    assert "arch" not in lines[1] and lines[3]["arch"] == "x86"
    assert lines[-1]["k"] == "footer"
    assert lines[-1]["events"] == {"syscall": 3, "signal": 2, "exit": 2}


def test_writer_is_atomic_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    w = TraceWriter.create(path, _header())
    w.write(_sample_events()[0])
    assert not path.exists()  # nothing under the final name until close
    assert len(list(tmp_path.iterdir())) == 1
    footer = w.close(complete=True, reason=None)
    assert path.exists()
    assert list(tmp_path.iterdir()) == [path]
    assert footer.syscalls == 1
    with pytest.raises(ValueError, match="closed"):
        w.write(_sample_events()[0])


def test_exception_in_with_block_keeps_events_and_marks_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    events = _sample_events()
    with pytest.raises(KeyboardInterrupt), TraceWriter.create(path, _header()) as w:
        for e in events[:4]:
            w.write(e)
        raise KeyboardInterrupt
    r = read_trace(path)
    assert list(r) == events[:4]
    assert r.footer is not None and not r.complete
    assert r.footer.reason == "interrupted"

    with pytest.raises(RuntimeError), TraceWriter.create(path, _header()) as w:
        w.write(events[0])
        raise RuntimeError("boom")
    r = read_trace(path)
    assert list(r) == events[:1]
    assert r.footer is not None and r.footer.reason == "error: RuntimeError: boom"


def test_missing_footer_is_an_incomplete_trace(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    _write(path, _sample_events())
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))
    r = read_trace(path)
    assert list(r) == _sample_events()
    assert r.footer is None and not r.complete and not r.truncated


@pytest.mark.parametrize("cut", [1, 7, 20])
def test_truncated_last_line_is_tolerated(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "t.jsonl"
    _write(path, _sample_events())
    lines = path.read_text().splitlines(keepends=True)
    # Drop the footer and cut the last event short, as a killed writer would leave it.
    path.write_text("".join(lines[:-2]) + lines[-2][:cut])
    r = read_trace(path)
    assert list(r) == _sample_events()[:-1]
    assert r.truncated and r.footer is None


def _corrupt(path: Path, lineno: int, text: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines[lineno - 1] = text
    path.write_text("".join(lines))


@pytest.mark.parametrize(
    ("lineno", "text", "message"),
    [
        (3, "{not json\n", "not a JSON object"),
        (3, "[1, 2]\n", "must be a JSON object"),
        (3, '{"k":"sys","ts":1.0,"pid":1,"tid":1,"ph":"startup"}\n', "missing key"),
        (
            3,
            '{"k":"sys","ts":1.0,"pid":"1","tid":1,"ph":"startup","name":"read",'
            '"ret":0,"err":null,"args":[]}\n',
            "'pid' has the wrong type",
        ),
        (
            3,
            '{"k":"sys","ts":1.0,"pid":1,"tid":1,"ph":"later","name":"read",'
            '"ret":0,"err":null,"args":[]}\n',
            "unknown phase",
        ),
        (
            3,
            '{"k":"sys","ts":1.0,"pid":1,"tid":1,"ph":"startup","name":"read",'
            '"ret":0,"err":null,"args":[true]}\n',
            "neither an integer nor null",
        ),
        (3, '{"k":"weird"}\n', "unknown record kind"),
        # Found by tests/fuzz: json.loads and float() errors other than JSONDecodeError.
        (3, "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
        (3, '{"k":' * 5000 + "1" + "}" * 5000 + "\n", "nested too deeply"),
        (3, '{"k":"sys","pid":' + "9" * 5000 + "}\n", "Exceeds the limit"),
        (
            3,
            '{"k":"sig","ts":1' + "0" * 400 + ',"pid":1,"tid":1,"ph":"startup","sig":"SIGTERM"}\n',
            "timestamp .401 digits. is out of range",
        ),
        (
            3,
            '{"k":"sig","ts":NaN,"pid":1,"tid":1,"ph":"startup","sig":"SIGTERM"}\n',
            "NaN is not a JSON number",
        ),
    ],
)
def test_malformed_line_names_file_and_line(
    tmp_path: Path, lineno: int, text: str, message: str
) -> None:
    path = tmp_path / "t.jsonl"
    _write(path, _sample_events())
    _corrupt(path, lineno, text)
    r = read_trace(path)
    with pytest.raises(TraceFileError, match=message) as info:
        list(r)
    assert f"{path}:{lineno}:" in info.value.message


def test_footer_counts_must_match(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    _write(path, _sample_events())
    lines = path.read_text().splitlines(keepends=True)
    del lines[2]  # drop an event but keep the footer
    path.write_text("".join(lines))
    with pytest.raises(TraceFileError, match="footer counts"):
        list(read_trace(path))


def test_data_after_footer_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    _write(path, _sample_events())
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([*lines, lines[1]]))
    with pytest.raises(TraceFileError, match="after the footer") as info:
        list(read_trace(path))
    assert f"{path}:{len(lines) + 1}:" in info.value.message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ('{"k":"header","format":"other"}\n', "not a seccompgen-trace header"),
        ("garbage\n", "bad header"),
        ("[" * 100_000 + "\n", "nested too deeply"),
        (
            '{"k":"header","format":"seccompgen-trace","version":1,"trace_id":"t","workload":"w",'
            '"arch":"x86_64","backend":"strace","command":[],"started":"2026-11-28T07:40:00Z",'
            '"host":"h","seccompgen":"0","boundaries":[[1' + "0" * 400 + ',"exercise"]]}\n',
            "boundary timestamp .401 digits. is out of range",
        ),
    ],
)
def test_bad_header(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(content)
    with pytest.raises(TraceFileError, match=message) as info:
        read_trace(path)
    assert f"{path}:1:" in info.value.message


def test_newer_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    _write(path, [])
    lines = path.read_text().splitlines(keepends=True)
    head = json.loads(lines[0])
    head["version"] = FORMAT_VERSION + 1
    lines[0] = json.dumps(head) + "\n"
    path.write_text("".join(lines))
    with pytest.raises(TraceFileError, match="not supported"):
        read_trace(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TraceFileError, match="cannot read"):
        read_trace(tmp_path / "nope.jsonl")


# ---------------------------------------------------------------------------------------------
# property: anything written reads back identically

_ints = st.integers(min_value=0, max_value=2**32)
_ts = st.one_of(st.none(), st.floats(min_value=0, max_value=4e9, allow_nan=False))
_phases = st.sampled_from(list(Phase))
_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=20)
_syscalls = st.builds(
    SyscallEvent,
    name=_names,
    arch=st.sampled_from(["x86_64", "x86", "x32", "aarch64"]),
    pid=_ints,
    tid=_ints,
    ret=st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**64)),
    errno=st.one_of(st.none(), st.sampled_from(["ENOENT", "EAGAIN", "ERESTARTSYS"])),
    timestamp=_ts,
    args=st.lists(st.one_of(st.none(), st.integers(0, 2**64 - 1)), max_size=6).map(tuple),
    phase=_phases,
)
_signals = st.builds(
    SignalEvent, signal=st.sampled_from(["SIGURG", "SIGTERM"]), pid=_ints, tid=_ints,
    timestamp=_ts, phase=_phases,
)  # fmt: skip
_exits = st.builds(
    ExitEvent, pid=_ints, tid=_ints, code=st.one_of(st.none(), st.integers(0, 255)),
    signal=st.one_of(st.none(), st.just("SIGKILL")), timestamp=_ts, phase=_phases,
)  # fmt: skip
_events = st.lists(st.one_of(_syscalls, _signals, _exits), max_size=40)


@settings(
    max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=_events,
    workload=st.text(min_size=1, max_size=30),
    argv=st.lists(st.text(max_size=20), min_size=1, max_size=5),
    complete=st.booleans(),
    reason=st.one_of(st.none(), st.text(max_size=30)),
)
def test_round_trip_property(
    tmp_path: Path,
    events: list[Event],
    workload: str,
    argv: list[str],
    complete: bool,
    reason: str | None,
) -> None:
    path = tmp_path / "p.jsonl"
    header = _header(workload=workload, command=tuple(argv))
    with TraceWriter.create(path, header) as w:
        for e in events:
            w.write(e)
        w.close(complete=complete, reason=reason)
    r = read_trace(path)
    assert r.header == header
    assert list(r) == events
    assert r.footer is not None
    assert (r.footer.complete, r.footer.reason) == (complete, reason)
    assert r.footer.events == len(events)


def test_discard_leaves_nothing(tmp_path: Path) -> None:
    from seccompgen.events import SyscallEvent
    from seccompgen.tracefile import TraceHeader, TraceWriter

    header = TraceHeader.new(workload="w", arch="x86_64", backend="import", command=["x"])
    path = tmp_path / "t.trace.jsonl"
    writer = TraceWriter.create(path, header)
    writer.write(SyscallEvent("read", "x86_64", 1, 1, 0, None, 1.0, ()))
    writer.discard()
    assert writer.closed
    assert list(tmp_path.iterdir()) == []
