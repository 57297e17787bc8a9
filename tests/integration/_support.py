"""Helpers shared by the integration tests (imported as ``_support``: pytest puts this folder on
``sys.path``, as it does for every test folder without an ``__init__.py``)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sg(
    *args: str, cwd: Path, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m seccompgen ARGS`` in ``cwd``; output captured as text, never raises on a
    non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", "seccompgen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )
