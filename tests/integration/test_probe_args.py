"""``probe -args``: allowed syscall names called with observed and with unobserved argument values.

A profile with argument rules is proven by running ``probe -args`` under it: the observed
variants must get through, the unobserved ones must be refused. That proof needs two facts this
module checks on the host, as root and without seccomp:

* every unobserved call reaches the kernel here (it is not refused by the kernel itself), so a
  "denied" under a profile means the profile refused it;
* tracing ``probe -args -observed-only`` records, for the argument that tells each pair apart,
  the observed values and none of the unobserved ones: what an argument-rule emitter builds from.
  For most syscalls that is one argument; socket also has a call told apart by its second
  argument (:data:`PAIRED`: an observed family with a type no observed call used).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _support import sg

from seccompgen.graph.values import SyscallUsage
from seccompgen.store import TraceStore

pytestmark = [pytest.mark.go, pytest.mark.root]

# Fewer runtime signals, as in test_probe.py.
ENV = {**os.environ, "GODEBUG": "asyncpreemptoff=1"}
WORKLOAD = "probe-args"
KEYS = ["probe", "syscall", "variant", "arg", "index", "value", "call", "errno", "verdict"]

# probe name -> (syscall, variant), in the order the probe prints them.
EXPECTED: dict[str, tuple[str, str]] = {
    "socket-inet-stream": ("socket", "observed"),
    "socket-inet-dgram": ("socket", "observed"),
    "socket-unix-stream": ("socket", "observed"),
    "socket-packet": ("socket", "unobserved"),
    "socket-netlink": ("socket", "unobserved"),
    "socket-unix-seqpacket": ("socket", "unobserved"),
    "clone-fork": ("clone", "observed"),
    "clone-newuser": ("clone", "unobserved"),
    "clone-newnet": ("clone", "unobserved"),
    "personality-query": ("personality", "observed"),
    "personality-linux": ("personality", "observed"),
    "personality-read-implies-exec": ("personality", "unobserved"),
    "prctl-get-name": ("prctl", "observed"),
    "prctl-get-securebits": ("prctl", "unobserved"),
    "mprotect-read-write": ("mprotect", "observed"),
    "mprotect-write-exec": ("mprotect", "unobserved"),
    "ioctl-fionread": ("ioctl", "observed"),
    "ioctl-tiocgwinsz": ("ioctl", "unobserved"),
    "fcntl-getfl": ("fcntl", "observed"),
    "fcntl-setpipe-sz": ("fcntl", "unobserved"),
}
SYSCALLS = list(dict.fromkeys(s for s, _ in EXPECTED.values()))
SOCK_FLAGS = 0x800 | 0x80000  # SOCK_NONBLOCK|SOCK_CLOEXEC, as Go's net package opens sockets
# Unobserved calls told apart from an observed partner by another argument than the syscall's
# other rows: probe -> (its observed partner, the partner's raw value at that argument).
PAIRED: dict[str, tuple[str, int]] = {
    "socket-unix-seqpacket": ("socket-unix-stream", 1 | SOCK_FLAGS),  # SOCK_STREAM
}

Row = dict[str, Any]


def _rows(probe: Path, *args: str) -> list[Row]:
    proc = subprocess.run(
        [str(probe), *args], capture_output=True, text=True, timeout=60, env=ENV, check=False
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    for row in rows:
        assert list(row) == KEYS, row
    return rows


@pytest.fixture(scope="module")
def probe(build_example: Callable[[str], Path]) -> Path:
    return build_example("probe")


@pytest.fixture(scope="module")
def baseline(probe: Path) -> list[Row]:
    return _rows(probe, "-args")


def test_every_probe_line_is_present_and_well_formed(baseline: list[Row]) -> None:
    assert [r["probe"] for r in baseline] == list(EXPECTED)
    for r in baseline:
        assert (r["syscall"], r["variant"]) == EXPECTED[r["probe"]], r
        assert isinstance(r["index"], int) and 0 <= r["index"] < 6, r
        assert isinstance(r["value"], int) and 0 <= r["value"] < 1 << 64, r
        assert r["arg"] and r["call"].startswith(r["syscall"] + "("), r
        assert r["errno"] and r["verdict"] in ("allowed", "denied"), r
    for name in SYSCALLS:
        pair = [r for r in baseline if r["syscall"] == name and r["probe"] not in PAIRED]
        observed = {(r["index"], r["value"]) for r in pair if r["variant"] == "observed"}
        unobserved = {(r["index"], r["value"]) for r in pair if r["variant"] == "unobserved"}
        # One distinguishing argument per syscall, and no value on both sides.
        assert observed and unobserved and not observed & unobserved, pair
        assert len({i for i, _ in observed | unobserved}) == 1, pair
    by_name = {r["probe"]: r for r in baseline}
    for name, (partner, value) in PAIRED.items():
        row, other = by_name[name], by_name[partner]
        assert other["variant"] == "observed" and other["syscall"] == row["syscall"], other
        # The partner is told apart from the others by another argument; at this one it
        # passes a different value.
        assert other["index"] != row["index"] and value != row["value"], (row, other)


def test_root_baseline_every_call_reaches_the_kernel(baseline: list[Row]) -> None:
    # Above all the unobserved ones: if the kernel refused one here, a "denied" under a profile
    # would prove nothing, and the probe needs different arguments.
    refused = {r["probe"]: r["errno"] for r in baseline if r["verdict"] != "allowed"}
    assert refused == {}
    print("\n" + "\n".join(f"{r['probe']:<30} {r['variant']:<10} {r['errno']}" for r in baseline))


@pytest.mark.usefixtures("no_leaked_processes")
def test_modes_and_no_child_left_behind(probe: Path) -> None:
    observed = _rows(probe, "-args", "-observed-only")
    assert [r["probe"] for r in observed] == [
        n for n, (_, v) in EXPECTED.items() if v == "observed"
    ]
    dry = _rows(probe, "-args", "-dry")
    assert [r["probe"] for r in dry] == list(EXPECTED)
    assert {(r["errno"], r["verdict"]) for r in dry} == {("", "skipped")}
    # The default mode keeps its own line shape.
    proc = subprocess.run([str(probe), "-dry"], capture_output=True, text=True, check=True)
    assert all(
        set(json.loads(line)) == {"syscall", "errno", "verdict"}
        for line in proc.stdout.splitlines()
    )
    bad = subprocess.run(
        [str(probe), "-observed-only"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2 and "-observed-only needs -args" in bad.stderr


@pytest.fixture(scope="module")
def traced(
    probe: Path, baseline: list[Row], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, SyscallUsage]:
    work = tmp_path_factory.mktemp("probe-args")
    store = work / "store"
    proc = sg(
        "trace", str(probe), "-w", WORKLOAD, "--store", str(store), "--",
        "-args", "-observed-only", cwd=work, env=ENV,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (store / "graph.json").is_file()
    return TraceStore(store).load_graph().usage(WORKLOAD)


@pytest.mark.strace
@pytest.mark.parametrize("syscall", SYSCALLS)
def test_trace_records_the_observed_values_only(
    syscall: str, baseline: list[Row], traced: dict[str, SyscallUsage]
) -> None:
    assert syscall in traced, sorted(traced)
    rows = [r for r in baseline if r["syscall"] == syscall and r["probe"] not in PAIRED]
    index = rows[0]["index"]
    args = traced[syscall].args
    assert len(args) > index and not args[index].many, args
    seen = args[index].values
    observed = {r["value"] for r in rows if r["variant"] == "observed"}
    unobserved = {r["value"] for r in rows if r["variant"] == "unobserved"}
    assert observed <= seen, (syscall, index, sorted(seen))
    assert not unobserved & seen, (syscall, index, sorted(seen))


@pytest.mark.strace
@pytest.mark.parametrize("probe_name", sorted(PAIRED))
def test_trace_records_the_partner_value_at_the_second_argument(
    probe_name: str, baseline: list[Row], traced: dict[str, SyscallUsage]
) -> None:
    row = next(r for r in baseline if r["probe"] == probe_name)
    _, value = PAIRED[probe_name]
    args = traced[row["syscall"]].args
    assert len(args) > row["index"] and not args[row["index"]].many, args
    seen = args[row["index"]].values
    assert value in seen and row["value"] not in seen, (probe_name, sorted(seen))
