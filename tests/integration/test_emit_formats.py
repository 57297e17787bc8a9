"""emit --format docker|oci|spo and --kubelet-dir on a real trace of the example service and
batch job (strace, Go): every output checked against the bundled OCI and SPO CRD schemas."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from _support import free_port, sg
from jsonschema import Draft7Validator

from seccompgen.attach.spo import check_resource
from seccompgen.schema import check_profile_data
from seccompgen.yamlio import load_all

pytestmark = [pytest.mark.strace, pytest.mark.go, pytest.mark.slow]

GROUP = "security-profiles-operator.x-k8s.io"


@pytest.fixture(scope="module")
def traced_store(
    build_example: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A store with one traced run of the service (under load) and one of the batch job."""
    work = tmp_path_factory.mktemp("emit-formats")
    service, loadgen, batch = (build_example(n) for n in ("httpservice", "loadgen", "batch"))
    port = free_port()
    load = f"{loadgen} -c 2 -d 1s http://127.0.0.1:{port}/healthz"
    (work / "in.txt").write_text("the quick brown fox\n")
    for args in (
        ("trace", str(service), "--exercise", load, "--", "-addr", f"127.0.0.1:{port}"),
        ("trace", str(batch), "--", "-in", "in.txt", "-out", "out.json"),
    ):
        proc = sg(*args, cwd=work)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return work / "traces"


@pytest.fixture
def work(tmp_path: Path, traced_store: Path) -> Path:
    """A directory of its own holding a copy of the store (./traces)."""
    shutil.copytree(traced_store, tmp_path / "traces")
    return tmp_path


def emit(work: Path, *args: str, status: int = 0) -> str:
    proc = sg("emit", *args, cwd=work)
    assert proc.returncode == status, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def crd_valid(doc: dict[str, Any]) -> None:
    kind = {"SeccompProfile": "seccompprofile", "ProfileBinding": "profilebinding"}[doc["kind"]]
    version = doc["apiVersion"].removeprefix(GROUP + "/")
    name = f"{kind}-{version}.schema.json"
    schema = json.loads(
        (resources.files("seccompgen") / "data" / "spo" / name).read_text(encoding="utf-8")
    )
    assert [e.message for e in Draft7Validator(schema).iter_errors(doc)] == []
    assert check_resource(doc) == []


def read_stream(path: Path) -> list[dict[str, Any]]:
    docs = load_all(path.read_text(), source=str(path))
    assert all(isinstance(d, dict) for d in docs)
    return [d for d in docs if isinstance(d, dict)]


def test_docker_stays_the_default_and_oci_is_the_same_filter(work: Path) -> None:
    emit(work, "-w", "httpservice", "-o", "default.json")
    emit(work, "-w", "httpservice", "--format", "docker", "-o", "docker.json")
    out = emit(work, "-w", "httpservice", "--format", "oci", "-o", "oci.json")
    assert "wrote enforce profile (oci form) oci.json" in out
    default, docker = ((work / n).read_text() for n in ("default.json", "docker.json"))
    assert default == docker
    d, o = json.loads(docker), json.loads((work / "oci.json").read_text())
    assert any("comment" in rule for rule in d["syscalls"])  # Docker's form explains its rule
    assert list(o) == ["defaultAction", "defaultErrnoRet", "architectures", "syscalls"]
    assert all(set(rule) <= {"names", "action", "errnoRet", "args"} for rule in o["syscalls"])
    assert o["architectures"] == d["architectures"]
    assert all(a.startswith("SCMP_ARCH_") for a in o["architectures"])
    for rule in d["syscalls"]:
        rule.pop("comment", None)
    assert o == d
    assert check_profile_data(o, source="oci.json").problems == ()
    assert sg("validate", "oci.json", cwd=work).returncode == 0


@pytest.mark.parametrize(("version", "binding_version"), [("v1", "v1"), ("v1beta1", "v1alpha1")])
def test_spo_profile_and_binding(work: Path, version: str, binding_version: str) -> None:
    out = emit(
        work,
        "-w", "httpservice", "--format", "spo", "--api-version", version,
        "--namespace", "web", "--label", "team=web", "--binding", "httpservice:local",
    )  # fmt: skip
    path = work / "profiles" / "httpservice.yaml"
    local = "operator/httpservice.json" if version == "v1" else "operator/web/httpservice.json"
    assert f"localhostProfile {local}" in out
    assert f"localhostProfile: {local}" in out
    assert "kubectl apply -f profiles/httpservice.yaml" in out
    profile, binding = read_stream(path)
    for doc in (profile, binding):
        crd_valid(doc)
        assert doc["metadata"]["labels"] == {"team": "web"}
    assert profile["apiVersion"] == f"{GROUP}/{version}"
    assert profile["metadata"]["name"] == "httpservice"
    assert ("namespace" in profile["metadata"]) == (version == "v1beta1")
    spec = profile["spec"]
    assert spec["defaultAction"] == "SCMP_ACT_ERRNO"
    assert check_profile_data(spec, source="spec").problems == ()
    # The same filter as the runtime-spec form, less defaultErrnoRet (EPERM, runc's default).
    emit(work, "-w", "httpservice", "--format", "oci", "-o", "oci.json")
    oci = json.loads((work / "oci.json").read_text())
    assert oci.pop("defaultErrnoRet") == 1
    assert spec == oci
    assert binding["apiVersion"] == f"{GROUP}/{binding_version}"
    assert binding["metadata"]["namespace"] == "web"
    assert binding["spec"] == {
        "profileRef": {"kind": "SeccompProfile", "name": "httpservice"},
        "image": "httpservice:local",
    }


