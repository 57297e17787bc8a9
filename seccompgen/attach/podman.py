"""What ``podman kube play`` needs to apply a Localhost seccomp profile from a manifest.

Measured on Debian's podman 4.3.1 (``tests/integration/test_k8s_podman.py``) and read in its
source (``pkg/specgen/generate/kube/seccomp.go``, the same at v4.3.1 and later):

- ``kube play`` does not read ``securityContext.seccompProfile``; a pod whose only seccomp
  setting is that field runs under podman's default profile. It reads the annotations Kubernetes
  used before the field (deprecated since 1.19; the kubelet ignores them since 1.27, and the API
  server accepts them with a warning): ``seccomp.security.alpha.kubernetes.io/pod`` for every
  container, ``container.seccomp.security.alpha.kubernetes.io/<container>`` for one.
- A value ``localhost/<file>`` is resolved as ``--seccomp-profile-root`` (default
  ``/var/lib/kubelet/seccomp``) joined with the first path component after ``localhost/`` only:
  ``localhost/seccompgen/web.json`` opens the directory ``<root>/seccompgen`` and fails. So the
  annotation names the file alone, and ``--seccomp-profile-root`` is the directory that holds it.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Final

POD_ANNOTATION: Final = "seccomp.security.alpha.kubernetes.io/pod"
CONTAINER_ANNOTATION_PREFIX: Final = "container.seccomp.security.alpha.kubernetes.io/"


def annotation(container: str | None, localhost_profile: str) -> tuple[str, str]:
    """The annotation (key, value) that gives ``container`` (None: the whole pod) the profile
    at ``localhost_profile`` (relative to the kubelet's seccomp directory) under podman."""
    key = POD_ANNOTATION if container is None else CONTAINER_ANNOTATION_PREFIX + container
    return key, f"localhost/{PurePosixPath(localhost_profile).name}"


def profile_root(kubelet_dir: str, localhost_profile: str) -> str:
    """The ``--seccomp-profile-root`` for ``podman kube play``: the directory that holds the
    profile file, under ``kubelet_dir`` (the node's seccomp directory)."""
    return str(PurePosixPath(kubelet_dir) / PurePosixPath(localhost_profile).parent)
