"""The seccomp profile as values: str enums for the constants, frozen dataclasses for the rest.

The shape follows the OCI runtime-spec ``linux.seccomp`` object (config-linux.md, "Seccomp"),
which Docker, Podman, containerd and the kubelet's ``Localhost`` profiles all read. Docker's own
profile format (moby/profiles ``seccomp/default.json``) adds ``archMap`` and per-rule
``includes``/``excludes``; :meth:`Profile.from_dict` reads those too, turning ``archMap`` into
``architectures`` and keeping ``includes``/``excludes`` on the rule as :class:`RuleFilter` values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TypeVar

from seccompgen.errors import ProfileError

JsonObject = dict[str, object]
_E = TypeVar("_E", bound=Enum)


class Action(str, Enum):
    """``SCMP_ACT_*``: what the kernel does when a rule (or nothing) matches (seccomp(2))."""

    KILL = "SCMP_ACT_KILL"
    KILL_PROCESS = "SCMP_ACT_KILL_PROCESS"
    KILL_THREAD = "SCMP_ACT_KILL_THREAD"
    TRAP = "SCMP_ACT_TRAP"
    ERRNO = "SCMP_ACT_ERRNO"
    TRACE = "SCMP_ACT_TRACE"
    ALLOW = "SCMP_ACT_ALLOW"
    LOG = "SCMP_ACT_LOG"
    NOTIFY = "SCMP_ACT_NOTIFY"

    @property
    def takes_errno(self) -> bool:
        """Whether ``errnoRet`` applies: the runtime-spec allows it only on ERRNO and TRACE."""
        return self in (Action.ERRNO, Action.TRACE)


class Arch(str, Enum):
    """``SCMP_ARCH_*``: the architectures the OCI runtime-spec lists (defs-linux.json)."""

    X86 = "SCMP_ARCH_X86"
    X86_64 = "SCMP_ARCH_X86_64"
    X32 = "SCMP_ARCH_X32"
    ARM = "SCMP_ARCH_ARM"
    AARCH64 = "SCMP_ARCH_AARCH64"
    LOONGARCH64 = "SCMP_ARCH_LOONGARCH64"
    M68K = "SCMP_ARCH_M68K"
    MIPS = "SCMP_ARCH_MIPS"
    MIPS64 = "SCMP_ARCH_MIPS64"
    MIPS64N32 = "SCMP_ARCH_MIPS64N32"
    MIPSEL = "SCMP_ARCH_MIPSEL"
    MIPSEL64 = "SCMP_ARCH_MIPSEL64"
    MIPSEL64N32 = "SCMP_ARCH_MIPSEL64N32"
    PPC = "SCMP_ARCH_PPC"
    PPC64 = "SCMP_ARCH_PPC64"
    PPC64LE = "SCMP_ARCH_PPC64LE"
    S390 = "SCMP_ARCH_S390"
    S390X = "SCMP_ARCH_S390X"
    SH = "SCMP_ARCH_SH"
    SHEB = "SCMP_ARCH_SHEB"
    PARISC = "SCMP_ARCH_PARISC"
    PARISC64 = "SCMP_ARCH_PARISC64"
    RISCV64 = "SCMP_ARCH_RISCV64"


class Operator(str, Enum):
    """``SCMP_CMP_*``: how an argument is compared (seccomp_rule_add(3))."""

    NE = "SCMP_CMP_NE"
    LT = "SCMP_CMP_LT"
    LE = "SCMP_CMP_LE"
    EQ = "SCMP_CMP_EQ"
    GE = "SCMP_CMP_GE"
    GT = "SCMP_CMP_GT"
    MASKED_EQ = "SCMP_CMP_MASKED_EQ"


FLAGS = frozenset(
    {
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    }
)
"""The filter flags the runtime-spec lists (defs-linux.json ``SeccompFlag``)."""

# seccomp(2): a syscall has at most six arguments (struct seccomp_data.args[6]).
MAX_ARG_INDEX = 5
_UINT32_MAX = 2**32 - 1
_UINT64_MAX = 2**64 - 1


@dataclass(frozen=True, slots=True)
class ArgCondition:
    """One comparison on syscall argument ``index`` (0-5): ``arg <op> value``.

    For ``MASKED_EQ`` the test is ``(arg & value) == value_two`` (seccomp_rule_add(3)).
    """

    index: int
    value: int
    op: Operator
    value_two: int = 0

    def to_dict(self) -> JsonObject:
        """The runtime-spec ``SyscallArg`` object; ``valueTwo`` only when it is not zero."""
        out: JsonObject = {"index": self.index, "value": self.value}
        if self.value_two:
            out["valueTwo"] = self.value_two
        out["op"] = self.op.value
        return out


@dataclass(frozen=True, slots=True)
class RuleFilter:
    """Docker's ``includes``/``excludes`` on a rule (moby/profiles ``seccomp.Filter``).

    ``arches`` uses libseccomp-golang's names (``amd64``, ``arm64``, ``x86``, ``x32``, ...),
    ``caps`` capability names (``CAP_SYS_ADMIN``), ``min_kernel`` a ``major.minor`` string.
    """

    arches: tuple[str, ...] = ()
    caps: tuple[str, ...] = ()
    min_kernel: str | None = None

    def __bool__(self) -> bool:
        return bool(self.arches or self.caps or self.min_kernel)

    def to_dict(self) -> JsonObject:
        """Docker's JSON form, with empty fields left out."""
        out: JsonObject = {}
        if self.arches:
            out["arches"] = list(self.arches)
        if self.caps:
            out["caps"] = list(self.caps)
        if self.min_kernel:
            out["minKernel"] = self.min_kernel
        return out


