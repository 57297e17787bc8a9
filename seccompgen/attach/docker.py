"""How to run a container under a generated profile with ``docker run``."""

from __future__ import annotations

import shlex
from pathlib import Path


def docker_run_hint(profile_path: Path, image: str = "IMAGE") -> str:
    """The ``docker run`` command line that applies the profile at ``profile_path``.

    Docker reads the file when the container is created, relative to the client's working
    directory, so the path is made absolute; arguments with spaces or shell metacharacters are
    quoted for POSIX shells (docker run --security-opt seccomp=PATH, Docker's seccomp docs).
    """
    absolute = profile_path.expanduser().resolve()
    return shlex.join(["docker", "run", "--security-opt", f"seccomp={absolute}", image])
