"""``seccompgen runtime-baseline --runtime crun`` on the real engine: the measured crun blocks equal
the bundled ones (seccompgen/data/runtime/crun-*.json), with and without no-new-privileges.

crun is a C program: no runtime of its own makes calls in some runs only, so the sets must match
exactly (runc's are compared up to Go's scheduling noise, test_runtime_baseline.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _rules import missing_tool
from _support import measure_block as measure

from seccompgen.runtime import BUNDLED_DIR, load_blocks

pytestmark = [pytest.mark.docker, pytest.mark.crun, pytest.mark.go, pytest.mark.root]


@pytest.mark.parametrize("nnp", [False, True], ids=["no-nnp", "nnp"])
def test_measured_crun_blocks_equal_the_stored_ones(
    tmp_path: Path, docker_client: Any, nnp: bool
) -> None:
    got = measure(tmp_path, "--runtime", "crun", *(["--no-new-privileges"] if nnp else []))
    assert got.runtime == "crun" and got.no_new_privileges == nnp
    assert "execve" in got.syscalls
    if nnp:
        # crun loads the filter after the wait on the exec fifo, right before execv: only the
        # close of the filter's file follows (src/libcrun/container.c, container_init).
        assert set(got.syscalls) == {"close", "execve"}, got
    else:
        # ... and without NNP before libcrun_set_caps and unblock_signals (container_init_setup).
        assert {"capset", "setresuid", "setresgid", "prctl", "rt_sigaction"} <= set(got.syscalls)
    stored = {
        (b.version, b.no_new_privileges): b
        for b in load_blocks([BUNDLED_DIR])
        if b.runtime == "crun"
    }
    want = stored.get((got.version, nnp))
    if want is None:
        missing_tool(f"no stored block for {got.label}; commit the measured one")
    assert got.syscalls == want.syscalls, (got, want)
