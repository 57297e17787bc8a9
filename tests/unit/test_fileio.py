"""fileio.write_atomically: the one writer of user-named files (emit -o, k8s attach -o)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from seccompgen.errors import ProfileError
from seccompgen.fileio import write_atomically
from seccompgen.profile.emit import write_text_atomic


def test_a_pipe_is_written_to_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_text_atomic(fifo, '{"defaultAction": "SCMP_ACT_ERRNO"}\n')
    reader.join(timeout=10)
    assert got == [b'{"defaultAction": "SCMP_ACT_ERRNO"}\n']
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still a pipe, as /dev/null stays a device
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary file left


def test_modes_symlinks_and_parents(tmp_path: Path) -> None:
    kept = tmp_path / "kept.yaml"
    kept.write_text("old\n")
    kept.chmod(0o600)
    write_atomically(kept, b"new\n")
    assert kept.read_text() == "new\n" and stat.S_IMODE(kept.stat().st_mode) == 0o600

    real = tmp_path / "real.json"
    real.write_text("old\n")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_text_atomic(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o644

    deep = tmp_path / "a" / "b" / "p.json"
    write_text_atomic(deep, "{}\n")
    assert deep.read_text() == "{}\n"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "dir-not-file"
    target.mkdir()
    with pytest.raises(ProfileError, match="dir-not-file: cannot write"):
        write_text_atomic(target, "{}\n")
    assert target.is_dir() and list(tmp_path.iterdir()) == [target]