@dataclass(frozen=True, slots=True)
class SyscallRule:
    """``action`` for the syscalls in ``names`` (when every condition in ``args`` holds).

    ``includes``/``excludes`` are Docker-format extensions, empty for OCI profiles.
    """

    names: tuple[str, ...]
    action: Action
    errno_ret: int | None = None
    args: tuple[ArgCondition, ...] = ()
    comment: str | None = None
    includes: RuleFilter = field(default_factory=RuleFilter)
    excludes: RuleFilter = field(default_factory=RuleFilter)

    def to_dict(self) -> JsonObject:
        """The runtime-spec ``Syscall`` object: names, action, errnoRet, args, comment."""
        out: JsonObject = {"names": list(self.names), "action": self.action.value}
        if self.errno_ret is not None:
            out["errnoRet"] = self.errno_ret
        if self.args:
            out["args"] = [a.to_dict() for a in self.args]
        if self.comment is not None:
            out["comment"] = self.comment
        if self.includes:
            out["includes"] = self.includes.to_dict()
        if self.excludes:
            out["excludes"] = self.excludes.to_dict()
        return out


@dataclass(frozen=True, slots=True)
class Profile:
    """A seccomp profile: the default action and the rules that override it."""

    default_action: Action
    architectures: tuple[Arch, ...]
    syscalls: tuple[SyscallRule, ...]
    default_errno_ret: int | None = None
    flags: tuple[str, ...] = ()

    def to_dict(self) -> JsonObject:
        """The runtime-spec ``linux.seccomp`` object with a stable key order."""
        out: JsonObject = {"defaultAction": self.default_action.value}
        if self.default_errno_ret is not None:
            out["defaultErrnoRet"] = self.default_errno_ret
        if self.architectures:
            out["architectures"] = [a.value for a in self.architectures]
        if self.flags:
            out["flags"] = list(self.flags)
        out["syscalls"] = [r.to_dict() for r in self.syscalls]
        return out

    @classmethod
    def from_dict(cls, data: object, *, source: str) -> Profile:
        """Read an OCI or Docker-format profile; bad data raises :class:`ProfileError`.

        The error names ``source`` and the JSON path of the offending value.
        """
        return _Reader(source).profile(data)


def load_profile(path: Path) -> Profile:
    """Read a profile file (OCI or Docker format)."""
    data = read_json(path)
    return Profile.from_dict(data, source=str(path))


