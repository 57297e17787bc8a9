"""profile.model: reading and writing runtime-spec and Docker-format profiles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from seccompgen.errors import ProfileError
from seccompgen.profile.model import (
    Action,
    Arch,
    ArgCondition,
    Operator,
    Profile,
    SyscallRule,
    load_profile,
)

DOCKER_DEFAULT = Path(__file__).parents[3] / "seccompgen" / "data" / "docker-default-seccomp.json"


def _sample() -> Profile:
    return Profile(
        default_action=Action.ERRNO,
        default_errno_ret=1,
        architectures=(Arch.X86_64, Arch.X86),
        flags=("SECCOMP_FILTER_FLAG_LOG",),
        syscalls=(
            SyscallRule(names=("read", "write"), action=Action.ALLOW),
            SyscallRule(
                names=("personality",),
                action=Action.ALLOW,
                args=(
                    ArgCondition(0, 8, Operator.EQ),
                    ArgCondition(1, 0xFF, Operator.MASKED_EQ, 3),
                ),
                comment="two arguments",
            ),
            SyscallRule(names=("clone3",), action=Action.ERRNO, errno_ret=38),
        ),
    )


def test_enums_cover_the_runtime_spec() -> None:
    defs = json.loads(
        (DOCKER_DEFAULT.parent / "oci-runtime-spec-schema" / "defs-linux.json").read_text()
    )["definitions"]
    assert {a.value for a in Action} == set(defs["SeccompAction"]["enum"])
    assert {a.value for a in Arch} == set(defs["SeccompArch"]["enum"])
    assert {o.value for o in Operator} == set(defs["SeccompOperators"]["enum"])


def test_round_trip() -> None:
    profile = _sample()
    assert Profile.from_dict(profile.to_dict(), source="t") == profile


def test_key_order() -> None:
    data = _sample().to_dict()
    assert list(data) == ["defaultAction", "defaultErrnoRet", "architectures", "flags", "syscalls"]
    rules: Any = data["syscalls"]
    assert list(rules[1]) == ["names", "action", "args", "comment"]
    assert list(rules[2]) == ["names", "action", "errnoRet"]
    assert rules[1]["args"][1] == {
        "index": 1,
        "value": 255,
        "valueTwo": 3,
        "op": "SCMP_CMP_MASKED_EQ",
    }


def test_docker_default_profile_loads() -> None:
    raw = json.loads(DOCKER_DEFAULT.read_text())
    profile = load_profile(DOCKER_DEFAULT)
    expected_arches: list[str] = []
    for entry in raw["archMap"]:
        for arch in [entry["architecture"], *(entry["subArchitectures"] or [])]:
            if arch not in expected_arches:
                expected_arches.append(arch)
    assert [a.value for a in profile.architectures] == expected_arches
    assert len(profile.syscalls) == len(raw["syscalls"])
    for rule, raw_rule in zip(profile.syscalls, raw["syscalls"], strict=True):
        assert list(rule.names) == raw_rule["names"]
        assert rule.action.value == raw_rule["action"]
        assert list(rule.includes.caps) == raw_rule.get("includes", {}).get("caps", [])
        assert list(rule.includes.arches) == raw_rule.get("includes", {}).get("arches", [])
        assert list(rule.excludes.caps) == raw_rule.get("excludes", {}).get("caps", [])
        assert rule.includes.min_kernel == raw_rule.get("includes", {}).get("minKernel")
        assert len(rule.args) == len(raw_rule.get("args") or [])


def test_docker_single_name_rule() -> None:
    profile = Profile.from_dict(
        {
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"name": "read", "action": "SCMP_ACT_ALLOW"}],
        },
        source="t",
    )
    assert profile.syscalls[0].names == ("read",)


GOOD: dict[str, Any] = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "architectures": ["SCMP_ARCH_X86_64"],
    "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}],
}


def _with(path: list[str | int], value: object) -> dict[str, Any]:
    data = json.loads(json.dumps(GOOD))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ([], "$"),
        ({"syscalls": []}, "$"),
        (_with(["defaultAction"], "SCMP_ACT_NOPE"), "$.defaultAction"),
        (_with(["defaultErrnoRet"], 1) | {"defaultAction": "SCMP_ACT_ALLOW"}, "$.defaultErrnoRet"),
        (_with(["architectures"], ["SCMP_ARCH_VAX"]), "$.architectures[0]"),
        (_with(["archMap"], []), "$"),
        (_with(["flags"], ["NOT_A_FLAG"]), "$.flags[0]"),
        (_with(["syscalls", 0, "names"], "read"), "$.syscalls[0].names"),
        (_with(["syscalls", 0, "names"], [""]), "$.syscalls[0].names[0]"),
        (_with(["syscalls", 0, "names"], []), "$.syscalls[0]"),
        (_with(["syscalls", 0, "errnoRet"], 1), "$.syscalls[0].errnoRet"),
        (
            _with(["syscalls", 0, "args"], [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]),
            "$.syscalls[0].args[0].index",
        ),
        (
            _with(["syscalls", 0, "args"], [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]),
            "$.syscalls[0].args[0].value",
        ),
        (_with(["syscalls", 0, "args"], [{"index": 0, "value": 1}]), "$.syscalls[0].args[0]"),
        (
            _with(["syscalls", 0, "args"], [{"index": True, "value": 1, "op": "SCMP_CMP_EQ"}]),
            "$.syscalls[0].args[0].index",
        ),
        (_with(["syscalls", 0, "includes"], {"arches": "amd64"}), "$.syscalls[0].includes.arches"),
        (_with(["syscalls", 0, "bogus"], 1), "$.syscalls[0]"),
    ],
)
def test_bad_data_names_source_and_path(data: object, where: str) -> None:
    with pytest.raises(ProfileError) as info:
        Profile.from_dict(data, source="prof.json")
    assert info.value.message.startswith(f"prof.json: {where}: ")


def test_load_profile_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no such file"):
        load_profile(tmp_path / "absent.json")


def test_load_profile_bad_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "defaultAction": "SCMP_ACT_ERRNO",\n  oops\n}\n')
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert f"{path}:3:3:" in info.value.message


# Found by tests/fuzz: valid JSON syntax that json.loads refuses with RecursionError or with
# ValueError (an integer over sys.get_int_max_str_digits()) escaped as a traceback.
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"a":' * 5000 + "1" + "}" * 5000, "nested too deeply"),
        ('{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": ' + "9" * 5000 + "}", "digits"),
    ],
)
def test_load_profile_json_python_refuses_is_a_profile_error(
    tmp_path: Path, text: str, message: str
) -> None:
    from seccompgen.schema.validate import validate_profile_file

    path = tmp_path / "odd.json"
    path.write_text(text)
    for load in (load_profile, validate_profile_file):
        with pytest.raises(ProfileError, match=message) as info:
            load(path)
        assert info.value.message.startswith(f"{path}: not a seccomp profile")
