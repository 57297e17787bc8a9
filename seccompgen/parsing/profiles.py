"""Pure parser: seccomp profiles someone else wrote or recorded, as the syscall names they allow.

Two inputs, told apart by their content:

* Kubernetes Security Profiles Operator ``SeccompProfile`` resources (YAML, one or more
  documents of a ``---`` stream, or a ``kind: List`` as ``kubectl get seccompprofiles -o yaml``
  prints it), ``security-profiles-operator.x-k8s.io/v1`` or ``v1beta1``, checked against the
  CRD schema of their version (:func:`seccompgen.attach.spo.check_resource`). SPO's recorders
  (log enricher, eBPF) name a profile ``RECORDING-CONTAINER``; that name is the profile's.
* Docker or OCI runtime-spec JSON profiles (``linux.seccomp``, Docker's ``archMap`` and
  ``includes``/``excludes`` too), read by :meth:`seccompgen.profile.model.Profile.from_dict`.

What a profile teaches is its allowlist: the names of its ``SCMP_ACT_ALLOW`` rules (for a
``SCMP_ACT_LOG`` default too: the ALLOW rules are what the staging profile already had). A
profile whose default is ``SCMP_ACT_ALLOW`` allows everything and teaches nothing; it is refused.
A name allowed only for some argument values is taken as allowed and noted. Docker rules that
need an added capability (``includes.caps``) or another architecture do not count, as in
:func:`seccompgen.profile.diff.allowed_names`. A name libseccomp does not know on the profile's
architecture is skipped with a note, as runc and crun skip names libseccomp cannot resolve.

The architecture of the names is the profile's: this machine's when the profile lists it (or
lists none, or ``SCMP_ARCH_NATIVE``), else the first one it lists; a caller may choose one.

No files are opened here: text in, :class:`ImportedProfile` values out. Bad input raises
:class:`~seccompgen.errors.ManifestError` (or :class:`~seccompgen.errors.ProfileError` for a
malformed OCI profile) naming the source and the document index.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from seccompgen import syscalls
from seccompgen.attach.spo import GROUP, SECCOMP_PROFILE, VERSIONS, api_version, check_resource
from seccompgen.errors import ManifestError
from seccompgen.profile.diff import allowed_names
from seccompgen.profile.model import Action, Profile
from seccompgen.yamlio import load_all

SPO: Final = "spo"
""":attr:`ImportedProfile.form` of an SPO ``SeccompProfile``."""
OCI: Final = "oci"
""":attr:`ImportedProfile.form` of a Docker/OCI JSON profile."""

PARTIAL_LABEL: Final = "spo.x-k8s.io/partial"
"""The label SPO's recorder puts on the per-replica profiles it merges later."""

# The SPO spec keys that are the runtime-spec profile; the others (baseProfileName, state,
# listenerPath, listenerMetadata) are the operator's.
_PROFILE_KEYS: Final = ("defaultAction", "architectures", "flags", "syscalls")
_NATIVE: Final = "SCMP_ARCH_NATIVE"


@dataclass(frozen=True, slots=True)
class ImportedProfile:
    """One profile document and the names it allows.

    ``document`` is the 0-based index in the ``---`` stream (as ``kubectl`` counts), ``item``
    the index in a ``kind: List``'s items. ``name`` is ``metadata.name`` (None for a JSON
    profile). ``allowed`` are libseccomp names known on ``arch``, in profile order;
    ``conditional`` those of them allowed only under argument conditions; ``unknown`` the names
    skipped because libseccomp does not know them on ``arch``. ``notes`` say what else the
    import leaves out.
    """

    source: str
    document: int
    form: str
    arch: str
    allowed: tuple[str, ...]
    item: int | None = None
    version: str | None = None
    name: str | None = None
    conditional: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """``FILE document N`` (``item M`` in a list)."""
        item = f" item {self.item}" if self.item is not None else ""
        return f"{self.source} document {self.document}{item}"

    @property
    def label(self) -> str:
        """``SeccompProfile v1beta1 NAME`` or ``Docker/OCI profile``."""
        if self.form == SPO:
            return f"{SECCOMP_PROFILE} {self.version} {self.name}"
        return "Docker/OCI profile"


def parse_profiles(
    text: str, *, source: str, arch: str | None = None, native: str | None = None
) -> list[ImportedProfile]:
    """Every profile in ``text`` (the content of the file ``source``).

    ``arch`` forces the architecture of the names; ``native`` is this machine's (default: asked
    of libseccomp). Raises :class:`ManifestError` naming ``source`` and the document for bad
    YAML or JSON, a resource of another kind or version, a profile that fails its schema, one
    that allows every call, or one that allows none; nothing at all in the file is an error too.
    """
    docs = _documents(text, source)
    here = native or syscalls.native_arch()
    found: list[ImportedProfile] = []
    for index, doc in enumerate(docs):
        if doc is None:
            continue  # an empty document (a stray `---`)
        if isinstance(doc, dict) and doc.get("kind") == "List" and "items" in doc:
            items = doc["items"]
            if not isinstance(items, list):
                raise ManifestError(f"{source}: document {index}: items is not a list")
            for i, item in enumerate(items):
                found.append(_resource(item, source, index, i, arch, here))
        elif isinstance(doc, dict) and ("kind" in doc or "apiVersion" in doc):
            found.append(_resource(doc, source, index, None, arch, here))
        elif isinstance(doc, dict):
            profile = Profile.from_dict(doc, source=f"{source}: document {index}")
            found.append(_allowed(profile, source, index, None, OCI, arch, here))
        else:
            raise ManifestError(
                f"{source}: document {index}: not a SeccompProfile resource or a seccomp "
                f"profile (a {type(doc).__name__})",
                hint=_WHAT,
            )
    if not found:
        raise ManifestError(f"{source}: no profile in the file", hint=_WHAT)
    return found


