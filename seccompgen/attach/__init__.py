"""Ways to apply a generated profile: ``docker run`` flags and Kubernetes ``securityContext``."""

from seccompgen.attach.docker import docker_run_hint
from seccompgen.attach.kubernetes import KUBELET_SECCOMP_DIR, KubernetesHint, kubernetes_snippet

__all__ = ["KUBELET_SECCOMP_DIR", "KubernetesHint", "docker_run_hint", "kubernetes_snippet"]
