"""Syscall names observed on one architecture, translated to another (``emit --arch``).

A name the target's libseccomp table knows is kept as it is: the kernel has that call there, and a
Go program built for the target makes it through the same wrapper. A name the target lacks is
looked up in ``seccompgen/data/arch-translation.json``: arm64 uses the generic syscall table
(include/uapi/asm-generic/unistd.h), which has only the ``*at`` and flag-taking forms of many
x86_64 calls, so ``open`` becomes ``openat``, ``stat`` ``newfstatat``, ``epoll_wait``
``epoll_pwait``, ``dup2`` ``dup3``. Each mapping there names the source (Go's syscall package,
or glibc where Go has no wrapper) that shows the target's port of the same program making that
call. Names with no counterpart (``arch_prctl``) are listed there with the reason and come back
in :attr:`Translation.missing`, for emit to warn about.

Translation is the one place that knows these facts; the names are libseccomp's on both sides.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

from seccompgen import syscalls
from seccompgen.errors import ProfileError

_DATA = "arch-translation.json"


@dataclass(frozen=True, slots=True)
class ArchMapping:
    """``name`` has no syscall on ``target``; the target's port makes ``to`` instead."""

    name: str
    target: str
    to: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class NoCounterpart:
    """``name`` has no syscall on ``target`` and nothing takes its place."""

    name: str
    target: str
    reason: str


@dataclass(frozen=True, slots=True)
class TranslationTable:
    """The bundled mappings and no-counterpart names for one target architecture."""

    target: str
    mappings: Mapping[str, ArchMapping]
    none: Mapping[str, NoCounterpart]


@dataclass(frozen=True, slots=True)
class Translation:
    """Names observed elsewhere, as the target architecture knows them."""

    target: str
    names: tuple[str, ...]
    """Every target name the input translates to, sorted."""
    mapped: tuple[tuple[str, tuple[str, ...]], ...]
    """Each input name the target lacks and the names that take its place, sorted."""
    missing: tuple[tuple[str, str], ...]
    """Each input name with no counterpart on the target, and why, sorted."""


@functools.cache
def _load() -> Mapping[str, TranslationTable]:
    resource = resources.files("seccompgen") / "data" / _DATA
    try:
        data = json.loads(resource.read_text(encoding="utf-8"))
        tables: dict[str, TranslationTable] = {}
        for target, body in data["targets"].items():
            mappings = {
                e["from"]: ArchMapping(
                    name=e["from"], target=target, to=tuple(e["to"]), source=e["source"]
                )
                for e in body["map"]
            }
            none = {
                e["name"]: NoCounterpart(name=e["name"], target=target, reason=e["reason"])
                for e in body["none"]
            }
            tables[target] = TranslationTable(
                target=target,
                mappings=MappingProxyType(mappings),
                none=MappingProxyType(none),
            )
        return MappingProxyType(tables)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ProfileError(
            f"bundled {_DATA} is unreadable: {e}", hint="reinstall seccompgen"
        ) from e


def translation_table(target: str) -> TranslationTable:
    """The bundled table for ``target`` (empty for an architecture the data does not cover)."""
    found = _load().get(target)
    if found is None:
        return TranslationTable(target=target, mappings={}, none={})
    return found


def translated_arches() -> tuple[str, ...]:
    """The target architectures the bundled data covers."""
    return tuple(sorted(_load()))


def translate_name(name: str, target: str) -> tuple[tuple[str, ...], str]:
    """``name`` (a libseccomp name) as ``target`` knows it: the names, or ``()`` and why not."""
    if syscalls.resolve_name(target, name) is not None:
        return (name,), ""
    table = translation_table(target)
    mapping = table.mappings.get(name)
    if mapping is not None:
        return mapping.to, ""
    none = table.none.get(name)
    if none is not None:
        return (), none.reason
    return (), (
        f"libseccomp {syscalls.libseccomp_version()} knows no {name} on {target} and "
        f"{_DATA} has no counterpart for it"
    )


def translate(names: Iterable[str], target: str) -> Translation:
    """Translate libseccomp names observed on another architecture to ``target``."""
    out: set[str] = set()
    mapped: dict[str, tuple[str, ...]] = {}
    missing: dict[str, str] = {}
    for name in set(names):
        found, why = translate_name(name, target)
        if not found:
            missing[name] = why
            continue
        out.update(found)
        if found != (name,):
            mapped[name] = found
    return Translation(
        target=target,
        names=tuple(sorted(out)),
        mapped=tuple(sorted(mapped.items())),
        missing=tuple(sorted(missing.items())),
    )


def merge_translations(a: Translation, b: Translation) -> Translation:
    """Two translations to the same target as one (observed names and a runtime block)."""
    if a.target != b.target:
        raise ProfileError(f"internal: translations to {a.target} and {b.target} merged")
    return Translation(
        target=a.target,
        names=tuple(sorted({*a.names, *b.names})),
        mapped=tuple(sorted(dict([*a.mapped, *b.mapped]).items())),
        missing=tuple(sorted(dict([*a.missing, *b.missing]).items())),
    )
