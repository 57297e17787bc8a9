"""The graph's JSON document (:meth:`~seccompgen.graph.SyscallGraph.to_json`): writing it, and
reading it back strictly (every key, type and bound checked; a path names what is wrong)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn

from seccompgen.events import Phase
from seccompgen.graph.values import (
    ARG_VALUES_CAP,
    MANY,
    ArgValues,
    Contribution,
    SyscallUsage,
    first_phase,
)

FORMAT_NAME = "seccompgen.graph"
"""The ``format`` field of :meth:`SyscallGraph.to_json` documents."""

FORMAT_VERSION = 1
"""The ``version`` field of :meth:`SyscallGraph.to_json` documents this module writes and reads."""


def contribution_json(c: Contribution) -> dict[str, Any]:
    return {
        "syscalls": {name: _usage_json(u) for name, u in c.usage.items()},
        "transitions": [[a, b, n] for (a, b), n in sorted(c.transitions.items())],
    }


def _usage_json(u: SyscallUsage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "count": u.count,
        "errors": u.errors,
        "first_phase": None if u.first_phase is None else u.first_phase.value,
        "phases": [p.value for p in sorted(u.phases, key=lambda p: p.order)],
        "arches": sorted(u.arches),
        "args": ["many" if a.many else sorted(a.values) for a in u.args],
    }
    # Only when true, so the graphs of traced runs stay byte-identical to what they were.
    if u.imported:
        out["imported"] = True
    return out


class BadDocument(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _bad(path: str, problem: str) -> NoReturn:
    raise BadDocument(path, problem)


def _obj(v: object, path: str, keys: Iterable[str]) -> dict[str, Any]:
    if not isinstance(v, dict):
        _bad(path, f"expected an object, found {_kind(v)}")
    wanted = set(keys)
    missing = sorted(wanted - v.keys())
    if missing:
        _bad(path, f"missing key(s) {', '.join(missing)}")
    extra = sorted(v.keys() - wanted)
    if extra:
        _bad(path, f"unexpected key(s) {', '.join(extra)}")
    return v


def _map(v: object, path: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        _bad(path, f"expected an object, found {_kind(v)}")
    for k in v:
        if not k:
            _bad(path, "empty name as key")
    return v


def _list(v: object, path: str) -> list[Any]:
    if not isinstance(v, list):
        _bad(path, f"expected a list, found {_kind(v)}")
    return v


def _int(v: object, path: str, minimum: int | None = None) -> int:
    # bool is an int subclass in Python but not a count.
    if not isinstance(v, int) or isinstance(v, bool):
        _bad(path, f"expected an integer, found {_kind(v)}")
    if minimum is not None and v < minimum:
        _bad(path, f"expected an integer >= {minimum}, found {v}")
    return v


def _str(v: object, path: str) -> str:
    if not isinstance(v, str) or not v:
        _bad(path, f"expected a non-empty string, found {_kind(v)}")
    return v


def _phase(v: object, path: str) -> Phase:
    s = _str(v, path)
    try:
        return Phase(s)
    except ValueError:
        known = ", ".join(p.value for p in Phase)
        _bad(path, f"unknown phase {s!r} (known: {known})")


def _kind(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    return {dict: "an object", list: "a list", str: "a string", int: "an integer"}.get(
        type(v), f"a {type(v).__name__}"
    )


def parse_doc(doc: object) -> tuple[dict[str, dict[str, Contribution]], dict[str, Contribution]]:
    if not isinstance(doc, dict):
        _bad("$", f"expected an object, found {_kind(doc)}")
    fmt = doc.get("format")
    if fmt != FORMAT_NAME:
        _bad("$.format", f"expected {FORMAT_NAME!r}, found {fmt!r}; not a seccompgen graph")
    version = doc.get("version")
    if version != FORMAT_VERSION:
        _bad(
            "$.version", f"unsupported version {version!r}; this seccompgen reads {FORMAT_VERSION}"
        )
    _obj(doc, "$", ["format", "version", "sources", "unsourced"])
    sourced: dict[str, dict[str, Contribution]] = {}
    for i, entry in enumerate(_list(doc["sources"], "$.sources")):
        p = f"$.sources[{i}]"
        _obj(entry, p, ["id", "workloads"])
        sid = _str(entry["id"], f"{p}.id")
        if sid in sourced:
            _bad(f"{p}.id", f"duplicate source id {sid!r}")
        workloads = _map(entry["workloads"], f"{p}.workloads")
        sourced[sid] = {
            w: _parse_contribution(c, f"{p}.workloads.{w}") for w, c in workloads.items()
        }
    unsourced = {
        w: _parse_contribution(c, f"$.unsourced.{w}")
        for w, c in _map(doc["unsourced"], "$.unsourced").items()
    }
    return sourced, unsourced


def _parse_contribution(v: object, path: str) -> Contribution:
    _obj(v, path, ["syscalls", "transitions"])
    assert isinstance(v, dict)
    usage = {
        name: _parse_usage(name, u, f"{path}.syscalls.{name}")
        for name, u in _map(v["syscalls"], f"{path}.syscalls").items()
    }
    transitions: dict[tuple[str, str], int] = {}
    for i, t in enumerate(_list(v["transitions"], f"{path}.transitions")):
        p = f"{path}.transitions[{i}]"
        row = _list(t, p)
        if len(row) != 3:
            _bad(p, f"expected [from, to, count], found {len(row)} item(s)")
        pair = (_str(row[0], f"{p}[0]"), _str(row[1], f"{p}[1]"))
        if pair in transitions:
            _bad(p, f"duplicate transition {pair[0]} -> {pair[1]}")
        transitions[pair] = _int(row[2], f"{p}[2]", 1)
    return Contribution(usage, transitions)


def _parse_usage(name: str, v: object, path: str) -> SyscallUsage:
    keys = ["count", "errors", "first_phase", "phases", "arches", "args"]
    imported = isinstance(v, dict) and "imported" in v
    _obj(v, path, [*keys, "imported"] if imported else keys)
    assert isinstance(v, dict)
    if imported and v["imported"] is not True:
        _bad(f"{path}.imported", f"expected true (or no key), found {_kind(v['imported'])}")
    # An imported profile allows a call without saying how often or when it was made.
    count = _int(v["count"], f"{path}.count", 0 if imported else 1)
    errors = _int(v["errors"], f"{path}.errors", 0)
    if errors > count:
        _bad(f"{path}.errors", f"{errors} errors but only {count} calls")
    phases = frozenset(
        _phase(p, f"{path}.phases[{i}]") for i, p in enumerate(_list(v["phases"], f"{path}.phases"))
    )
    if not phases and not imported:
        _bad(f"{path}.phases", "expected at least one phase")
    if v["first_phase"] is None and not phases:
        first = None
    else:
        first = _phase(v["first_phase"], f"{path}.first_phase")
        if first != first_phase(phases):
            _bad(f"{path}.first_phase", f"{first.value!r} is not the earliest of phases")
    arches = frozenset(
        _str(a, f"{path}.arches[{i}]") for i, a in enumerate(_list(v["arches"], f"{path}.arches"))
    )
    if not arches:
        _bad(f"{path}.arches", "expected at least one arch")
    args: list[ArgValues] = []
    for i, a in enumerate(_list(v["args"], f"{path}.args")):
        p = f"{path}.args[{i}]"
        if a == "many":
            args.append(MANY)
            continue
        if not isinstance(a, list):
            _bad(p, f'expected a list of integers or "many", found {_kind(a)}')
        values = frozenset(_int(x, f"{p}[{j}]") for j, x in enumerate(a))
        if len(values) > ARG_VALUES_CAP:
            _bad(p, f'{len(values)} values exceed the cap of {ARG_VALUES_CAP}; expected "many"')
        args.append(ArgValues(values))
    return SyscallUsage(
        name=name,
        count=count,
        errors=errors,
        first_phase=first,
        phases=phases,
        arches=arches,
        args=tuple(args),
        imported=imported,
    )
