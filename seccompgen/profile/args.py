"""Argument conditions: how a runtime compares a syscall's arguments, and the rules
``emit --args auto`` derives from the values a trace observed.

The runtime semantics live here once (:func:`condition_holds`, :func:`rule_matches`,
:func:`answer`), and everything that makes or reads a conditioned rule goes through them:

* **AND across indexes.** libseccomp ANDs the conditions of one rule (include/seccomp.h,
  ``seccomp_rule_add``: the checks "will be chained together (AND'd together) in the
  filter"), and runc and crun pass a rule whose indexes all differ to it as one rule (runc
  ``matchCall``; crun src/libcrun/seccomp.c ``libcrun_generate_seccomp``: one
  ``seccomp_rule_add_array`` unless ``multiple_args``). So values allowed only *together* - a
  socket's family and its type - are written as one rule per pair, each with one condition
  per index (:func:`pair_rules`).
* **OR within an index.** libseccomp ANDs the conditions of one rule and refuses two
  comparisons of one argument in a rule (``db_col_rule_add``). runc therefore adds a rule
  whose conditions repeat an index as one rule *per condition* (runc
  libcontainer/seccomp/seccomp_linux.go ``matchCall``: "If two or more arguments have the same
  condition, Revert to old behavior, adding each condition as a separate rule"), which ORs all
  of them, those on other indexes included (crun does the same). So a set of allowed values
  is written as one rule per value, each with a single condition: a shape every runtime reads
  the same way, whatever it does with repeated indexes.
* **Masks.** ``SCMP_CMP_MASKED_EQ`` holds when ``args[i] & value == valueTwo``
  (seccomp_rule_add(3); the runtime-spec ``SyscallArg`` carries the mask in ``value`` and the
  datum in ``valueTwo``). Flag words are compared this way, as Docker's default profile does for
  ``clone`` (mask 0x7E020000, datum 0: no namespace flag).
* **Free flags.** Some arguments carry flags a caller ORs in at will beside the value the rule
  is about: socket(2)'s type takes ``SOCK_NONBLOCK | SOCK_CLOEXEC`` ("since Linux 2.6.27"),
  and Go's net package always sets both. Such a value is compared with those flags masked out
  (``MASKED_EQ``, mask without them), so ``SOCK_STREAM`` admits ``SOCK_STREAM|SOCK_CLOEXEC``.
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
  libseccomp compares the low word only; the same condition holds there too.) Width and free
  flags are turned into a condition in one place, :func:`value_condition`.
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
    pair_index: int | None = None
    """A second argument restricted together with :attr:`index` (``pairIndex``): one rule per
    (value, pair value), the cross product of the observed values at each index."""
    pair_what: str = ""
    pair_free: tuple[tuple[str, int], ...] = ()
    """Flags of the pair argument a caller sets at will, left out of the comparison."""
    pair_constants: tuple[tuple[int, str], ...] = ()
    max_pairs: int = 16
    pair_skip_arches: tuple[str, ...] = ()

    @property
    def free_mask(self) -> int:
        """Every flag of :attr:`pair_free`."""
        out = 0
        for _, bit in self.pair_free:
            out |= bit
        return out

    def free_words(self, mask: int) -> str:
        """``A|B`` for the flags of :attr:`pair_free` in ``mask``."""
        return "|".join(n for n, b in self.pair_free if mask & b)

    def pair_word(self, value: int) -> str:
        """The constant's name for a pair value (free flags and upper half ignored), else hex."""
        v = value & (U32 if self.width == 32 else U64) & ~self.free_mask
        return dict(self.pair_constants).get(v, hex(v))

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
                pair_index=int(e["pairIndex"]) if "pairIndex" in e else None,
                pair_what=str(e.get("pairWhat", "")),
                pair_free=tuple((str(k), int(v)) for k, v in e.get("pairFree", {}).items()),
                pair_constants=tuple((int(k), str(v)) for k, v in e.get("pairNames", {}).items()),
                max_pairs=int(e.get("maxPairs", 16)),
                pair_skip_arches=tuple(str(a) for a in e.get("pairSkipArches", ())),
            )
            if rule.compare not in COMPARES or rule.width not in (32, 64) or rule.name in out:
                raise ValueError(f"bad entry {rule.name}")
            if rule.pair_index is not None and (
                rule.compare != "values" or rule.pair_index == rule.index or not rule.pair_what
            ):
                raise ValueError(
                    f"entry {rule.name}: pairIndex needs compare values, another index and pairWhat"
                )
            if rule.compare != "values" and not rule.bits:
                raise ValueError(f"entry {rule.name} needs bits")
            out[rule.name] = rule
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ProfileError(
            f"bundled {_DATA} is unreadable: {e}", hint="reinstall seccompgen"
        ) from e
    return out


