"""schema.validate: OCI schema and semantic checks, one known-bad fixture per check."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from seccompgen import syscalls
from seccompgen.errors import ProfileError
from seccompgen.schema import (
    check_profile_data,
    check_profile_file,
    validate_profile_data,
    validate_profile_file,
)

DATA = Path(__file__).parents[3] / "seccompgen" / "data"

GOOD: dict[str, Any] = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "architectures": ["SCMP_ARCH_X86_64"],
    "syscalls": [
        {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
        {
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}],
        },
        {
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}],
        },
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
    ],
}


def _bad(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    data.update(changes)
    return data


def _one(problems: list[str], path: str, *words: str) -> None:
    matching = [p for p in problems if p.startswith(f"src: {path}: ")]
    assert len(matching) == 1, problems
    for word in words:
        assert word in matching[0]


def test_good_profile_passes() -> None:
    assert validate_profile_data(GOOD, source="src") == []


def test_schema_enum() -> None:
    problems = validate_profile_data(_bad(defaultAction="SCMP_ACT_EXPLODE"), source="src")
    _one(problems, "$.defaultAction", "SCMP_ACT_EXPLODE", "OCI runtime-spec")


def test_schema_types_and_ranges() -> None:
    rules = copy.deepcopy(GOOD["syscalls"])
    rules[1]["args"][0]["index"] = -1
    rules[0]["names"] = []
    problems = validate_profile_data(_bad(syscalls=rules), source="src")
    _one(problems, "$.syscalls[1].args[0].index", "minimum")
    _one(problems, "$.syscalls[0].names", "non-empty")


def test_schema_refs_resolve_across_files() -> None:
    # uint32 lives in defs.json, reached through config-linux.json -> defs-linux.json.
    rules = copy.deepcopy(GOOD["syscalls"])
    rules[3]["errnoRet"] = 2**32
    problems = validate_profile_data(_bad(syscalls=rules), source="src")
    _one(problems, "$.syscalls[3].errnoRet", "maximum")


def test_unknown_syscall_name() -> None:
    rules = copy.deepcopy(GOOD["syscalls"])
    rules[0]["names"].append("frobnicate")
    problems = validate_profile_data(_bad(syscalls=rules), source="src")
    assert len(problems) == 1
    _one(problems, "$.syscalls[0].names[3]", "frobnicate", "x86_64")


def test_name_known_on_another_listed_arch_passes() -> None:
    rules = [{"names": ["socketcall", "read"], "action": "SCMP_ACT_ALLOW"}]
    assert validate_profile_data(_bad(syscalls=rules), source="src") != []
    both = _bad(syscalls=rules, architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
    assert validate_profile_data(both, source="src") == []


def test_duplicate_within_rule() -> None:
    rules = copy.deepcopy(GOOD["syscalls"])
    rules[0]["names"].append("read")
    problems = validate_profile_data(_bad(syscalls=rules), source="src")
    assert len(problems) == 1
    _one(problems, "$.syscalls[0].names[3]", "twice")


def test_duplicate_across_rules_with_same_action() -> None:
    rules = copy.deepcopy(GOOD["syscalls"])
    rules.append({"names": ["write"], "action": "SCMP_ACT_ALLOW"})
    problems = validate_profile_data(_bad(syscalls=rules), source="src")
    assert len(problems) == 1
    _one(problems, "$.syscalls[4].names[0]", "$.syscalls[0]")


def test_rule_with_default_action() -> None:
    rules = copy.deepcopy(GOOD["syscalls"])
    rules.append({"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"})  # errnoRet defaults to EPERM
    problems = validate_profile_data(_bad(syscalls=rules), source="src")
    assert len(problems) == 1
    _one(problems, "$.syscalls[4].action", "default action")


def test_empty_profile() -> None:
    problems = validate_profile_data({}, source="src")
    assert len(problems) == 1
    _one(problems, "$", "empty profile", "disabled")


def test_allow_default_with_nothing_else_is_unconfined() -> None:
    data = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}
    _one(validate_profile_data(data, source="src"), "$.defaultAction", "unconfined")


def test_missing_default_action() -> None:
    data = copy.deepcopy(GOOD)
    del data["defaultAction"], data["defaultErrnoRet"]
    problems = validate_profile_data(data, source="src")
    assert len(problems) == 1
    _one(problems, "$", "missing defaultAction")


def test_two_conditions_on_one_argument() -> None:
    rules = copy.deepcopy(GOOD["syscalls"])
    rules[1]["args"].append({"index": 0, "value": 0, "op": "SCMP_CMP_EQ"})
    problems = validate_profile_data(_bad(syscalls=rules), source="src")
    assert len(problems) == 1
    _one(problems, "$.syscalls[1].args", "argument 0", "OR")


def _with_rule(rule: dict[str, Any]) -> list[str]:
    rules = copy.deepcopy(GOOD["syscalls"])
    rules.append(rule)
    return validate_profile_data(_bad(syscalls=rules), source="src")


def test_masked_datum_outside_the_mask_matches_nothing() -> None:
    # valueTwo is the datum, value the mask: swapped, the rule allows no call at all.
    problems = _with_rule(
        {
            "names": ["clone"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0, "valueTwo": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
        }
    )
    assert len(problems) == 1
    _one(problems, "$.syscalls[4].args[0]", "matches no call", "0x7e020000")


def test_masked_with_mask_zero_matches_everything() -> None:
    problems = _with_rule(
        {
            "names": ["socket"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_MASKED_EQ"}],
        }
    )
    assert len(problems) == 1
    _one(problems, "$.syscalls[4].args[0]", "matches every call")


def test_a_low_32_bit_value_rule_is_valid() -> None:
    rule = {
        "names": ["socket"],
        "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": 4294967295, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}],
    }
    assert _with_rule(rule) == []


def test_conditions_on_a_name_the_unconditional_rule_allows_do_nothing() -> None:
    rules = copy.deepcopy(GOOD["syscalls"])
    rules[0]["names"].append("personality")
    problems = validate_profile_data(_bad(syscalls=rules), source="src")
    assert len(problems) == 2, problems
    _one(
        problems, "$.syscalls[1].names[0]", "do nothing", "remove 'personality' from $.syscalls[0]"
    )


def test_model_level_problem_is_reported_as_a_line() -> None:
    rules = copy.deepcopy(GOOD["syscalls"])
    rules[0]["errnoRet"] = 1  # schema allows it; the runtime-spec forbids it with ALLOW
    problems = validate_profile_data(_bad(syscalls=rules), source="src")
    _one(problems, "$.syscalls[0].errnoRet", "SCMP_ACT_ALLOW")


def test_docker_default_only_lacks_newer_syscalls() -> None:
    """Docker's own (Docker-format) profile passes every check but "unknown syscall".

    Its list runs ahead of the installed libseccomp; those names are exactly the ones no
    architecture in its archMap resolves.
    """
    raw = json.loads((DATA / "docker-default-seccomp.json").read_text())
    arches = [
        syscalls.ARCH_NAMES[a]
        for entry in raw["archMap"]
        for a in [entry["architecture"], *(entry["subArchitectures"] or [])]
    ]
    arches = [a for a in arches if syscalls.arch_supported(a)]
    expected = {
        (i, j)
        for i, rule in enumerate(raw["syscalls"])
        for j, name in enumerate(rule["names"])
        if all(syscalls.resolve_name(a, name) is None for a in arches)
    }
    problems = validate_profile_data(raw, source="src")
    assert all("unknown syscall" in p for p in problems)
    flagged = {
        (int(p.split("$.syscalls[")[1].split("]")[0]), int(p.split(".names[")[1].split("]")[0]))
        for p in problems
    }
    assert flagged == expected


def test_validate_file(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD))
    assert validate_profile_file(good) == []
    bad = tmp_path / "bad.json"
    bad.write_text('{"defaultAction": "SCMP_ACT_ERRNO",,}')
    with pytest.raises(ProfileError, match=r"bad\.json:1:36"):
        validate_profile_file(bad)
    with pytest.raises(ProfileError, match="no such file"):
        validate_profile_file(tmp_path / "absent.json")


# --------------------------------------------------------------------------- warnings


def test_a_profile_that_refuses_exits_is_valid_but_warned_about() -> None:
    # GOOD allows exit_group but not exit: a thread could not end.
    result = check_profile_data(GOOD, source="src")
    assert result.problems == ()
    (warning,) = result.warnings
    assert warning.startswith("src: $.syscalls: exit gets SCMP_ACT_ERRNO")
    assert "cannot end cleanly" in warning and warning.endswith("allow exit")


def test_refused_exit_group_is_warned_about_with_the_answer() -> None:
    rules = [{"names": ["read", "write", "exit", "openat"], "action": "SCMP_ACT_ALLOW"}]
    result = check_profile_data(_bad(syscalls=rules), source="src")
    assert result.problems == ()
    (warning,) = result.warnings
    assert "exit_group gets SCMP_ACT_ERRNO (errno 1) on x86_64" in warning


def test_allowed_or_logged_exits_give_no_warning() -> None:
    rules = [{"names": ["read", "exit", "exit_group"], "action": "SCMP_ACT_ALLOW"}]
    assert check_profile_data(_bad(syscalls=rules), source="src").warnings == ()
    logged = {
        "defaultAction": "SCMP_ACT_LOG",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}],
    }
    assert check_profile_data(logged, source="src").warnings == ()


def test_docker_default_profile_lets_a_process_end() -> None:
    assert check_profile_file(DATA / "docker-default-seccomp.json").warnings == ()


SOCK_PAIR = {
    "names": ["socket"],
    "action": "SCMP_ACT_ALLOW",
    "args": [
        {"index": 0, "value": 4294967295, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"},
        {"index": 1, "value": 0xFFF7F7FF, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"},
    ],
}


def test_a_family_and_type_rule_is_valid() -> None:
    assert _with_rule(copy.deepcopy(SOCK_PAIR)) == []


@pytest.mark.parametrize(
    ("cond", "flags"),
    [
        # The type's whole low word: SOCK_STREAM|SOCK_CLOEXEC would be refused.
        ({"index": 1, "value": 4294967295, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"},
         "SOCK_NONBLOCK|SOCK_CLOEXEC"),
        # Only SOCK_NONBLOCK stripped.
        ({"index": 1, "value": 0xFFFFF7FF, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"},
         "SOCK_CLOEXEC"),
        ({"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}, "SOCK_NONBLOCK|SOCK_CLOEXEC"),
    ],
)  # fmt: skip
def test_a_type_condition_that_compares_the_free_flags_is_caught(
    cond: dict[str, Any], flags: str
) -> None:
    rule = copy.deepcopy(SOCK_PAIR)
    rule["args"][1] = cond
    problems = _with_rule(rule)
    assert len(problems) == 1, problems
    _one(problems, "$.syscalls[4].args[1]", f"compared with {flags}", "value 0xfff7f7ff")


def test_a_type_condition_on_mips_only_is_left_alone() -> None:
    # There SOCK_NONBLOCK is O_NONBLOCK (0x80) and the type numbers differ: no fixed mask.
    rule = copy.deepcopy(SOCK_PAIR)
    rule["args"][1] = {"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}
    rules = [*copy.deepcopy(GOOD["syscalls"]), rule]
    data = _bad(syscalls=rules, architectures=["SCMP_ARCH_MIPSEL"])
    assert not any("compared with" in p for p in validate_profile_data(data, source="src"))


def test_a_family_and_type_rule_with_two_families_is_caught() -> None:
    rule = copy.deepcopy(SOCK_PAIR)
    rule["args"].append(
        {"index": 0, "value": 4294967295, "valueTwo": 10, "op": "SCMP_CMP_MASKED_EQ"}
    )
    problems = _with_rule(rule)
    assert len(problems) == 1, problems
    _one(problems, "$.syscalls[4].args", "argument 0", "OR")
