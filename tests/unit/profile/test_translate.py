"""Translation of observed names to another architecture, checked against libseccomp's tables.

Every name the bundled data mentions (the Go safety net, the Go package data, the ENOSYS fallbacks,
the argument rules, the runtime blocks, the exit calls and the translation table itself) must
reach each covered target: as itself, through a mapping whose names libseccomp knows there, or as
a listed name with no counterpart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from seccompgen import syscalls
from seccompgen._cli import cli
from seccompgen.events import SyscallEvent
from seccompgen.profile.translate import (
    merge_translations,
    translate,
    translate_name,
    translated_arches,
    translation_table,
)
from seccompgen.store import TraceStore
from seccompgen.tracefile import TraceHeader, TraceWriter

DATA = Path(__file__).resolve().parents[3] / "seccompgen" / "data"
TARGETS = ("aarch64", "x86_64")


def _names(node: Any) -> Iterator[str]:
    """Every syscall name under the keys the bundled files use for them."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("names", "syscalls", "to") and isinstance(value, list):
                yield from (v for v in value if isinstance(v, str))
                yield from _names([v for v in value if not isinstance(v, str)])
            elif key in ("name", "from") and isinstance(value, str):
                yield value
            else:
                yield from _names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _names(item)


def _bundled() -> dict[str, set[str]]:
    files = (
        "go-runtime.json",
        "go-packages-syscalls.json",
        "enosys-fallbacks.json",
        "arg-rules.json",
        "process-exit.json",
        "arch-translation.json",
    )
    out: dict[str, set[str]] = {}
    for name in files:
        data = json.loads((DATA / name).read_text(encoding="utf-8"))
        found = set(_names(data))
        if name == "go-packages-syscalls.json":
            for names in [*data["wrappers"].values(), *data["wrappers_aarch64"].values()]:
                found.update(names)
        out[name] = found
    for block in sorted((DATA / "runtime").glob("*.json")):
        out[f"runtime/{block.name}"] = set(_names(json.loads(block.read_text(encoding="utf-8"))))
    return out


BUNDLED = _bundled()


def test_the_bundled_files_were_read() -> None:
    assert {"openat", "epoll_pwait", "tgkill"} <= BUNDLED["go-runtime.json"] | BUNDLED[
        "go-packages-syscalls.json"
    ]
    assert "exit_group" in BUNDLED["process-exit.json"]
    assert "clone" in BUNDLED["arg-rules.json"]
    assert "clone3" in BUNDLED["enosys-fallbacks.json"]
    assert {"open", "openat", "arch_prctl"} <= BUNDLED["arch-translation.json"]
    assert all(BUNDLED[f] for f in BUNDLED), [f for f in BUNDLED if not BUNDLED[f]]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("source", sorted(BUNDLED))
def test_every_bundled_name_reaches_the_target(source: str, target: str) -> None:
    table = translation_table(target)
    for name in sorted(BUNDLED[source]):
        assert any(syscalls.resolve_name(a, name) is not None for a in TARGETS), (
            f"{source}: libseccomp knows no {name} on {', '.join(TARGETS)}"
        )
        found, why = translate_name(name, target)
        if found:
            for n in found:
                assert syscalls.resolve_name(target, n) is not None, (source, name, n)
        else:
            assert name in table.none, f"{source}: {name} on {target}: {why}"


@pytest.mark.parametrize("target", TARGETS)
def test_the_table_lists_exactly_what_the_target_lacks(target: str) -> None:
    """Every name libseccomp knows on another covered arch and not on ``target`` is listed once,
    as a mapping or as having no counterpart; nothing the target knows is listed."""
    table = translation_table(target)
    others = set().union(*(syscalls.known_names(a) for a in TARGETS if a != target))
    lacking = others - syscalls.known_names(target)
    assert set(table.mappings) | set(table.none) == lacking
    assert not set(table.mappings) & set(table.none)
    for mapping in table.mappings.values():
        assert mapping.to and mapping.source, mapping
        for name in mapping.to:
            assert syscalls.resolve_name(target, name) is not None, mapping
    for none in table.none.values():
        assert none.reason, none


def test_the_aarch64_table_names_the_calls_of_the_arm64_port() -> None:
    mappings = translation_table("aarch64").mappings
    for name, to in {
        "open": "openat",
        "stat": "newfstatat",
        "lstat": "newfstatat",
        "epoll_wait": "epoll_pwait",
        "dup2": "dup3",
        "pipe": "pipe2",
        "access": "faccessat",
    }.items():
        assert mappings[name].to == (to,)
        assert mappings[name].source
    # The numbers behind the names (include/uapi/asm-generic/unistd.h): __NR_openat 56,
    # __NR3264_fstatat 79, __NR_epoll_pwait 22, __NR3264_fstat 80.
    assert syscalls.resolve_name("aarch64", "openat") == 56
    assert syscalls.resolve_name("aarch64", "newfstatat") == 79
    assert syscalls.resolve_name("aarch64", "epoll_pwait") == 22
    assert syscalls.resolve_name("aarch64", "fstat") == 80
    assert translated_arches() == ("aarch64", "x86_64")


