"""``seccompgen verify --runtime crun`` on the real engine, with the bundled crun blocks.

The example service is traced on the host with strace, its profile emitted with crun's block
(``emit --runtime crun``) with and without no-new-privileges, and verify runs it under crun
(``HostConfig.Runtime``, read from the engine while the container runs). A name only crun's block
contributes, taken out of the profile, must stop the run and be named as the runtime's. And the
blocks are not interchangeable: a profile emitted for one runtime passes under the other exactly
when it allows every name of the other's block, which the cross runs check and print.

``emit --runtime auto`` picks crun's block on an engine whose default runtime is crun: a second
dockerd, started here on its own socket, data root, exec root and pidfile (``--default-runtime
crun``, no bridge, no iptables, the vfs storage driver) and stopped and removed at the end; the
service's profile emitted that way passes verify there with no --runtime.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _support import GO_SCHEDULING_DEPENDENT, free_port, sg

from seccompgen.runtime import BUNDLED_DIR, RuntimeBlock, load_blocks
from seccompgen.verify import VERIFY_LABEL

pytestmark = [
    pytest.mark.docker,
    pytest.mark.crun,
    pytest.mark.go,
    pytest.mark.strace,
    pytest.mark.root,
]

RUNTIME_NAMES = re.compile(r"(\d+) name\(s\) allowed for the runtime, not observed [^:]*: (.*)")
DENIED = re.compile(r"^  (\S+)\s+(runtime init before exec|workload): comm=(\S+)", re.M)


def bundled(runtime: str, nnp: bool) -> RuntimeBlock:
    (block,) = [
        b for b in load_blocks([BUNDLED_DIR]) if b.runtime == runtime and b.no_new_privileges == nnp
    ]
    return block


@dataclass(frozen=True)
class Service:
    """The example service traced once on the host, and how verify runs it."""

    binary: Path
    loadgen: Path
    store: Path
    work: Path

    def emit(
        self, out: Path, *extra: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = sg(
            "emit", "-w", "httpservice", "--store", str(self.store), "-o", str(out), *extra,
            cwd=self.work, env=env,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    def verify(
        self, profile: Path, port: int, *extra: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        load = f"{self.loadgen} -c 4 -d 1s http://127.0.0.1:{port}/healthz"
        return sg(
            "verify", str(profile), str(self.binary), *extra, "--network", "host",
            "--exercise", load, "--", "-addr", f"127.0.0.1:{port}",
            cwd=self.work, timeout=300, env=env,
        )  # fmt: skip


@pytest.fixture(scope="module")
def service(
    build_example: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Service:
    work = tmp_path_factory.mktemp("verify-crun")
    binary = build_example("httpservice")
    loadgen = build_example("loadgen")
    store = work / "store"
    port = free_port()
    traced = sg(
        "trace", str(binary), "-w", "httpservice", "--store", str(store),
        "--exercise", f"{loadgen} -c 4 -d 1s http://127.0.0.1:{port}/healthz",
        "--", "-addr", f"127.0.0.1:{port}",
        cwd=work,
    )  # fmt: skip
    assert traced.returncode == 0, traced.stdout + traced.stderr
    return Service(binary, loadgen, store, work)


class RuntimeWatch:
    """The ``HostConfig.Runtime`` of every verify container whose arguments name ``port``, read
    from the engine while they exist (verify removes them; other runs may share the engine)."""

    def __init__(self, client: Any, port: int) -> None:
        self.client = client
        self.needle = f"127.0.0.1:{port}"
        self.seen: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for c in self.client.containers.list(all=True, filters={"label": VERIFY_LABEL}):
                    if self.needle in (c.attrs.get("Args") or []) and c.id not in self.seen:
                        self.seen[c.id] = str(c.attrs["HostConfig"].get("Runtime"))
            except Exception:  # a container removed between list and inspect
                pass
            self._stop.wait(0.1)

    def __enter__(self) -> RuntimeWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture
def watch(docker_client: Any) -> Iterator[Callable[[int], RuntimeWatch]]:
    yield lambda port: RuntimeWatch(docker_client, port)
    left = docker_client.containers.list(all=True, filters={"label": VERIFY_LABEL})
    # Other runs may share the engine: only this module's programs count.
    assert not [c for c in left if "httpservice" in str(c.attrs.get("Config", {}).get("Image"))]


@pytest.mark.parametrize("nnp", [False, True], ids=["no-nnp", "nnp"])
def test_crun_profile_passes_verify_under_crun(
    service: Service, watch: Callable[[int], RuntimeWatch], nnp: bool
) -> None:
    flag = ("--no-new-privileges",) if nnp else ()
    profile = service.work / f"httpservice.crun-{'nnp' if nnp else 'no-nnp'}.json"
    emitted = service.emit(profile, "--runtime", "crun", *flag)
    mode = "NNP" if nnp else "no NNP"
    assert f"runtime: measured block crun 1.8.1 ({mode})" in emitted.stdout, emitted.stdout
    port = free_port()
    with watch(port) as w:
        proc = service.verify(profile, port, "--runtime", "crun", *flag)
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^PASS: .*stopped cleanly on SIGTERM", proc.stdout, re.M), proc.stdout
    assert "runtime crun)" in proc.stderr
    assert set(w.seen.values()) == {"crun"}, w.seen  # docker inspect: HostConfig.Runtime


def test_a_name_only_crun_needs_stops_the_start_and_is_named(
    service: Service, watch: Callable[[int], RuntimeWatch]
) -> None:
    full = service.work / "httpservice.crun-full.json"
    emitted = service.emit(full, "--runtime", "crun")
    m = RUNTIME_NAMES.search(emitted.stdout)
    assert m, emitted.stdout
    from_block = set(m.group(2).split())
    only_crun = sorted(from_block - set(bundled("runc", False).syscalls))
    print(f"names the crun block adds and runc's lacks: {' '.join(only_crun)}")
    assert only_crun, (from_block, "crun's block should add names runc's does not have")
    for name in only_crun:
        data = json.loads(full.read_text())
        for rule in data["syscalls"]:
            if rule["action"] == "SCMP_ACT_ALLOW" and name in rule["names"]:
                rule["names"].remove(name)
        broken = service.work / f"no-{name}.json"
        broken.write_text(json.dumps(data, indent=2) + "\n")
        port = free_port()
        with watch(port) as w:
            proc = service.verify(broken, port, "--runtime", "crun")
        print(proc.stdout)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert re.search(r"^FAIL: ", proc.stdout, re.M), proc.stdout
        denied = DENIED.findall(proc.stdout)
        assert [(n, c) for n, p, c in denied if p != "workload"] == [(name, "crun")], proc.stdout
        assert {n for n, p, _ in denied if p == "workload"} <= GO_SCHEDULING_DEPENDENT
        assert f"--runtime crun -o {broken}" in proc.stdout  # the fix command keeps the runtime
        assert set(w.seen.values()) == {"crun"}, w.seen


@pytest.mark.parametrize("nnp", [False, True], ids=["no-nnp", "nnp"])
@pytest.mark.parametrize(("emitted_for", "run_under"), [("runc", "crun"), ("crun", "runc")])
def test_a_profile_for_one_runtime_under_the_other(
    service: Service, emitted_for: str, run_under: str, nnp: bool
) -> None:
    """Passes exactly when the profile allows every name of the other runtime's block; else the
    run fails naming some of the missing names as the runtime's.

    Not only those: the staging run answers ENOSYS where the profile does (faccessat2, from
    seccompgen/data/enosys-fallbacks.json, which allows it only where a block or a trace
    has it), and runc's init then falls back to calls its measured block never shows (measured:
    faccessat, getuid, geteuid, getgid, getegid)."""
    flag = ("--no-new-privileges",) if nnp else ()
    profile = service.work / f"for-{emitted_for}-{'nnp' if nnp else 'no-nnp'}.json"
    service.emit(profile, "--runtime", emitted_for, *flag)
    allowed = {
        n
        for rule in json.loads(profile.read_text())["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW"
        for n in rule["names"]
    }
    missing = sorted(set(bundled(run_under, nnp).syscalls) - allowed)
    proc = service.verify(profile, free_port(), "--runtime", run_under, *flag)
    refused = sorted({n for n, p, _ in DENIED.findall(proc.stdout) if p != "workload"})
    mode = "NNP" if nnp else "no NNP"
    print(
        f"\n{emitted_for} block under {run_under} ({mode}): "
        f"{'PASS' if proc.returncode == 0 else 'FAIL'}; the {run_under} block's names the "
        f"profile lacks: {' '.join(missing) or '-'}; refused in the run: {' '.join(refused) or '-'}"
    )
    if not missing:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    else:
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert set(refused) & set(missing), proc.stdout


# ---------------------------------------------------------------------- an engine defaults to crun


@dataclass(frozen=True)
class Engine:
    """A second dockerd: ``env`` points a client at it (``DOCKER_HOST``)."""

    client: Any
    env: dict[str, str]


@pytest.fixture(scope="module")
def crun_default_engine() -> Iterator[Engine]:
    import docker  # type: ignore[import-untyped]

    dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
    crun = shutil.which("crun")
    assert crun, "the crun marker checked crun is installed"
    # A short path: the socket's must fit sockaddr_un (108 bytes, unix(7)).
    root = Path(tempfile.mkdtemp(prefix="sg-crun-engine-", dir="/tmp"))
    config = root / "daemon.json"
    config.write_text("{}\n")  # its own, empty: /etc/docker/daemon.json may declare runtimes
    host = f"unix://{root}/docker.sock"
    log = (root / "dockerd.log").open("wb")
    proc = subprocess.Popen(
        [dockerd, f"--config-file={config}", f"--data-root={root}/data",
         f"--exec-root={root}/exec", f"--pidfile={root}/dockerd.pid", f"--host={host}",
         "--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false",
         "--storage-driver=vfs", f"--add-runtime=crun={crun}", "--default-runtime=crun"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    client = None
    try:
        deadline = time.monotonic() + 60
        while client is None:
            assert proc.poll() is None, (root / "dockerd.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (root / "dockerd.log").read_text()[-3000:]
            try:
                client = docker.DockerClient(base_url=host, version="auto", timeout=30)
            except docker.errors.DockerException:
                time.sleep(0.5)
        yield Engine(client, {**os.environ, "DOCKER_HOST": host})
    finally:
        if client is not None:
            client.close()
        proc.send_signal(signal.SIGTERM)  # dockerd's clean stop: containers, its containerd
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()
        # dockerd leaves its network namespace's bind mount (exec-root/netns/default) behind.
        for mount in _mounts_under(root):
            subprocess.run(["umount", mount], check=True, timeout=30)
        shutil.rmtree(root)


def _mounts_under(root: Path) -> list[str]:
    """Mount points below ``root``, deepest first (proc(5), /proc/self/mountinfo field 5)."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        points = [line.split()[4] for line in f]
    inside = [p for p in points if p.startswith(f"{root}/")]
    return sorted(set(inside), key=lambda p: p.count("/"), reverse=True)


