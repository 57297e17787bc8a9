"""`seccompgen k8s attach` as users run it (``python -m seccompgen``): where the manifest goes,
what stderr reports, exit statuses, and files never half-written. Needs no cluster and no
Docker."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from _support import sg

MANIFESTS = Path(__file__).parents[1] / "data" / "manifests"
PROFILE = "seccompgen/httpservice.json"
NEXT = "/var/lib/kubelet/seccomp/seccompgen/httpservice.json on every node"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    for f in MANIFESTS.glob("*.yaml"):
        shutil.copy2(f, tmp_path / f.name)
    return tmp_path


def _attach(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return sg("k8s", "attach", *args, cwd=work)


def _bytes_run(work: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "seccompgen", "k8s", "attach", *args],
        cwd=work,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_stdout_by_default_with_the_report_on_stderr(work: Path) -> None:
    proc = _attach(work, "multi.yaml", "--profile", "httpservice")
    assert proc.returncode == 0, proc.stderr
    original = (work / "multi.yaml").read_text()
    assert proc.stdout != original
    assert proc.stdout.count(f"localhostProfile: {PROFILE}") == 2
    lines = proc.stderr.splitlines()
    assert lines[:5] == [
        "ConfigMap/web-config (document 0): skipped: no pod template",
        f"Deployment/web (document 1): pod → Localhost {PROFILE}",
        "Service/web (document 2): skipped: no pod template",
        "ServiceMonitor/web (document 3): skipped: kind ServiceMonitor (monitoring.coreos.com/v1) "
        "is not a workload kind seccompgen knows",
        f"Job/migrate (document 4): pod → Localhost {PROFILE}",
    ]
    assert "next:" in lines
    assert NEXT in proc.stderr
    assert "kubectl apply -f -" in proc.stderr
    assert (work / "multi.yaml").read_text() == original


def test_output_file(work: Path) -> None:
    proc = _attach(
        work, "deployment.yaml", "--profile", "operator/web.json", "--container", "app",
        "-o", "out/../patched.yaml",
    )  # fmt: skip
    # out/ does not exist: the path cannot be written, nothing is.
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: out/../patched.yaml: cannot write")
    assert "Traceback" not in proc.stderr
    proc = _attach(
        work, "deployment.yaml", "--profile", "operator/web.json", "--container", "app",
        "-o", "patched.yaml",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    text = (work / "patched.yaml").read_text()
    assert "localhostProfile: operator/web.json" in text
    assert "Deployment/web (document 0): container app → Localhost operator/web.json" in proc.stderr
    assert "wrote patched.yaml" in proc.stderr
    assert "kubectl apply -f patched.yaml" in proc.stderr
    assert "/var/lib/kubelet/seccomp/operator/web.json" in proc.stderr


def test_in_place_is_atomic_and_keeps_the_mode(work: Path) -> None:
    path = work / "crlf.yaml"
    path.chmod(0o640)
    before = path.read_bytes()
    inode = path.stat().st_ino
    proc = _bytes_run(work, "crlf.yaml", "--profile", "httpservice", "--in-place")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b""
    after = path.read_bytes()
    assert after.startswith(before)  # the new lines go at the end of this one
    assert after[len(before) :] == (
        b"  securityContext:\r\n    seccompProfile:\r\n      type: Localhost\r\n"
        b"      localhostProfile: seccompgen/httpservice.json\r\n"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != inode  # replaced by rename, not rewritten in place
    assert sorted(p.name for p in work.iterdir() if p.name.startswith(".")) == []
    inode = path.stat().st_ino
    again = _attach(work, "crlf.yaml", "--profile", "httpservice", "--in-place")
    assert again.returncode == 0
    assert "pod unchanged: already set" in again.stderr
    assert "nothing to change in crlf.yaml" in again.stderr
    assert path.stat().st_ino == inode  # nothing to change: the file is left alone


def test_in_place_through_a_symbolic_link(work: Path) -> None:
    (work / "link.yaml").symlink_to("job.yaml")
    proc = _attach(work, "link.yaml", "--profile", "httpservice", "--in-place")
    assert proc.returncode == 0, proc.stderr
    assert (work / "link.yaml").is_symlink()
    assert "localhostProfile" in (work / "job.yaml").read_text()


def test_force(work: Path) -> None:
    proc = _attach(work, "runtime-default.yaml", "--profile", "httpservice")
    assert proc.returncode == 0
    assert "skipped: already has seccompProfile RuntimeDefault (--force replaces it)" in (
        proc.stderr
    )
    assert proc.stdout == (work / "runtime-default.yaml").read_text()
    forced = _attach(work, "runtime-default.yaml", "--profile", "httpservice", "--force")
    assert forced.returncode == 0
    assert f"pod → Localhost {PROFILE} (was RuntimeDefault)" in forced.stderr
    assert "RuntimeDefault" not in forced.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-o", "x.yaml", "--in-place"), "give -o/--output FILE or --in-place, not both"),
        (("--profile", "/abs/x.json"), "is absolute"),
        (("--profile", "../x.json"), "contains '..'"),
        ((), "Missing option '--profile'"),
    ],
)
def test_usage_errors_exit_2(work: Path, args: tuple[str, ...], message: str) -> None:
    full = ("--profile", "httpservice", *args) if "--profile" not in args and args else args
    proc = _attach(work, "pod.yaml", *full)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert not (work / "x.yaml").exists()


@pytest.mark.parametrize(
    ("fixture", "first_line"),
    [
        ("bad-not-yaml.yaml", "error: bad-not-yaml.yaml:9: document 0: not valid YAML: "),
        (
            "bad-no-containers.yaml",
            "error: bad-no-containers.yaml: document 0: Deployment/web: "
            "spec.template.spec.containers: no containers",
        ),
        (
            "bad-second-document.yaml",
            "error: bad-second-document.yaml: document 2: Deployment/broken: spec.template is "
            "missing or not a mapping",
        ),
        ("bad-schema.yaml", "error: bad-schema.yaml: document 0: StatefulSet/db does not validate"),
        (
            "flow-security-context.yaml",
            "error: flow-security-context.yaml: document 0: Pod/web: spec.securityContext is a "
            "flow-style mapping",
        ),
        (
            "bad-unknown-kind.yaml",
            "error: bad-unknown-kind.yaml: document 1: Deploymnet/web: unknown kind Deploymnet "
            "in apiVersion apps/v1",
        ),
        ("missing.yaml", "error: missing.yaml: no such file"),
    ],
)
def test_bad_manifests_exit_1_and_write_nothing(work: Path, fixture: str, first_line: str) -> None:
    before = {p.name: p.read_bytes() for p in work.iterdir()}
    for mode in (("--in-place",), ("-o", "out.yaml")):
        proc = _attach(work, fixture, "--profile", "httpservice", *mode)
        assert proc.returncode == 1, proc.stderr
        assert proc.stdout == ""
        assert proc.stderr.startswith(first_line), proc.stderr
        assert "Traceback" not in proc.stderr
        assert all(line.startswith(("error: ", "hint: ")) for line in proc.stderr.splitlines())
        assert {p.name: p.read_bytes() for p in work.iterdir()} == before


def test_verbose_shows_the_traceback(work: Path) -> None:
    proc = sg("-v", "k8s", "attach", "bad-schema.yaml", "--profile", "x", cwd=work)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr


def test_unknown_container(work: Path) -> None:
    proc = _attach(work, "multi.yaml", "--profile", "httpservice", "--container", "db")
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (
        "error: multi.yaml: no container named db: document 1 Deployment/web has app; "
        "document 4 Job/migrate has migrate"
    )


def test_standard_input(work: Path) -> None:
    data = (work / "crlf.yaml").read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "seccompgen", "k8s", "attach", "-", "--profile", "httpservice"],
        input=data, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(data)
    assert proc.stdout.endswith(b"localhostProfile: seccompgen/httpservice.json\r\n")
    assert b"Pod/crlf (document 0): pod" in proc.stderr
    empty = subprocess.run(
        [sys.executable, "-m", "seccompgen", "k8s", "attach", "-", "--profile", "x"],
        input=b"", capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert (empty.returncode, empty.stdout) == (0, b"")
    assert b"no Kubernetes objects in -" in empty.stderr
    refused = _attach(work, "-", "--profile", "x", "--in-place")
    assert refused.returncode == 2
    assert "--in-place needs a MANIFEST file" in refused.stderr


def test_a_pipe_is_written_to_not_replaced(work: Path) -> None:
    # `-o /dev/stdout` and the like: the path is not a regular file, so it must not be renamed
    # over (as root that would replace the device node itself).
    fifo = work / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    proc = _attach(work, "job.yaml", "--profile", "batch", "-o", "fifo")
    reader.join(timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert got and got[0].endswith(b"localhostProfile: seccompgen/batch.json\n")
    refused = _attach(work, "fifo", "--profile", "batch", "--in-place")
    assert refused.returncode == 1
    assert "error: --in-place needs a regular manifest file, not fifo" in refused.stderr
