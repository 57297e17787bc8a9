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


# ---------------------------------------------------------------------- crun

CRUN_INFO = {
    "DefaultRuntime": "crun",
    "Runtimes": {"crun": {"path": "/usr/bin/crun"}, "runc": {"path": "runc"}},
    "RuncCommit": {"ID": "1.1.5+ds1-1+deb12u1"},
}


def _versions(monkeypatch: pytest.MonkeyPatch, **versions: str) -> list[tuple[str, str | None]]:
    """``local_runtime_version`` answering ``versions`` by runtime, and the calls it got."""
    calls: list[tuple[str, str | None]] = []

    def fake(name: str, path: str | None = None) -> str | None:
        calls.append((name, path))
        return versions.get(name)

    monkeypatch.setattr(runtime, "local_runtime_version", fake)
    return calls


def test_engine_runtime_reads_a_crun_default_and_a_named_runtime(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _versions(monkeypatch, crun="1.8.1", runc="1.1.5+ds1")
    assert runtime.engine_runtime(CRUN_INFO) == RuntimeInfo("crun", "1.8.1")
    assert calls[-1] == ("crun", "/usr/bin/crun")  # the engine's binary, asked for its version
    assert runtime.engine_runtime(CRUN_INFO, "runc") == RuntimeInfo("runc", "1.1.5+ds1")
    # A runtime registered under another name is still crun, by its binary.
    info = {"DefaultRuntime": "fast", "Runtimes": {"fast": {"path": "/opt/crun-1.8/bin/crun"}}}
    assert runtime.engine_runtime(info) == RuntimeInfo("crun", "1.8.1")
    assert calls[-1] == ("crun", "/opt/crun-1.8/bin/crun")
    # crun has no RuncCommit fallback: the version stays unknown without the binary.
    _versions(monkeypatch)
    assert runtime.engine_runtime(CRUN_INFO) == RuntimeInfo("crun", None)
    assert runtime.engine_runtime(CRUN_INFO, "runc") == RuntimeInfo("runc", "1.1.5+ds1-1+deb12u1")


class _Engine:
    def __init__(self, info: dict[str, object]) -> None:
        self._info = info
        self.closed = False

    def info(self) -> dict[str, object]:
        return self._info

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("nnp", [False, True], ids=["no-nnp", "nnp"])
def test_auto_picks_the_bundled_crun_block_when_the_engine_defaults_to_crun(
    monkeypatch: pytest.MonkeyPatch, nnp: bool
) -> None:
    import seccompgen.containers.image as image

    engine = _Engine(CRUN_INFO)
    monkeypatch.setattr(image, "docker_client", lambda name="docker": engine)
    _versions(monkeypatch, crun="1.8.1")
    sel = runtime.resolve_runtime("auto", nnp, blocks=load_blocks([STORED]))
    assert sel is not None and engine.closed
    assert (sel.block.runtime, sel.block.version, sel.block.no_new_privileges) == (
        "crun",
        "1.8.1",
        nnp,
    )
    assert sel.exact and "the local docker engine's default runtime" in sel.note
    # The same engine with runc as its default gets runc's block.
    engine = _Engine({**CRUN_INFO, "DefaultRuntime": "runc"})
    _versions(monkeypatch, runc="1.1.5+ds1")
    sel = runtime.resolve_runtime("auto", nnp, blocks=load_blocks([STORED]))
    assert sel is not None and sel.block.runtime == "runc"


def test_a_runtime_the_engine_lacks_is_named_with_the_way_to_add_it() -> None:
    from seccompgen.errors import TracerError

    runtime.require_engine_runtime(CRUN_INFO, "crun")
    with pytest.raises(TracerError) as e:
        runtime.require_engine_runtime({"Runtimes": {"runc": {"path": "runc"}}}, "crun")
    text = e.value.explain()
    assert "no runtime named 'crun' (it has: runc)" in text
    assert "--add-runtime crun=" in text and "SIGHUP" in text


def test_crun_init_records_end_at_its_execve() -> None:
    # As measured with crun 1.8.1: the container process keeps crun's comm until its execve,
    # and its exe shows "/" (crun runs from a memfd copy of itself).
    recs = [
        record(7, "crun", "/", "close", 1),
        record(7, "crun", "/", "capset", 2),
        record(7, "crun", "/", "execve", 3),
        record(7, "seccompgen-noop", "/seccompgen-noop", "arch_prctl", 4),
    ]
    assert [r.name for r in runtime_calls(recs, 7)] == ["close", "capset", "execve"]
    assert [(d.name, d.process, d.comm) for d in attribute(recs)] == [
        ("capset", "runtime", "crun"),
        ("close", "runtime", "crun"),
        ("execve", "runtime", "crun"),
        ("arch_prctl", "workload", "seccompgen-noop"),
    ]


def test_stored_crun_blocks_differ_by_nnp() -> None:
    blocks = {b.no_new_privileges: b for b in load_blocks([STORED]) if b.runtime == "crun"}
    assert set(blocks) == {False, True}
    # Without NNP crun loads the filter before libcrun_set_caps and unblock_signals
    # (src/libcrun/container.c, container_init_setup); with it, right before execv.
    assert {"capset", "setresuid", "setresgid", "prctl", "rt_sigaction"} <= set(
        blocks[False].syscalls
    )
    assert set(blocks[True].syscalls) == {"close", "execve"}
    runc = {b.no_new_privileges: b for b in load_blocks([STORED]) if b.runtime == "runc"}
    # runc's NNP block covers crun's; crun's no-NNP block has names runc's lacks.
    assert set(blocks[True].syscalls) <= set(runc[True].syscalls)
    assert {"setresuid", "setresgid", "pselect6"} <= set(blocks[False].syscalls) - set(
        runc[False].syscalls
    )
