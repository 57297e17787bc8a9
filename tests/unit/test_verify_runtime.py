"""``verify --runtime NAME``: the workload's container is created with that runtime (Docker's
HostConfig.Runtime), and a runtime the engine lacks is refused before anything is built. Checked
against a recording stand-in for the Docker client (the engine itself is exercised by
tests/integration/test_verify_crun.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from seccompgen import pipeline
from seccompgen._cli import cli
from seccompgen.errors import TracerError
from seccompgen.profile.build import Mode, build_profile
from seccompgen.profile.emit import write_profile
from seccompgen.verify import VerifyReport, VerifyRequest, verify
from seccompgen.verify.model import RunResult, quiet
from seccompgen.verify.run import RunPlan, run_container


class Refused(Exception):
    pass


class Containers:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def create(self, image: str, **kwargs: Any) -> Any:
        import docker.errors  # type: ignore[import-untyped]

        self.calls.append({"image": image, **kwargs})
        raise docker.errors.DockerException("stand-in: no container")


class Client:
    def __init__(self, runtimes: tuple[str, ...] = ("runc", "crun")) -> None:
        self.containers = Containers()
        self.runtimes = runtimes
        self.built = 0

    def info(self) -> dict[str, Any]:
        return {"DefaultRuntime": "runc", "Runtimes": {n: {"path": n} for n in self.runtimes}}

    def close(self) -> None:
        pass


@pytest.mark.parametrize("name", [None, "crun"])
def test_the_container_is_created_with_the_runtime(tmp_path: Path, name: str | None) -> None:
    client = Client()
    req = VerifyRequest(profile=tmp_path / "p.json", image="img:local", runtime=name)
    with pytest.raises(TracerError, match="cannot create a container of img:local"):
        run_container(client, RunPlan("img:local", None), "{}", req, "enforce", "r1", None, quiet)
    (call,) = client.containers.calls
    if name is None:
        assert "runtime" not in call  # the engine's default
    else:
        assert call["runtime"] == "crun"


def test_a_runtime_the_engine_lacks_stops_verify_before_any_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import seccompgen.verify.check as check

    profile = tmp_path / "p.json"
    write_profile(profile, build_profile(["read", "execve"], ["x86_64"], Mode.ENFORCE).profile)
    client = Client(runtimes=("runc",))
    monkeypatch.setattr(check, "engine_client", lambda engine="docker": client)
    req = VerifyRequest(profile=profile, image="img:local", runtime="crun")
    with pytest.raises(TracerError) as e:
        verify(req)
    assert "the Docker engine has no runtime named 'crun' (it has: runc)" in e.value.explain()
    assert client.containers.calls == []


def test_cli_passes_the_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = tmp_path / "p.json"
    write_profile(profile, build_profile(["read", "execve"], ["x86_64"], Mode.ENFORCE).profile)
    seen: list[VerifyRequest] = []

    def fake(req: VerifyRequest, log: Any = None) -> VerifyReport:
        seen.append(req)
        return VerifyReport(True, RunResult("enforce", True, None, 0, None, "exited"))

    monkeypatch.setattr(pipeline, "verify", fake)
    r = CliRunner().invoke(
        cli, ["verify", str(profile), "--image", "img:local", "--runtime", "crun"]
    )
    assert r.exit_code == 0, r.output
    assert seen[0].runtime == "crun"
    assert "runtime crun)" in r.output and "PASS" in r.output
    r = CliRunner().invoke(cli, ["verify", str(profile), "--image", "img:local"])
    assert r.exit_code == 0 and seen[1].runtime is None