_SERVED = ", ".join(api_version(v) for v in VERSIONS[SECCOMP_PROFILE])
_WHAT = (
    f"import --spo reads {SECCOMP_PROFILE} resources ({_SERVED}) in YAML and Docker/OCI "
    "seccomp profiles in JSON"
)


def _documents(text: str, source: str) -> list[object]:
    if text.lstrip().startswith("{"):
        # JSON: parsed as JSON (YAML would accept most of it, with less precise errors).
        try:
            return [json.loads(text)]
        except json.JSONDecodeError as e:
            raise ManifestError(
                f"{source}:{e.lineno}:{e.colno}: document 0: not valid JSON: {e.msg}",
                hint="fix the JSON at that line and column",
            ) from e
        except (ValueError, RecursionError) as e:
            raise ManifestError(f"{source}: document 0: not a seccomp profile: {e}") from e
    return load_all(text, source=source)


def _resource(
    doc: object, source: str, index: int, item: int | None, arch: str | None, native: str
) -> ImportedProfile:
    where = f"{source}: document {index}" + (f" item {item}" if item is not None else "")
    kind = doc.get("kind") if isinstance(doc, dict) else None
    if kind != SECCOMP_PROFILE:
        api = doc.get("apiVersion") if isinstance(doc, dict) else None
        raise ManifestError(
            f"{where}: a {kind or 'resource without a kind'} ({api or 'no apiVersion'}), not a "
            f"{SECCOMP_PROFILE}",
            hint=_WHAT,
        )
    assert isinstance(doc, dict)
    # status is the operator's report (`kubectl get -o yaml` prints it); the API server does not
    # check it against the schema on create, and nothing in it is imported.
    problems = check_resource({k: v for k, v in doc.items() if k != "status"})
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ManifestError(
            f"{where}: {problems[0]}{more}",
            hint=f"the {SECCOMP_PROFILE} does not match its CRD schema ({GROUP})",
        )
    version = str(doc["apiVersion"]).partition("/")[2]
    spec: Mapping[str, object] = doc["spec"]
    metadata: Mapping[str, object] = doc["metadata"]
    data = {k: spec[k] for k in _PROFILE_KEYS if k in spec}
    arches = data.get("architectures")
    if isinstance(arches, list):  # SCMP_ARCH_NATIVE is this machine's: the default below
        data["architectures"] = [a for a in arches if a != _NATIVE]
    profile = Profile.from_dict(data, source=f"{where}: spec")
    notes: list[str] = []
    base = spec.get("baseProfileName")
    if base:
        notes.append(
            f"spec.baseProfileName {base} is not followed: the names only it allows are not "
            "imported (import that profile too, with the same --workload)"
        )
    labels = metadata.get("labels")
    if isinstance(labels, dict) and str(labels.get(PARTIAL_LABEL, "")).lower() == "true":
        notes.append(
            "a partial profile (one replica of a recording); SPO merges the partials of a "
            "container: import them all with the same --workload to do the same"
        )
    imported = _allowed(profile, source, index, item, SPO, arch, native)
    return dataclasses.replace(
        imported,
        version=version,
        name=str(metadata["name"]),
        notes=(*notes, *imported.notes),
    )


def _arch(profile: Profile, arch: str | None, native: str) -> str:
    if arch is not None:
        return arch
    listed = [syscalls.ARCH_NAMES[a.value] for a in profile.architectures]
    if not listed or native in listed:
        return native
    return listed[0]


def _allowed(
    profile: Profile,
    source: str,
    index: int,
    item: int | None,
    form: str,
    arch: str | None,
    native: str,
) -> ImportedProfile:
    where = f"{source}: document {index}" + (f" item {item}" if item is not None else "")
    if profile.default_action is Action.ALLOW:
        raise ManifestError(
            f"{where}: defaultAction {Action.ALLOW.value} allows every system call; there is "
            "nothing to learn from it",
            hint="import a profile that denies (SCMP_ACT_ERRNO, SCMP_ACT_KILL_*) or logs "
            "(SCMP_ACT_LOG) what it does not allow",
        )
    chosen = _arch(profile, arch, native)
    names: dict[str, None] = {}
    unconditional: set[str] = set()
    unknown: dict[str, None] = {}
    for rule in profile.syscalls:
        if rule.action is not Action.ALLOW:
            continue
        # Docker's includes/excludes decide whether the rule applies to an ordinary container.
        applies = allowed_names(dataclasses.replace(profile, syscalls=(rule,)), arch=chosen)
        for name in rule.names:
            if name not in applies:
                continue
            canonical = syscalls.canonical_name(chosen, name)
            if canonical is None:
                unknown[name] = None
                continue
            names[canonical] = None
            if not rule.args:
                unconditional.add(canonical)
    notes: list[str] = []
    conditional = tuple(n for n in names if n not in unconditional)
    if conditional:
        notes.append(
            f"allowed only for some argument values, imported as allowed: {', '.join(conditional)}"
        )
    if unknown:
        notes.append(
            f"skipped, not system calls libseccomp {syscalls.libseccomp_version()} knows on "
            f"{chosen} (runtimes skip them too): {', '.join(unknown)}"
        )
    if not names:
        raise ManifestError(
            f"{where}: allows no system call on {chosen}; nothing to import",
            hint="a profile with SCMP_ACT_ALLOW rules is needed"
            + (f"; or give --arch (its names are not {chosen}'s)" if unknown else ""),
        )
    return ImportedProfile(
        source=source,
        document=index,
        item=item,
        form=form,
        arch=chosen,
        allowed=tuple(names),
        conditional=conditional,
        unknown=tuple(unknown),
        notes=tuple(notes),
    )
