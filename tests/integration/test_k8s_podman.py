"""A patched Kubernetes manifest run by a real engine that reads Kubernetes YAML: ``podman kube
play`` (Debian's podman, runc underneath, as root).

The example service is traced on the host with strace, ``emit --kubelet-dir`` lays its profile
out as a node would hold it, ``k8s attach --podman`` patches a Deployment (comments and all), and
podman runs it with the profile directory as its ``--seccomp-profile-root``. Shown: the pod
serves under its generated profile, and the runtime got exactly that profile (its OCI config);
the same pod with one observed syscall removed fails, and ``verify`` (Docker) names the call;
podman ignores ``securityContext.seccompProfile`` on its own (measured, so the annotation is
needed); nothing is left behind, also after Ctrl-C. See ``_podman.py`` for what podman needs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _podman import LABEL, Podman
from _support import free_port, sg

pytestmark = [
    pytest.mark.strace,
    pytest.mark.go,
    pytest.mark.podman,
    pytest.mark.root,
    pytest.mark.slow,
]

HERE = Path(__file__).resolve().parent

# A Deployment as a team keeps it in git: comments, key order, a label of this test run (so the
# clean-up finds its pods), the host network so the test reaches the service on 127.0.0.1.
MANIFEST = """\
# The example service, one replica.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpservice
  labels:
    app: httpservice  # owned by the platform team
spec:
  replicas: 1
  selector:
    matchLabels:
      app: httpservice
  template:
    metadata:
      labels:
        app: httpservice
        {label}: "{token}"
    spec:
      hostNetwork: true  # loopback only: the service listens on 127.0.0.1
      containers:
        - name: app
          image: {image}
          args: ["-addr", "127.0.0.1:{port}"]
