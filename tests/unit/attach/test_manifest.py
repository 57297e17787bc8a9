"""attach.manifest: a Localhost seccompProfile edited into manifests' text, every other byte kept,
each result valid against the Kubernetes schemas."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from seccompgen.attach.kubernetes import localhost_profile_for, localhost_profile_problem
from seccompgen.attach.manifest import POD_SPEC_PATHS, Outcome, attach_profile
from seccompgen.attach.yamltext import split_lines
from seccompgen.errors import ManifestError, ProfileError
from seccompgen.yamlio import load_all

MANIFESTS = Path(__file__).parents[2] / "data" / "manifests"
SCHEMAS = Path(__file__).parents[3] / "seccompgen" / "data" / "k8s" / "v1.32.2"
PROFILE = "seccompgen/httpservice.json"
WANTED = {"type": "Localhost", "localhostProfile": PROFILE}

# kind -> (fixture, the pod spec's path)
KINDS = {
    "Pod": ("pod.yaml", ("spec",)),
    "Deployment": ("deployment.yaml", ("spec", "template", "spec")),
    "StatefulSet": ("statefulset.yaml", ("spec", "template", "spec")),
    "DaemonSet": ("daemonset.yaml", ("spec", "template", "spec")),
    "Job": ("job.yaml", ("spec", "template", "spec")),
    "CronJob": ("cronjob.yaml", ("spec", "jobTemplate", "spec", "template", "spec")),
    "ReplicaSet": ("replicaset.yaml", ("spec", "template", "spec")),
}


def _text(name: str) -> str:
    return (MANIFESTS / name).read_bytes().decode("utf-8")


def _inserted(original: str, patched: str) -> list[str]:
    """The lines ``patched`` adds to ``original``; fails if any original line changed."""
    before, after = split_lines(original), split_lines(patched)
    added: list[str] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        assert op in ("equal", "insert"), f"{op}: {before[i1:i2]!r} -> {after[j1:j2]!r}"
        if op == "insert":
            added.extend(after[j1:j2])
    # Only "equal" and "insert": without the added lines, the original, byte for byte.
    return added


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / name).read_text())
    return schema


def _schema_errors(doc: dict[str, Any], pod_spec: tuple[str, ...]) -> list[str]:
    """Pod and Deployment whole; the other kinds' pod spec against the Pod schema's PodSpec."""
    if doc["kind"] == "Pod":
        validator, data = Draft7Validator(_schema("pod-v1.json")), doc
    elif doc["kind"] == "Deployment":
        validator, data = Draft7Validator(_schema("deployment-apps-v1.json")), doc
    else:
        validator = Draft7Validator(_schema("pod-v1.json")["properties"]["spec"])
        data = doc
        for key in pod_spec:
            data = data[key]
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


def _dig(doc: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_pod_wide_profile_for_each_kind(kind: str) -> None:
    fixture, pod_spec = KINDS[kind]
    original = _text(fixture)
    result = attach_profile(original, source=fixture, profile_path=PROFILE)
    added = _inserted(original, result.text)
    new_context = kind != "StatefulSet"  # its fixture has a securityContext already
    assert [line.strip() for line in added] == [
        *(["securityContext:"] if new_context else []),
        "seccompProfile:",
        "type: Localhost",
        f"localhostProfile: {PROFILE}",
    ]
    (doc,) = load_all(result.text, source=fixture)
    assert isinstance(doc, dict)
    assert _dig(doc, pod_spec)["securityContext"]["seccompProfile"] == WANTED
    assert _schema_errors(doc, pod_spec) == []
    (change,) = result.changes
    assert change.outcome is Outcome.SET
    assert (
        change.describe()
        == f"{kind}/{doc['metadata']['name']} (document 0): pod → Localhost {PROFILE}"
    )


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_schema_check_sees_the_added_profile(kind: str) -> None:
    # The validators used above would notice a bad seccompProfile, so the passes mean something.
    fixture, pod_spec = KINDS[kind]
    (doc,) = load_all(
        attach_profile(_text(fixture), source=fixture, profile_path=PROFILE).text, source=fixture
    )
    assert isinstance(doc, dict)
    _dig(doc, pod_spec)["securityContext"]["seccompProfile"]["localhostPath"] = PROFILE
    assert any("localhostPath" in e for e in _schema_errors(doc, pod_spec))


def test_every_supported_kind_has_a_fixture() -> None:
    assert set(KINDS) <= {kind for _, kind in POD_SPEC_PATHS}
    for kind, (_, path) in KINDS.items():
        assert path in POD_SPEC_PATHS.values(), kind


def test_an_existing_security_context_gets_the_profile_beside_its_keys() -> None:
    original = _text("statefulset.yaml")
    result = attach_profile(original, source="s", profile_path=PROFILE)
    added = _inserted(original, result.text)
    assert added == [
        "        seccompProfile:\n",
        "          type: Localhost\n",
        f"          localhostProfile: {PROFILE}\n",
    ]
    (doc,) = load_all(result.text, source="s")
    assert isinstance(doc, dict)
    assert doc["spec"]["template"]["spec"]["securityContext"] == {
        "runAsUser": 999,
        "fsGroup": 999,
        "seccompProfile": WANTED,
    }


def test_per_container_keeps_comments_and_adds_into_an_existing_context() -> None:
    original = _text("deployment.yaml")
    result = attach_profile(original, source="d", profile_path=PROFILE, containers=["app", "proxy"])
    added = _inserted(original, result.text)
    assert len(added) == 7  # securityContext + 3 for app, 3 into proxy's existing one
    (doc,) = load_all(result.text, source="d")
    assert isinstance(doc, dict)
    app, proxy = doc["spec"]["template"]["spec"]["containers"]
    assert app["securityContext"] == {"seccompProfile": WANTED}
    assert proxy["securityContext"] == {"runAsNonRoot": True, "seccompProfile": WANTED}
    assert app["env"][0]["value"] == "hello\nworld\n"  # the block scalar before the insert
    assert "securityContext" not in doc["spec"]["template"]["spec"]
    assert [c.describe() for c in result.changes] == [
        f"Deployment/web (document 0): container app → Localhost {PROFILE}",
        f"Deployment/web (document 0): container proxy → Localhost {PROFILE}",
    ]
    assert _schema_errors(doc, KINDS["Deployment"][1]) == []


def test_init_containers_can_be_named() -> None:
    original = _text("daemonset.yaml")
    result = attach_profile(original, source="d", profile_path=PROFILE, containers=["setup"])
    (doc,) = load_all(result.text, source="d")
    assert isinstance(doc, dict)
    spec = doc["spec"]["template"]["spec"]
    assert spec["initContainers"][0]["securityContext"]["seccompProfile"] == WANTED
    assert "securityContext" not in spec["containers"][0]


def test_unknown_container_names_the_containers_that_exist() -> None:
    with pytest.raises(ManifestError) as e:
        attach_profile(
            _text("deployment.yaml"), source="d.yaml", profile_path=PROFILE, containers=["ap"]
        )
    assert (
        e.value.message == "d.yaml: no container named ap: document 0 Deployment/web has app, proxy"
    )


def test_a_container_name_in_one_document_skips_the_others() -> None:
    result = attach_profile(
        _text("multi.yaml"), source="m", profile_path=PROFILE, containers=["migrate"]
    )
    described = [c.describe() for c in result.changes]
    assert "Deployment/web (document 1): skipped: no container named migrate (app)" in described
    assert f"Job/migrate (document 4): container migrate → Localhost {PROFILE}" in described


def test_crlf_stays_crlf() -> None:
    original = _text("crlf.yaml")
    assert original.count("\r\n") == original.count("\n") > 0  # the fixture is really CRLF
    result = attach_profile(original, source="c", profile_path=PROFILE)
    added = _inserted(original, result.text)
    assert added and all(line.endswith("\r\n") for line in added)
    assert result.text.count("\r\n") == result.text.count("\n")
    assert "\r\r" not in result.text


def test_multi_document_stream_passes_other_objects_through() -> None:
    original = _text("multi.yaml")
    result = attach_profile(original, source="m.yaml", profile_path=PROFILE)
    assert len(_inserted(original, result.text)) == 8
    assert [c.describe() for c in result.changes] == [
        "ConfigMap/web-config (document 0): skipped: no pod template",
        f"Deployment/web (document 1): pod → Localhost {PROFILE}",
        "Service/web (document 2): skipped: no pod template",
        "ServiceMonitor/web (document 3): skipped: kind ServiceMonitor (monitoring.coreos.com/v1) "
        "is not a workload kind seccompgen knows",
        f"Job/migrate (document 4): pod → Localhost {PROFILE}",
    ]
    before, after = load_all(original, source="m"), load_all(result.text, source="m")
    assert [before[i] == after[i] for i in range(5)] == [True, False, True, True, False]


def test_an_existing_profile_is_skipped_then_replaced_with_force() -> None:
    original = _text("runtime-default.yaml")
    result = attach_profile(original, source="r", profile_path=PROFILE)
    assert result.text == original
    assert not result.changed
    assert [c.describe() for c in result.changes] == [
        "Deployment/web (document 0): pod skipped: already has seccompProfile RuntimeDefault "
        "(--force replaces it)",
        "Deployment/web (document 0): container app note: its own seccompProfile Unconfined "
        "takes precedence over the pod's",
    ]
    forced = attach_profile(original, source="r", profile_path=PROFILE, force=True)
    (doc,) = load_all(forced.text, source="r")
    assert isinstance(doc, dict)
    assert doc["spec"]["template"]["spec"]["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": WANTED,
        "runAsUser": 1000,
    }
    diff = [
        d for d in difflib.ndiff(original.splitlines(), forced.text.splitlines()) if d[0] in "+-"
    ]
    assert diff == [
        "-           type: RuntimeDefault   # the cluster default",
        "+           type: Localhost",
        f"+           localhostProfile: {PROFILE}",
    ]
    assert forced.changes[0].describe().endswith("(was RuntimeDefault)")


def test_force_replaces_a_flow_style_profile_in_a_block_context() -> None:
    original = _text("runtime-default.yaml")
    result = attach_profile(
        original, source="r", profile_path=PROFILE, containers=["app"], force=True
    )
    (doc,) = load_all(result.text, source="r")
    assert isinstance(doc, dict)
    assert doc["spec"]["template"]["spec"]["containers"][0]["securityContext"] == {
        "seccompProfile": WANTED
    }


def test_a_second_run_changes_nothing() -> None:
    once = attach_profile(_text("deployment.yaml"), source="d", profile_path=PROFILE)
    twice = attach_profile(once.text, source="d", profile_path=PROFILE)
    assert twice.text == once.text
    assert [c.outcome for c in twice.changes] == [Outcome.UNCHANGED]
    other = attach_profile(once.text, source="d", profile_path="operator/x.json")
    assert (
        other.changes[0].detail
        == f"already has seccompProfile Localhost {PROFILE} (--force replaces it)"
    )


def test_empty_and_null_security_contexts_become_blocks() -> None:
    original = _text("empty-security-context.yaml")
    result = attach_profile(original, source="e", profile_path=PROFILE)
    assert "  securityContext:  # filled in later\n    seccompProfile:\n" in result.text
    per_container = attach_profile(original, source="e", profile_path=PROFILE, containers=["app"])
    assert per_container.text.startswith(original)  # `securityContext:` was the last line
    (doc,) = load_all(per_container.text, source="e")
    assert isinstance(doc, dict)
    assert doc["spec"]["containers"][0]["securityContext"] == {"seccompProfile": WANTED}


def test_flow_style_mapping_is_refused() -> None:
    with pytest.raises(
        ManifestError, match=r"document 0: Pod/web: spec\.securityContext is a flow-style"
    ):
        attach_profile(_text("flow-security-context.yaml"), source="f", profile_path=PROFILE)


def test_a_flow_style_container_list_is_refused_per_container() -> None:
    text = POD + "spec:\n  containers: [{name: a, image: i}]\n"
    pod_wide = attach_profile(text, source="f", profile_path=PROFILE)
    assert pod_wide.text.endswith(
        "  containers: [{name: a, image: i}]\n  securityContext:\n"
        "    seccompProfile:\n      type: Localhost\n"
        f"      localhostProfile: {PROFILE}\n"
    )
    with pytest.raises(ManifestError, match=r"containers\[0\] is a flow-style mapping"):
        attach_profile(text, source="f", profile_path=PROFILE, containers=["a"])


def test_a_last_line_without_a_line_break() -> None:
    text = _text("job.yaml").rstrip("\n")
    result = attach_profile(text, source="j", profile_path=PROFILE)
    assert result.text.startswith(text + "\n")
    assert result.text.endswith(f"localhostProfile: {PROFILE}\n")


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("bad-not-yaml.yaml", r"^bad-not-yaml\.yaml:9: document 0: not valid YAML"),
        (
            "bad-no-containers.yaml",
            r"^bad-no-containers\.yaml: document 0: Deployment/web: "
            r"spec\.template\.spec\.containers: no containers$",
        ),
        (
            "bad-second-document.yaml",
            r"^bad-second-document\.yaml: document 2: Deployment/broken: "
            r"spec\.template is missing or not a mapping$",
        ),
        (
            "bad-schema.yaml",
            r"^bad-schema\.yaml: document 0: StatefulSet/db does not validate against the "
            r"Kubernetes v1\.32\.2 schema: spec\.template\.spec\.containers\[0\]",
        ),
    ],
)
def test_bad_manifests_name_the_document(fixture: str, message: str) -> None:
    with pytest.raises(ManifestError) as e:
        attach_profile(_text(fixture), source=fixture, profile_path=PROFILE)
    assert "\n" not in e.value.message
    assert re.search(message, e.value.message), e.value.message


POD = "kind: Pod\napiVersion: v1\nmetadata: {name: p}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "document 0: not a Kubernetes object"),
        ("apiVersion: v1\nmetadata: {name: x}\n", "document 0: no kind"),
        ("kind: Service\napiVersion: v1\n---\nkind: List\napiVersion: v1\n", "document 1: List/"),
        (POD + "spec:\n  containers: []\n", "no containers"),
        (POD + "spec: {containers: [{name: a}]}\n", "flow-style"),
    ],
)
def test_malformed_objects(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=re.escape(message)):
        attach_profile(text, source="x.yaml", profile_path=PROFILE)


def test_unknown_kind_of_a_known_name_in_another_group_is_skipped() -> None:
    text = "apiVersion: batch.volcano.sh/v1alpha1\nkind: Job\nmetadata:\n  name: v\nspec: {}\n"
    result = attach_profile(text, source="v", profile_path=PROFILE)
    assert result.text == text
    assert (
        result.changes[0].detail
        == "kind Job (batch.volcano.sh/v1alpha1) is not a workload kind seccompgen knows"
    )


@pytest.mark.parametrize(
    "path", ["/var/lib/kubelet/seccomp/x.json", "../x.json", "a/../../x.json", ""]
)
def test_paths_the_api_server_refuses(path: str) -> None:
    assert localhost_profile_problem(path)
    with pytest.raises(ManifestError):
        attach_profile(_text("pod.yaml"), source="p", profile_path=path)


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("httpservice", "seccompgen/httpservice.json"),
        ("httpservice.json", "seccompgen/httpservice.json"),
        ("operator/httpservice.json", "operator/httpservice.json"),
        ("seccompgen/httpservice.json", "seccompgen/httpservice.json"),
        ("a..b/x.json", "a..b/x.json"),
    ],
)
def test_profile_names(name: str, path: str) -> None:
    assert localhost_profile_for(name) == path


@pytest.mark.parametrize("name", ["/abs.json", "../x.json", "..", "", "a/../b.json"])
def test_profile_names_refused(name: str) -> None:
    with pytest.raises(ProfileError):
        localhost_profile_for(name)


def test_quoted_profile_path() -> None:
    result = attach_profile(_text("pod.yaml"), source="p", profile_path="team a/x: y.json")
    (doc,) = load_all(result.text, source="p")
    assert isinstance(doc, dict)
    assert (
        doc["spec"]["securityContext"]["seccompProfile"]["localhostProfile"] == "team a/x: y.json"
    )


def test_an_empty_seccomp_profile_is_filled_in() -> None:
    text = POD + "spec:\n  securityContext:\n    seccompProfile:  # todo\n  containers:\n"
    text += "  - name: app\n    image: i\n"
    result = attach_profile(text, source="p", profile_path=PROFILE)
    assert result.changes[0].describe() == f"Pod/p (document 0): pod → Localhost {PROFILE}"
    (doc,) = load_all(result.text, source="p")
    assert isinstance(doc, dict)
    assert doc["spec"]["securityContext"] == {"seccompProfile": WANTED}


def test_what_cannot_be_edited_safely_is_refused() -> None:
    # A kept (|+) block scalar's trailing blank lines are its content: lines inserted after its
    # last text line would change it, and the read-back check refuses the result.
    text = POD + "spec:\n  containers:\n  - name: app\n    image: i\n    args:\n    - |+\n"
    text += "      line1\n\n"
    with pytest.raises(ManifestError, match="does not read back as intended; nothing written"):
        attach_profile(text, source="k", profile_path=PROFILE)
    merged = POD + "spec:\n  <<: {securityContext: {runAsUser: 1}}\n  containers:\n"
    merged += "  - name: app\n    image: i\n"
    with pytest.raises(ManifestError, match="comes from a YAML merge key"):
        attach_profile(merged, source="m", profile_path=PROFILE)


# --podman: the annotations podman kube play reads (seccompgen/attach/podman.py)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_podman_annotations_go_into_the_pod_template_metadata(kind: str) -> None:
    fixture, pod_spec = KINDS[kind]
    text = _text(fixture)
    result = attach_profile(text, source=fixture, profile_path=PROFILE, podman=True)
    added = _inserted(text, result.text)
    assert any("seccomp.security.alpha.kubernetes.io/pod: localhost/httpservice.json" in line
               for line in added)  # fmt: skip
    (doc,) = [d for d in load_all(result.text, source="patched") if isinstance(d, dict)]
    meta: Any = doc
    for step in (*pod_spec[:-1], "metadata"):
        meta = meta[step]
    assert meta["annotations"]["seccomp.security.alpha.kubernetes.io/pod"] == (
        "localhost/httpservice.json"
    )
    spec: Any = doc
    for step in pod_spec:
        spec = spec[step]
    assert spec["securityContext"]["seccompProfile"] == WANTED


def test_podman_container_annotation_joins_existing_annotations() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations:\n"
        "    team: payments  # who to call\nspec:\n  containers:\n    - name: app\n"
        "      image: app:1\n"
    )
    result = attach_profile(
        text, source="pod.yaml", profile_path=PROFILE, containers=["app"], podman=True
    )
    assert _inserted(text, result.text) == [
        "    container.seccomp.security.alpha.kubernetes.io/app: localhost/httpservice.json\n",
        "      securityContext:\n",
        "        seccompProfile:\n",
        "          type: Localhost\n",
        "          localhostProfile: seccompgen/httpservice.json\n",
    ]
    set_lines = [c.describe() for c in result.changes if c.target == "annotation"]
    assert set_lines == [
        "Pod/web (document 0): annotation → container.seccomp.security.alpha.kubernetes.io/app: "
        "localhost/httpservice.json (read by podman kube play)"
    ]


def test_podman_annotation_already_there_is_unchanged_and_a_different_one_refused() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations:\n"
        "    seccomp.security.alpha.kubernetes.io/pod: localhost/httpservice.json\n"
        "spec:\n  containers:\n    - name: app\n      image: app:1\n"
    )
    result = attach_profile(text, source="pod.yaml", profile_path=PROFILE, podman=True)
    assert [c.outcome for c in result.changes if c.target == "annotation"] == [Outcome.UNCHANGED]
    assert result.text.count("seccomp.security.alpha.kubernetes.io/pod") == 1
    other = text.replace("localhost/httpservice.json", "localhost/other.json")
    with pytest.raises(ManifestError, match=r"document 0: Pod/web: metadata\.annotations: "
                       r"seccomp\.security\.alpha\.kubernetes\.io/pod is already"):  # fmt: skip
        attach_profile(other, source="pod.yaml", profile_path=PROFILE, podman=True)


def test_podman_annotation_is_not_written_for_a_skipped_pod() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  securityContext:\n"
        "    seccompProfile:\n      type: RuntimeDefault\n  containers:\n    - name: app\n"
        "      image: app:1\n"
    )
    result = attach_profile(text, source="pod.yaml", profile_path=PROFILE, podman=True)
    assert result.text == text
    assert [c.outcome for c in result.changes] == [Outcome.SKIPPED]


def test_an_unknown_kind_in_a_closed_group_is_an_error_a_custom_resource_passes() -> None:
    service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"
    typo = "apiVersion: apps/v1\nkind: Deploymnet\nmetadata:\n  name: web\n"
    with pytest.raises(ManifestError, match=r"^m\.yaml: document 1: Deploymnet/web: unknown kind "
                       r"Deploymnet in apiVersion apps/v1$"):  # fmt: skip
        attach_profile(f"{service}---\n{typo}", source="m.yaml", profile_path=PROFILE)
    custom = "apiVersion: monitoring.coreos.com/v1\nkind: Deploymnet\nmetadata:\n  name: web\n"
    result = attach_profile(f"{service}---\n{custom}", source="m.yaml", profile_path=PROFILE)
    assert [c.outcome for c in result.changes] == [Outcome.SKIPPED, Outcome.SKIPPED]
