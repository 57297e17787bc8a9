"""profile.emit: deterministic rendering and atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from seccompgen.errors import ProfileError
from seccompgen.profile.emit import (
    oci_profile,
    profile_digest,
    render,
    write_profile,
    write_text_atomic,
)
from seccompgen.profile.model import Action, Arch, Profile, RuleFilter, SyscallRule, load_profile
from seccompgen.schema import check_profile_data


def _profile(names: tuple[str, ...]) -> Profile:
    return Profile(
        default_action=Action.ERRNO,
        default_errno_ret=1,
        architectures=(Arch.X86_64,),
        syscalls=(SyscallRule(names=names, action=Action.ALLOW),),
    )


def test_render_is_sorted_indented_and_newline_terminated() -> None:
    text = render(_profile(("write", "read", "close", "read")))
    assert text.endswith("}\n") and not text.endswith("\n\n")
    data = json.loads(text)
    assert data["syscalls"][0]["names"] == ["close", "read", "write"]
    assert list(data) == ["defaultAction", "defaultErrnoRet", "architectures", "syscalls"]
    lines = text.splitlines()
    assert lines[1].startswith('  "defaultAction"')
    indents = {len(line) - len(line.lstrip(" ")) for line in lines}
    assert all(i % 2 == 0 for i in indents)


def test_render_does_not_depend_on_input_order() -> None:
    assert render(_profile(("b_call", "a_call"))) == render(_profile(("a_call", "b_call")))


def test_write_profile_creates_dirs_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "profile.json"
    write_profile(target, _profile(("read",)))
    assert target.read_text() == render(_profile(("read",)))
    assert os.listdir(target.parent) == ["profile.json"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_write_profile_replaces_existing(tmp_path: Path) -> None:
    target = tmp_path / "p.json"
    target.write_text("old")
    inode_before = target.stat().st_ino
    write_profile(target, _profile(("write",)))
    assert json.loads(target.read_text())["syscalls"][0]["names"] == ["write"]
    assert target.stat().st_ino != inode_before  # replaced by rename, not rewritten in place


def test_profile_digest_survives_copies_and_reformatting(tmp_path: Path) -> None:
    written = tmp_path / "api.json"
    write_profile(written, _profile(("write", "read", "close")))
    digest = profile_digest(load_profile(written))
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    # The same rules, re-indented on one line with the names in another order, under another name.
    data = json.loads(written.read_text())
    data["syscalls"][0]["names"].reverse()
    copy = tmp_path / "renamed.json"
    copy.write_text(json.dumps(data))
    assert copy.read_bytes() != written.read_bytes()
    assert profile_digest(load_profile(copy)) == digest
    # One name fewer is another profile.
    data["syscalls"][0]["names"].remove("read")
    copy.write_text(json.dumps(data))
    assert profile_digest(load_profile(copy)) != digest


def test_write_text_atomic_fsyncs_then_renames_and_keeps_old_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "k" / "seccompgen" / "svc.json"
    write_text_atomic(target, "one\n")
    assert target.read_text() == "one\n" and target.stat().st_mode & 0o777 == 0o644
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1]
    )
    write_text_atomic(target, "two\n")
    assert calls == ["fsync", "replace"] and target.read_text() == "two\n"

    def refuse(a: object, b: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ProfileError, match="cannot write"):
        write_text_atomic(target, "three\n")
    assert target.read_text() == "two\n"
    assert os.listdir(target.parent) == ["svc.json"]  # the temporary file is gone


def test_oci_profile_drops_docker_only_keys_and_passes_the_oci_schema() -> None:
    docker = Profile(
        default_action=Action.ERRNO,
        default_errno_ret=1,
        architectures=(Arch.X86_64,),
        syscalls=(
            SyscallRule(names=("read",), action=Action.ALLOW),
            SyscallRule(names=("clone3",), action=Action.ERRNO, errno_ret=38, comment="why"),
        ),
    )
    assert "comment" in render(docker)
    data = json.loads(render(oci_profile(docker)))
    assert list(data) == ["defaultAction", "defaultErrnoRet", "architectures", "syscalls"]
    assert all(set(rule) <= {"names", "action", "errnoRet", "args"} for rule in data["syscalls"])
    assert data["architectures"] == ["SCMP_ARCH_X86_64"]
    assert check_profile_data(data, source="oci").problems == ()


def test_oci_profile_refuses_docker_includes() -> None:
    docker = Profile(
        default_action=Action.ERRNO,
        architectures=(Arch.X86_64,),
        syscalls=(
            SyscallRule(
                names=("ptrace",), action=Action.ALLOW, includes=RuleFilter(caps=("CAP_X",))
            ),
        ),
    )
    with pytest.raises(ProfileError, match="includes/excludes"):
        oci_profile(docker)
