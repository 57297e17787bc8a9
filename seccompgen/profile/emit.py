"""Deterministic JSON for profiles, written atomically.

The same profile always renders to the same bytes (2-space indent, names sorted within each
rule, keys in the order :meth:`Profile.to_dict` gives, trailing newline), so golden files and
run-to-run diffs mean something.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

from seccompgen.errors import ProfileError
from seccompgen.profile.model import Profile


def render(profile: Profile) -> str:
    """The profile as runtime-spec JSON text, ending with a newline."""
    ordered = replace(
        profile,
        syscalls=tuple(
            replace(rule, names=tuple(sorted(set(rule.names)))) for rule in profile.syscalls
        ),
    )
    return json.dumps(ordered.to_dict(), indent=2, ensure_ascii=False) + "\n"


def profile_digest(profile: Profile) -> str:
    """``sha256:HEX`` of ``render(profile)``: the same for a copy, a renamed file or one whose
    JSON was re-indented or its names reordered, since it is taken after parsing."""
    return "sha256:" + hashlib.sha256(render(profile).encode("utf-8")).hexdigest()


def write_profile(path: Path, profile: Profile) -> None:
    """Write ``render(profile)`` to ``path`` atomically, creating parent directories.

    The text goes to a temporary file in the same directory, is flushed to disk, then renamed
    over ``path`` with ``os.replace`` (atomic within a filesystem, rename(2)), so a reader never
    sees a half-written profile.
    """
    text = render(profile)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise ProfileError(f"{path}: cannot create: {e}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; a profile is not secret and runtimes may read it as another user.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ProfileError(f"{path}: cannot write: {e}") from e