def test_spo_log_mode(work: Path) -> None:
    out = emit(work, "-w", "httpservice", "--format", "spo", "--mode", "log")
    assert "staging (log)" in out and "--format spo --mode enforce" in out
    [profile] = read_stream(work / "profiles" / "httpservice.log.yaml")
    crd_valid(profile)
    assert profile["spec"]["defaultAction"] == "SCMP_ACT_LOG"


def test_v1_namespace_goes_to_bindings_only(work: Path) -> None:
    out = emit(work, "-w", "batch", "--format", "spo", "--namespace", "jobs")
    assert "a v1 SeccompProfile is cluster-wide: --namespace applies to ProfileBindings only" in out
    [profile] = read_stream(work / "profiles" / "batch.yaml")
    crd_valid(profile)
    assert "namespace" not in profile["metadata"]


def test_several_workloads_one_stream_in_a_stable_order(work: Path) -> None:
    args = ("--format", "spo", "--binding", "httpservice=reg.example/web:2",
            "--binding", "batch=reg.example/batch:1", "--binding", "httpservice=reg.example/web:1",
            "-o", "all.yaml")  # fmt: skip
    emit(work, *args)  # every workload in the store
    first = (work / "all.yaml").read_text()
    docs = read_stream(work / "all.yaml")
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("SeccompProfile", "batch"),
        ("ProfileBinding", "batch-reg.example-batch-1"),
        ("SeccompProfile", "httpservice"),
        ("ProfileBinding", "httpservice-reg.example-web-1"),
        ("ProfileBinding", "httpservice-reg.example-web-2"),
    ]
    for doc in docs:
        crd_valid(doc)
    # Each workload has its own profile: the batch job's does not allow the service's accept4.
    batch_names = {n for r in docs[0]["spec"]["syscalls"] for n in r["names"]}
    service_names = {n for r in docs[2]["spec"]["syscalls"] for n in r["names"]}
    assert "accept4" in service_names and "accept4" not in batch_names
    emit(work, "-w", "httpservice", "-w", "batch", *args)
    assert (work / "all.yaml").read_text() == first


def test_kubelet_dir_layout_is_written_atomically(work: Path) -> None:
    kubelet = work / "kubelet" / "seccomp"
    out = emit(work, "-w", "httpservice", "--format", "oci", "--kubelet-dir", str(kubelet))
    target = kubelet / "seccompgen" / "httpservice.json"
    assert "localhostProfile: seccompgen/httpservice.json" in out
    assert "installed for the kubelet" in out
    data = json.loads(target.read_text())
    assert check_profile_data(data, source=str(target)).problems == ()
    assert target.stat().st_mode & 0o777 == 0o644
    inode = target.stat().st_ino
    emit(work, "-w", "httpservice", "--kubelet-dir", str(kubelet))  # docker form, replaced
    assert target.stat().st_ino != inode  # renamed over, never rewritten in place
    emit(work, "-w", "httpservice", "--mode", "log", "--kubelet-dir", str(kubelet))
    assert sorted(os.listdir(kubelet / "seccompgen")) == [
        "httpservice.json",
        "httpservice.log.json",
    ]  # and no temporary file left behind
    log = json.loads((kubelet / "seccompgen" / "httpservice.log.json").read_text())
    assert log["defaultAction"] == "SCMP_ACT_LOG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "spo", "--kubelet-dir", "k"), "--kubelet-dir installs a profile file"),
        (("--binding", "httpservice:local"), "--binding: only with --format spo"),
        (("--format", "oci", "--namespace", "web"), "--namespace: only with --format spo"),
        (("--api-version", "v1beta1"), "--api-version: only with --format spo"),
        (("--kubelet-dir", "k", "-o", "x.json"), "give -o FILE or --kubelet-dir DIR, not both"),
        (("--format", "spo", "--label", "no-equals"), "expected KEY=VALUE"),
        (("--format", "spo", "--binding", "web="), "expected [WORKLOAD=]IMAGE"),
        (("--format", "spo", "--api-version", "v2"), "'v2' is not one of"),
        (("--format", "spo", "--namespace", "Web.x"), "namespace 'Web.x': use at most 63"),
    ],
)
def test_bad_combinations_are_usage_errors(work: Path, args: tuple[str, ...], message: str) -> None:
    out = emit(work, "-w", "httpservice", *args, status=2)
    assert message in out
    assert not (work / "profiles").exists() and not (work / "k").exists()


def test_binding_needs_its_workload(work: Path) -> None:
    out = emit(work, "--format", "spo", "--binding", "img:1", status=1)
    assert "say which workload's profile it binds" in out and "--binding batch=img:1" in out
    out = emit(work, "-w", "batch", "--format", "spo", "--binding", "web=img:1", status=1)
    assert "web is not among the workloads emitted" in out
    assert not (work / "profiles").exists()
