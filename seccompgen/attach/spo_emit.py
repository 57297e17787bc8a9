"""SPO resources from built profiles: a ``SeccompProfile`` per workload, its ``ProfileBinding``s,
and the YAML stream ``emit --format spo`` writes.

The field names and shapes are those of SPO's CRDs (bundled, :mod:`seccompgen.attach.spo`).
Where the CRD and a built profile differ:

- The CRD has no ``defaultErrnoRet``. A built enforcing profile's default is ``SCMP_ACT_ERRNO``
  with EPERM, which is what runc answers for ``SCMP_ACT_ERRNO`` with no errno (runc
  ``libcontainer/seccomp/seccomp_linux.go``: ``actErrno = ActErrno.SetReturnCode(EPERM)`` when
  ``errnoRet`` is nil), so the key is left out; any other default errno is refused.
- The CRD has no ``comment`` on a rule: a rule's comment goes into the annotation
  ``seccompgen/syscalls.N.comment`` (N its index in ``spec.syscalls``).
- An argument's ``value`` is an ``int64`` there (``minimum: 0``): a value above 2^63-1 is
  refused rather than wrapped.

Every resource built here is checked with :func:`seccompgen.attach.spo.check_resource` before it
is rendered; a failure there is a bug in this module and raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from seccompgen.attach.spo import (
    BINDING_VERSION,
    PROFILE_BINDING,
    SECCOMP_PROFILE,
    VERSIONS,
    api_version,
    check_resource,
    schema,
)
from seccompgen.errors import ProfileError
from seccompgen.profile.model import Action, Profile
from seccompgen.yamlio import dump_all

Resource = dict[str, object]

ANNOTATION_PREFIX = "seccompgen"
"""The annotation prefix (a DNS subdomain, as Kubernetes requires of prefixes)."""
WORKLOAD_ANNOTATION = f"{ANNOTATION_PREFIX}/workload"
"""The workload a profile was built from (its name may have been changed to be a valid one)."""

_EPERM = 1
_INT64_MAX = 2**63 - 1
# Kubernetes object names (metadata.name) of custom resources: a DNS-1123 subdomain, at most
# 253 characters of [a-z0-9.-], each dot-separated part starting and ending alphanumeric
# (k8s.io/apimachinery/pkg/util/validation IsDNS1123Subdomain).
_DNS1123_MAX = 253
_DNS1123_PART = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123 = re.compile(rf"^{_DNS1123_PART}(\.{_DNS1123_PART})*$")
# Label keys and values (IsQualifiedName, IsValidLabelValue): a name of at most 63 characters
# [A-Za-z0-9_.-] starting and ending alphanumeric, a key optionally prefixed by a subdomain.
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_MAX = 63


def resource_name(text: str) -> str:
    """``text`` as a valid object name: lower case, every other character than ``[a-z0-9.-]``
    a ``-``, dot-separated parts trimmed of ``-`` and empty parts dropped, at most 253
    characters. Raises :class:`ProfileError` when nothing usable is left (``_``, ``-.-``)."""
    lowered = re.sub(r"[^a-z0-9.-]", "-", text.lower())
    parts = [p.strip("-") for p in lowered.split(".")]
    name = ".".join(p for p in parts if p)[:_DNS1123_MAX].rstrip("-.")
    if not _DNS1123.match(name):
        raise ProfileError(
            f"{text!r} cannot be made a Kubernetes object name (DNS-1123: lower-case letters, "
            "digits, '-' and '.', starting and ending with a letter or digit)",
            hint="name the workload with at least one letter or digit "
            "(`seccompgen trace ... --workload NAME`)",
        )
    return name


def parse_namespace(text: str) -> str:
    """A namespace name: a DNS-1123 label (at most 63 of ``[a-z0-9-]``, alphanumeric at both
    ends; IsDNS1123Label); a bad one raises :class:`ProfileError`."""
    if len(text) > _LABEL_MAX or not re.match(rf"^{_DNS1123_PART}$", text):
        raise ProfileError(
            f"namespace {text!r}: use at most 63 lower-case letters, digits and '-', starting "
            "and ending with a letter or digit"
        )
    return text


def parse_label(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` as a Kubernetes label; a bad one raises :class:`ProfileError` saying why."""
    key, sep, value = text.partition("=")
    if not sep:
        raise ProfileError(f"label {text!r}: expected KEY=VALUE, e.g. app=httpservice")
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > _DNS1123_MAX or not _DNS1123.match(prefix)):
        raise ProfileError(f"label key {key!r}: the prefix {prefix!r} is not a DNS-1123 subdomain")
    if len(name) > _LABEL_MAX or not _LABEL_NAME.match(name):
        raise ProfileError(
            f"label key {key!r}: the name must be 1-63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    if value and (len(value) > _LABEL_MAX or not _LABEL_NAME.match(value)):
        raise ProfileError(
            f"label value {value!r}: use at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit (or an empty value)"
        )
    return key, value


def parse_binding(text: str) -> tuple[str | None, str]:
    """``[WORKLOAD=]IMAGE`` as (workload or None, image). Image references have no ``=``, so
    the first one separates the two. ``*`` binds every container (SPO's ``spec.image``)."""
    workload, sep, image = text.partition("=")
    if not sep:
        workload, image = "", text
    if not image or any(c.isspace() for c in image):
        raise ProfileError(
            f"binding {text!r}: expected [WORKLOAD=]IMAGE with an image reference and no spaces, "
            "e.g. httpservice=registry.example.com/httpservice:1.0"
        )
    if sep and not workload:
        raise ProfileError(f"binding {text!r}: empty WORKLOAD before '='")
    return (workload or None), image


def localhost_profile(name: str, version: str, namespace: str | None) -> str:
    """The ``localhostProfile`` under which SPO installs the ``SeccompProfile`` ``name``.

    SPO writes ``<kubelet>/seccomp/operator/<namespace>/<name>.json`` (``.json`` unless the name
    ends with it), ``GetProfilePath`` in ``api/seccompprofile/*/seccompprofile_types.go``. Since
    SPO v0.9.0 (commit 4819993, "Change the scope of security profiles CRDs to be cluster wide")
    the resource has no namespace and the path is ``operator/<name>.json``, as its
    installation-usage.md shows for ``v1`` (served from v1.0.0 on). Releases up to v0.8.x serve
    only ``v1beta1``, namespaced: ``operator/<namespace>/<name>.json``, which is what this
    returns for ``v1beta1`` (``namespace`` None: ``default``).
    """
    file = name if name.endswith(".json") else f"{name}.json"
    if version == "v1":
        return f"operator/{file}"
    return f"operator/{namespace or 'default'}/{file}"


@dataclass(frozen=True, slots=True)
class SpoMeta:
    """What goes into every resource's metadata besides its name."""

    version: str = "v1"
    """The ``SeccompProfile`` version (``v1`` or ``v1beta1``); bindings use the matching
    :data:`~seccompgen.attach.spo.BINDING_VERSION`."""
    namespace: str | None = None
    labels: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.version not in VERSIONS[SECCOMP_PROFILE]:
            raise ProfileError(
                f"SeccompProfile version {self.version!r} is not one SPO serves",
                hint=f"use one of {', '.join(VERSIONS[SECCOMP_PROFILE])}",
            )

    def metadata(self, name: str, *, namespaced: bool) -> Resource:
        out: Resource = {"name": name}
        if namespaced and self.namespace:
            out["namespace"] = self.namespace
        if self.labels:
            out["labels"] = dict(sorted(self.labels))
        return out

    @property
    def profile_namespaced(self) -> bool:
        """Whether the ``SeccompProfile`` carries the namespace: ``v1`` is cluster-scoped (the
        API server would drop it); ``v1beta1`` is namespaced in the releases that serve only it."""
        return self.version != "v1"


def _spo_arches(version: str) -> frozenset[str]:
    spec = schema(SECCOMP_PROFILE, version)["properties"]["spec"]["properties"]
    return frozenset(spec["architectures"]["items"]["enum"])


def seccomp_profile(profile: Profile, *, name: str, workload: str, meta: SpoMeta) -> Resource:
    """The ``SeccompProfile`` for ``profile`` named ``name`` (already a valid name)."""
    if profile.default_errno_ret is not None and (
        profile.default_action is not Action.ERRNO or profile.default_errno_ret != _EPERM
    ):
        raise ProfileError(
            f"{name}: defaultErrnoRet {profile.default_errno_ret} cannot be expressed: the "
            "SeccompProfile CRD has no defaultErrnoRet (the runtime answers EPERM)",
            hint="emit it with --format oci and install it with --kubelet-dir",
        )
    unsupported = [
        a.value for a in profile.architectures if a.value not in _spo_arches(meta.version)
    ]
    if unsupported:
        raise ProfileError(
            f"{name}: SPO's SeccompProfile does not list {', '.join(unsupported)}",
            hint="emit it with --format oci and install it with --kubelet-dir",
        )
    annotations: dict[str, str] = {WORKLOAD_ANNOTATION: workload}
    rules: list[Resource] = []
    for i, rule in enumerate(profile.syscalls):
        out: Resource = {"names": sorted(set(rule.names)), "action": rule.action.value}
        if rule.errno_ret is not None:
            out["errnoRet"] = rule.errno_ret
        if rule.args:
            args: list[Resource] = []
            for arg in rule.args:
                if max(arg.value, arg.value_two) > _INT64_MAX:
                    raise ProfileError(
                        f"{name}: $.syscalls[{i}].args: {max(arg.value, arg.value_two)} does not "
                        "fit the CRD's int64",
                        hint="emit it with --format oci and install it with --kubelet-dir",
                    )
                args.append(arg.to_dict())
            out["args"] = args
        if rule.includes or rule.excludes:
            raise ProfileError(
                f"{name}: $.syscalls[{i}]: Docker's includes/excludes have no CRD field"
            )
        if rule.comment:
            annotations[f"{ANNOTATION_PREFIX}/syscalls.{i}.comment"] = rule.comment
        rules.append(out)
    spec: Resource = {"defaultAction": profile.default_action.value}
    if profile.architectures:
        spec["architectures"] = [a.value for a in profile.architectures]
    if profile.flags:
        spec["flags"] = list(profile.flags)
    spec["syscalls"] = rules
    metadata = meta.metadata(name, namespaced=meta.profile_namespaced)
    metadata["annotations"] = annotations
    return {
        "apiVersion": api_version(meta.version),
        "kind": SECCOMP_PROFILE,
        "metadata": metadata,
        "spec": spec,
    }


def binding_name(profile_name: str, image: str) -> str:
    """``PROFILE-IMAGE`` as an object name (``*``: ``PROFILE-any-image``)."""
    what = "any-image" if image == "*" else image
    return resource_name(f"{profile_name}-{what}")


def profile_binding(profile_name: str, image: str, *, meta: SpoMeta) -> Resource:
    """The ``ProfileBinding`` that gives containers running ``image`` the ``SeccompProfile``
    ``profile_name`` (SPO's binding webhook sets their ``securityContext.seccompProfile``)."""
    return {
        "apiVersion": api_version(BINDING_VERSION[meta.version]),
        "kind": PROFILE_BINDING,
        "metadata": meta.metadata(binding_name(profile_name, image), namespaced=True),
        "spec": {"profileRef": {"kind": SECCOMP_PROFILE, "name": profile_name}, "image": image},
    }


@dataclass(frozen=True, slots=True)
class SpoEntry:
    """One workload's ``SeccompProfile`` and the images bound to it."""

    workload: str
    profile: Profile
    images: tuple[str, ...] = ()
    name: str = ""
    """The object name; empty: :func:`resource_name` of ``workload``."""


def spo_resources(entries: Sequence[SpoEntry], meta: SpoMeta) -> list[Resource]:
    """Every resource, in a stable order: by profile name (the workload's, as made valid),
    each profile then its bindings (by image). Names must be unique per kind; each resource
    passes its CRD schema."""
    docs: list[Resource] = []
    seen: dict[tuple[str, str], str] = {}
    named = [(entry.name or resource_name(entry.workload), entry) for entry in entries]
    for name, entry in sorted(named, key=lambda pair: (pair[0], pair[1].workload)):
        batch = [seccomp_profile(entry.profile, name=name, workload=entry.workload, meta=meta)]
        batch += [profile_binding(name, image, meta=meta) for image in sorted(set(entry.images))]
        for doc in batch:
            kind, obj = str(doc["kind"]), _name_of(doc)
            if (kind, obj) in seen:
                raise ProfileError(
                    f"{kind} {obj!r} (from {entry.workload}) has the same name as the one from "
                    f"{seen[kind, obj]}",
                    hint="rename one workload, or emit them into separate files",
                )
            seen[kind, obj] = entry.workload
        docs.extend(batch)
    for doc in docs:
        problems = check_resource(doc)
        if problems:
            raise ProfileError(
                f"internal: the {doc['kind']} {_name_of(doc)!r} does not pass SPO's CRD schema: "
                + "; ".join(problems),
                hint="this is a bug in seccompgen; please report it with the command line",
            )
    return docs


def render_stream(docs: Sequence[Mapping[str, object]]) -> str:
    """The resources as one YAML stream (``---`` between them), ready for ``kubectl apply``."""
    return dump_all(list(docs))


def _name_of(doc: Mapping[str, object]) -> str:
    metadata = doc["metadata"]
    assert isinstance(metadata, dict)
    return str(metadata["name"])