"""

REMOVED = "accept4"
"""The observed call taken out of the broken profile: the service listens, then cannot accept."""


@dataclass(frozen=True)
class Service:
    binary: Path
    loadgen: Path
    store: Path
    kubelet_dir: Path
    profile: Path
    image: str


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    engine = Podman(tmp_path_factory.mktemp("podman"))
    try:
        yield engine
    finally:
        engine.cleanup()
    assert not engine.leftovers(), "podman objects left behind"


@pytest.fixture(scope="module")
def service(
    build_example: Callable[[str], Path],
    podman: Podman,
    tmp_path_factory: pytest.TempPathFactory,
) -> Service:
    """The example service traced on the host, its profile emitted into a kubelet layout, and a
    podman image holding it."""
    work = tmp_path_factory.mktemp("k8s")
    binary, loadgen = build_example("httpservice"), build_example("loadgen")
    store, kubelet = work / "traces", work / "kubelet-seccomp"
    port = free_port()
    traced = sg(
        "trace", str(binary), "--store", str(store),
        "--exercise", f"{loadgen} -d 2s http://127.0.0.1:{port}/healthz",
        "--", "-addr", f"127.0.0.1:{port}",
        cwd=work,
    )  # fmt: skip
    assert traced.returncode == 0, traced.stderr
    emitted = sg(
        "emit", "--workload", "httpservice", "--store", str(store),
        "--kubelet-dir", str(kubelet), cwd=work,
    )  # fmt: skip
    assert emitted.returncode == 0, emitted.stderr
    profile = kubelet / "seccompgen" / "httpservice.json"
    assert "localhostProfile: seccompgen/httpservice.json" in emitted.stdout + emitted.stderr
    image = podman.import_binary(binary, "httpservice")
    return Service(binary, loadgen, store, kubelet, profile, image)


def _manifest(podman: Podman, service: Service, directory: Path, port: int) -> Path:
    path = directory / "deployment.yaml"
    path.write_text(
        MANIFEST.format(label=LABEL, token=podman.token, image=service.image, port=port)
    )
    return path


def _attach(manifest: Path, profile: str, *extra: str) -> Path:
    out = manifest.with_name(f"patched-{Path(profile).stem}.yaml")
    attached = sg(
        "k8s", "attach", str(manifest), "--profile", profile, *extra, "-o", str(out),
        cwd=manifest.parent,
    )  # fmt: skip
    assert attached.returncode == 0, attached.stderr
    return out


def _allowed(seccomp: dict[str, Any]) -> set[str]:
    return {
        name
        for rule in seccomp.get("syscalls") or []
        if rule["action"] == "SCMP_ACT_ALLOW"
        for name in rule["names"]
    }


def _runtime_seccomp(container: dict[str, Any]) -> dict[str, Any]:
    """The seccomp section of the OCI config podman handed to runc for ``container``."""
    config = json.loads(Path(container["OCIConfigPath"]).read_text())
    seccomp: dict[str, Any] = config["linux"]["seccomp"]
    return seccomp


def _get(url: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return str(response.read().decode())
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _app(podman: Podman) -> dict[str, Any]:
    apps = [c for c in podman.containers() if c["Name"].endswith("-app")]
    assert len(apps) == 1, [c["Name"] for c in podman.containers()]
    return apps[0]


def test_patched_deployment_serves_under_its_generated_profile(
    podman: Podman, service: Service, tmp_path: Path
) -> None:
    port = free_port()
    manifest = _manifest(podman, service, tmp_path, port)
    patched = _attach(manifest, "seccompgen/httpservice.json", "--podman")
    text = patched.read_text()
    assert "# The example service, one replica." in text
    assert "hostNetwork: true  # loopback only" in text
    with podman.played(patched, service.kubelet_dir / "seccompgen"):
        assert _get(f"http://127.0.0.1:{port}/healthz").strip() == "ok"
        seccomp = _runtime_seccomp(_app(podman))
        ours = json.loads(service.profile.read_text())
        assert seccomp["defaultAction"] == ours["defaultAction"]
        assert _allowed(seccomp) == _allowed(ours)
        assert REMOVED in _allowed(seccomp)
    assert not podman.pods()


@pytest.mark.docker
def test_one_removed_observed_call_fails_and_verify_names_it(
    podman: Podman, service: Service, tmp_path: Path
) -> None:
    ours = json.loads(service.profile.read_text())
    assert REMOVED in _allowed(ours), "the example service was seen calling accept4"
    for rule in ours["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n != REMOVED]
    broken = service.profile.with_name("httpservice-broken.json")
    broken.write_text(json.dumps(ours, indent=2))

    port = free_port()
    manifest = _manifest(podman, service, tmp_path, port)
    patched = _attach(manifest, "seccompgen/httpservice-broken.json", "--podman")
    with podman.played(patched, service.kubelet_dir / "seccompgen"):
        app = podman.wait_failed("-app")  # exits 1, restarted by the Deployment's policy
        logs = podman.run("logs", app["Id"])
        assert f"{REMOVED}: operation not permitted" in logs
        assert REMOVED not in _allowed(_runtime_seccomp(app))
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)

    verify_port = free_port()
    verified = sg(
        "verify", str(broken), str(service.binary), "--network", "host",
        "--store", str(service.store),
        "--exercise", f"{service.loadgen} -d 1s http://127.0.0.1:{verify_port}/healthz",
        "--", "-addr", f"127.0.0.1:{verify_port}",
        cwd=tmp_path,
    )  # fmt: skip
    out = verified.stdout + verified.stderr
    assert verified.returncode == 1, out
    lines = out.splitlines()
    heading = [i for i, line in enumerate(lines) if line.startswith("refused by the profile")]
    assert heading, out
    assert lines[heading[0] + 1].split()[0] == REMOVED, out


def test_podman_ignores_the_security_context_field(
    podman: Podman, service: Service, tmp_path: Path
) -> None:
    """What podman 4.3.1 does with the field alone: it runs the pod under its own default
    profile, not the Localhost one, which is why ``k8s attach --podman`` writes the annotation.
    If a later podman honours the field, this test says so by failing."""
    port = free_port()
    manifest = _manifest(podman, service, tmp_path, port)
    patched = _attach(manifest, "seccompgen/httpservice.json")
    assert "localhostProfile: seccompgen/httpservice.json" in patched.read_text()
    assert "seccomp.security.alpha.kubernetes.io" not in patched.read_text()
    with podman.played(patched, service.kubelet_dir / "seccompgen"):
        assert _get(f"http://127.0.0.1:{port}/healthz").strip() == "ok"
        seccomp = _runtime_seccomp(_app(podman))
    ours = _allowed(json.loads(service.profile.read_text()))
    assert _allowed(seccomp) != ours
    assert len(_allowed(seccomp)) > 2 * len(ours)  # podman's default allowlist, hundreds of names


_INTERRUPTED = """
import sys, time
sys.path.insert(0, {here!r})
from pathlib import Path
from _podman import Podman
engine = Podman(Path({work!r}))
engine.token = {token!r}
with engine.played(Path({manifest!r}), Path({root!r})):
    print("played", flush=True)
    time.sleep(120)
"""


def test_ctrl_c_during_a_play_leaves_no_pod_behind(
    podman: Podman, service: Service, tmp_path: Path
) -> None:
    port = free_port()
    manifest = _manifest(podman, service, tmp_path, port)
    patched = _attach(manifest, "seccompgen/httpservice.json", "--podman")
    script = _INTERRUPTED.format(
        here=str(HERE), work=str(tmp_path / "child"), token=podman.token,
        manifest=str(patched), root=str(service.kubelet_dir / "seccompgen"),
    )  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "played"
        assert podman.pods(), "the pod runs while the block runs"
        assert _get(f"http://127.0.0.1:{port}/healthz").strip() == "ok"
        child.send_signal(signal.SIGINT)
        child.wait(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode != 0  # KeyboardInterrupt
    assert not podman.pods()
    assert not podman.containers()
