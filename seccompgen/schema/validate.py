"""Validate a seccomp profile: the OCI runtime-spec schema, then what a schema cannot say.

1. JSON Schema (Draft 4) against ``config-linux.json#/linux/properties/seccomp`` from the
   OCI runtime-spec, bundled with its two companion files; their relative ``$ref``s are
   resolved from a local :mod:`referencing` registry, so validation never reaches the network.
2. Semantic checks, using the rules in :mod:`seccompgen.profile.build` and the syscall tables
   of the installed libseccomp: unknown syscall names, duplicate names, rules that repeat the
   default action, profiles that confine nothing, a missing ``defaultAction``, two
   conditions on one argument in one rule, ``SCMP_CMP_MASKED_EQ`` conditions that match no
   value (a datum with bits outside the mask) or every value (mask 0), conditions that compare
   flags a caller sets at will beside the value they are about (socket's type with
   ``SOCK_NONBLOCK``/``SOCK_CLOEXEC``, :func:`seccompgen.profile.args.free_flags_compared`), and
   conditions that do nothing because an unconditional rule with the same action names the
   same syscall.
3. Warnings, which do not make a profile invalid: a profile that refuses the exit syscalls
   (:func:`seccompgen.profile.build.refused_exits`), so a process under it cannot end cleanly.

Docker's profile format (``archMap``, ``includes``/``excludes``) passes the schema, which does
not forbid extra keys, and is read with ``archMap`` as the list of architectures. Docker's own
default profile passes every check except "unknown syscall" for the syscalls newer than the
installed libseccomp (with 2.5.4: ``mseal``, ``listmount``, ``statmount``, ...), which runc
linked against that libseccomp would indeed ignore.

Every problem and warning is one line: ``SOURCE: JSON-PATH: what is wrong; what to do``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from seccompgen import syscalls
from seccompgen.errors import ProfileError
from seccompgen.profile.args import U32, arg_rules, free_flags_compared
from seccompgen.profile.build import (
    effective_action,
    is_unconfined,
    refused_exits,
    same_effect,
    shared_arg_indexes,
)
from seccompgen.profile.model import Operator, Profile, SyscallRule, read_json

_SCHEMA_DIR = "oci-runtime-spec-schema"
_SCHEMA_FILES = ("config-linux.json", "defs-linux.json", "defs.json")
# A hierarchical base URI, so "defs-linux.json#/..." resolves against it. The registry has no
# retrieval function: a reference outside the three bundled files fails instead of fetching.
_BASE_URI = "file:///seccompgen/data/oci-runtime-spec-schema/"
SECCOMP_POINTER = "config-linux.json#/linux/properties/seccomp"
"""Where the runtime-spec schema defines the ``linux.seccomp`` object."""

_HINTS: Mapping[str, str] = {
    "enum": "use one of the values the OCI runtime-spec lists",
    "type": "change the value to the expected JSON type",
    "required": "add the missing key",
    "minimum": "use a value in range",
    "maximum": "use a value in range",
    "minItems": "list at least one item",
}


@functools.cache
def _validator() -> Draft4Validator:
    registry: Registry[Any] = Registry()
    folder = resources.files("seccompgen") / "data" / _SCHEMA_DIR
    for name in _SCHEMA_FILES:
        contents = json.loads((folder / name).read_text(encoding="utf-8"))
        registry = registry.with_resource(
            _BASE_URI + name, Resource.from_contents(contents, default_specification=DRAFT4)
        )
    schema = {"$ref": _BASE_URI + SECCOMP_POINTER}
    return Draft4Validator(schema, registry=registry)


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _schema_problems(data: object, source: str) -> list[str]:
    problems: list[str] = []
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    for error in errors:
        path = _json_path(error.absolute_path)
        if error.validator == "required" and path == "$" and "defaultAction" in error.message:
            continue  # reported by the semantic check, which explains what it means
        hint = _HINTS.get(str(error.validator), "see the OCI runtime-spec, config-linux.md")
        problems.append(f"{source}: {path}: {error.message} (OCI runtime-spec schema); {hint}")
    return problems


def _missing_default(data: Mapping[str, object], source: str) -> str:
    if not data.get("syscalls"):
        # moby profiles/seccomp setupSeccomp: "No default action specified, no syscalls
        # listed, assume seccomp disabled".
        return (
            f"{source}: $: empty profile: no defaultAction and no syscalls, which runtimes read "
            "as seccomp disabled; set defaultAction (e.g. SCMP_ACT_ERRNO) and list the syscalls"
        )
    return (
        f"{source}: $: missing defaultAction, required by the runtime-spec (without it Docker "
        "disables seccomp); add defaultAction, e.g. SCMP_ACT_ERRNO with defaultErrnoRet 1"
    )


def _arches(profile: Profile) -> list[str]:
    if not profile.architectures:
        # With no architectures, libseccomp filters only the native one (seccomp_init(3)).
        return [syscalls.native_arch()]
    return [syscalls.ARCH_NAMES[a.value] for a in profile.architectures]


def _unknown_names(profile: Profile, source: str) -> list[str]:
    arches = _arches(profile)
    usable = [a for a in arches if syscalls.arch_supported(a)]
    version = syscalls.libseccomp_version()
    if not usable:
        return [
            f"{source}: $.architectures: none of {', '.join(arches)} is supported by "
            f"libseccomp {version}; syscall names cannot be checked; install a newer libseccomp2"
        ]
    problems: list[str] = []
    for i, rule in enumerate(profile.syscalls):
        for j, name in enumerate(rule.names):
            if all(syscalls.resolve_name(a, name) is None for a in usable):
                problems.append(
                    f"{source}: $.syscalls[{i}].names[{j}]: unknown syscall {name!r} on "
                    f"{', '.join(usable)} (libseccomp {version}); runtimes ignore it: "
                    "fix the spelling or remove it"
                )
    return problems


def _rule_key(rule: SyscallRule) -> object:
    """Rules with equal keys do the same thing to the same callers."""
    return (effective_action(rule.action, rule.errno_ret), rule.includes, rule.excludes)


def _duplicates(profile: Profile, source: str) -> list[str]:
    problems: list[str] = []
    seen: dict[tuple[object, str], int] = {}
    for i, rule in enumerate(profile.syscalls):
        in_rule: set[str] = set()
        for j, name in enumerate(rule.names):
            where = f"{source}: $.syscalls[{i}].names[{j}]"
            if name in in_rule:
                problems.append(f"{where}: {name!r} is listed twice in this rule; remove one")
                continue
            in_rule.add(name)
            if rule.args:
                continue  # conditional rules for one name are alternatives, not duplicates
            key = (_rule_key(rule), name)
            if key in seen:
                problems.append(
                    f"{where}: {name!r} is already in $.syscalls[{seen[key]}] with the same "
                    "action; remove one"
                )
            else:
                seen[key] = i
    return problems


def _redundant_rules(profile: Profile, source: str) -> list[str]:
    problems: list[str] = []
    for i, rule in enumerate(profile.syscalls):
        if same_effect(
            rule.action, rule.errno_ret, profile.default_action, profile.default_errno_ret
        ):
            problems.append(
                f"{source}: $.syscalls[{i}].action: {rule.action.value} is the default action; "
                "runc drops such a rule silently and libseccomp rejects it: remove the rule or "
                "give it a different action"
            )
    return problems


def _shared_args(profile: Profile, source: str) -> list[str]:
    problems: list[str] = []
    for i, rule in enumerate(profile.syscalls):
        shared = shared_arg_indexes(rule.args)
        if shared:
            indexes = ", ".join(map(str, shared))
            problems.append(
                f"{source}: $.syscalls[{i}].args: argument {indexes} is compared more than "
                "once; runc then ORs all of this rule's conditions instead of ANDing them: "
                "write one rule per allowed value"
            )
    return problems


def _masked(profile: Profile, source: str) -> list[str]:
    # seccomp_rule_add(3): SCMP_CMP_MASKED_EQ holds when (arg & value) == valueTwo; the
    # runtime-spec SyscallArg carries the mask in value and the datum in valueTwo.
    problems: list[str] = []
    for i, rule in enumerate(profile.syscalls):
        for j, c in enumerate(rule.args):
            if c.op is not Operator.MASKED_EQ:
                continue
            where = f"{source}: $.syscalls[{i}].args[{j}]"
            if c.value_two & ~c.value:
                problems.append(
                    f"{where}: SCMP_CMP_MASKED_EQ with valueTwo {c.value_two:#x} outside the mask "
                    f"value {c.value:#x} matches no call; value is the mask, valueTwo the "
                    "masked value to compare with"
                )
            elif c.value == 0:
                problems.append(
                    f"{where}: SCMP_CMP_MASKED_EQ with mask 0 matches every call; give the mask "
                    "in value (and the masked value in valueTwo), or drop the condition"
                )
    return problems


def _free_flags(profile: Profile, source: str) -> list[str]:
    problems: list[str] = []
    arches = _arches(profile)
    for i, rule in enumerate(profile.syscalls):
        for name in rule.names:
            for j, c in enumerate(rule.args):
                flags = free_flags_compared(name, c, arches)
                if not flags:
                    continue
                entry = arg_rules()[name]
                mask = (c.value if c.op is Operator.MASKED_EQ else U32) & ~entry.free_mask
                problems.append(
                    f"{source}: $.syscalls[{i}].args[{j}]: {name}'s {entry.pair_what} "
                    f"(argument {c.index}) is compared with {entry.free_words(flags)}, flags "
                    f"callers set at will (Go always does), so setting one changes the answer; "
                    f"leave them out of the comparison: SCMP_CMP_MASKED_EQ with value "
                    f"{mask:#x} and the {entry.pair_what} in valueTwo"
                )
    return problems


def _void_conditions(profile: Profile, source: str) -> list[str]:
    unconditional: dict[tuple[object, str], int] = {}
    for i, rule in enumerate(profile.syscalls):
        if not rule.args:
            for name in rule.names:
                unconditional.setdefault((_rule_key(rule), name), i)
    problems: list[str] = []
    for i, rule in enumerate(profile.syscalls):
        if not rule.args:
            continue
        for j, name in enumerate(rule.names):
            k = unconditional.get((_rule_key(rule), name))
            if k is not None:
                problems.append(
                    f"{source}: $.syscalls[{i}].names[{j}]: the conditions on {name!r} do "
                    f"nothing: $.syscalls[{k}] allows every call of it with the same action; "
                    f"remove {name!r} from $.syscalls[{k}]"
                )
    return problems


@dataclass(frozen=True, slots=True)
class Validation:
    """The problems (the profile is invalid) and warnings (it is valid, but see) for one profile."""

    problems: tuple[str, ...]
    warnings: tuple[str, ...] = ()


def _refused_exits(profile: Profile, source: str) -> list[str]:
    warnings: list[str] = []
    seen: set[str] = set()
    for arch in _arches(profile):
        if not syscalls.arch_supported(arch):
            continue
        for name, action, errno_ret in refused_exits(profile, arch):
            if name in seen:
                continue
            seen.add(name)
            answer = action.value + (f" (errno {errno_ret})" if errno_ret is not None else "")
            warnings.append(
                f"{source}: $.syscalls: {name} gets {answer} on {arch}: a process under this "
                "profile cannot end cleanly and hangs or crashes instead (a container waits for "
                f"its stop timeout); allow {name}"
            )
    return warnings


def check_profile_data(data: object, *, source: str) -> Validation:
    """Every problem with the parsed profile ``data`` and every warning, one line each."""
    problems = _schema_problems(data, source)
    if not isinstance(data, dict):
        return Validation(tuple(problems))
    if "defaultAction" not in data:
        problems.append(_missing_default(data, source))
        return Validation(tuple(problems))
    try:
        profile = Profile.from_dict(data, source=source)
    except ProfileError as e:
        if not problems:
            problems.append(f"{e.message}; {e.hint}" if e.hint else e.message)
        return Validation(tuple(problems))
    if is_unconfined(profile):
        problems.append(
            f"{source}: $.defaultAction: SCMP_ACT_ALLOW with no rule that does anything else "
            "leaves the container unconfined; use SCMP_ACT_ERRNO and list the allowed syscalls"
        )
    problems += _unknown_names(profile, source)
    problems += _duplicates(profile, source)
    problems += _redundant_rules(profile, source)
    problems += _shared_args(profile, source)
    problems += _masked(profile, source)
    problems += _free_flags(profile, source)
    problems += _void_conditions(profile, source)
    return Validation(tuple(problems), tuple(_refused_exits(profile, source)))


def validate_profile_data(data: object, *, source: str) -> list[str]:
    """Every problem with the parsed profile ``data``, one line each; empty when it is valid.

    Warnings are not included (:func:`check_profile_data` has both).
    """
    return list(check_profile_data(data, source=source).problems)


def check_profile_file(path: Path) -> Validation:
    """:func:`check_profile_data` for the profile file at ``path``.

    An unreadable file or invalid JSON raises :class:`ProfileError` naming the line and column.
    """
    return check_profile_data(read_json(path), source=str(path))


def validate_profile_file(path: Path) -> list[str]:
    """Validate the profile file at ``path``.

    An unreadable file or invalid JSON raises :class:`ProfileError` naming the line and column.
    """
    return validate_profile_data(read_json(path), source=str(path))
