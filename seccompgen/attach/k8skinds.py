"""The Kubernetes object kinds ``k8s attach`` knows: where each workload kind keeps its pod
spec, which built-in kinds run no pods, and which API groups are closed (every kind in them is
known, so another is a mistake rather than a custom resource). Kubernetes v1.32 API reference.
"""

from __future__ import annotations

from typing import Final

POD_SPEC_PATHS: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("", "Pod"): ("spec",),
    ("", "ReplicationController"): ("spec", "template", "spec"),
    ("", "PodTemplate"): ("template", "spec"),
    ("apps", "Deployment"): ("spec", "template", "spec"),
    ("apps", "StatefulSet"): ("spec", "template", "spec"),
    ("apps", "DaemonSet"): ("spec", "template", "spec"),
    ("apps", "ReplicaSet"): ("spec", "template", "spec"),
    ("batch", "Job"): ("spec", "template", "spec"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}
"""Where each workload kind (API group, kind) keeps its pod spec."""

NO_POD_TEMPLATE: Final = frozenset(
    {
        "APIService", "Binding", "ComponentStatus", "CSIDriver", "CSINode",
        "CertificateSigningRequest", "ClusterRole",
        "ClusterRoleBinding", "ConfigMap", "ControllerRevision", "CustomResourceDefinition",
        "Endpoints", "EndpointSlice", "Event", "HorizontalPodAutoscaler", "Ingress",
        "IngressClass", "Lease", "LimitRange", "MutatingWebhookConfiguration", "Namespace",
        "NetworkPolicy", "PersistentVolume", "PersistentVolumeClaim", "PodDisruptionBudget",
        "PriorityClass", "ResourceQuota", "Role", "RoleBinding", "RuntimeClass", "Secret",
        "Service", "ServiceAccount", "StorageClass", "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration", "VolumeAttachment",
    }
)  # fmt: skip
"""Built-in kinds that run no pods: passed through."""

CLOSED_GROUPS: Final = frozenset({"", "apps", "batch"})
"""API groups whose kinds are all known here (the workload kinds above and, in
:data:`NO_POD_TEMPLATE`, core's ConfigMap ... ServiceAccount, apps' ControllerRevision): any
other kind in them is a mistake (``Deploymnet``), not a custom resource."""


def api_group(api_version: object) -> str:
    """The API group of an ``apiVersion`` (``apps/v1`` -> ``apps``; ``v1`` -> core, ``""``)."""
    text = api_version if isinstance(api_version, str) else ""
    return text.rpartition("/")[0] if "/" in text else ""