def free_flags_compared(name: str, cond: ArgCondition, arches: Iterable[str]) -> int:
    """The free flags (``pairFree``, e.g. socket's ``SOCK_NONBLOCK|SOCK_CLOEXEC``) that ``cond``
    on ``name`` compares, on the architectures among ``arches`` where they have those values;
    0 when it compares none. Such a condition lets the caller change the answer with a flag
    that does not change what the rule is about (``MASKED_EQ`` compares its mask's bits, every
    other operator the whole register)."""
    entry = arg_rules().get(name)
    if entry is None or cond.index != entry.pair_index or not entry.free_mask:
        return 0
    if not set(arches) - set(entry.pair_skip_arches):
        return 0
    if cond.op is Operator.MASKED_EQ:
        return cond.value & entry.free_mask
    return entry.free_mask


# ---------------------------------------------------------------------------------------------
# Rules from observed values
# ---------------------------------------------------------------------------------------------


def value_condition(index: int, width: int, value: int, free: int = 0) -> ArgCondition:
    """The condition admitting ``value`` at ``index`` as the kernel reads it, whatever the
    caller leaves in the bits of ``free`` (module docstring: width, free flags): ``EQ`` for a
    64-bit argument with no free flags, else ``MASKED_EQ`` on the bits that count."""
    mask = (U32 if width == 32 else U64) & ~free
    if mask == U64:
        return ArgCondition(index, register(value), Operator.EQ)
    return ArgCondition(index, mask, Operator.MASKED_EQ, register(value) & mask)


def _sorted(conds: Iterable[ArgCondition]) -> list[ArgCondition]:
    return sorted(set(conds), key=lambda c: (c.value_two, c.value))


def value_rules(entry: ArgRule, values: Iterable[int]) -> tuple[SyscallRule, ...]:
    """One ALLOW rule per value (OR within an index), each a single condition."""
    conds = _sorted(value_condition(entry.index, entry.width, v) for v in values)
    return tuple(SyscallRule(names=(entry.name,), action=Action.ALLOW, args=(c,)) for c in conds)


def pair_conditions(
    entry: ArgRule, values: Iterable[int], pair_values: Iterable[int]
) -> tuple[list[ArgCondition], list[ArgCondition]]:
    """The distinct conditions at :attr:`ArgRule.index` and at :attr:`ArgRule.pair_index` (its
    free flags masked out), each sorted: the two sides of :func:`pair_rules`."""
    if entry.pair_index is None:
        raise ValueError(f"{entry.name} has no pair index")
    firsts = _sorted(value_condition(entry.index, entry.width, v) for v in values)
    seconds = _sorted(
        value_condition(entry.pair_index, entry.width, v, entry.free_mask) for v in pair_values
    )
    return firsts, seconds


