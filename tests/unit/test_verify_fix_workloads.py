"""Whom verify's fix commands name: the workloads the store recorded emitting the profile for,
found by its content; else the file name, with a note saying so.

The store and the profiles are real (strace output imported, profiles emitted through the CLI);
no container runs here (tests/integration/test_verify.py fails a real verify).
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from seccompgen._cli import cli
from seccompgen.profile.emit import profile_digest
from seccompgen.profile.model import load_profile
from seccompgen.runtime import RuntimeInfo
from seccompgen.verify import Denial, VerifyRequest, fix_commands, fix_workloads

HELLO = Path(__file__).parent / "data" / "hello.strace"
WORKLOAD_DENIAL = Denial("renameat", "workload", "app", "/app", 1)
RUNC = RuntimeInfo(name="runc", version="1.1.12")


def sg(*argv: str) -> str:
    result = CliRunner().invoke(cli, list(argv))
    assert result.exit_code == 0, result.output
    return result.output


def emit(store: Path, out: Path, *workloads: str) -> Path:
    names = [a for w in workloads for a in ("-w", w)]
    sg("emit", *names, "--runtime", "none", "--go-runtime", "off", "-o", str(out),
       "--store", str(store))  # fmt: skip
    return out


def store_with(tmp_path: Path, *workloads: str) -> Path:
    store = tmp_path / "store"
    for w in workloads:
        sg("import", str(HELLO), "-w", w, "--store", str(store))
    return store


def named(
    profile: Path, store: Path | None, workload: str | None = None
) -> tuple[tuple[str, ...], str, bool]:
    got = fix_workloads(
        VerifyRequest(profile=profile, program=Path("x"), store=store, workload=workload),
        load_profile(profile),
    )
    return got.names, got.note, got.known


def test_a_profile_emitted_for_another_workload_names_that_workload(tmp_path: Path) -> None:
    store = store_with(tmp_path, "hello")
    broken = emit(store, tmp_path / "broken.json", "hello")
    names, note, known = named(broken, store)
    assert (names, known) == (("hello",), True)
    assert f"recorded emitting this profile for them (enforce, as {broken.resolve()}" in note


def test_a_renamed_reformatted_copy_is_recognised_by_content(tmp_path: Path) -> None:
    store = store_with(tmp_path, "hello")
    emitted = emit(store, tmp_path / "hello.json", "hello")
    data = json.loads(emitted.read_text())
    data["syscalls"][0]["names"].reverse()
    copy = tmp_path / "elsewhere" / "prod-v2.json"
    copy.parent.mkdir()
    copy.write_text(json.dumps(data, indent=4))
    emitted.unlink()
    assert named(copy, store)[0] == ("hello",)


def test_an_edited_profile_falls_back_to_the_file_name_with_a_note(tmp_path: Path) -> None:
    store = store_with(tmp_path, "hello")
    emitted = emit(store, tmp_path / "hello.json", "hello")
    data = json.loads(emitted.read_text())
    data["syscalls"][0]["names"].pop()
    edited = tmp_path / "broken.json"
    edited.write_text(json.dumps(data))
    names, note, known = named(edited, store)
    assert (names, known) == (("broken",), False)
    assert f"the store {store} has no record of emitting this profile" in note
    assert "name the workload 'broken' after the file name" in note
    assert "give --workload NAME" in note


def test_no_store_at_all_falls_back(tmp_path: Path) -> None:
    profile = tmp_path / "api.log.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_LOG"}\n')
    names, note, known = named(profile, tmp_path / "nothing-here")
    assert (names, known) == (("api",), False)
    assert "no record of emitting this profile" in note


def test_a_damaged_record_falls_back_and_says_why(tmp_path: Path) -> None:
    store = store_with(tmp_path, "hello")
    broken = emit(store, tmp_path / "broken.json", "hello")
    (store / "emitted.json").write_text("{not json")
    names, note, known = named(broken, store)
    assert (names, known) == (("broken",), False)
    assert f"{store / 'emitted.json'}:1:2: not valid JSON" in note


def test_workload_flag_wins(tmp_path: Path) -> None:
    store = store_with(tmp_path, "hello")
    broken = emit(store, tmp_path / "broken.json", "hello")
    assert named(broken, store, workload="api")[0] == ("api",)


def test_the_newest_record_wins_and_the_others_are_mentioned(tmp_path: Path) -> None:
    # Two workloads with the same calls give byte-identical profiles.
    store = store_with(tmp_path, "hello", "twin")
    emit(store, tmp_path / "a.json", "hello")
    b = emit(store, tmp_path / "b.json", "twin")
    assert (tmp_path / "a.json").read_bytes() == b.read_bytes()
    names, note, _ = named(b, store)
    assert names == ("twin",)
    assert "also emitted for hello" in note


def test_fix_commands_for_a_profile_of_several_workloads(tmp_path: Path) -> None:
    store = store_with(tmp_path, "api", "worker")
    pod = emit(store, tmp_path / "pod.json", "api", "worker")
    req = VerifyRequest(profile=pod, program=Path("x"), store=store)
    who = fix_workloads(req, load_profile(pod))
    assert who.names == ("api", "worker")
    assert "learn adds the calls to api, the first of them" in who.note
    records = tmp_path / "pod.denied.audit"
    fixes = fix_commands(req, [WORKLOAD_DENIAL], records, RUNC, who)
    assert fixes == (
        f"seccompgen learn --from {records} --workload api --store {store}",
        f"seccompgen emit --workload api --workload worker --runtime runc --store {store} -o {pod}",
    )


def test_fix_commands_without_a_store_flag_keep_the_default_store(tmp_path: Path) -> None:
    req = VerifyRequest(profile=tmp_path / "broken.json", program=Path("x"))
    fixes = fix_commands(req, [WORKLOAD_DENIAL], tmp_path / "r.audit", RUNC)
    assert fixes == (
        f"seccompgen learn --from {tmp_path / 'r.audit'} --workload broken",
        f"seccompgen emit --workload broken --runtime runc -o {tmp_path / 'broken.json'}",
    )


def test_emit_records_the_profile_in_the_store(tmp_path: Path) -> None:
    store = store_with(tmp_path, "hello")
    out = emit(store, tmp_path / "out" / "p.json", "hello")
    (entry,) = json.loads((store / "emitted.json").read_text())["profiles"]
    assert entry["workloads"] == ["hello"]
    assert entry["path"] == str(out.resolve())
    assert entry["mode"] == "enforce"
    assert entry["digest"] == profile_digest(load_profile(out))
    assert set(json.loads(out.read_text())) <= {
        "defaultAction", "defaultErrnoRet", "architectures", "syscalls",
    }  # fmt: skip


def test_a_damaged_record_does_not_stop_emit(tmp_path: Path) -> None:
    store = store_with(tmp_path, "hello")
    (store / "emitted.json").write_text("[]")
    out = tmp_path / "p.json"
    result = CliRunner().invoke(
        cli, ["emit", "-w", "hello", "--runtime", "none", "-o", str(out), "--store", str(store)]
    )
    assert result.exit_code == 0, result.output
    assert out.is_file()
    assert (
        "warning: the store did not record which workloads this profile came from: "
        f"{store / 'emitted.json'}: not a seccompgen emitted-profiles record; hint: delete it"
    ) in " ".join(result.output.split())
