"""A distroless-style non-root image (``USER 65532:65532``): trace -> emit -> verify in Docker.

The example service in a ``FROM scratch`` image whose user is distroless's ``nonroot``: the
injected strace bundle traces it as that user (the exercise reads the target's ``Uid`` line from
/proc), and the profile ``emit`` gives passes ``verify --strict`` with and without
no-new-privileges. runc without no-new-privileges does one thing more for a non-root user than
for root: it hands the container's stdio to the user with ``fchown`` (measured by
``runtime-baseline --user``, which the bundled blocks are measured with). A profile without it
still starts (runc ignores the EPERM), and ``verify --strict`` catches it as the runtime's.
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _support import free_port, sg

pytestmark = [pytest.mark.docker, pytest.mark.go, pytest.mark.strace, pytest.mark.root]

IMAGE_LABEL = "io.seccompgen.test"
NONROOT = "65532:65532"


@pytest.fixture(scope="module")
def image(docker_client: Any, build_example: Callable[[str], Path]) -> Iterator[str]:
    binary = build_example("httpservice")
    dockerfile = (f'FROM scratch\nCOPY app /app\nUSER {NONROOT}\nENTRYPOINT ["/app"]\n').encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(binary, arcname="app")
    buf.seek(0)
    tag = f"seccompgen-test/nonroot:{uuid.uuid4().hex[:10]}"
    docker_client.images.build(
        fileobj=buf, custom_context=True, tag=tag, network_mode="none", pull=False, rm=True,
        labels={IMAGE_LABEL: "nonroot"},
    )  # fmt: skip
    try:
        yield tag
    finally:
        docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def traced(image: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("nonroot")
    port = free_port()
    uid = work / "uid.txt"
    exercise = (
        f"sleep 0.5; grep Uid /proc/$SECCOMPGEN_TARGET_PID/status > {uid}; "
        f'python3 -c "import urllib.request; '
        f"urllib.request.urlopen('http://127.0.0.1:{port}/healthz', timeout=5)\""
    )
    proc = sg("trace", "--image", image, "--network", "host", "-w", "nonroot",
              "--store", str(work / "store"), "--exercise", exercise,
              "--", "-addr", f"127.0.0.1:{port}", cwd=work)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert uid.read_text().split()[1:] == ["65532"] * 4, uid.read_text()
    return work


def _verify(work: Path, profile: Path, image: str, nnp: bool) -> str:
    port = free_port()
    exercise = (
        f'python3 -c "import urllib.request; '
        f"urllib.request.urlopen('http://127.0.0.1:{port}/healthz', timeout=5)\""
    )
    flag = ("--no-new-privileges",) if nnp else ()
    proc = sg("verify", str(profile), "--image", image, "--network", "host", *flag, "--strict",
              "--exercise", exercise, "--ready-delay", "1",
              "--", "-addr", f"127.0.0.1:{port}", cwd=work)  # fmt: skip
    return f"rc={proc.returncode}\n{proc.stdout}{proc.stderr}"


@pytest.mark.parametrize("nnp", [False, True], ids=["no-nnp", "nnp"])
def test_a_nonroot_image_passes_trace_emit_verify_strict(
    traced: Path, image: str, nnp: bool
) -> None:
    flag = ("--no-new-privileges",) if nnp else ()
    profile = traced / f"nonroot-{'nnp' if nnp else 'no-nnp'}.json"
    emitted = sg("emit", "-w", "nonroot", "--store", str(traced / "store"), *flag,
                 "-o", str(profile), cwd=traced)  # fmt: skip
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr
    out = _verify(traced, profile, image, nnp)
    assert out.startswith("rc=0"), out
    assert "strict: the staging variant logged no call" in out, out


def test_a_block_measured_as_root_only_is_caught_for_a_nonroot_image(
    traced: Path, image: str
) -> None:
    profile = traced / "root-block.json"
    emitted = sg("emit", "-w", "nonroot", "--store", str(traced / "store"),
                 "-o", str(profile), cwd=traced)  # fmt: skip
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr
    data = json.loads(profile.read_text())
    for rule in data["syscalls"]:
        if rule["action"] == "SCMP_ACT_ALLOW" and "fchown" in rule["names"]:
            rule["names"].remove("fchown")  # what a block measured as root alone lacks
    profile.write_text(json.dumps(data))
    out = _verify(traced, profile, image, nnp=False)
    assert out.startswith("rc=1"), out
    assert "FAIL (strict)" in out, out
    [line] = [ln for ln in out.splitlines() if ln.strip().startswith("fchown")]
    assert "runtime init before exec" in line and "runc" in line, out