def read_json(path: Path) -> object:
    """Parse a JSON file; a missing file or bad JSON raises :class:`ProfileError` (line, column)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ProfileError(f"{path}: no such file", hint="check the profile path") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ProfileError(f"{path}: cannot read: {e}") from e
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ProfileError(
            f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}",
            hint="a seccomp profile is a JSON object; fix the syntax at that line and column",
        ) from e
    except (ValueError, RecursionError) as e:
        # Valid JSON syntax that Python's json module still refuses: an integer longer than
        # sys.get_int_max_str_digits() (ValueError, CVE-2020-10735) or nesting deeper than the
        # recursion limit. No seccomp profile has either.
        what = "nested too deeply" if isinstance(e, RecursionError) else str(e).split(";")[0]
        raise ProfileError(
            f"{path}: not a seccomp profile: {what}",
            hint="a seccomp profile is a JSON object a few levels deep with numbers that fit "
            "in 64 bits; check that this is the right file",
        ) from e


_PROFILE_KEYS = frozenset(
    {"defaultAction", "defaultErrnoRet", "architectures", "archMap", "flags", "syscalls"}
)
_RULE_KEYS = frozenset(
    {"names", "name", "action", "errnoRet", "args", "comment", "includes", "excludes"}
)
_ARG_KEYS = frozenset({"index", "value", "valueTwo", "op"})
_FILTER_KEYS = frozenset({"arches", "caps", "minKernel"})


class _Reader:
    """Turns parsed JSON into a :class:`Profile`, reporting errors by JSON path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str, hint: str | None = None) -> ProfileError:
        return ProfileError(f"{self.source}: {path}: {message}", hint=hint)

    def obj(self, data: object, path: str, allowed: frozenset[str]) -> Mapping[str, object]:
        if not isinstance(data, dict):
            raise self.fail(path, f"expected an object, got {_kind(data)}")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise self.fail(
                path,
                f"unknown key {unknown[0]!r}",
                hint=f"allowed keys here: {', '.join(sorted(allowed))}",
            )
        return data

    def array(self, data: object, path: str) -> list[object]:
        if not isinstance(data, list):
            raise self.fail(path, f"expected an array, got {_kind(data)}")
        return data

    def string(self, data: object, path: str) -> str:
        if not isinstance(data, str):
            raise self.fail(path, f"expected a string, got {_kind(data)}")
        return data

    def integer(self, data: object, path: str, maximum: int) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise self.fail(path, f"expected an integer, got {_kind(data)}")
        if not 0 <= data <= maximum:
            raise self.fail(path, f"{data} is out of range 0..{maximum}")
        return data

    def enum(self, kind: type[_E], data: object, path: str) -> _E:
        value = self.string(data, path)
        try:
            return kind(value)
        except ValueError:
            choices = ", ".join(str(m.value) for m in kind)
            raise self.fail(
                path, f"unknown value {value!r}", hint=f"use one of: {choices}"
            ) from None

    def profile(self, data: object) -> Profile:
        top = self.obj(data, "$", _PROFILE_KEYS)
        if "defaultAction" not in top:
            # Without a default action Docker treats the profile as "seccomp disabled"
            # (moby profiles/seccomp setupSeccomp); never read such a file as a profile.
            raise self.fail(
                "$",
                "missing 'defaultAction'",
                hint="set defaultAction (e.g. SCMP_ACT_ERRNO); without one seccomp is disabled",
            )
        default_action = self.enum(Action, top["defaultAction"], "$.defaultAction")
        default_errno: int | None = None
        if "defaultErrnoRet" in top:
            default_errno = self.integer(top["defaultErrnoRet"], "$.defaultErrnoRet", _UINT32_MAX)
            if not default_action.takes_errno:
                raise self.fail(
                    "$.defaultErrnoRet",
                    f"defaultErrnoRet is not allowed with {default_action.value}",
                    hint="use defaultErrnoRet only with SCMP_ACT_ERRNO or SCMP_ACT_TRACE",
                )
        if "architectures" in top and "archMap" in top:
            # moby profiles/seccomp: "use either 'architectures' or 'archMap'".
            raise self.fail("$", "both 'architectures' and 'archMap' are set; use one")
        arches: list[Arch] = []
        if "architectures" in top:
            for i, item in enumerate(self.array(top["architectures"], "$.architectures")):
                arches.append(self.enum(Arch, item, f"$.architectures[{i}]"))
        if "archMap" in top:
            arches = self.arch_map(top["archMap"])
        flags: list[str] = []
        if "flags" in top:
            for i, item in enumerate(self.array(top["flags"], "$.flags")):
                flag = self.string(item, f"$.flags[{i}]")
                if flag not in FLAGS:
                    raise self.fail(
                        f"$.flags[{i}]",
                        f"unknown flag {flag!r}",
                        hint=f"use one of: {', '.join(sorted(FLAGS))}",
                    )
                flags.append(flag)
        rules: list[SyscallRule] = []
        if "syscalls" in top and top["syscalls"] is not None:
            for i, item in enumerate(self.array(top["syscalls"], "$.syscalls")):
                rules.append(self.rule(item, f"$.syscalls[{i}]"))
        return Profile(
            default_action=default_action,
            architectures=tuple(dict.fromkeys(arches)),
            syscalls=tuple(rules),
            default_errno_ret=default_errno,
            flags=tuple(dict.fromkeys(flags)),
        )

    def arch_map(self, data: object) -> list[Arch]:
        # Docker picks the archMap entry for the host at run time; read as a file, the profile
        # covers every listed architecture and sub-architecture, in file order.
        arches: list[Arch] = []
        for i, item in enumerate(self.array(data, "$.archMap")):
            path = f"$.archMap[{i}]"
            entry = self.obj(item, path, frozenset({"architecture", "subArchitectures"}))
            if "architecture" not in entry:
                raise self.fail(path, "missing 'architecture'")
            arches.append(self.enum(Arch, entry["architecture"], f"{path}.architecture"))
            subs = entry.get("subArchitectures")
            if subs is not None:
                for j, sub in enumerate(self.array(subs, f"{path}.subArchitectures")):
                    arches.append(self.enum(Arch, sub, f"{path}.subArchitectures[{j}]"))
        return arches

    def rule(self, data: object, path: str) -> SyscallRule:
        raw = self.obj(data, path, _RULE_KEYS)
        names: list[str] = []
        if "names" in raw and raw["names"] is not None:
            for i, item in enumerate(self.array(raw["names"], f"{path}.names")):
                name = self.string(item, f"{path}.names[{i}]")
                if not name:
                    raise self.fail(f"{path}.names[{i}]", "empty syscall name")
                names.append(name)
        if "name" in raw:
            # Docker's older format had one "name" per rule; moby still accepts it.
            names.append(self.string(raw["name"], f"{path}.name"))
        if not names:
            raise self.fail(path, "a rule needs at least one syscall name in 'names'")
        if "action" not in raw:
            raise self.fail(path, "missing 'action'")
        action = self.enum(Action, raw["action"], f"{path}.action")
        errno_ret: int | None = None
        if "errnoRet" in raw:
            errno_ret = self.integer(raw["errnoRet"], f"{path}.errnoRet", _UINT32_MAX)
            if not action.takes_errno:
                # runtime-spec config-linux.md: "When the action doesn't support an errno, the
                # runtime MUST print and error and fail."
                raise self.fail(
                    f"{path}.errnoRet",
                    f"errnoRet is not allowed with {action.value}",
                    hint="use errnoRet only with SCMP_ACT_ERRNO or SCMP_ACT_TRACE",
                )
        args: list[ArgCondition] = []
        if "args" in raw and raw["args"] is not None:
            for i, item in enumerate(self.array(raw["args"], f"{path}.args")):
                args.append(self.arg(item, f"{path}.args[{i}]"))
        comment: str | None = None
        if "comment" in raw and raw["comment"] is not None:
            comment = self.string(raw["comment"], f"{path}.comment")
        return SyscallRule(
            names=tuple(names),
            action=action,
            errno_ret=errno_ret,
            args=tuple(args),
            comment=comment,
            includes=self.rule_filter(raw.get("includes"), f"{path}.includes"),
            excludes=self.rule_filter(raw.get("excludes"), f"{path}.excludes"),
        )

    def arg(self, data: object, path: str) -> ArgCondition:
        raw = self.obj(data, path, _ARG_KEYS)
        for key in ("index", "value", "op"):
            if key not in raw:
                raise self.fail(path, f"missing {key!r}")
        return ArgCondition(
            index=self.integer(raw["index"], f"{path}.index", MAX_ARG_INDEX),
            value=self.integer(raw["value"], f"{path}.value", _UINT64_MAX),
            op=self.enum(Operator, raw["op"], f"{path}.op"),
            value_two=self.integer(raw.get("valueTwo", 0), f"{path}.valueTwo", _UINT64_MAX),
        )

    def rule_filter(self, data: object, path: str) -> RuleFilter:
        if data is None:
            return RuleFilter()
        raw = self.obj(data, path, _FILTER_KEYS)
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("arches", "caps"):
            value = raw.get(key)
            items = [] if value is None else self.array(value, f"{path}.{key}")
            lists[key] = tuple(self.string(v, f"{path}.{key}[{i}]") for i, v in enumerate(items))
        min_kernel = raw.get("minKernel")
        return RuleFilter(
            arches=lists["arches"],
            caps=lists["caps"],
            min_kernel=None
            if min_kernel is None
            else self.string(min_kernel, f"{path}.minKernel") or None,
        )


def _kind(data: object) -> str:
    if data is None:
        return "null"
    if isinstance(data, bool):
        return "a boolean"
    if isinstance(data, int | float):
        return "a number"
    if isinstance(data, str):
        return "a string"
    if isinstance(data, list):
        return "an array"
    if isinstance(data, dict):
        return "an object"
    return type(data).__name__
