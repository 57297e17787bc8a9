"""The Docker engine answers, and a seccomp profile passed with ``--security-opt`` is enforced.

The workload is a static Go program in a ``FROM scratch`` image; the profile allows everything
but ``mkdir``/``mkdirat``, which fail with EPERM (``SCMP_ACT_ERRNO`` with ``errnoRet`` 1, OCI
runtime-spec config-linux.md "Seccomp"). The same image without the profile creates the
directory, so the difference is the profile's doing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from _rules import missing_tool

pytestmark = pytest.mark.docker

EPERM = 1
DENY_MKDIR = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM},
    ],
}


def test_engine_answers(docker_client: Any) -> None:
    assert docker_client.ping() is True
    version = docker_client.version()
    assert version["ApiVersion"]
    info = docker_client.info()
    # The engine must be able to apply seccomp profiles at all.
    assert any("seccomp" in opt for opt in info["SecurityOptions"]), info["SecurityOptions"]


def test_scratch_program_runs_without_profile(run_in_container: Any, mkdirprobe_image: Any) -> None:
    result = run_in_container(mkdirprobe_image.tag, ["/made-here"])
    assert (result.status, result.stdout.strip()) == (0, "mkdir: ok"), result


def test_seccomp_profile_denies_mkdir(run_in_container: Any, mkdirprobe_image: Any) -> None:
    # The API takes the profile's JSON text (the CLI reads the file and sends its content).
    opt = f"seccomp={json.dumps(DENY_MKDIR)}"
    result = run_in_container(mkdirprobe_image.tag, ["/made-here"], security_opt=[opt])
    assert (result.status, result.stdout.strip()) == (3, "mkdir: EPERM"), result


def test_profile_errno_is_the_one_configured(run_in_container: Any, mkdirprobe_image: Any) -> None:
    # errnoRet 13 (EACCES) is not EPERM: the program reports the error text and exits 1, which
    # shows the profile's errno reaches the program rather than some unrelated failure.
    profile = json.loads(json.dumps(DENY_MKDIR))
    profile["syscalls"][0]["errnoRet"] = 13
    opt = f"seccomp={json.dumps(profile)}"
    result = run_in_container(mkdirprobe_image.tag, ["/made-here"], security_opt=[opt])
    assert result.status == 1, result
    assert "permission denied" in result.stdout, result


def test_containers_get_no_network_address(docker_client: Any) -> None:
    # docker-up.sh starts dockerd with --bridge=none: only the host and none networks exist, so
    # no container can be given an address of its own. An engine it did not start is not ours
    # to judge.
    state = Path(os.environ.get("SECCOMPGEN_DOCKER_STATE", "/run/seccompgen-docker"))
    if not (state / "started").is_file():
        reason = "the engine was not started by scripts/docker-up.sh"
        # CI's engine must be the loopback-only one: containers may not get addresses.
        missing_tool(reason)
    drivers = {n.attrs["Driver"] for n in docker_client.networks.list()}
    assert drivers <= {"host", "null"}, drivers
