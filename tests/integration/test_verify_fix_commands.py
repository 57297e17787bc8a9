"""Whom a failing ``verify`` tells to fix: the workload the profile was emitted for, found in
the store by the profile's content, not the profile's file name. Real Docker, real audit records.

The batch example is traced without arguments (it prints its usage and exits), as workload
``wordcount``; the emitted ``broken.json`` then refuses the calls a real run makes (opening,
writing and renaming its files), so verifying it with arguments fails. The printed fix commands
are run as printed and must make the same verify pass.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _support import sg

from seccompgen.verify import VERIFY_LABEL

pytestmark = [pytest.mark.docker, pytest.mark.go, pytest.mark.strace, pytest.mark.root]


def fixes(stdout: str) -> list[str]:
    """The commands after ``next:``, without their comments."""
    _, _, tail = stdout.partition("next:\n")
    return [line.strip().split("   #")[0] for line in tail.splitlines() if line.startswith("  ")]


def test_fix_commands_name_the_workload_the_store_emitted_the_profile_for(
    tmp_path: Path, build_example: Callable[[str], Path], docker_client: Any
) -> None:
    batch = shutil.copy(build_example("batch"), tmp_path / "batch")
    store = tmp_path / "store"
    traced = sg("trace", str(batch), "-w", "wordcount", "--store", str(store), cwd=tmp_path)
    assert traced.returncode == 0, traced.stdout + traced.stderr
    assert "target exit status: 2" in traced.stdout  # no arguments: only its usage message
    broken = tmp_path / "broken.json"
    emitted = sg("emit", "-w", "wordcount", "--store", str(store), "-o", str(broken), cwd=tmp_path)
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr

    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("to be or not to be\n")
    run = ("-V", f"{data}:/data", "--", "-in", "/data/in.txt", "-out", "/data/out.json")

    failed = sg("verify", str(broken), str(batch), "--store", str(store), *run, cwd=tmp_path)
    print(failed.stdout)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert re.search(r"^FAIL: ", failed.stdout, re.M)
    assert "the fix commands name workload(s) wordcount: the store" in failed.stdout
    commands = fixes(failed.stdout)
    assert any(c.startswith("seccompgen learn --from") for c in commands), commands
    assert all("--workload broken" not in c for c in commands), commands
    emit_fix = [c for c in commands if c.startswith("seccompgen emit")]
    assert emit_fix and "--workload wordcount" in emit_fix[0], commands

    # Against a store that never emitted it: the file name, and a note saying so.
    other = sg("verify", str(broken), str(batch), "--store", str(tmp_path / "empty"), *run,
               cwd=tmp_path)  # fmt: skip
    assert other.returncode == 1, other.stdout + other.stderr
    assert re.search(r"^note: the store .* has no record of emitting this profile", other.stdout,
                     re.M), other.stdout  # fmt: skip
    assert any("--workload broken" in c for c in fixes(other.stdout)), other.stdout

    # The fix commands as printed (learn into wordcount, emit wordcount over broken.json) work.
    for command in commands:
        if command.startswith("seccompgen runtime-baseline"):
            continue
        done = sg(*shlex.split(command)[1:], cwd=tmp_path)
        assert done.returncode == 0, command + "\n" + done.stdout + done.stderr
    passed = sg("verify", str(broken), str(batch), "--store", str(store), *run, cwd=tmp_path)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert (data / "out.json").is_file()
    # Verify's containers that mounted this test's data directory (others may share the engine).
    ours = [
        c.name
        for c in docker_client.containers.list(
            all=True, filters={"label": VERIFY_LABEL}, ignore_removed=True
        )
        if any(m.get("Source") == str(data) for m in c.attrs.get("Mounts") or [])
    ]
    assert ours == []
