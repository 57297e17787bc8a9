"""``seccompgen runtime-baseline`` on the real engine: the measured runc blocks agree with the
bundled ones (seccompgen/data/runtime/), and the no-NNP set contains the NNP set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _rules import missing_tool
from _support import measure_block as measure

from seccompgen.runtime import BUNDLED_DIR, load_blocks
from seccompgen.verify import VERIFY_LABEL

pytestmark = [pytest.mark.docker, pytest.mark.go, pytest.mark.root]

STORED = BUNDLED_DIR
# runc is a Go program: its runtime makes these in some runs only (signals, scheduling).
GO_RUNTIME_NOISE = {"rt_sigreturn", "nanosleep", "sched_yield", "tgkill", "getpid", "mmap"}


def test_measured_blocks_match_the_stored_ones(tmp_path: Path, docker_client: Any) -> None:
    plain = measure(tmp_path / "plain")
    nnp = measure(tmp_path / "nnp", "--no-new-privileges")
    assert plain.runtime == nnp.runtime == "runc"
    assert not plain.no_new_privileges and nnp.no_new_privileges
    assert "execve" in plain.syscalls and "execve" in nnp.syscalls
    # Without NNP runc loads the filter before dropping capabilities and switching user.
    assert {"capset", "setuid", "setgid", "setgroups", "prctl"} <= set(plain.syscalls)
    assert not {"capset", "setuid"} & set(nnp.syscalls)
    assert set(nnp.syscalls) - GO_RUNTIME_NOISE <= set(plain.syscalls)
    stored = {(b.version, b.no_new_privileges): b for b in load_blocks([STORED])}
    for got in (plain, nnp):
        want = stored.get((got.version, got.no_new_privileges))
        if want is None:
            reason = f"no stored block for {got.label}; commit the measured one"
            missing_tool(reason)
        assert set(got.syscalls) ^ set(want.syscalls) <= GO_RUNTIME_NOISE, (got, want)
    left = docker_client.containers.list(all=True, filters={"label": VERIFY_LABEL})
    assert left == []
    assert docker_client.images.list(filters={"label": VERIFY_LABEL}) == []
