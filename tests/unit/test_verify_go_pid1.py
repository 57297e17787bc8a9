"""A Go program (before Go 1.27) as a container's process 1 exits 2 on an unhandled SIGTERM:
verify counts that as a clean stop, and a panic's exit 2 not."""

from __future__ import annotations

import pytest

from seccompgen.verify import go_pid1_sigterm_exit


@pytest.mark.parametrize(
    ("rc", "output", "version", "clean"),
    [
        (2, "level=info msg=listening\n", "go1.19.8", True),
        (2, "", "go1.26.5", True),
        # Go 1.27 exits 128 + SIGTERM there, which is clean by itself; 2 is something else.
        (2, "", "go1.27.3", False),
        (
            2,
            "panic: runtime error: index out of range\n\ngoroutine 1 [running]:\n",
            "go1.19.8",
            False,
        ),
        (2, "fatal error: unexpected signal during runtime execution\n", "go1.19.8", False),
        (2, "", None, False),  # not a Go program
        (2, "", "devel go1.28-abcdef", False),
        (1, "", "go1.19.8", False),
    ],
)
def test_go_pid1_sigterm_exit(rc: int, output: str, version: str | None, clean: bool) -> None:
    assert go_pid1_sigterm_exit(rc, output, version) is clean
