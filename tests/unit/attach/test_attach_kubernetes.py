"""attach.kubernetes: the Localhost securityContext, validated inside a real Pod schema."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from jsonschema import Draft7Validator

from seccompgen.attach import KUBELET_SECCOMP_DIR, kubernetes_snippet
from seccompgen.errors import ProfileError

POD_SCHEMA = Path(__file__).parents[3] / "seccompgen" / "data" / "k8s" / "v1.32.2" / "pod-v1.json"


def _parse_block_yaml(text: str) -> dict[str, Any]:
    """Read the indentation-only YAML subset the snippet uses (mappings, plain or "..." values)."""
    root: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = [(-1, root)]
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        key, _, value = line.strip().partition(":")
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        value = value.strip()
        if value:
            parent[key] = json.loads(value) if value.startswith('"') else value
        else:
            parent[key] = {}
            stack.append((indent, parent[key]))
    return root


def _pod(pod_ctx: dict[str, Any] | None, container_ctx: dict[str, Any] | None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "example/app:1"}
    if container_ctx is not None:
        container["securityContext"] = container_ctx
    spec: dict[str, Any] = {"containers": [container]}
    if pod_ctx is not None:
        spec["securityContext"] = pod_ctx
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "demo"}, "spec": spec}


def _pod_errors(pod: dict[str, Any]) -> list[str]:
    schema = json.loads(POD_SCHEMA.read_text())
    return [e.message for e in Draft7Validator(schema).iter_errors(pod)]


def test_node_path_and_relative_profile() -> None:
    hint = kubernetes_snippet(Path("out/web.json"))
    assert hint.node_path == PurePosixPath("/var/lib/kubelet/seccomp/seccompgen/web.json")
    assert hint.localhost_profile == "seccompgen/web.json"
    assert PurePosixPath(hint.localhost_profile) == hint.node_path.relative_to(KUBELET_SECCOMP_DIR)


@pytest.mark.parametrize("placement", ["pod", "container"])
@pytest.mark.parametrize("filename", ["web.json", "my profile: v2.json"])
def test_snippet_is_a_valid_pod_security_context(placement: str, filename: str) -> None:
    hint = kubernetes_snippet(Path("/tmp") / filename, subdir="team/apps")
    parsed = _parse_block_yaml(hint.yaml)
    ctx = parsed["securityContext"]
    assert ctx == hint.security_context
    pod = _pod(ctx, None) if placement == "pod" else _pod(None, ctx)
    assert _pod_errors(pod) == []
    # The schema has no enum for type and no Localhost/localhostProfile coupling: check here.
    profile = ctx["seccompProfile"]
    assert profile["type"] == "Localhost"
    assert not PurePosixPath(profile["localhostProfile"]).is_absolute()
    assert ".." not in PurePosixPath(profile["localhostProfile"]).parts
    assert profile["localhostProfile"] == f"team/apps/{filename}"


def test_pod_schema_rejects_a_misplaced_snippet() -> None:
    # Guards the test above: the strict schema does catch a wrong shape.
    bad = {"seccompProfile": {"type": "Localhost", "localhostProfile": "x.json", "extra": 1}}
    assert _pod_errors(_pod(bad, None)) != []


def test_empty_subdir_uses_the_kubelet_dir() -> None:
    hint = kubernetes_snippet(Path("p.json"), subdir="")
    assert hint.localhost_profile == "p.json"
    assert hint.node_path == KUBELET_SECCOMP_DIR / "p.json"


@pytest.mark.parametrize("subdir", ["/abs", "../up", "a/../../b"])
def test_bad_subdir_is_refused(subdir: str) -> None:
    with pytest.raises(ProfileError):
        kubernetes_snippet(Path("p.json"), subdir=subdir)
