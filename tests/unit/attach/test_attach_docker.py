"""attach.docker: the docker run command line."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from seccompgen.attach import docker_run_hint


def test_absolute_path_and_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    hint = docker_run_hint(Path("p.json"), image="alpine:3.20")
    assert hint == f"docker run --security-opt seccomp={tmp_path / 'p.json'} alpine:3.20"


def test_default_image_placeholder() -> None:
    assert docker_run_hint(Path("/etc/p.json")).endswith(" IMAGE")


def test_path_with_spaces_is_quoted(tmp_path: Path) -> None:
    path = tmp_path / "my profiles" / "a b.json"
    argv = shlex.split(docker_run_hint(path))
    assert argv == ["docker", "run", "--security-opt", f"seccomp={path}", "IMAGE"]
