"""The Docker SDK and python-ptrace are dependencies; an installation that lost one still gets a
clear one-line error naming the package and the way out, never an ImportError traceback.

A ``sys.modules`` entry set to None makes ``import docker`` / ``import ptrace`` fail here as it
would where the package is missing.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from seccompgen._cli import cli
from seccompgen.containers.container import ContainerTracer
from seccompgen.containers.image import docker_client
from seccompgen.errors import TracerError
from seccompgen.tracing.backends.ptrace import PtraceTracer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "docker" or m.startswith("docker.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "docker", None)


@pytest.fixture
def no_ptrace(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "ptrace" or m.startswith("ptrace.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ptrace", None)


def test_both_are_ordinary_dependencies_and_the_old_extras_still_resolve() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {d.split(">")[0].split("=")[0].strip() for d in project["dependencies"]}
    assert {"docker", "python-ptrace"} <= names
    assert project["optional-dependencies"]["docker"] == []
    assert project["optional-dependencies"]["ptrace"] == []


def test_docker_client_without_the_sdk(no_docker: None) -> None:
    with pytest.raises(TracerError) as err:
        docker_client()
    assert err.value.message.startswith(
        "the Docker SDK for Python (package `docker`) cannot be imported"
    )
    assert "pip install --force-reinstall seccompgen" in (err.value.hint or "")


def test_container_backend_without_the_sdk(no_docker: None) -> None:
    reason = ContainerTracer().unavailable_reason()
    assert reason is not None and "package `docker`) cannot be imported" in reason
    assert "pip install docker" in reason


@pytest.mark.parametrize(
    "argv",
    [
        ["trace", "--image", "app:1", "--", "-x"],
        ["verify", "{profile}", "--image", "app:1", "--", "-x"],
    ],
)
def test_cli_without_the_sdk_is_one_clear_error(
    no_docker: None, tmp_path: Path, argv: list[str]
) -> None:
    profile = tmp_path / "p.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ERRNO"}\n')
    args = [a.replace("{profile}", str(profile)) for a in argv]
    result = CliRunner().invoke(cli, [*args, "--store", str(tmp_path / "s")] if argv[0] == "trace"
                                else args)  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "error: " in result.output
    assert "package `docker`) cannot be imported" in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, ImportError)


def test_ptrace_backend_without_python_ptrace(no_ptrace: None, tmp_path: Path) -> None:
    reason = PtraceTracer().unavailable_reason()
    assert reason is not None and reason.startswith(
        "python-ptrace (package `ptrace`) cannot be imported"
    )
    assert "pip install python-ptrace" in reason
    result = CliRunner().invoke(
        cli, ["trace", "/bin/true", "--backend", "ptrace", "--store", str(tmp_path)]
    )
    assert result.exit_code == 1, result.output
    assert "the ptrace backend is not available: python-ptrace" in result.output
    assert "Traceback" not in result.output
