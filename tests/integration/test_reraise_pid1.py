"""A server that re-raises SIGTERM at itself: traced as the container's process 1, then proven.

``examples/reraise`` catches SIGTERM, cleans up, restores the signal's default action and sends
it to itself. As any process but a pid namespace's init it dies of that signal and never calls
``exit_group``; as a container's process 1 the kernel does not deliver it (pid_namespaces(7)),
and Go's runtime ends the program with ``exit(128 + SIGTERM)`` through ``exit_group``
(src/runtime/signal_unix.go, ``dieFromSignal``). ``verify`` runs it as process 1, so a trace
must too: ``trace --image`` runs the target as process 1 (strace ``-D``), sees ``exit_group``,
and the profile it gives passes ``verify``. Without ``exit_group`` the same program cannot
end: verify fails and names it.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _support import free_port, sg

from seccompgen.containers.engine import TRACE_LABEL
from seccompgen.events import ExitEvent, Phase, SignalEvent, SyscallEvent
from seccompgen.tracefile import read_trace
from seccompgen.verify import VERIFY_LABEL

pytestmark = [pytest.mark.docker, pytest.mark.go, pytest.mark.strace, pytest.mark.root]

IMAGE_LABEL = "io.seccompgen.test"


def _build(client: Any, app: Path, entrypoint: list[str], tag: str) -> str:
    dockerfile = f"FROM scratch\nCOPY app /app\nENTRYPOINT {json.dumps(entrypoint)}\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(app, arcname="app")
    buf.seek(0)
    client.images.build(
        fileobj=buf,
        custom_context=True,
        tag=tag,
        network_mode="none",
        pull=False,
        rm=True,
        labels={IMAGE_LABEL: "reraise"},
    )
    return tag


class Setup:
    """The example built static into two FROM scratch images: one whose arguments are given on
    the command line, one with them in its ENTRYPOINT (for verify)."""

    def __init__(self, binary: Path, plain: str, baked: str, port: int, loadgen: Path) -> None:
        self.binary = binary
        self.plain = plain
        self.baked = baked
        self.port = port
        self.load = f"{loadgen} -c 2 -n 50 http://127.0.0.1:{port}/healthz"


@pytest.fixture(scope="module")
def setup(docker_client: Any, build_example: Callable[[str], Path]) -> Iterator[Setup]:
    binary = build_example("reraise")
    port = free_port()
    suffix = uuid.uuid4().hex[:10]
    plain = _build(docker_client, binary, ["/app"], f"seccompgen-test/reraise:{suffix}")
    baked = _build(
        docker_client,
        binary,
        ["/app", "-addr", f"127.0.0.1:{port}"],
        f"seccompgen-test/reraise-baked:{suffix}",
    )
    yield Setup(binary, plain, baked, port, build_example("loadgen"))
    for tag in (plain, baked):
        docker_client.images.remove(tag, force=True)


def _leftovers(client: Any, *images: str) -> list[str]:
    """Containers of ``images`` that seccompgen labelled (other runs may share the engine)."""
    found = []
    for label in (TRACE_LABEL, VERIFY_LABEL):
        # sparse: the list call's own fields, no inspect of containers other runs may remove.
        for c in client.containers.list(all=True, sparse=True, filters={"label": label}):
            if c.attrs.get("Image") in images:
                found.append(f"{c.attrs.get('Names')} ({c.attrs.get('State')})")
    return found


def _trace_path(out: str) -> Path:
    m = re.search(r"^trace .*-> (\S+)$", out, re.M)
    assert m, out
    return Path(m.group(1))


@pytest.fixture(scope="module")
def traced(setup: Setup, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``trace --image`` of the plain image with the address after ``--``; the store and the
    output."""
    work = tmp_path_factory.mktemp("reraise")
    proc = sg(
        "trace", "--image", setup.plain, "--network", "host", "-w", "reraise",
        "--store", str(work / "store"), "--exercise", setup.load, "--grace", "5",
        "--", "-addr", f"127.0.0.1:{setup.port}",
        cwd=work,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work, proc.stdout


def test_the_image_trace_runs_the_target_as_process_1(
    traced: tuple[Path, str], setup: Setup, docker_client: Any
) -> None:
    _, out = traced
    events = list(read_trace(_trace_path(out)))
    calls = [e for e in events if isinstance(e, SyscallEvent)]
    assert calls[0].name == "execve" and calls[0].pid == 1
    # A SIGTERM came, and the program re-raised it at itself (kill(1, SIGTERM)); as process 1
    # that did not kill it (no "killed by" line)...
    terms = [e for e in events if isinstance(e, SignalEvent) and e.signal == "SIGTERM"]
    raised = [e for e in calls if e.name == "kill" and e.pid == 1 and e.args[:2] == (1, 15)]
    assert terms and raised, (terms, raised)
    assert terms[0].timestamp is not None and raised[0].timestamp is not None
    assert terms[0].timestamp <= raised[0].timestamp
    assert not [e for e in events if isinstance(e, ExitEvent) and e.signal is not None]
    # ...so it ended through exit_group, with Go's 128 + SIGTERM, as the container's status.
    ends = [e for e in calls if e.name == "exit_group" and e.pid == 1]
    assert ends and ends[0].phase is not Phase.STARTUP
    assert ends[0].timestamp is not None and ends[0].timestamp >= raised[0].timestamp
    assert "target exit status: 143" in out
    assert _leftovers(docker_client, setup.plain) == []


def test_on_the_host_it_dies_of_the_signal_and_its_profile_still_lets_it_end(
    setup: Setup, tmp_path: Path, docker_client: Any
) -> None:
    # The contrast the container trace removes: not process 1, the re-raised signal kills it
    # and the trace has no exit_group...
    port = free_port()
    load = ("--exercise", f"{setup.load.rsplit(' ', 1)[0]} http://127.0.0.1:{port}/healthz")
    args = ("--", "-addr", f"127.0.0.1:{port}")
    store = str(tmp_path / "store")
    proc = sg("trace", str(setup.binary), "-w", "host", "--store", store, *load, *args,
              cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "target exit status: -15" in proc.stdout
    names = {e.name for e in read_trace(_trace_path(proc.stdout)) if isinstance(e, SyscallEvent)}
    assert "kill" in names and "exit_group" not in names
    # ...yet the profile allows it (a process must be able to end), so the program, as the
    # container's process 1 under verify, ends through it and passes.
    profile = tmp_path / "host.json"
    emitted = sg("emit", "-w", "host", "--store", store, "-o", str(profile), cwd=tmp_path)
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr
    assert "always allowed: a process must be able to end, not observed: exit_group" in (
        emitted.stdout
    )
    verified = sg("verify", str(profile), str(setup.binary), "--network", "host", *load, *args,
                  cwd=tmp_path, timeout=300)  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "stopped cleanly on SIGTERM (status 143)" in verified.stdout, verified.stdout


def _emit(work: Path, out: Path, *extra: str) -> Path:
    proc = sg("emit", "-w", "reraise", "--store", str(work / "store"), "-o", str(out), *extra,
              cwd=work)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def _verify(profile: Path, setup: Setup, work: Path, *extra: str) -> str:
    proc = sg(
        "verify", str(profile), "--image", setup.baked, "--network", "host",
        "--exercise", setup.load, *extra,
        cwd=work, timeout=300,
    )  # fmt: skip
    print(proc.stdout)
    return f"exit {proc.returncode}\n{proc.stdout}{proc.stderr}"


@pytest.mark.parametrize("nnp", [False, True], ids=["no-nnp", "nnp"])
def test_the_emitted_profile_passes_verify(
    traced: tuple[Path, str], setup: Setup, docker_client: Any, nnp: bool
) -> None:
    work, _ = traced
    flag = ("--no-new-privileges",) if nnp else ()
    profile = _emit(work, work / f"reraise-{'nnp' if nnp else 'no-nnp'}.json", *flag)
    allowed = {
        n for r in json.loads(profile.read_text())["syscalls"] if r["action"] == "SCMP_ACT_ALLOW"
        for n in r["names"]
    }  # fmt: skip
    assert "exit_group" in allowed
    result = _verify(profile, setup, work, *flag)
    assert result.startswith("exit 0\n"), result
    assert re.search(r"^PASS: ", result, re.M), result
    assert "stopped cleanly on SIGTERM (status 143)" in result, result
    assert _leftovers(docker_client, setup.baked) == []


def test_without_exit_group_it_cannot_end_and_verify_names_it(
    traced: tuple[Path, str], setup: Setup, docker_client: Any
) -> None:
    work, _ = traced
    full = _emit(work, work / "full.json")
    data = json.loads(full.read_text())
    for rule in data["syscalls"]:
        if rule["action"] == "SCMP_ACT_ALLOW":
            rule["names"].remove("exit_group")
    broken = work / "no-exit-group.json"
    broken.write_text(json.dumps(data, indent=2) + "\n")
    checked = sg("validate", str(broken), cwd=work)
    assert checked.returncode == 0 and "warning:" in checked.stdout, checked.stdout
    assert "exit_group gets SCMP_ACT_ERRNO" in checked.stdout, checked.stdout
    result = _verify(broken, setup, work, "--grace", "3")
    assert result.startswith("exit 1\n"), result
    assert re.search(r"^FAIL: ", result, re.M), result
    assert "did not stop within 3s of SIGTERM" in result, result
    denied = re.findall(r"^  (\S+)\s+(?:runtime init before exec|workload):", result, re.M)
    assert "exit_group" in denied, result
    assert _leftovers(docker_client, setup.baked) == []
