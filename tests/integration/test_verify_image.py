"""``--image IMAGE -- ARGS`` against a real Docker engine: the arguments replace the image's CMD
for ``trace`` and for ``verify`` alike.

The image is ``FROM scratch`` holding the batch example as its ENTRYPOINT, with no CMD: without
arguments the program prints its usage and exits 2, so a run that lost the arguments fails.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _support import sg

from seccompgen.events import SyscallEvent
from seccompgen.tracefile import read_trace
from seccompgen.verify import VERIFY_LABEL

pytestmark = [pytest.mark.docker, pytest.mark.go, pytest.mark.strace]

# Inside the container: the program reads itself (any file will do) and writes its result to
# /dev/shm, the one writable directory a FROM scratch container has.
BATCH_ARGS = ("-in", "/app", "-out", "/dev/shm/result.json")


@pytest.fixture(scope="module")
def batch_image(build_example: Callable[[str], Path], scratch_image: Callable[[Path], str]) -> str:
    return scratch_image(build_example("batch"))


def trace_path(proc: subprocess.CompletedProcess[str]) -> Path:
    m = re.search(r"^trace .*-> (\S+)$", proc.stdout, re.MULTILINE)
    assert m, f"no trace path in the output:\n{proc.stdout}\n{proc.stderr}"
    return Path(m.group(1))


def leftovers(client: Any, image: str) -> list[str]:
    """Verify's containers of ``image`` still there (other runs may share the engine)."""
    containers = client.containers.list(
        all=True, filters={"label": VERIFY_LABEL}, ignore_removed=True
    )
    return [c.name for c in containers if c.attrs.get("Config", {}).get("Image") == image]


def test_trace_then_verify_an_image_with_arguments_after_dashdash(
    tmp_path: Path, batch_image: str, docker_client: Any
) -> None:
    store = str(tmp_path / "store")
    traced = sg("trace", "--image", batch_image, "-w", "batch", "--store", store,
                "--", *BATCH_ARGS, cwd=tmp_path)  # fmt: skip
    assert traced.returncode == 0, traced.stdout + traced.stderr
    assert "target exit status: 0" in traced.stdout, traced.stdout
    path = trace_path(traced)
    header = read_trace(path).header
    assert header.command == (f"image:{batch_image}", *BATCH_ARGS)
    calls = [e for e in read_trace(path) if isinstance(e, SyscallEvent)]
    # The result is written to a temporary file and renamed: only a run given -out gets there.
    assert any(e.name in {"rename", "renameat", "renameat2"} for e in calls), {
        e.name for e in calls
    }

    profile = tmp_path / "batch.json"
    emitted = sg("emit", "-w", "batch", "--store", store, "-o", str(profile), cwd=tmp_path)
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr

    proc = sg("verify", str(profile), "--image", batch_image, "--", *BATCH_ARGS, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^PASS: .* exited 0 on its own", proc.stdout, re.M), proc.stdout

    # The same image without the arguments: the program exits 2, so the arguments above counted.
    bare = sg("verify", str(profile), "--image", batch_image, "--no-diagnose", cwd=tmp_path)
    assert bare.returncode == 1, bare.stdout + bare.stderr
    assert "the workload exited with status 2" in bare.stdout, bare.stdout
    assert "usage: batch -in FILE -out FILE" in bare.stdout
    assert leftovers(docker_client, batch_image) == []


def test_trace_an_image_without_its_arguments_sees_the_program_fail(
    tmp_path: Path, batch_image: str
) -> None:
    traced = sg("trace", "--image", batch_image, "--store", str(tmp_path / "s"), cwd=tmp_path)
    assert traced.returncode == 0, traced.stdout + traced.stderr
    assert "target exit status: 2" in traced.stdout, traced.stdout
    assert read_trace(trace_path(traced)).header.command == (f"image:{batch_image}",)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("verify", "give TARGET (./batch) or --image IMAGE, not both"),
        ("trace", "give TARGET (./batch) or --image IMAGE, not both"),
    ],
)
def test_a_target_and_an_image_is_a_usage_error(
    tmp_path: Path, batch_image: str, command: str, message: str
) -> None:
    profile = tmp_path / "p.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ALLOW"}\n')
    first = (str(profile),) if command == "verify" else ()
    proc = sg(command, *first, "./batch", "--image", batch_image, "--", "-in", "x", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert f"--image {batch_image} -- ./batch -in x" in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr
