"""Writing a file the user named, atomically: the one place that knows how.

Readers (the kubelet or a runtime reading its seccomp directory, ``kubectl``, a second
seccompgen) see the old file or the new one, never a part: the data goes to a temporary file in
the same directory, is flushed to disk (fsync), then renamed over the target with
``os.replace`` (rename(2), atomic within a filesystem); a failed write leaves the old file as it
was. A target that exists and is not a regular file (``-o /dev/stdout``, ``/dev/null``, a pipe)
is written to, never replaced: renaming over a device node as root would turn it into a
regular file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def is_regular_or_new(path: Path) -> bool:
    """Whether ``path`` (through symbolic links) is a regular file or does not exist yet."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except FileNotFoundError:
        return True


def write_atomically(
    path: Path, data: bytes, *, mode: int | None = None, parents: bool = False
) -> None:
    """Write ``data`` to ``path`` as described above; raises :class:`OSError`.

    ``mode``: the new file's permission bits; None keeps an existing file's mode and gives a
    new one 0666 minus the umask, as ``open`` would. Through a symbolic link, its target is
    replaced. ``parents`` creates missing parent directories (else a missing one is an error,
    as with a shell redirection).
    """
    if not is_regular_or_new(path):
        with path.open("wb") as f:
            f.write(data)
        return
    target = path.resolve() if path.is_symlink() else path
    if mode is None:
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
    if parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
