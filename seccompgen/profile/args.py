"""Argument conditions: how a runtime compares a syscall's arguments, and the rules
``emit --args auto`` derives from the values a trace observed.

The runtime semantics live here once (:func:`condition_holds`, :func:`rule_matches`,
:func:`answer`), and everything that makes or reads a conditioned rule goes through them:

* **OR within an index.** libseccomp ANDs the conditions of one rule and refuses two
  comparisons of one argument in a rule (``db_col_rule_add``). runc therefore adds a rule
  whose conditions repeat an index as one rule *per condition* (runc
  libcontainer/seccomp/seccomp_linux.go ``matchCall``: "If two or more arguments have the same
  condition, Revert to old behavior, adding each condition as a separate rule"), which ORs all
  of them, those on other indexes included. So a set of allowed values is written as one rule
  per value, each with a single condition: a shape every runtime reads the same way, whatever
  it does with repeated indexes.
* **Masks.** ``SCMP_CMP_MASKED_EQ`` holds when ``args[i] & value == valueTwo``
  (seccomp_rule_add(3); the runtime-spec ``SyscallArg`` carries the mask in ``value`` and the
  datum in ``valueTwo``). Flag words are compared this way, as Docker's default profile does for
  ``clone`` (mask 0x7E020000, datum 0: no namespace flag).
* **Width.** seccomp(2) hands the filter every argument as a 64-bit register
  (``struct seccomp_data.args[6]``) and libseccomp compares all 64 bits, high and low word. An
  ``int`` argument's upper half is whatever the caller left there: C callers sign-extend
  (``personality(-1)`` or ``fcntl(fd, -1)`` arrive as 0xffffffffffffffff), Go passes
  ``uintptr(uint32(x))`` zero-extended (0x00000000ffffffff), and the kernel truncates to 32 bits
  before it looks (the ``SYSCALL_DEFINE`` wrappers cast to the declared type). ``SCMP_CMP_EQ``
  with 0xffffffff - Docker's personality query rule - therefore misses the sign-extended form.
  A 32-bit argument is compared here as the kernel reads it: ``MASKED_EQ`` with mask
  0xffffffff and the low 32 bits as the datum, which admits both forms and nothing else the
  kernel would read differently. (On a 32-bit architecture the register is 32 bits and
  libseccomp compares the low word only; the same condition holds there too.)
* **A refused argument** matches no rule and gets the profile's default action (EPERM in an
  enforcing profile, logged in a staging one), unless runc's ENOSYS stub answers first for a
  number above the profile's highest (:func:`seccompgen.profile.build.runc_answer`).

The curated list of syscalls and how each is compared is data: ``data/arg-rules.json``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import combinations

from seccompgen.errors import ProfileError
from seccompgen.profile.build import effective_action, runc_answer, shared_arg_indexes
from seccompgen.profile.model import Action, ArgCondition, Operator, Profile, SyscallRule

U32 = 0xFFFFFFFF
U64 = 0xFFFFFFFFFFFFFFFF

ARGS_CHOICES = ("auto", "off")
"""``emit --args``: ``auto`` conditions the curated names, ``off`` allows names only."""
COMPARES = ("values", "no-bits", "not-together")
ENOSYS_WHEN_CONDITIONED = {"clone": "clone3"}
"""A name whose restriction the other one would bypass: clone3 takes its flags in a struct in
memory, which seccomp cannot read, so when clone is conditioned clone3 answers ENOSYS and
callers (glibc >= 2.34) fall back to clone (moby/moby#42681)."""


# ---------------------------------------------------------------------------------------------
# Runtime semantics
# ---------------------------------------------------------------------------------------------


def register(value: int) -> int:
    """A traced argument value as the 64-bit register seccomp sees (strace prints some signed)."""
    return value & U64


def condition_holds(cond: ArgCondition, arg: int) -> bool:
    """Whether ``cond`` holds for the 64-bit register ``arg`` (libseccomp: unsigned 64-bit)."""
    a = register(arg)
    op = cond.op
    if op is Operator.MASKED_EQ:
        return a & cond.value == cond.value_two
    if op is Operator.EQ:
        return a == cond.value
    if op is Operator.NE:
        return a != cond.value
    if op is Operator.LT:
        return a < cond.value
    if op is Operator.LE:
        return a <= cond.value
    if op is Operator.GT:
        return a > cond.value
    return a >= cond.value


def rule_matches(rule: SyscallRule, args: Sequence[int]) -> bool:
    """Whether ``rule``'s conditions let a call with ``args`` through, as runc installs them:
    AND across indexes, OR of every condition when an index repeats (module docstring)."""
    if not rule.args:
        return True
    values = [register(args[c.index]) if c.index < len(args) else 0 for c in rule.args]
    held = [condition_holds(c, v) for c, v in zip(rule.args, values, strict=True)]
    return any(held) if shared_arg_indexes(rule.args) else all(held)


def answer(
    profile: Profile, arch: str, name: str, args: Sequence[int]
) -> tuple[Action, int | None]:
    """What a container under runc gets for ``name(args)`` on ``arch``.

    An unconditional rule decides first (:func:`runc_answer`), then the first conditioned rule
    whose conditions hold; a call no rule matches gets runc's ENOSYS stub or the default action.
    """
    for rule in profile.syscalls:
        if name in rule.names and not rule.args:
            return effective_action(rule.action, rule.errno_ret)
    for rule in profile.syscalls:
        if name in rule.names and rule.args and rule_matches(rule, args):
            return effective_action(rule.action, rule.errno_ret)
    return runc_answer(profile, arch, name)


# ---------------------------------------------------------------------------------------------
# The curated list
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArgRule:
    """One entry of ``data/arg-rules.json``: which argument of ``name`` and how to compare it."""

    name: str
    index: int
    what: str
    compare: str
    width: int
    go_runtime_safe: bool
    reason: str
    source: str
    max_values: int = 8
    bits: tuple[tuple[str, int], ...] = ()
    constants: tuple[tuple[int, str], ...] = ()
    none_words: str = ""
    skip_arches: tuple[str, ...] = ()

    @property
    def mask(self) -> int:
        """Every flag of :attr:`bits` (``no-bits``, ``not-together``)."""
        out = 0
        for _, bit in self.bits:
            out |= bit
        return out

    def word(self, value: int) -> str:
        """The constant's name for ``value`` (low 32 bits for a 32-bit argument), else hex."""
        v = value & (U32 if self.width == 32 else U64)
        return dict(self.constants).get(v, hex(v))

    def flags(self, mask: int) -> str:
        """``A|B`` for the flags of :attr:`bits` in ``mask``, then any other bits in hex."""
        parts = [n for n, b in self.bits if mask & b]
        rest = mask & ~self.mask
        return "|".join(parts + ([hex(rest)] if rest else [])) or "0"


_DATA = "arg-rules.json"


@functools.cache
def arg_rules() -> Mapping[str, ArgRule]:
    """The bundled curated list, by name (``seccompgen/data/arg-rules.json``)."""
    resource = resources.files("seccompgen") / "data" / _DATA
    try:
        data = json.loads(resource.read_text(encoding="utf-8"))
        out: dict[str, ArgRule] = {}
        for e in data["syscalls"]:
            rule = ArgRule(
                name=str(e["name"]),
                index=int(e["index"]),
                what=str(e["what"]),
                compare=str(e["compare"]),
                width=int(e["width"]),
                go_runtime_safe=bool(e["goRuntimeSafe"]),
                reason=str(e["reason"]),
                source=str(e["source"]),
                max_values=int(e.get("max", 8)),
                bits=tuple((str(k), int(v)) for k, v in e.get("bits", {}).items()),
                constants=tuple((int(k), str(v)) for k, v in e.get("names", {}).items()),
                none_words=str(e.get("noneWords", "")),
                skip_arches=tuple(str(a) for a in e.get("skipArches", ())),
            )
            if rule.compare not in COMPARES or rule.width not in (32, 64) or rule.name in out:
                raise ValueError(f"bad entry {rule.name}")
            if rule.compare != "values" and not rule.bits:
                raise ValueError(f"entry {rule.name} needs bits")
            out[rule.name] = rule
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ProfileError(
            f"bundled {_DATA} is unreadable: {e}", hint="reinstall seccompgen"
        ) from e
    return out


# ---------------------------------------------------------------------------------------------
# Rules from observed values
# ---------------------------------------------------------------------------------------------


def value_rules(entry: ArgRule, values: Iterable[int]) -> tuple[SyscallRule, ...]:
    """One ALLOW rule per value (OR within an index), each a single condition."""
    rules = []
    if entry.width == 32:
        conds = {ArgCondition(entry.index, U32, Operator.MASKED_EQ, v & U32) for v in values}
    else:
        conds = {ArgCondition(entry.index, register(v), Operator.EQ) for v in values}
    for cond in sorted(conds, key=lambda c: (c.value_two, c.value)):
        rules.append(SyscallRule(names=(entry.name,), action=Action.ALLOW, args=(cond,)))
    return tuple(rules)


def no_bits_rule(entry: ArgRule, observed: Iterable[int]) -> SyscallRule | None:
    """The ALLOW rule refusing every flag of ``entry.bits`` no observed value set, or ``None``
    when every one was observed (nothing left to refuse)."""
    seen = 0
    for v in observed:
        seen |= register(v)
    refused = entry.mask & ~seen
    if not refused:
        return None
    cond = ArgCondition(entry.index, refused, Operator.MASKED_EQ, 0)
    return SyscallRule(names=(entry.name,), action=Action.ALLOW, args=(cond,))


def not_together_rules(entry: ArgRule, observed: Iterable[int]) -> tuple[SyscallRule, ...]:
    """One ALLOW rule per combination of ``entry.bits`` except all of them at once; empty when
    an observed value set them all (nothing to refuse)."""
    mask = entry.mask
    if any(register(v) & mask == mask for v in observed):
        return ()
    bits = [b for _, b in entry.bits]
    datums = sorted({sum(c) for k in range(len(bits)) for c in combinations(bits, k)})
    return tuple(
        SyscallRule(
            names=(entry.name,),
            action=Action.ALLOW,
            args=(ArgCondition(entry.index, mask, Operator.MASKED_EQ, d),),
        )
        for d in datums
    )


@dataclass(frozen=True, slots=True)
class ObservedArg:
    """What the graph holds for one argument of one name: the values, or why there are none."""

    values: frozenset[int]
    complete: bool
    why: str = ""


@dataclass(frozen=True, slots=True)
class ArgPlan:
    """The conditioned rules for an allowlist, and why each curated name was left alone."""

    rules: tuple[SyscallRule, ...] = ()
    conditioned: tuple[tuple[str, str], ...] = ()
    """(name, the condition in words)."""
    unconditioned: tuple[tuple[str, str], ...] = ()
    """(name, why it stays unconditioned)."""
    enosys_instead: tuple[str, ...] = ()
    """Names taken out of the allowlist to answer ENOSYS (:data:`ENOSYS_WHEN_CONDITIONED`)."""

    @property
    def names(self) -> frozenset[str]:
        return frozenset(n for n, _ in self.conditioned)


def plan_args(
    allowed: Iterable[str],
    observed: Mapping[str, ObservedArg],
    *,
    arches: Sequence[str],
    runtime_names: Iterable[str] = (),
    go_names: Iterable[str] = (),
) -> ArgPlan:
    """Conditioned rules for the curated names among ``allowed``.

    ``observed`` maps a name to its observed values at the entry's index (a name the workloads
    never made is absent). A name in ``runtime_names`` (the runtime's init calls it after the
    filter is loaded, with its own values) stays unconditioned; so does one in ``go_names``
    (added by the Go safety net) unless its condition admits what the Go runtime passes
    (``goRuntimeSafe``).
    """
    runtime, go = set(runtime_names), set(go_names)
    rules: list[SyscallRule] = []
    conditioned: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    allowed_set = set(allowed)
    for name, entry in sorted(arg_rules().items()):
        if name not in allowed_set:
            continue
        obs = observed.get(name, ObservedArg(frozenset(), True))
        why = _why_not(entry, obs, name in runtime, name in go, arches)
        if why:
            skipped.append((name, why))
            continue
        made: tuple[SyscallRule, ...]
        if entry.compare == "values":
            made = value_rules(entry, obs.values)
        elif entry.compare == "no-bits":
            one = no_bits_rule(entry, obs.values)
            made = () if one is None else (one,)
        else:
            made = not_together_rules(entry, obs.values)
        if not made:
            skipped.append(
                (name, f"every flag it would refuse was observed ({entry.flags(entry.mask)})")
            )
            continue
        rules.extend(made)
        conditioned.append((name, describe(entry, made)))
    done = {n for n, _ in conditioned}
    enosys = tuple(sorted(v for k, v in ENOSYS_WHEN_CONDITIONED.items() if k in done))
    return ArgPlan(tuple(rules), tuple(conditioned), tuple(skipped), enosys)


def _why_not(
    entry: ArgRule, obs: ObservedArg, runtime: bool, go: bool, arches: Sequence[str]
) -> str:
    if runtime:
        return "the container runtime calls it after loading the filter, with its own values"
    skip = sorted(set(arches) & set(entry.skip_arches))
    if skip:
        return f"on {', '.join(skip)} its {entry.what} argument has another index"
    if go and not entry.go_runtime_safe:
        return "added for the Go runtime, whose values were not observed"
    if not obs.complete:
        return obs.why or f"the {entry.what} values were not all recorded"
    if entry.compare == "values":
        if not obs.values:
            return f"no {entry.what} value was recorded"
        if len(obs.values) > entry.max_values:
            return (
                f"{len(obs.values)} distinct {entry.what} values, more than the "
                f"{entry.max_values} a value list takes"
            )
    return ""


# ---------------------------------------------------------------------------------------------
# In words
# ---------------------------------------------------------------------------------------------


def describe(entry: ArgRule | None, rules: Sequence[SyscallRule]) -> str:
    """A name's conditioned rules in words: ``AF_INET, AF_UNIX``; ``no namespace flags``;
    ``never PROT_WRITE|PROT_EXEC together``. Shapes the curated list does not make are spelt
    as comparisons (``arg0 & 0x7 == 0x2``), one rule's conditions joined by "and"."""
    conds = [r.args[0] for r in rules if len(r.args) == 1]
    if entry is not None and conds and len(conds) == len(rules):
        words = _curated_words(entry, conds)
        if words:
            return words
    return "; or ".join(" and ".join(_spell(c) for c in r.args) for r in rules)


def _curated_words(entry: ArgRule, conds: Sequence[ArgCondition]) -> str:
    """The words for the shapes :func:`plan_args` makes, or "" for any other shape."""
    if any(c.index != entry.index for c in conds):
        return ""
    if all(c.op is Operator.EQ for c in conds) or all(
        c.op is Operator.MASKED_EQ and c.value == U32 for c in conds
    ):
        vals = [c.value if c.op is Operator.EQ else c.value_two for c in conds]
        return ", ".join(sorted(entry.word(v) for v in vals))
    masks = {c.value for c in conds}
    if len(masks) != 1 or any(c.op is not Operator.MASKED_EQ for c in conds):
        return ""
    mask = masks.pop()
    if len(conds) == 1 and conds[0].value_two == 0:
        if mask == entry.mask and entry.none_words:
            return entry.none_words
        return f"none of {entry.flags(mask).replace('|', ', ')}"
    bits = _bits(mask)
    if {c.value_two for c in conds} == {
        sum(c) for k in range(len(bits)) for c in combinations(bits, k)
    }:
        return f"never {entry.flags(mask)} together"
    return ""


def _bits(mask: int) -> list[int]:
    return [1 << i for i in range(mask.bit_length()) if mask >> i & 1]


_OPS = {
    Operator.EQ: "==",
    Operator.NE: "!=",
    Operator.LT: "<",
    Operator.LE: "<=",
    Operator.GT: ">",
    Operator.GE: ">=",
}


def _spell(c: ArgCondition) -> str:
    if c.op is Operator.MASKED_EQ:
        return f"arg{c.index} & {c.value:#x} == {c.value_two:#x}"
    return f"arg{c.index} {_OPS[c.op]} {c.value:#x}"


def describe_profile(profile: Profile) -> tuple[tuple[str, str], ...]:
    """Per name with conditioned ALLOW or LOG rules, the conditions in words, sorted."""
    by_name: dict[str, list[SyscallRule]] = {}
    for rule in profile.syscalls:
        if rule.args and rule.action in (Action.ALLOW, Action.LOG):
            for name in rule.names:
                by_name.setdefault(name, []).append(rule)
    table = arg_rules()
    return tuple((n, describe(table.get(n), rs)) for n, rs in sorted(by_name.items()))
