"""The strace bundle traces a static Go program inside a ``FROM scratch`` container.

The image holds only the program: no shell, no libc, no loader. The bundle is bind-mounted
read-only at /.seccompgen and strace is started through the bundled loader; its output goes to
a writable bind mount. Seeing the program's own ``mkdirat`` in the trace shows strace really
followed it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from _rules import missing_tool

from seccompgen.containers.bundle import DEFAULT_MOUNT, build_strace_bundle

pytestmark = [pytest.mark.docker, pytest.mark.strace]


def test_bundled_strace_traces_a_static_program_in_a_scratch_image(
    run_in_container: Any, mkdirprobe_image: Any, tmp_path: Path
) -> None:
    if shutil.which("strace") is None:
        missing_tool("strace is not installed")
    bundle = build_strace_bundle(tmp_path / "bundle")
    out = tmp_path / "out"
    out.mkdir()
    command = [*bundle.argv_prefix, "-f", "-o", "/out/trace", "/app", "/made-by-probe"]
    result = run_in_container(
        mkdirprobe_image.tag,
        command,
        entrypoint=[],
        volumes={
            str(bundle.root): {"bind": DEFAULT_MOUNT, "mode": "ro"},
            str(out): {"bind": "/out", "mode": "rw"},
        },
    )
    assert result.status == 0, result
    assert result.stdout.strip() == "mkdir: ok"
    trace = (out / "trace").read_text()
    assert 'execve("/app", ["/app", "/made-by-probe"]' in trace
    assert 'mkdirat(AT_FDCWD, "/made-by-probe", 0755' in trace
    # With -f, another thread's line may split the call into "<unfinished ...>" and
    # "<... mkdirat resumed>" (strace(1), -f); either way it returned 0.
    assert re.search(r"(0755|<\.\.\. mkdirat resumed>)\)\s+= 0$", trace, re.MULTILINE), trace
    # The Go runtime's thread start-up, seen because of -f.
    assert "clone" in trace
