"""Argument rules (``emit --args auto``) proven in real Docker with ``probe -args``.

``probe -args -observed-only`` (the observed half of each pair: AF_INET/AF_UNIX sockets, a
plain fork-like clone, personality queries, PR_GET_NAME, mprotect read+write, FIONREAD,
F_GETFL) is traced on the host with strace, its profile emitted with argument rules, and the
whole ``probe -args`` run in a ``FROM scratch`` container under it: every observed call must get
through and every unobserved one (AF_PACKET/AF_NETLINK, an AF_UNIX SOCK_SEQPACKET socket (the
family observed, the type not), CLONE_NEWUSER/CLONE_NEWNET, READ_IMPLIES_EXEC,
PR_GET_SECUREBITS, PROT_WRITE|PROT_EXEC, TIOCGWINSZ, F_SETPIPE_SZ) that a
default container can make at all must be refused with the profile's errno (EPERM), except where
the name stays unconditioned because the container runtime calls it after loading the filter
with values the workload never passed (``prctl`` and ``fcntl`` under runc without
no-new-privileges: the emit output says so, and this test checks it says so). Docker's default
profile is run beside it; the table is printed (``-s``) and goes in the README.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _support import probe_rows, sg

from seccompgen.verify import build_scratch_image, log_everything_profile

pytestmark = [pytest.mark.docker, pytest.mark.go, pytest.mark.strace, pytest.mark.root]

Rows = dict[str, dict[str, Any]]


def _run(client: Any, image: str, profile_json: str | None, *, nnp: bool) -> Rows:
    rows = probe_rows(client, image, profile_json, command=["-args"], nnp=nnp)
    return {r["probe"]: r for r in rows}


@pytest.fixture(scope="module")
def traced(build_example: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding one strace run of ``probe -args -observed-only``."""
    probe = build_example("probe")
    work = tmp_path_factory.mktemp("args-docker")
    env = {**os.environ, "GODEBUG": "asyncpreemptoff=1"}
    proc = sg("trace", str(probe), "-w", "probe", "--store", str(work / "store"),
              "--", "-args", "-observed-only", cwd=work, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work


@pytest.mark.parametrize("nnp", [False, True], ids=["no-nnp", "nnp"])
def test_probe_args_under_argument_rules_and_docker_default(
    traced: Path, docker_client: Any, build_example: Callable[[str], Path], nnp: bool
) -> None:
    flag = ("--no-new-privileges",) if nnp else ()
    profile = traced / f"probe-args-{'nnp' if nnp else 'no-nnp'}.json"
    emitted = sg("emit", "-w", "probe", "--args", "auto", *flag, "--store",
                 str(traced / "store"), "-o", str(profile), cwd=traced)  # fmt: skip
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr
    unconditioned = {
        line.split()[1].rstrip(":")
        for line in emitted.stdout.splitlines()
        if line.startswith("arguments: ") and ": unconditioned: the container runtime" in line
    }
    # The observed sockets: AF_INET and AF_UNIX, SOCK_STREAM and SOCK_DGRAM (with Go's flags).
    assert "arguments: socket: AF_INET, AF_UNIX × SOCK_DGRAM, SOCK_STREAM\n" in emitted.stdout
    checked = sg("validate", str(profile), cwd=traced)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    tag = build_scratch_image(docker_client, build_example("probe"), "probe-args-test")
    try:
        reach = _run(docker_client, tag, log_everything_profile(), nnp=nnp)
        ours = _run(docker_client, tag, profile.read_text(), nnp=nnp)
        docker = _run(docker_client, tag, None, nnp=nnp)
    finally:
        docker_client.images.remove(tag, force=True)

    lines = [f"{'probe':<30} {'variant':<11} {'log-all':<12} {'--args auto':<12} docker-default"]
    for name, row in reach.items():
        lines.append(
            f"{name:<30} {row['variant']:<11} {row['errno']:<12} {ours[name]['errno']:<12} "
            f"{docker[name]['errno']}"
        )
    print(f"\nno-new-privileges: {nnp}; unconditioned for the runtime: {sorted(unconditioned)}")
    print("\n".join(lines))

    for name, row in reach.items():
        if row["verdict"] != "allowed":
            continue  # a default container cannot make this call at all: nothing to prove
        if row["variant"] == "observed" or row["syscall"] in unconditioned:
            assert ours[name]["verdict"] == "allowed", (name, ours[name])
        else:
            assert ours[name]["errno"] == "EPERM", (name, ours[name])
    # An observed family with an unobserved type: refused by the type condition alone.
    assert reach["socket-unix-seqpacket"]["errno"] == "OK"
    assert ours["socket-unix-seqpacket"]["errno"] == "EPERM"
    # Docker's default profile lets some unobserved-argument calls through that ours refuses.
    through = [
        n
        for n, r in docker.items()
        if r["variant"] == "unobserved" and r["verdict"] == "allowed"
        and ours[n]["verdict"] == "denied"
    ]  # fmt: skip
    assert through, "Docker's default profile was expected to let some through"
    if nnp:
        assert not unconditioned & {"prctl", "fcntl"}, unconditioned
