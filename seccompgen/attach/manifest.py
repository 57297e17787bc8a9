"""Attach a ``Localhost`` seccomp profile to the workloads of a Kubernetes manifest.

:func:`attach_profile` adds ``securityContext.seccompProfile`` (``type: Localhost`` and the
relative ``localhostProfile``) to the pod template of every Pod, Deployment, StatefulSet,
DaemonSet, ReplicaSet, ReplicationController, PodTemplate, Job and CronJob in a ``---`` stream:
pod-wide by default, or to the named containers. It edits the text itself: the new lines are
inserted at the indentation of the mapping they go into (a ``securityContext:`` line is created
when there is none), and every other byte of the file stays as it was, comments and key order
included. A ``securityContext: {}`` or ``securityContext: null`` line loses only its ``{}`` or
``null``. Other flow-style mappings (``{...}``) on the way are refused rather than rewritten.

Objects without a pod template (Service, ConfigMap, ...) and kinds seccompgen does not know
(custom resources) pass through unchanged and are reported as skipped. An existing
``seccompProfile`` is left alone and reported unless ``force``.

With ``podman``, each pod template also gets the annotation ``podman kube play`` reads instead
of the field (see :mod:`seccompgen.attach.podman`), inserted into its ``metadata.annotations``
the same way.

The result is checked before it is returned: it must parse to the input with exactly the new
``seccompProfile`` values added, and every workload must validate against the bundled
Kubernetes schemas (``data/k8s/``, see :mod:`seccompgen.attach.k8sschema`).
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from seccompgen.attach import podman as podman_kube
from seccompgen.attach import yamltext
from seccompgen.attach.k8skinds import (
    CLOSED_GROUPS,
    NO_POD_TEMPLATE,
    POD_SPEC_PATHS,
    api_group,
)
from seccompgen.attach.k8sschema import SCHEMA_VERSION, workload_problems
from seccompgen.attach.kubernetes import localhost_profile_problem, yaml_scalar
from seccompgen.attach.yamltext import Edit
from seccompgen.errors import ManifestError
from seccompgen.yamlio import load_all

_CONTAINER_LISTS: Final = ("containers", "initContainers")


class Outcome(str, enum.Enum):
    """What happened to one object, or to one pod spec or container of it."""

    SET = "set"
    REPLACED = "replaced"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Change:
    """One line of the report: an object (``kind/name``, document index), what in it (``pod``,
    ``container app`` or empty for the whole object), and what happened."""

    document: int
    kind: str
    name: str
    target: str
    outcome: Outcome
    detail: str = ""

    def describe(self) -> str:
        """``Deployment/web (document 1): container app → Localhost seccompgen/web.json``."""
        head = f"{self.kind}/{self.name} (document {self.document})"
        what = f" {self.target}" if self.target else ""
        if self.outcome in (Outcome.SET, Outcome.REPLACED):
            return f"{head}:{what} → {self.detail}"
        return f"{head}:{what} {self.outcome.value}: {self.detail}"


@dataclass(frozen=True, slots=True)
class AttachResult:
    """The patched text and what was done to each object."""

    text: str
    changes: tuple[Change, ...]

    @property
    def changed(self) -> bool:
        """Whether any line was added or replaced."""
        return any(c.outcome in (Outcome.SET, Outcome.REPLACED) for c in self.changes)


@dataclass(frozen=True, slots=True)
class _Target:
    """A mapping that gets a seccompProfile: the pod spec or one container."""

    label: str  # "pod" or "container NAME"
    data: dict[str, Any]
    node: MappingNode
    path: str  # for messages: spec.template.spec.containers[0]


@dataclass(frozen=True, slots=True)
class _Doc:
    """One document being patched: what messages and report lines call it."""

    index: int
    kind: str
    name: str
    source: str

    def error(self, message: str, hint: str | None = None) -> ManifestError:
        return ManifestError(
            f"{self.source}: document {self.index}: {self.kind}/{self.name}: {message}", hint=hint
        )

    def change(self, target: str, outcome: Outcome, detail: str) -> Change:
        return Change(self.index, self.kind, self.name, target, outcome, detail)


def _name(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata")
    if isinstance(meta, dict):
        for key in ("name", "generateName"):
            if isinstance(meta.get(key), str) and meta[key]:
                return str(meta[key])
    return "(unnamed)"


def _describe(profile: object) -> str:
    if not isinstance(profile, dict):
        return repr(profile)
    kind = str(profile.get("type", "(no type)"))
    if kind == "Localhost":
        return f"Localhost {profile.get('localhostProfile')}"
    return kind


def _seccomp_lines(indent: int, eol: str, path: str, *, wrap: bool) -> list[str]:
    pad = " " * indent
    body = [
        f"seccompProfile:{eol}",
        f"  type: Localhost{eol}",
        f"  localhostProfile: {yaml_scalar(path)}{eol}",
    ]
    if wrap:
        return [f"{pad}securityContext:{eol}", *(f"{pad}  {line}" for line in body)]
    return [pad + line for line in body]


class _Patcher:
    """Plans the edits of one manifest."""

    def __init__(self, text: str, source: str, path: str, force: bool) -> None:
        self.source = source
        self.path = path
        self.force = force
        self.lines = yamltext.split_lines(text)
        self.eol = yamltext.line_ending(self.lines[0]) if self.lines else "\n"
        self.edits: list[Edit] = []
        self.changes: list[Change] = []
        self.patched: list[tuple[int, tuple[str | int, ...]]] = []  # (document, data path)
        self.annotated: list[tuple[int, tuple[str, ...], dict[str, str]]] = []

    def _insert_after(self, line: int, new: list[str]) -> Edit:
        text = self.lines[line]
        eol = yamltext.line_ending(text, "")
        if not eol:  # the last line, with no line break: give it one
            eol = self.eol
            return Edit(line, line + 1, (text + eol, *new))
        return Edit(line + 1, line + 1, tuple(new))

    def patch(self, doc: _Doc, target: _Target, data_path: tuple[str | int, ...]) -> bool:
        """Plan the edit that gives ``target`` the profile, or report why not. True when
        ``target`` has the profile after the edit."""
        wanted = {"type": "Localhost", "localhostProfile": self.path}
        ctx = target.data.get("securityContext")
        found = yamltext.get(target.node, "securityContext")
        if ctx is not None and found is None:
            raise doc.error(
                f"{target.path}.securityContext comes from a YAML merge key or alias; "
                "seccompgen cannot edit it in place",
                hint="write securityContext out in that mapping",
            )
        if isinstance(ctx, dict) and "seccompProfile" in ctx:
            existing = ctx["seccompProfile"]
            if existing == wanted:
                self.changes.append(doc.change(target.label, Outcome.UNCHANGED, "already set"))
                return True
            if existing is not None and not self.force:
                self.changes.append(
                    doc.change(
                        target.label,
                        Outcome.SKIPPED,
                        f"already has seccompProfile {_describe(existing)} (--force replaces it)",
                    )
                )
                return False
            assert found is not None
            self.edits.append(self._replace(doc, target, found[1]))
            if existing is None:  # `seccompProfile:` with no value: as if it were not there
                outcome, detail = Outcome.SET, ""
            else:
                outcome, detail = Outcome.REPLACED, f" (was {_describe(existing)})"
        else:
            self.edits.append(self._add(doc, target, found))
            outcome, detail = Outcome.SET, ""
        self.patched.append((doc.index, data_path))
        self.changes.append(doc.change(target.label, outcome, f"Localhost {self.path}{detail}"))
        return True

    def annotate(
        self,
        doc: _Doc,
        template: tuple[dict[str, Any], MappingNode],
        meta_path: tuple[str, ...],
        wanted: dict[str, str],
    ) -> None:
        """Plan the edit that adds the ``wanted`` annotations to the metadata of the pod
        template (or Pod) ``template``, creating ``metadata`` and ``annotations`` as needed."""
        where = ".".join((*meta_path, "annotations"))
        outer, outer_node = template
        meta = yamltext.get(outer_node, "metadata")
        if meta is None and "metadata" not in outer:
            # Before the template's first key: its end may be where the pod spec's new
            # securityContext lines go.
            first = int(outer_node.value[0][0].start_mark.line)
            eol = yamltext.line_ending(self.lines[first], self.eol)
            pad = " " * yamltext.key_column(outer_node)
            lines = [f"{pad}metadata:{eol}", f"{pad}  annotations:{eol}"]
            lines += [f"{pad}    {k}: {yaml_scalar(v)}{eol}" for k, v in wanted.items()]
            self.edits.append(Edit(first, first, tuple(lines)))
            self._annotated(doc, meta_path, wanted)
            return
        if meta is None or not yamltext.is_block_mapping(meta[1]):
            raise doc.error(
                f"{'.'.join(meta_path)} is not a block mapping seccompgen can add to",
                hint="write metadata one key per line, then run again",
            )
        node = meta[1]
        assert isinstance(node, MappingNode)
        data = outer["metadata"]
        have = data.get("annotations")
        found = yamltext.get(node, "annotations")
        if have is not None and (found is None or not yamltext.is_block_mapping(found[1])):
            raise doc.error(
                f"{where} is not a block mapping seccompgen can add to",
                hint="write the annotations one key per line, then run again",
            )
        new: dict[str, str] = {}
        for key, value in wanted.items():
            old = have.get(key) if isinstance(have, dict) else None
            if old == value:
                self.changes.append(doc.change("annotation", Outcome.UNCHANGED, key))
            elif old is not None:
                raise doc.error(
                    f"{where}: {key} is already {old!r}, not {value!r}",
                    hint="remove that annotation, then run again",
                )
            else:
                new[key] = value
        if not new:
            return
        if found is None:
            end = yamltext.last_line(self.lines, node, int(node.start_mark.line))
            col, wrap = yamltext.key_column(node), True
        else:
            value_node = found[1]
            assert isinstance(value_node, MappingNode)
            end = yamltext.last_line(self.lines, value_node, int(found[0].start_mark.line))
            col, wrap = yamltext.key_column(value_node), False
        eol = yamltext.line_ending(self.lines[end.line], self.eol)
        pad = " " * col
        body = [f"{key}: {yaml_scalar(value)}{eol}" for key, value in new.items()]
        lines = (
            [f"{pad}annotations:{eol}", *(f"{pad}  {b}" for b in body)]
            if wrap
            else [pad + b for b in body]
        )
        self.edits.append(self._insert_after(end.line, lines))
        self._annotated(doc, meta_path, new)

    def _annotated(self, doc: _Doc, meta_path: tuple[str, ...], new: dict[str, str]) -> None:
        self.annotated.append((doc.index, meta_path, new))
        for key, value in new.items():
            detail = f"{key}: {value} (read by podman kube play)"
            self.changes.append(doc.change("annotation", Outcome.SET, detail))

    def _add(self, doc: _Doc, target: _Target, found: tuple[ScalarNode, Node] | None) -> Edit:
        """Add seccompProfile to an existing securityContext, or add both."""
        where = f"{target.path}.securityContext"
        if found is None:
            node = target.node
            end = yamltext.last_line(self.lines, node, int(node.start_mark.line))
            col = yamltext.key_column(node)
            eol = yamltext.line_ending(self.lines[end.line], self.eol)
            return self._insert_after(end.line, _seccomp_lines(col, eol, self.path, wrap=True))
        key, value = found
        if yamltext.is_block_mapping(value):
            assert isinstance(value, MappingNode)
            end = yamltext.last_line(self.lines, value, int(key.start_mark.line))
            col = yamltext.key_column(value)
            eol = yamltext.line_ending(self.lines[end.line], self.eol)
            return self._insert_after(end.line, _seccomp_lines(col, eol, self.path, wrap=False))
        empty_flow = isinstance(value, MappingNode) and not value.value
        null = isinstance(value, ScalarNode) and str(value.tag).endswith(":null")
        if not (empty_flow or null):
            if isinstance(value, MappingNode):
                raise doc.error(
                    f"{where} is a flow-style mapping ({{...}}); seccompgen edits block-style "
                    "YAML only",
                    hint="write it one key per line, then run again",
                )
            raise doc.error(f"{where} is not a mapping")
        # `securityContext: {}` / `securityContext: null` / `securityContext:` -> a block.
        line = int(key.start_mark.line)
        text = self.lines[line]
        start, stop = value.start_mark, value.end_mark
        if start.index != stop.index:
            if start.line != line or stop.line != line:
                raise doc.error(f"{where}: its value is not on the key's line; cannot edit it")
            text = text[: start.column].rstrip(" ") + text[stop.column :]
        eol = yamltext.line_ending(text, self.eol)
        new = _seccomp_lines(int(key.start_mark.column) + 2, eol, self.path, wrap=False)
        if not yamltext.line_ending(text, ""):
            text += eol
        return Edit(line, line + 1, (text, *new))

    def _replace(self, doc: _Doc, target: _Target, ctx: Node) -> Edit:
        """--force (or an empty ``seccompProfile:``): the lines of the existing seccompProfile
        become the new one."""
        where = f"{target.path}.securityContext.seccompProfile"
        found = yamltext.get(ctx, "seccompProfile")
        if not yamltext.is_block_mapping(ctx) or found is None:
            raise doc.error(
                f"{where} is inside a flow-style mapping ({{...}}); seccompgen edits block-style "
                "YAML only",
                hint="write securityContext one key per line, then run again",
            )
        key, value = found
        first = int(key.start_mark.line)
        end = yamltext.last_line(self.lines, value, first)
        rest = self.lines[end.line][end.column :] if end.column is not None else ""
        if self.lines[first][: key.start_mark.column].strip() or (
            rest.strip() and not rest.strip().startswith("#")
        ):
            raise doc.error(f"{where} shares a line with other keys; cannot replace it")
        eol = yamltext.line_ending(self.lines[end.line], self.eol)
        new = _seccomp_lines(int(key.start_mark.column), eol, self.path, wrap=False)
        return Edit(first, end.line + 1, tuple(new))


def _follow(
    doc: _Doc, data: dict[str, Any], node: Node | None, path: Sequence[str]
) -> tuple[dict[str, Any], MappingNode]:
    """The pod spec: its data and its node."""
    here: list[str] = []
    for key in path:
        here.append(key)
        value = data.get(key)
        if not isinstance(value, dict):
            raise doc.error(f"{'.'.join(here)} is missing or not a mapping")
        if not yamltext.is_block_mapping(node):
            raise doc.error(
                f"{'.'.join(here[:-1]) or 'the object'} is a flow-style mapping ({{...}}) or "
                "comes from a YAML alias; seccompgen edits block-style YAML only",
                hint="write it one key per line, then run again",
            )
        found = yamltext.get(node, key)
        if found is None:
            raise doc.error(f"{'.'.join(here)} comes from a YAML merge key; cannot edit it")
        data, node = value, found[1]
    if not yamltext.is_block_mapping(node):
        raise doc.error(
            f"{'.'.join(path)} is a flow-style mapping ({{...}}); seccompgen edits block-style "
            "YAML only",
            hint="write it one key per line, then run again",
        )
    assert isinstance(node, MappingNode)
    return data, node


def _containers(doc: _Doc, spec: dict[str, Any], spec_path: str) -> list[tuple[str, int, str]]:
    """(list key, index, name) of every container and init container."""
    found: list[tuple[str, int, str]] = []
    for key in _CONTAINER_LISTS:
        listed = spec.get(key)
        if listed is None:
            continue
        if not isinstance(listed, list):
            raise doc.error(f"{spec_path}.{key} is not a list")
        for i, c in enumerate(listed):
            if not isinstance(c, dict) or not isinstance(c.get("name"), str):
                raise doc.error(f"{spec_path}.{key}[{i}] is not a container with a name")
            found.append((key, i, c["name"]))
    if not spec.get("containers"):
        raise doc.error(f"{spec_path}.containers: no containers")
    return found


def attach_profile(
    text: str,
    *,
    source: str,
    profile_path: str,
    containers: Iterable[str] = (),
    force: bool = False,
    podman: bool = False,
) -> AttachResult:
    """The manifest ``text`` with ``profile_path`` attached as a Localhost seccomp profile.

    ``containers`` names the containers to attach it to; empty means pod-wide (the pod spec's
    ``securityContext``). ``podman`` also writes the annotations ``podman kube play`` reads.
    ``source`` names the file in messages. Raises
    :class:`~seccompgen.errors.ManifestError` naming the document for bad YAML, a malformed
    workload, an unknown container name, or a result that would not validate.
    """
    problem = localhost_profile_problem(profile_path)
    if problem:
        raise ManifestError(problem, hint="Kubernetes refuses it (validateLocalhostProfile)")
    names = tuple(dict.fromkeys(containers))
    docs = load_all(text, source=source)
    nodes = yamltext.compose_all(text, source=source)
    if len(nodes) != len(docs):
        raise ManifestError(f"{source}: documents could not be matched to their text")
    patcher = _Patcher(text, source, profile_path, force)
    seen: dict[str, list[str]] = {}  # "document 0 Deployment/web" -> its containers
    matched: set[str] = set()
    for index, (data, node) in enumerate(zip(docs, nodes, strict=True)):
        if data is None:
            continue
        if not isinstance(data, dict):
            raise ManifestError(
                f"{source}: document {index}: not a Kubernetes object (a mapping with "
                "apiVersion and kind)"
            )
        kind = data.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ManifestError(f"{source}: document {index}: no kind")
        doc = _Doc(index, kind, _name(data), source)
        group = api_group(data.get("apiVersion"))
        if kind == "List":
            raise doc.error(
                "a List object; seccompgen patches a --- stream of objects",
                hint="write each item as its own document",
            )
        path = POD_SPEC_PATHS.get((group, kind))
        if path is None and group in CLOSED_GROUPS and kind not in NO_POD_TEMPLATE:
            raise doc.error(
                f"unknown kind {kind} in apiVersion {data.get('apiVersion')}",
                hint="check kind and apiVersion; workload kinds are "
                + ", ".join(sorted({k for _, k in POD_SPEC_PATHS})),
            )
        if path is None:
            builtin = "." not in group or group.endswith(".k8s.io")
            if kind in NO_POD_TEMPLATE and builtin:
                detail = "no pod template"
            else:
                version = data.get("apiVersion")
                detail = f"kind {kind} ({version}) is not a workload kind seccompgen knows"
            patcher.changes.append(doc.change("", Outcome.SKIPPED, detail))
            continue
        spec, spec_node = _follow(doc, data, node, path)
        spec_path = ".".join(path)
        listed = _containers(doc, spec, spec_path)
        seen[f"document {index} {kind}/{doc.name}"] = [n for _, _, n in listed]
        annotations: dict[str, str] = {}
        if not names:
            if patcher.patch(doc, _Target("pod", spec, spec_node, spec_path), tuple(path)):
                key, value = podman_kube.annotation(None, profile_path)
                annotations[key] = value
            for key, i, name in listed:
                own = spec[key][i].get("securityContext")
                if isinstance(own, dict) and "seccompProfile" in own:
                    patcher.changes.append(
                        doc.change(
                            f"container {name}",
                            Outcome.NOTE,
                            f"its own seccompProfile {_describe(own['seccompProfile'])} "
                            "takes precedence over the pod's",
                        )
                    )
        chosen = [(k, i, n) for k, i, n in listed if n in names] if names else []
        if names and not chosen:
            have = ", ".join(n for _, _, n in listed)
            patcher.changes.append(
                doc.change("", Outcome.SKIPPED, f"no container named {', '.join(names)} ({have})")
            )
            continue
        for key, i, name in chosen:
            matched.add(name)
            list_node = yamltext.get(spec_node, key)
            item_nodes = yamltext.items(list_node[1] if list_node else None)
            item = item_nodes[i] if i < len(item_nodes) else None
            where = f"{spec_path}.{key}[{i}]"
            if not yamltext.is_block_mapping(item):
                raise doc.error(
                    f"{where} is a flow-style mapping ({{...}}) or comes from a YAML alias; "
                    "seccompgen edits block-style YAML only",
                    hint="write the container one key per line, then run again",
                )
            assert isinstance(item, MappingNode)
            target = _Target(f"container {name}", spec[key][i], item, where)
            if patcher.patch(doc, target, (*path, key, i)):
                ann_key, value = podman_kube.annotation(name, profile_path)
                annotations[ann_key] = value
        if podman and annotations:
            meta_path = (*path[:-1], "metadata")
            template = _follow(doc, data, node, path[:-1])
            patcher.annotate(doc, template, meta_path, annotations)
    missing = [n for n in names if n not in matched]
    if missing:
        have = "; ".join(f"{doc} has {', '.join(cs)}" for doc, cs in seen.items())
        raise ManifestError(
            f"{source}: no container named {', '.join(missing)}: "
            + (have or "the file has no workloads"),
            hint="--container takes a name from a pod spec's containers or initContainers",
        )
    result = yamltext.apply(patcher.lines, patcher.edits)
    _check(result, docs, patcher, profile_path)
    return AttachResult(result, tuple(patcher.changes))


def _check(result: str, docs: list[object], patcher: _Patcher, profile_path: str) -> None:
    """The patched text must read as the input plus the new values, and validate."""
    source = patcher.source
    expected = copy.deepcopy(docs)
    for index, meta_path, added in patcher.annotated:
        meta: Any = expected[index]
        for key in meta_path[:-1]:
            meta = meta[key]
        if not isinstance(meta.get(meta_path[-1]), dict):  # created by the edit
            meta[meta_path[-1]] = {}
        meta = meta[meta_path[-1]]
        if not isinstance(meta.get("annotations"), dict):
            meta["annotations"] = {}
        meta["annotations"].update(added)
    for index, path in patcher.patched:
        here: Any = expected[index]
        for step in path:
            here = here[step]
        if not isinstance(here.get("securityContext"), dict):
            here["securityContext"] = {}
        here["securityContext"]["seccompProfile"] = {
            "type": "Localhost",
            "localhostProfile": profile_path,
        }
    got = load_all(result, source=f"{source} (patched)")
    for index, (want, have) in enumerate(zip(expected, got, strict=False)):
        if want != have:
            raise ManifestError(
                f"{source}: document {index}: the edited text does not read back as intended; "
                "nothing written",
                hint="YAML anchors, aliases or unusual layout there may be the cause; please "
                "report it with the manifest",
            )
    if len(expected) != len(got):
        raise ManifestError(f"{source}: the edited text has a different number of documents")
    for index, doc in enumerate(got):
        if not isinstance(doc, dict):
            continue
        spec_path = POD_SPEC_PATHS.get((api_group(doc.get("apiVersion")), str(doc.get("kind"))))
        if spec_path is None:
            continue
        problems = workload_problems(doc, spec_path)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ManifestError(
                f"{source}: document {index}: {doc['kind']}/{_name(doc)} does not validate "
                f"against the Kubernetes {SCHEMA_VERSION} schema: {problems[0]}{more}",
                hint="fix the manifest (`kubectl apply --dry-run=server -f FILE` shows the API "
                "server's view)",
            )
