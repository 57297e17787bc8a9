"""``trace --image ... -V HOST:CONTAINER``: a batch job traced in a container reads its input
from, and writes its output to, host directories, as under ``verify -V``."""

from __future__ import annotations

from pathlib import Path

import pytest
from _support import sg as seccompgen

from seccompgen.events import SyscallEvent
from seccompgen.tracefile import read_trace

pytestmark = [pytest.mark.docker]


def test_image_trace_mounts_volumes_read_only_and_read_write(
    tmp_path: Path, base_image: str
) -> None:
    src, dst = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    dst.mkdir()
    (src / "a.txt").write_text("copied through a bind mount\n")
    proc = seccompgen(
        "trace", "--image", base_image, "-w", "cp",
        "-V", f"{src}:/in:ro", "-V", f"{dst}:/out",
        "--", "/bin/cp", "/in/a.txt", "/out/b.txt",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "target exit status: 0" in proc.stdout
    assert (dst / "b.txt").read_text() == "copied through a bind mount\n"
    traces = list((tmp_path / "traces" / "cp").glob("*.trace.jsonl"))
    assert len(traces) == 1
    names = {e.name for e in read_trace(traces[0]) if isinstance(e, SyscallEvent)}
    assert {"execve", "openat", "read"} <= names

    # Read-only means read-only: the same copy into the :ro mount fails in the container.
    proc = seccompgen(
        "trace", "--image", base_image, "-w", "cp", "-V", f"{src}:/in:ro",
        "--", "/bin/cp", "/in/a.txt", "/in/c.txt",
        cwd=tmp_path,
    )  # fmt: skip
    assert "target exit status: 1" in proc.stdout, proc.stdout + proc.stderr
    assert not (src / "c.txt").exists()


@pytest.mark.parametrize(
    ("volume", "message"),
    [("relative", "bad volume 'relative'"), ("/tmp:/data:rx", "bad volume mode 'rx'")],
)
def test_bad_volume_is_named_before_anything_runs(
    tmp_path: Path, volume: str, message: str
) -> None:
    proc = seccompgen("trace", "--image", "seccompgen-test/none:1", "-V", volume, cwd=tmp_path)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
