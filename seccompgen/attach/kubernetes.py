"""How to use a generated profile from Kubernetes: a ``Localhost`` seccomp profile.

The kubelet loads ``Localhost`` profiles from its seccomp directory on each node,
``/var/lib/kubelet/seccomp`` by default (``--root-dir`` + ``/seccomp``), and
``securityContext.seccompProfile.localhostProfile`` is a path *relative* to that directory;
the API server rejects absolute paths and ``..`` (Kubernetes docs, "Restrict a Container's
Syscalls with seccomp"; ``validateLocalhostProfile`` in pkg/apis/core/validation).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from seccompgen.errors import ProfileError

KUBELET_SECCOMP_DIR = PurePosixPath("/var/lib/kubelet/seccomp")
"""The kubelet's default seccomp profile directory."""

_PLAIN_YAML = re.compile(r"^[A-Za-z0-9_./-]+$")


@dataclass(frozen=True, slots=True)
class KubernetesHint:
    """Where to put the profile on each node, and the ``securityContext`` that uses it."""

    node_path: PurePosixPath
    """Absolute path on every node to copy the profile file to."""
    localhost_profile: str
    """``localhostProfile``: ``node_path`` relative to :data:`KUBELET_SECCOMP_DIR`."""
    yaml: str
    """The ``securityContext`` snippet, for a Pod spec or a container, as YAML text."""

    @property
    def security_context(self) -> dict[str, object]:
        """The same snippet as data (what the YAML text parses to)."""
        return {"seccompProfile": {"type": "Localhost", "localhostProfile": self.localhost_profile}}


def _yaml_scalar(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar; plain path characters need no quotes.
    return value if _PLAIN_YAML.match(value) else json.dumps(value)


def kubernetes_snippet(profile_path: Path, *, subdir: str = "seccompgen") -> KubernetesHint:
    """The node path and ``securityContext`` for the profile file ``profile_path``.

    The file keeps its name and goes into ``subdir`` of the kubelet's seccomp directory.
    ``subdir`` must be relative and free of ``..``; it may be empty to use the directory itself.
    """
    name = profile_path.name
    if not name or name in (".", ".."):
        raise ProfileError(f"{profile_path}: not a profile file name")
    sub = PurePosixPath(subdir)
    if sub.is_absolute() or ".." in sub.parts:
        raise ProfileError(
            f"subdirectory {subdir!r} must be relative to {KUBELET_SECCOMP_DIR} without '..'",
            hint="Kubernetes rejects absolute localhostProfile paths and '..' components",
        )
    relative = sub / name
    yaml = (
        "securityContext:\n"
        "  seccompProfile:\n"
        "    type: Localhost\n"
        f"    localhostProfile: {_yaml_scalar(str(relative))}\n"
    )
    return KubernetesHint(
        node_path=KUBELET_SECCOMP_DIR / relative,
        localhost_profile=str(relative),
        yaml=yaml,
    )
