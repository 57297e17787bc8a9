"""Unit tests of the container delta's pure parts and of its command line (no engine needed)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from seccompgen._cli import cli
from seccompgen.containers.delta import ContainerDeltaTracer, ContainerSide, _descends
from seccompgen.errors import TracerError
from seccompgen.profile.build import Mode, build_profile
from seccompgen.registry import get_delta_tracer
from seccompgen.tracing.backends.delta import NAME, DeltaTracer, audit_clock
from seccompgen.tracing.base import ContainerSpec, TraceRequest


def test_registry_picks_the_container_delta_for_a_container_request() -> None:
    profile = build_profile(["read"], ["x86_64"], Mode.LOG).profile
    tracer = get_delta_tracer(profile, container=True)
    assert isinstance(tracer, ContainerDeltaTracer) and tracer.profile is profile
    host = get_delta_tracer(profile)
    assert isinstance(host, DeltaTracer)
    assert tracer.name == host.name == NAME  # one backend name in trace headers


def test_without_a_profile_it_is_unavailable() -> None:
    reason = ContainerDeltaTracer().unavailable_reason()
    assert reason is not None and "profile" in reason


def test_a_network_other_than_none_or_host_is_refused_before_the_engine() -> None:
    profile = build_profile(["read"], ["x86_64"], Mode.LOG).profile
    request = TraceRequest(argv=(), workload="w", container=ContainerSpec("img", "bridge"))
    with pytest.raises(TracerError, match="network 'bridge'"):
        ContainerDeltaTracer(profile).run(request, None, lambda p: None)  # type: ignore[arg-type]


def test_audit_clock_is_the_coarse_clock_cut_to_the_millisecond() -> None:
    before = time.time()
    now = audit_clock()
    assert round(now * 1000) == now * 1000  # whole milliseconds, as audit stamps print them
    # The coarse clock lags the fine one by at most a few ticks, never leads it.
    assert before - 0.05 < now <= time.time()


def test_descends_follows_parent_links() -> None:
    child = subprocess.Popen(["sleep", "5"])
    try:
        assert _descends(child.pid, {os.getpid()})
        assert _descends(child.pid, {child.pid})
        assert not _descends(os.getpid(), {child.pid})
        assert not _descends(child.pid, set())
    finally:
        child.kill()
        child.wait()


def test_cli_missing_profile_is_one_error_line_and_exit_1(tmp_path: Path) -> None:
    missing = tmp_path / "absent.json"
    result = CliRunner().invoke(cli, ["trace", "--delta", str(missing), "--image", "app:1"])
    assert result.exit_code == 1
    errors = [li for li in result.output.splitlines() if li.startswith("error: ")]
    assert errors == [f"error: {missing}: no such file"], result.output


def test_cli_learn_needs_delta(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["trace", "--learn", "--image", "app:1"])
    assert result.exit_code == 2 and "only with --delta PROFILE" in result.output


def test_the_grace_ends_with_sigkill_to_the_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The workload is the container's init and there is no tracer: ending the tracees (after
    # the grace) and ending "the tracer" both SIGKILL the init, which ends the namespace.
    side = ContainerSide(None, None, ContainerSpec(), tmp_path / "records")
    side.init_pid = 4242
    monkeypatch.setattr(side, "same_namespace", lambda pid: pid == 4242)
    killed: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: killed.append((pid, sig)))
    side.kill_tracees()
    side.kill_tracer()
    assert killed == [(4242, signal.SIGKILL), (4242, signal.SIGKILL)]