def test_translate_keeps_known_names_maps_others_and_reports_the_rest() -> None:
    t = translate(["open", "stat", "read", "openat", "arch_prctl", "no_such_call"], "aarch64")
    assert t.target == "aarch64"
    assert t.names == ("newfstatat", "openat", "read")
    assert t.mapped == (("open", ("openat",)), ("stat", ("newfstatat",)))
    missing = dict(t.missing)
    assert set(missing) == {"arch_prctl", "no_such_call"}
    assert missing["arch_prctl"].startswith("x86 only")
    assert "no counterpart" in missing["no_such_call"]
    same = translate(["openat", "epoll_pwait", "dup3"], "x86_64")
    assert same.names == ("dup3", "epoll_pwait", "openat") and not same.mapped
    merged = merge_translations(t, translate(["pipe"], "aarch64"))
    assert "pipe2" in merged.names and ("pipe", ("pipe2",)) in merged.mapped


def test_an_uncovered_target_keeps_known_names_and_warns_for_the_rest() -> None:
    t = translate(["read", "open"], "riscv64")
    assert t.names == ("read",)
    assert [name for name, _ in t.missing] == ["open"]


def _store(root: Path, names: list[str]) -> Path:
    store = TraceStore(root)
    header = TraceHeader.new(workload="w", arch="x86_64", backend="strace", command=["/bin/w"])
    path = store.new_trace_path("w", header.trace_id, "20260101T000000Z")
    with TraceWriter.create(path, header) as writer:
        for i, name in enumerate(names):
            writer.write(SyscallEvent(name, "x86_64", 1, 1, 0, None, 1.0 + i, ()))
    store.add_trace(path)
    return root


def _emit(store: Path, out: Path, *arches: str) -> tuple[int, str, dict[str, Any]]:
    argv = ["emit", "-w", "w", "--runtime", "none", "--go-runtime", "off", "-o", str(out)]
    for arch in arches:
        argv += ["--arch", arch]
    result = CliRunner().invoke(cli, [*argv, "--store", str(store)])
    profile = json.loads(out.read_text()) if out.exists() else {}
    return result.exit_code, result.output, profile


def _allowed(profile: dict[str, Any]) -> set[str]:
    return {
        n
        for rule in profile["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW"
        for n in rule["names"]
    }


OBSERVED = ["read", "write", "open", "stat", "epoll_wait", "dup2", "arch_prctl", "exit_group"]


def test_emit_arch_aarch64_translates_and_warns(tmp_path: Path) -> None:
    store = _store(tmp_path / "store", OBSERVED)
    code, out, profile = _emit(store, tmp_path / "p.json", "aarch64")
    assert code == 0, out
    assert profile["architectures"] == ["SCMP_ARCH_AARCH64"]
    allowed = _allowed(profile)
    assert {"openat", "newfstatat", "epoll_pwait", "dup3", "read", "write"} <= allowed
    assert not {"open", "stat", "epoll_wait", "dup2", "arch_prctl"} & allowed
    assert all(syscalls.resolve_name("aarch64", n) is not None for n in allowed)
    assert (
        "aarch64: translated dup2 -> dup3, epoll_wait -> epoll_pwait, open -> openat, "
        "stat -> newfstatat" in out
    )
    assert "warning: arch_prctl has no counterpart on aarch64, left out: x86 only" in out


def test_emit_arch_is_repeatable(tmp_path: Path) -> None:
    store = _store(tmp_path / "store", OBSERVED)
    code, out, profile = _emit(store, tmp_path / "p.json", "x86_64", "aarch64")
    assert code == 0, out
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"]
    allowed = _allowed(profile)
    # x86_64 keeps what was seen; aarch64 adds the counterparts.
    assert {"open", "stat", "epoll_wait", "dup2", "arch_prctl"} <= allowed
    assert {"openat", "newfstatat", "epoll_pwait", "dup3"} <= allowed
    assert out.count("warning: arch_prctl has no counterpart on aarch64") == 1


def test_emit_without_arch_keeps_the_traced_arch_untranslated(tmp_path: Path) -> None:
    store = _store(tmp_path / "store", OBSERVED)
    code, out, profile = _emit(store, tmp_path / "p.json")
    assert code == 0, out
    assert profile["architectures"] == ["SCMP_ARCH_X86_64"]
    assert "translated" not in out and "no counterpart" not in out
    assert {"open", "arch_prctl"} <= _allowed(profile)


def test_emit_rejects_an_unknown_arch(tmp_path: Path) -> None:
    store = _store(tmp_path / "store", OBSERVED)
    code, out, _ = _emit(store, tmp_path / "p.json", "arm64")
    assert code == 2
    assert "'arm64' is not one of" in out
