"""attach.spo_emit: SeccompProfile and ProfileBinding resources, each checked against SPO's
bundled CRD schemas with jsonschema, and their spec against the OCI runtime-spec schema."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from jsonschema import Draft7Validator

from seccompgen.attach.spo import check_resource
from seccompgen.attach.spo_emit import (
    SpoEntry,
    SpoMeta,
    localhost_profile,
    parse_binding,
    parse_label,
    parse_namespace,
    profile_binding,
    render_stream,
    resource_name,
    seccomp_profile,
    spo_resources,
)
from seccompgen.errors import ProfileError
from seccompgen.profile.build import Mode, build_profile
from seccompgen.profile.model import Action, Arch, ArgCondition, Operator, Profile, SyscallRule
from seccompgen.schema import check_profile_data
from seccompgen.yamlio import load_all

VERSIONS = ("v1", "v1beta1")
BINDING = {"v1": "v1", "v1beta1": "v1alpha1"}


def crd_schema(kind: str, version: str) -> dict[str, Any]:
    name = f"{kind}-{version}.schema.json"
    text = (resources.files("seccompgen") / "data" / "spo" / name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def assert_valid(doc: dict[str, Any]) -> None:
    """The CRD schema directly (jsonschema), the OCI schema for a profile's spec, and
    check_resource (no keys the API server would prune)."""
    kind = "seccompprofile" if doc["kind"] == "SeccompProfile" else "profilebinding"
    version = doc["apiVersion"].rpartition("/")[2]
    errors = list(Draft7Validator(crd_schema(kind, version)).iter_errors(doc))
    assert not errors, [e.message for e in errors]
    assert check_resource(doc) == []
    if kind == "seccompprofile":
        assert check_profile_data(doc["spec"], source="spec").problems == ()


def built(mode: Mode) -> Profile:
    return build_profile(["read", "write", "openat", "futex"], ["x86_64"], mode).profile


@pytest.mark.parametrize("version", VERSIONS)
def test_enforce_profile_is_valid_and_keeps_the_rules(version: str) -> None:
    profile = built(Mode.ENFORCE)
    doc = seccomp_profile(
        profile, name="httpservice", workload="httpservice", meta=SpoMeta(version=version)
    )
    assert_valid(doc)
    assert doc["apiVersion"] == f"security-profiles-operator.x-k8s.io/{version}"
    spec = doc["spec"]
    assert spec["defaultAction"] == "SCMP_ACT_ERRNO"
    assert "defaultErrnoRet" not in spec  # no CRD field; runc's default errno is EPERM
    assert spec["architectures"] == ["SCMP_ARCH_X86_64"]
    allow, enosys = spec["syscalls"]
    assert allow["action"] == "SCMP_ACT_ALLOW" and "read" in allow["names"]
    assert allow["names"] == sorted(allow["names"])
    assert enosys == {
        "names": enosys["names"],
        "action": "SCMP_ACT_ERRNO",
        "errnoRet": 38,
    }
    # The rule's comment has no CRD field: it is an annotation naming the rule's index.
    annotations = doc["metadata"]["annotations"]
    assert annotations["seccompgen/syscalls.1.comment"] == profile.syscalls[1].comment
    assert annotations["seccompgen/workload"] == "httpservice"
    assert "comment" not in json.dumps(spec)


@pytest.mark.parametrize("version", VERSIONS)
def test_log_mode_uses_spos_own_log_action(version: str) -> None:
    doc = seccomp_profile(built(Mode.LOG), name="svc", workload="svc", meta=SpoMeta(version))
    assert_valid(doc)
    enum = crd_schema("seccompprofile", version)["properties"]["spec"]["properties"][
        "defaultAction"
    ]["enum"]
    assert doc["spec"]["defaultAction"] == "SCMP_ACT_LOG" in enum
    assert [r["action"] for r in doc["spec"]["syscalls"]] == ["SCMP_ACT_ALLOW"]


def test_labels_and_namespace_by_version() -> None:
    labels = (("team", "web"), ("app.kubernetes.io/name", "httpservice"))
    v1 = SpoMeta("v1", namespace="web", labels=labels)
    beta = SpoMeta("v1beta1", namespace="web", labels=labels)
    prof_v1 = seccomp_profile(built(Mode.ENFORCE), name="svc", workload="svc", meta=v1)
    prof_beta = seccomp_profile(built(Mode.ENFORCE), name="svc", workload="svc", meta=beta)
    for doc in (prof_v1, prof_beta):
        assert_valid(doc)
        assert doc["metadata"]["labels"] == {"app.kubernetes.io/name": "httpservice", "team": "web"}
    # v1 is cluster-scoped (SPO >= v0.9): no namespace; v1beta1 (SPO <= v0.8) is namespaced.
    assert "namespace" not in prof_v1["metadata"]
    assert prof_beta["metadata"]["namespace"] == "web"
    for meta in (v1, beta):
        binding = profile_binding("svc", "registry.example.com/svc:1.0", meta=meta)
        assert_valid(binding)
        assert binding["apiVersion"].endswith("/" + BINDING[meta.version])
        assert binding["metadata"]["namespace"] == "web"
        assert binding["metadata"]["labels"]["team"] == "web"
        assert binding["spec"] == {
            "profileRef": {"kind": "SeccompProfile", "name": "svc"},
            "image": "registry.example.com/svc:1.0",
        }


def test_localhost_profile_paths() -> None:
    assert localhost_profile("svc", "v1", None) == "operator/svc.json"
    assert localhost_profile("svc", "v1", "web") == "operator/svc.json"
    assert localhost_profile("svc", "v1beta1", "web") == "operator/web/svc.json"
    assert localhost_profile("svc", "v1beta1", None) == "operator/default/svc.json"
    assert localhost_profile("svc.json", "v1", None) == "operator/svc.json"


@pytest.mark.parametrize(
    ("workload", "name"),
    [
        ("httpservice", "httpservice"),
        ("HTTP_Service", "http-service"),
        ("web.v2_", "web.v2"),
        ("_batch-", "batch"),
        ("a..b", "a.b"),
        ("-x-.-y-", "x.y"),
    ],
)
def test_resource_name_sanitizes(workload: str, name: str) -> None:
    assert resource_name(workload) == name


@pytest.mark.parametrize("workload", ["_", "---", "_._", "."])
def test_resource_name_impossible(workload: str) -> None:
    with pytest.raises(ProfileError, match="cannot be made a Kubernetes object name"):
        resource_name(workload)


def test_parse_label_and_binding() -> None:
    assert parse_label("team=web") == ("team", "web")
    assert parse_label("example.com/tier=") == ("example.com/tier", "")
    for bad in ("team", "=web", "te am=web", "team=-web", "Bad_Prefix/x=y", "k=" + "v" * 64):
        with pytest.raises(ProfileError):
            parse_label(bad)
    assert parse_binding("httpservice:local") == (None, "httpservice:local")
    assert parse_binding("svc=reg.example.com/svc@sha256:ab") == (
        "svc",
        "reg.example.com/svc@sha256:ab",
    )
    assert parse_binding("*") == (None, "*")
    for bad in ("", "svc=", "=img", "svc=a b"):
        with pytest.raises(ProfileError):
            parse_binding(bad)


def test_stream_order_and_every_document_valid() -> None:
    meta = SpoMeta("v1", namespace="web", labels=(("team", "web"),))
    entries = [
        SpoEntry("web_b", built(Mode.ENFORCE), ("img-b:2", "img-b:1")),
        SpoEntry("api", built(Mode.ENFORCE), ("*",)),
        SpoEntry("Cron", built(Mode.LOG)),
    ]
    docs = spo_resources(entries, meta)
    order = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert order == [
        ("SeccompProfile", "api"),
        ("ProfileBinding", "api-any-image"),
        ("SeccompProfile", "cron"),
        ("SeccompProfile", "web-b"),
        ("ProfileBinding", "web-b-img-b-1"),
        ("ProfileBinding", "web-b-img-b-2"),
    ]
    text = render_stream(docs)
    assert text.count("\n---\n") == len(docs) - 1 and text.endswith("\n")
    loaded = load_all(text, source="stream")
    assert loaded == docs
    for doc in loaded:
        assert isinstance(doc, dict)
        assert_valid(doc)
    assert render_stream(spo_resources(list(reversed(entries)), meta)) == text


def test_names_that_collide_after_sanitizing_are_refused() -> None:
    entries = [SpoEntry("Web", built(Mode.ENFORCE)), SpoEntry("web", built(Mode.ENFORCE))]
    with pytest.raises(ProfileError, match="same name"):
        spo_resources(entries, SpoMeta())


def test_what_the_crd_cannot_say_is_refused() -> None:
    eacces = Profile(
        default_action=Action.ERRNO,
        default_errno_ret=13,
        architectures=(Arch.X86_64,),
        syscalls=(SyscallRule(names=("read",), action=Action.ALLOW),),
    )
    with pytest.raises(ProfileError, match="defaultErrnoRet 13"):
        seccomp_profile(eacces, name="x", workload="x", meta=SpoMeta())
    loong = Profile(
        default_action=Action.LOG,
        architectures=(Arch.LOONGARCH64,),
        syscalls=(SyscallRule(names=("read",), action=Action.ALLOW),),
    )
    with pytest.raises(ProfileError, match="SCMP_ARCH_LOONGARCH64"):
        seccomp_profile(loong, name="x", workload="x", meta=SpoMeta())
    huge = Profile(
        default_action=Action.LOG,
        architectures=(Arch.X86_64,),
        syscalls=(
            SyscallRule(
                names=("ioctl",),
                action=Action.ALLOW,
                args=(ArgCondition(index=1, value=2**64 - 1, op=Operator.EQ),),
            ),
        ),
    )
    with pytest.raises(ProfileError, match="int64"):
        seccomp_profile(huge, name="x", workload="x", meta=SpoMeta())


def test_args_keep_the_crd_shape() -> None:
    profile = Profile(
        default_action=Action.ERRNO,
        default_errno_ret=1,
        architectures=(Arch.X86_64, Arch.X86),
        syscalls=(
            SyscallRule(
                names=("personality",),
                action=Action.ALLOW,
                args=(ArgCondition(index=0, value=0xFF, op=Operator.MASKED_EQ, value_two=8),),
            ),
            SyscallRule(names=("read", "exit_group"), action=Action.ALLOW),
        ),
    )
    for version in VERSIONS:
        doc = seccomp_profile(profile, name="p", workload="p", meta=SpoMeta(version))
        assert_valid(doc)
        assert doc["spec"]["syscalls"][0]["args"] == [
            {"index": 0, "value": 255, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}
        ]
        assert doc["spec"]["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]


def test_unknown_version_is_refused() -> None:
    with pytest.raises(ProfileError, match="v2"):
        SpoMeta("v2")


def test_a_resource_failing_its_schema_is_a_bug() -> None:
    # A broken builder would be caught before writing: check_resource sees a pruned key.
    doc = seccomp_profile(built(Mode.ENFORCE), name="svc", workload="svc", meta=SpoMeta())
    doc["spec"]["comment"] = "x"  # type: ignore[index]
    assert check_resource(doc) == ["$.spec.comment: not a field of this resource"]


def test_parse_namespace() -> None:
    assert parse_namespace("web-1") == "web-1"
    for bad in ("Web", "a.b", "-web", "x" * 64, ""):
        with pytest.raises(ProfileError, match="namespace"):
            parse_namespace(bad)
