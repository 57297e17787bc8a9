"""How to use a generated profile from Kubernetes: a ``Localhost`` seccomp profile.

The kubelet loads ``Localhost`` profiles from its seccomp directory on each node,
``/var/lib/kubelet/seccomp`` by default (``--root-dir`` + ``/seccomp``), and
``securityContext.seccompProfile.localhostProfile`` is a path *relative* to that directory;
the API server rejects absolute paths and ``..`` (Kubernetes docs, "Restrict a Container's
Syscalls with seccomp"; ``validateLocalhostProfile`` in pkg/apis/core/validation). That rule is
:func:`localhost_profile_problem`, the one place seccompgen checks it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from seccompgen.errors import ProfileError

KUBELET_SECCOMP_DIR = PurePosixPath("/var/lib/kubelet/seccomp")
"""The kubelet's default seccomp profile directory."""

DEFAULT_SUBDIR = "seccompgen"
"""The subdirectory of :data:`KUBELET_SECCOMP_DIR` seccompgen's profiles go to by default."""

_PLAIN_YAML = re.compile(r"^[A-Za-z0-9_./-]+$")


def localhost_profile_problem(path: str) -> str | None:
    """Why the API server would refuse ``path`` as a ``localhostProfile``; None when it is fine.

    The rule of ``validateLocalhostProfile`` (kubernetes/kubernetes pkg/apis/core/validation/
    validation.go, through ``validateLocalDescendingPath``): the path must be set, must not be
    absolute (``path.IsAbs``), and no ``/``-separated component may be ``..``
    (``validatePathNoBacksteps``). It is relative to the kubelet's seccomp directory.
    """
    if not path:
        return "localhostProfile must be set for type Localhost"
    if path.startswith("/"):
        return f"{path!r} is absolute; localhostProfile must be relative to {KUBELET_SECCOMP_DIR}"
    if ".." in path.split("/"):
        return f"{path!r} contains '..'; localhostProfile must stay under {KUBELET_SECCOMP_DIR}"
    return None


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


def yaml_scalar(value: str) -> str:
    """``value`` as a YAML scalar: plain when it is path characters only, else double-quoted."""
    # A JSON string is a valid YAML double-quoted scalar; plain path characters need no quotes.
    return value if _PLAIN_YAML.match(value) else json.dumps(value)


def kubernetes_snippet(profile_path: Path, *, subdir: str = DEFAULT_SUBDIR) -> KubernetesHint:
    """The node path and ``securityContext`` for the profile file ``profile_path``.

    The file keeps its name and goes into ``subdir`` of the kubelet's seccomp directory.
    ``subdir`` must be relative and free of ``..``; it may be empty to use the directory itself.
    """
    name = profile_path.name
    if not name or name in (".", ".."):
        raise ProfileError(f"{profile_path}: not a profile file name")
    sub = PurePosixPath(subdir)
    if localhost_profile_problem(str(sub / name)):
        raise ProfileError(
            f"subdirectory {subdir!r} must be relative to {KUBELET_SECCOMP_DIR} without '..'",
            hint="Kubernetes rejects absolute localhostProfile paths and '..' components",
        )
    relative = sub / name
    yaml = (
        "securityContext:\n"
        "  seccompProfile:\n"
        "    type: Localhost\n"
        f"    localhostProfile: {yaml_scalar(str(relative))}\n"
    )
    return KubernetesHint(
        node_path=KUBELET_SECCOMP_DIR / relative,
        localhost_profile=str(relative),
        yaml=yaml,
    )


def localhost_profile_for(name: str) -> str:
    """The ``localhostProfile`` that ``--profile NAME`` means.

    A bare name (no ``/``) is a workload or profile file name and goes where ``emit`` tells
    users to copy profiles: ``httpservice`` and ``httpservice.json`` are both
    ``seccompgen/httpservice.json``. A name with a ``/`` (``operator/httpservice.json``) is used
    as given, relative to :data:`KUBELET_SECCOMP_DIR`. Raises :class:`ProfileError` for a path
    the API server would refuse (:func:`localhost_profile_problem`).
    """
    if name and "/" not in name and name not in (".", ".."):
        file = name if name.endswith(".json") else f"{name}.json"
        path = f"{DEFAULT_SUBDIR}/{file}"
    else:
        path = name
    problem = localhost_profile_problem(path)
    if problem:
        raise ProfileError(
            problem,
            hint="give a path relative to the kubelet's seccomp directory, such as "
            f"{DEFAULT_SUBDIR}/NAME.json, or a bare name",
        )
    return path
