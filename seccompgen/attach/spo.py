"""The Kubernetes Security Profiles Operator's resources: what they are called and how they are
checked.

SPO (kubernetes-sigs/security-profiles-operator) distributes ``SeccompProfile`` custom resources
to every node's kubelet seccomp directory and binds them to pods with ``ProfileBinding``. The
group, kinds and served versions below are those of its CRDs
(``deploy/base-crds/crds/seccompprofile.yaml`` and ``profilebinding.yaml`` @ a2e4c4bd, bundled
as ``seccompgen/data/spo/*.schema.json``, see ``seccompgen/data/README.md``):

- ``SeccompProfile``: ``v1`` (storage version since SPO v1.0.0) and ``v1beta1`` (served, and the
  only version older operator releases serve).
- ``ProfileBinding``: ``v1`` (storage) and ``v1alpha1``.

The schemas are OpenAPI v3 structural schemas with no ``$ref``; they validate with a Draft 7
validator. They are not strict (no ``additionalProperties: false``), so :func:`check_resource`
also refuses keys the schema does not define, which the API server would prune silently.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any, Final

from jsonschema import Draft7Validator

GROUP: Final = "security-profiles-operator.x-k8s.io"
"""The API group of SPO's custom resources."""

SECCOMP_PROFILE: Final = "SeccompProfile"
PROFILE_BINDING: Final = "ProfileBinding"

VERSIONS: Final[Mapping[str, tuple[str, ...]]] = {
    SECCOMP_PROFILE: ("v1", "v1beta1"),
    PROFILE_BINDING: ("v1", "v1alpha1"),
}
"""Served versions per kind, the storage version first."""

BINDING_VERSION: Final[Mapping[str, str]] = {"v1": "v1", "v1beta1": "v1alpha1"}
"""The ``ProfileBinding`` version released beside each ``SeccompProfile`` version."""

_SCHEMA_FILE: Final[Mapping[str, str]] = {
    SECCOMP_PROFILE: "seccompprofile",
    PROFILE_BINDING: "profilebinding",
}


def api_version(version: str) -> str:
    """``GROUP/version``, the ``apiVersion`` of a resource."""
    return f"{GROUP}/{version}"


@functools.cache
def _schema(kind: str, version: str) -> dict[str, Any]:
    name = f"{_SCHEMA_FILE[kind]}-{version}.schema.json"
    text = (resources.files("seccompgen") / "data" / "spo" / name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def schema(kind: str, version: str) -> Mapping[str, Any]:
    """The bundled CRD schema (``openAPIV3Schema``) of ``kind`` at ``version`` (served)."""
    return _schema(kind, version)


def _unknown_keys(data: object, schema: Mapping[str, Any], path: str) -> list[str]:
    """Keys the schema does not define (the API server prunes them without a word)."""
    problems: list[str] = []
    if isinstance(data, dict) and "properties" in schema and schema.get("type") == "object":
        props = schema["properties"]
        for key, value in data.items():
            if key not in props:
                problems.append(f"{path}.{key}: not a field of this resource")
            else:
                problems.extend(_unknown_keys(value, props[key], f"{path}.{key}"))
    elif isinstance(data, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(data):
            problems.extend(_unknown_keys(item, schema["items"], f"{path}[{i}]"))
    return problems


def check_resource(doc: object) -> list[str]:
    """Problems with an SPO resource (empty when it is valid): its ``apiVersion``/``kind``, the
    CRD schema of that version, and keys the schema does not define. One line each, with the
    JSON path (``$.spec.syscalls[0].action: ...``)."""
    if not isinstance(doc, dict):
        return ["$: expected a mapping (an SPO resource)"]
    kind, version = doc.get("kind"), doc.get("apiVersion")
    if not isinstance(kind, str) or kind not in VERSIONS:
        return [f"$.kind: {kind!r} is not one of {', '.join(VERSIONS)}"]
    served = VERSIONS[kind]
    group, _, ver = str(version).partition("/")
    if group != GROUP or ver not in served:
        choices = ", ".join(api_version(v) for v in served)
        return [f"$.apiVersion: {version!r} is not a served version of {kind} ({choices})"]
    schema = _schema(kind, ver)
    problems = []
    for error in sorted(Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path)):
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
        problems.append(f"{where}: {error.message}")
    if not problems:
        problems.extend(_unknown_keys(doc, schema, "$"))
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        problems.append("$.metadata.name: missing (every Kubernetes object needs a name)")
    return problems
