"""Runtime blocks: storage, selection, init-record attribution, the staging variant, and
``emit --runtime`` on recorded strace output (no Docker needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from seccompgen import runtime
from seccompgen._cli import cli
from seccompgen.errors import ProfileError
from seccompgen.parsing.audit import AuditRecord, SeccompAction
from seccompgen.profile.build import Mode, build_profile
from seccompgen.profile.model import Action
from seccompgen.runtime import (
    RuntimeBlock,
    RuntimeInfo,
    is_runtime_init,
    load_blocks,
    runtime_calls,
    select_block,
    upstream_version,
    write_block,
)
from seccompgen.syscalls import canonical_name
from seccompgen.verify import attribute, staging_variant

DATA = Path(__file__).parent / "data"
STORED = runtime.BUNDLED_DIR


def block(version: str, nnp: bool, names: tuple[str, ...] = ("execve", "close")) -> RuntimeBlock:
    return RuntimeBlock("runc", version, nnp, "x86_64", tuple(sorted(names)))


def record(pid: int, comm: str, exe: str, name: str, serial: int) -> AuditRecord:
    return AuditRecord(
        timestamp=1.0 + serial / 1000,
        serial=serial,
        pid=pid,
        comm=comm,
        exe=exe,
        uid=0,
        arch="x86_64",
        syscall_number=0,
        name=name,
        action=SeccompAction.LOG,
        errno=None,
        raw=f"audit(1.0:{serial}): pid={pid}",
    )


def test_block_round_trip_and_file_name(tmp_path: Path) -> None:
    b = block("1.1.5+ds1", False, ("setuid", "capset", "execve"))
    path = write_block(b, tmp_path)
    assert path.name == "runc-1.1.5+ds1-no-nnp.json"
    text = path.read_text()
    assert text.endswith("}\n")
    assert json.loads(text)["syscalls"] == ["capset", "execve", "setuid"]
    assert load_blocks([tmp_path]) == [b]
    assert runtime.block_file_name("crun", "1.8/x", True) == "crun-1.8_x-nnp.json"


def test_bad_block_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "runc-x-nnp.json").write_text('{"runtime": "runc"}')
    with pytest.raises(ProfileError, match=re.escape("runc-x-nnp.json")):
        load_blocks([tmp_path])


def test_select_prefers_the_same_version_then_minor_then_newest() -> None:
    blocks = [block("1.1.5+ds1", False), block("1.1.12", False), block("1.2.0", False)]
    blocks.append(block("1.1.5+ds1", True))
    exact = select_block(blocks, RuntimeInfo("runc", "1.1.5+ds1-1+deb12u1"), False)
    assert exact is not None and exact.exact and exact.block.version == "1.1.5+ds1"
    nnp = select_block(blocks, RuntimeInfo("runc", "1.1.5"), True)
    assert nnp is not None and nnp.block.no_new_privileges
    minor = select_block(blocks, RuntimeInfo("runc", "1.1.9"), False)
    assert minor is not None and not minor.exact and minor.block.version == "1.1.12"
    newest = select_block(blocks, RuntimeInfo("runc", None), False)
    assert newest is not None and newest.block.version == "1.2.0" and "unknown" in newest.note
    assert select_block(blocks, RuntimeInfo("crun", "1.8"), False) is None
    assert upstream_version("v1.1.5+ds1-1+deb12u1") == "1.1.5"


def test_missing_block_says_how_to_measure(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ProfileError) as e:
        runtime.resolve_runtime("crun", True, blocks=[block("1.1.5", True)])
    assert "runtime-baseline --runtime crun --no-new-privileges" in e.value.explain()
    assert runtime.resolve_runtime("none", False) is None


def test_runtime_init_records_end_at_the_workload() -> None:
    recs = [
        record(7, "runc:[2:INIT]", "/", "prctl", 1),
        record(9, "other", "/bin/other", "getpid", 2),
        record(7, "runc:[2:INIT]", "/", "execve", 3),
        record(7, "app", "/app", "mmap", 4),
        record(7, "runc:[2:INIT]", "/", "write", 5),  # after the workload: not the runtime's
    ]
    assert [r.name for r in runtime_calls(recs, 7)] == ["prctl", "execve"]
    assert is_runtime_init(recs[0]) and not is_runtime_init(recs[3])
    assert is_runtime_init(record(1, "x", "/usr/bin/crun", "close", 1))
    denials = attribute(recs[:4])
    assert [(d.name, d.process) for d in denials] == [
        ("execve", "runtime"),
        ("prctl", "runtime"),
        ("getpid", "workload"),
        ("mmap", "workload"),
    ]


def test_staging_variant_keeps_rules_and_logs_the_rest() -> None:
    enforce = build_profile(["read", "write", "execve"], ["x86_64"], Mode.ENFORCE).profile
    staged = staging_variant(enforce)
    assert staged.default_action is Action.LOG and staged.default_errno_ret is None
    # The ENOSYS answers stay, so the program takes the same fallbacks as under enforcement.
    assert [(r.action, r.errno_ret) for r in staged.syscalls] == [
        (r.action, r.errno_ret) for r in enforce.syscalls
    ]


@pytest.mark.parametrize("path", sorted(STORED.glob("*.json")), ids=lambda p: p.name)
def test_stored_blocks_are_sorted_known_names(path: Path) -> None:
    data = json.loads(path.read_text())
    b = RuntimeBlock.from_dict(data, source=str(path))
    assert path.name == b.file_name
    assert data["syscalls"] == sorted(set(data["syscalls"]))
    assert "execve" in b.syscalls  # the runtime's exec of the workload is under the filter
    assert all(canonical_name(b.arch, n) == n for n in b.syscalls), b.syscalls


def test_stored_runc_blocks_differ_by_nnp() -> None:
    blocks = {b.no_new_privileges: b for b in load_blocks([STORED]) if b.runtime == "runc"}
    assert set(blocks) == {False, True}
    # Without NNP runc loads the filter before dropping privileges (standard_init_linux.go).
    assert {"capset", "setuid", "setgid", "prctl"} <= set(blocks[False].syscalls)
    assert not {"capset", "setuid"} & set(blocks[True].syscalls)
    assert set(blocks[True].syscalls) < set(blocks[False].syscalls)


def _emit(tmp_path: Path, *extra: str) -> tuple[int, str, dict[str, object]]:
    store = tmp_path / "store"
    runner = CliRunner()
    r = runner.invoke(
        cli, ["import", str(DATA / "hello.strace"), "-w", "hello", "--store", str(store)]
    )
    assert r.exit_code == 0, r.output
    out = tmp_path / f"hello{len(extra)}.json"
    r = runner.invoke(cli, ["emit", "-w", "hello", "--store", str(store), "-o", str(out), *extra])
    data = json.loads(out.read_text()) if out.exists() else {}
    return r.exit_code, r.output, data


def _allowed(data: dict[str, object]) -> set[str]:
    rules = data["syscalls"]
    assert isinstance(rules, list)
    return {n for r in rules if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}


def test_emit_merges_the_runtime_block_and_says_which_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(runtime.ENV_DIR, str(tmp_path / "blocks"))
    write_block(block("9.9.9", True, ("execve", "capget", "fstatfs")), tmp_path / "blocks")
    monkeypatch.setattr(runtime, "LOCAL_DIR", tmp_path / "nothing")
    monkeypatch.setattr(runtime, "BUNDLED_DIR", tmp_path / "nothing")
    code, out, bare = _emit(tmp_path / "a", "--runtime", "none")
    assert code == 0, out
    code, out, merged = _emit(tmp_path / "b", "--runtime", "runc", "--no-new-privileges")
    assert code == 0, out
    added = _allowed(merged) - _allowed(bare)
    assert added == {"capget", "fstatfs"} - _allowed(bare)
    assert added, "the block should add names hello.strace does not have"
    m = re.search(r"(\d+) name\(s\) allowed for the runtime, not observed [^:]*: (.*)", out)
    assert m and set(m.group(2).split()) == added and int(m.group(1)) == len(added), out
    code, out, _ = _emit(tmp_path / "c", "--runtime", "runc")  # no block without NNP stored
    assert code == 1 and "runtime-baseline --runtime runc" in out
