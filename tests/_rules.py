"""The project's rule for tests whose tool or service is missing, in one place.

A missing tool (strace, Docker, bpftrace, Graphviz, root, ...) skips the test on a developer's
machine and fails it when ``CI`` is set: CI installs everything, so a skip there would hide a
broken set-up. Importable as ``_rules``: pytest puts ``tests/`` on ``sys.path`` for
``tests/conftest.py``.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing_tool(reason: str) -> NoReturn:
    """Skip with ``reason``, or fail with it when ``CI`` is set."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)
