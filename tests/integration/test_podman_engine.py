"""podman as a second engine (``--engine podman``): trace, delta and verify through its
Docker-compatible API socket with the same Docker SDK, on Debian's podman.

The example service is imported into podman's storage as a ``FROM scratch`` image, once as root
and once as distroless's non-root user (``USER 65532:65532``). seccompgen starts podman's API
service itself (no socket answers here) and stops it when it exits; the tests check that no
service, container or image of theirs is left. Each command runs with the tests'
containers.conf (modest rlimits, see ``tests/integration/_podman.py``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _podman import Podman
from _support import free_port, sg

pytestmark = [pytest.mark.podman, pytest.mark.go, pytest.mark.root]

REPO = Path(__file__).resolve().parents[2]


class Setup:
    def __init__(self, podman: Podman, root_image: str, nonroot_image: str, work: Path) -> None:
        self.podman = podman
        self.root_image = root_image
        self.nonroot_image = nonroot_image
        self.work = work

    def sg(self, *args: str) -> subprocess.CompletedProcess[str]:
        return sg(*args, cwd=self.work, env=self.podman.env)


def _service_pids() -> set[str]:
    out = subprocess.run(
        ["pgrep", "-f", "podman system service --time=0 unix://"],
        capture_output=True,
        text=True,
        check=False,
    )
    return set(out.stdout.split())


@pytest.fixture(scope="module")
def setup(
    build_example: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    work = tmp_path_factory.mktemp("podman-engine")
    podman = Podman(work / "podman")
    services = _service_pids()
    try:
        binary = build_example("httpservice")
        root = podman.import_binary(binary, "httpservice")
        nonroot = f"{root.rsplit(':', 1)[0]}-nonroot:{podman.token}"
        # USER on a copy: podman commit of a created (never started) container.
        cid = podman.run("create", root).strip().splitlines()[-1]
        podman.run("commit", "--change", "USER 65532:65532", cid, nonroot)
        podman.run("rm", "--force", cid)
        yield Setup(podman, root, nonroot, work)
    finally:
        podman.cleanup()
        left = podman.leftovers()
        assert not left, left
        assert _service_pids() <= services, "a podman API service was left running"


def _load(port: int) -> tuple[str, ...]:
    return ("--probe", f"http://127.0.0.1:{port}/healthz", "--probe-requests", "3")


@pytest.mark.parametrize("which", ["root", "nonroot"])
def test_trace_image_and_delta_through_podman(setup: Setup, which: str) -> None:
    image = setup.root_image if which == "root" else setup.nonroot_image
    store = str(setup.work / f"store-{which}")
    port = free_port()
    traced = setup.sg("trace", "--image", image, "--engine", "podman", "--network", "host",
                      "-w", "svc", "--store", store, *_load(port),
                      "--", "-addr", f"127.0.0.1:{port}")  # fmt: skip
    assert traced.returncode == 0, traced.stdout + traced.stderr
    assert "trace complete" in traced.stdout + traced.stderr
    config = json.loads(setup.podman.run("image", "inspect", image))[0]["Config"]
    assert (config.get("User") or "") == ("65532:65532" if which == "nonroot" else "")
    profile = setup.work / f"svc-{which}.json"
    emitted = setup.sg("emit", "-w", "svc", "--store", store, "--no-new-privileges",
                       "-o", str(profile))  # fmt: skip
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr
    # Delta: the same service against its own profile, through podman: nothing new.
    port = free_port()
    delta = setup.sg("trace", "--delta", str(profile), "--image", image, "--engine", "podman",
                     "--network", "host", "-w", "svc", "--store", store, *_load(port),
                     "--", "-addr", f"127.0.0.1:{port}")  # fmt: skip
    out = delta.stdout + delta.stderr
    assert delta.returncode == 0, out
    assert "no new syscalls" in out, out


def test_a_missing_engine_is_one_line_naming_both(setup: Setup, tmp_path: Path) -> None:
    shutil.copy(REPO / "profiles" / "httpservice.json", tmp_path / "x.json")
    # No podman on PATH and no podman socket: the message says so and names docker.
    env = {**setup.podman.env, "PATH": str(tmp_path), "CONTAINER_HOST": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "seccompgen", "verify", "x.json", "--image", "none:x",
         "--engine", "podman"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    first = proc.stderr.strip().splitlines()
    assert any("podman is not installed" in line for line in first), proc.stderr
    assert any("--engine docker" in line for line in first), proc.stderr
    # No Docker daemon at DOCKER_HOST: the message names podman as the way out.
    proc = sg("verify", "x.json", "--image", "none:x", cwd=tmp_path,
              env={**setup.podman.env, "DOCKER_HOST": f"unix://{tmp_path}/no.sock"})  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Docker daemon" in proc.stderr and "--engine podman" in proc.stderr, proc.stderr


@pytest.fixture(scope="module")
def host_store(setup: Setup, build_example: Callable[[str], Path]) -> Path:
    """The example service traced on the host with strace (the profile's source)."""
    binary = build_example("httpservice")
    store = setup.work / "host-store"
    port = free_port()
    traced = setup.sg("trace", str(binary), "-w", "httpservice", "--store", str(store),
                      *_load(port), "--", "-addr", f"127.0.0.1:{port}")  # fmt: skip
    assert traced.returncode == 0, traced.stdout + traced.stderr
    return store


def _verify(setup: Setup, profile: Path, image: str, nnp: bool) -> subprocess.CompletedProcess[str]:
    port = free_port()
    exercise = (
        f'{sys.executable} -c "import urllib.request; '
        f"urllib.request.urlopen('http://127.0.0.1:{port}/healthz', timeout=5)\""
    )
    flag = ("--no-new-privileges",) if nnp else ()
    return setup.sg("verify", str(profile), "--image", image, "--engine", "podman",
                    "--network", "host", *flag, "--exercise", exercise, "--ready-delay", "1",
                    "--", "-addr", f"127.0.0.1:{port}")  # fmt: skip


@pytest.mark.parametrize("nnp", [False, True], ids=["no-nnp", "nnp"])
@pytest.mark.parametrize("which", ["root", "nonroot"])
def test_verify_through_podman_with_its_runtime_block(
    setup: Setup, host_store: Path, nnp: bool, which: str
) -> None:
    # podman runs containers with crun here (its default runtime): the profile gets crun's block.
    assert "crun" in setup.podman.run("info", "--format", "{{.Host.OCIRuntime.Name}}")
    image = setup.root_image if which == "root" else setup.nonroot_image
    flag = ("--no-new-privileges",) if nnp else ()
    profile = setup.work / f"crun-{which}-{'nnp' if nnp else 'no-nnp'}.json"
    emitted = setup.sg("emit", "-w", "httpservice", "--store", str(host_store),
                       "--runtime", "crun", *flag, "-o", str(profile))  # fmt: skip
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr
    proc = _verify(setup, profile, image, nnp)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "PASS" in out and ", podman" in out, out


def test_verify_through_podman_names_a_removed_runtime_call(setup: Setup, host_store: Path) -> None:
    profile = setup.work / "crun-broken.json"
    emitted = setup.sg("emit", "-w", "httpservice", "--store", str(host_store),
                       "--runtime", "crun", "-o", str(profile))  # fmt: skip
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr
    data = json.loads(profile.read_text())
    for rule in data["syscalls"]:
        if rule["action"] == "SCMP_ACT_ALLOW" and "pselect6" in rule["names"]:
            rule["names"].remove("pselect6")  # crun's init waits in it; the service never does
    profile.write_text(json.dumps(data))
    proc = _verify(setup, profile, setup.root_image, nnp=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "FAIL" in out, out
    refused = [line for line in out.splitlines() if line.strip().startswith("pselect6")]
    assert refused and "crun" in refused[0], out


def test_trace_and_delta_of_a_host_program_in_the_tracer_image_through_podman(
    setup: Setup, build_example: Callable[[str], Path]
) -> None:
    """``--container``: the host program bind-mounted into the tracer image, which seccompgen
    builds in podman's storage from the local base image (loaded there from Docker's, as a
    user would with ``docker save | podman load``; nothing is pulled)."""
    if shutil.which("docker") is None:
        pytest.fail("docker is needed to hand the local base image to podman")
    base = "seccompgen/debian:bookworm-slim"
    load = subprocess.run(
        f"docker save {base} | podman load -q", shell=True, capture_output=True, text=True,
        timeout=300, check=False, env=setup.podman.env,
    )  # fmt: skip
    assert load.returncode == 0, load.stderr  # removed with the run's other new images
    binary = build_example("httpservice")
    store = str(setup.work / "store-container")
    port = free_port()
    traced = setup.sg("trace", "--container", str(binary), "--engine", "podman",
                      "--network", "host", "-w", "svc", "--store", store, *_load(port),
                      "--", "-addr", f"127.0.0.1:{port}")  # fmt: skip
    out = traced.stdout + traced.stderr
    assert traced.returncode == 0, out
    assert "trace complete" in out, out
    profile = setup.work / "svc-container.json"
    emitted = setup.sg("emit", "-w", "svc", "--store", store, "--runtime", "auto",
                       "--engine", "podman", "-o", str(profile))  # fmt: skip
    out = emitted.stdout + emitted.stderr
    assert emitted.returncode == 0, out
    assert "the local podman engine's default runtime" in out, out
    port = free_port()
    delta = setup.sg("trace", "--delta", str(profile), "--container", str(binary),
                     "--engine", "podman", "--network", "host", "-w", "svc", "--store", store,
                     *_load(port), "--", "-addr", f"127.0.0.1:{port}")  # fmt: skip
    out = delta.stdout + delta.stderr
    assert delta.returncode == 0, out
    assert "no new syscalls" in out, out