def pair_rules(
    entry: ArgRule, values: Iterable[int], pair_values: Iterable[int]
) -> tuple[SyscallRule, ...]:
    """One ALLOW rule per (value, pair value), its two conditions on different indexes, so
    ANDed (module docstring): every observed value with every observed pair value."""
    firsts, seconds = pair_conditions(entry, values, pair_values)
    return tuple(
        SyscallRule(names=(entry.name,), action=Action.ALLOW, args=(a, b))
        for a in firsts
        for b in seconds
    )


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
    pair: ObservedArg | None = None
    """The same for the entry's ``pairIndex`` (``None``: not gathered)."""


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
        note = ""
        if entry.compare == "values":
            pairs, note = _pair_values(entry, obs, arches)
            made = pair_rules(entry, obs.values, pairs) if pairs else value_rules(entry, obs.values)
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
        words = describe(entry, made)
        conditioned.append((name, f"{words} (any {entry.pair_what}: {note})" if note else words))
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


def _pair_values(
    entry: ArgRule, obs: ObservedArg, arches: Sequence[str]
) -> tuple[frozenset[int], str]:
    """The observed values at the entry's ``pairIndex`` to make :func:`pair_rules` with, or no
    values and why the pair argument stays free (its own argument is restricted all the same);
    no values and no reason for an entry without a pair."""
    if entry.pair_index is None:
        return frozenset(), ""
    what = entry.pair_what
    skip = sorted(set(arches) & set(entry.pair_skip_arches))
    if skip:
        return frozenset(), f"on {', '.join(skip)} the {what} values or flags differ"
    pair = obs.pair
    if pair is None or (pair.complete and not pair.values):
        return frozenset(), f"no {what} value was recorded"
    if not pair.complete:
        return frozenset(), pair.why or f"the {what} values were not all recorded"
    firsts, seconds = pair_conditions(entry, obs.values, pair.values)
    n = len(firsts) * len(seconds)
    if n > entry.max_pairs:
        return frozenset(), (
            f"{len(firsts)} {entry.what} values × {len(seconds)} {what} values are {n} rules, "
            f"more than the {entry.max_pairs} a pair list takes"
        )
    return pair.values, ""


# ---------------------------------------------------------------------------------------------
# In words
# ---------------------------------------------------------------------------------------------


def describe(entry: ArgRule | None, rules: Sequence[SyscallRule]) -> str:
    """A name's conditioned rules in words: ``AF_INET, AF_UNIX``; ``AF_INET, AF_UNIX ×
    SOCK_DGRAM, SOCK_STREAM`` (every family with every type); ``no namespace flags``; ``never
    PROT_WRITE|PROT_EXEC together``. Shapes the curated list does not make are spelt as
    comparisons (``arg0 & 0x7 == 0x2``), one rule's conditions joined by "and"."""
    if entry is not None and rules:
        conds = [r.args[0] for r in rules if len(r.args) == 1]
        words = _curated_words(entry, conds) if len(conds) == len(rules) else ""
        words = words or _pair_words(entry, rules)
        if words:
            return words
    return "; or ".join(" and ".join(_spell(c) for c in r.args) for r in rules)


def _pair_words(entry: ArgRule, rules: Sequence[SyscallRule]) -> str:
    """``FIRSTS × SECONDS`` for the cross product :func:`pair_rules` makes, or "" for any other
    shape (a pair missing, a second condition that compares the free flags)."""
    if entry.pair_index is None:
        return ""
    pairs: set[tuple[ArgCondition, ArgCondition]] = set()
    for r in rules:
        by_index = {c.index: c for c in r.args}
        first, second = by_index.get(entry.index), by_index.get(entry.pair_index)
        if len(r.args) != 2 or first is None or second is None:
            return ""
        pairs.add((first, second))
    firsts, seconds = {a for a, _ in pairs}, {b for _, b in pairs}
    free = entry.free_mask
    # The second condition must be what pair_rules makes: the flags left free, nothing else.
    if any(b != value_condition(b.index, entry.width, b.value_two, free) for b in seconds):
        return ""
    if len(pairs) != len(firsts) * len(seconds):
        return ""
    words = _curated_words(entry, list(firsts))
    if not words:
        return ""
    return f"{words} × {', '.join(sorted(entry.pair_word(b.value_two) for b in seconds))}"


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
