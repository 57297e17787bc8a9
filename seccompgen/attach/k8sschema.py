"""Validation of Kubernetes workloads against the bundled JSON schemas (``data/k8s/``).

The schemas are yannh/kubernetes-json-schema's ``-standalone-strict`` output for Kubernetes
v1.32.2 (see ``seccompgen/data/README.md``): no ``$ref``, ``additionalProperties: false``.
Pod and Deployment are bundled and validate whole. The other workload kinds (StatefulSet,
DaemonSet, ReplicaSet, Job, CronJob, ...) are not bundled; their pod spec, where seccomp
profiles go, is validated against the PodSpec definition inside the Pod schema
(``properties.spec``), which is the same definition every workload's template uses.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from importlib import resources
from typing import Any, Final

from jsonschema import Draft7Validator

SCHEMA_VERSION: Final = "v1.32.2"
"""The Kubernetes release the bundled schemas come from."""

_WHOLE: Final = {("v1", "Pod"): "pod-v1.json", ("apps/v1", "Deployment"): "deployment-apps-v1.json"}


@functools.cache
def _schema(name: str) -> dict[str, Any]:
    text = (resources.files("seccompgen") / "data" / "k8s" / SCHEMA_VERSION / name).read_text(
        encoding="utf-8"
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator(name: str, pod_spec_only: bool = False) -> Draft7Validator:
    schema = _schema(name)
    if pod_spec_only:
        schema = schema["properties"]["spec"]
    return Draft7Validator(schema)


def _where(path: Sequence[object]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out or "(the object)"


def workload_problems(doc: dict[str, Any], pod_spec_path: Sequence[str]) -> list[str]:
    """Schema problems of a workload object, one line each (empty when it validates).

    A Pod (``v1``) or Deployment (``apps/v1``) is validated whole; any other workload, its pod
    spec at ``pod_spec_path`` against the PodSpec definition.
    """
    prefix: tuple[str, ...] = ()
    whole = _WHOLE.get((str(doc.get("apiVersion")), str(doc.get("kind"))))
    if whole is not None:
        validator, data = _validator(whole), doc
    else:
        data = doc
        for key in pod_spec_path:
            data = data[key]
        validator, prefix = _validator("pod-v1.json", pod_spec_only=True), tuple(pod_spec_path)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{_where((*prefix, *e.absolute_path))}: {e.message}" for e in errors]