@pytest.mark.parametrize("nnp", [False, True], ids=["no-nnp", "nnp"])
def test_auto_picks_crun_on_an_engine_whose_default_is_crun(
    service: Service, crun_default_engine: Engine, nnp: bool
) -> None:
    engine = crun_default_engine
    info = engine.client.info()
    assert info["DefaultRuntime"] == "crun", info["Runtimes"]
    flag = ("--no-new-privileges",) if nnp else ()
    profile = service.work / f"httpservice.auto-{'nnp' if nnp else 'no-nnp'}.json"
    emitted = service.emit(profile, "--runtime", "auto", *flag, env=engine.env)
    mode = "NNP" if nnp else "no NNP"
    assert (
        f"runtime: measured block crun 1.8.1 ({mode}); the local docker engine's default runtime"
        in emitted.stdout
    ), emitted.stdout
    block = set(bundled("crun", nnp).syscalls)
    allowed = {
        n
        for rule in json.loads(profile.read_text())["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW"
        for n in rule["names"]
    }
    assert block <= allowed
    port = free_port()
    with RuntimeWatch(engine.client, port) as w:
        proc = service.verify(profile, port, *flag, env=engine.env)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^PASS: ", proc.stdout, re.M), proc.stdout
    assert set(w.seen.values()) == {"crun"}, w.seen
    assert engine.client.containers.list(all=True) == []
