"""The values the syscall graph holds: argument values, how one workload used one syscall, and
a contribution (what one ``add_events`` call saw), with the add and join rules the merge uses
(see :mod:`seccompgen.graph`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import zip_longest

from seccompgen.events import Phase

ARG_VALUES_CAP = 64
"""Distinct raw values kept per argument index before the index is marked ``many``."""

# The two kinds of node of the graph's networkx view, keyed ``(kind, name)``.
WORKLOAD = "workload"
SYSCALL = "syscall"


@dataclass(frozen=True)
class ArgValues:
    """The distinct raw values seen at one argument index.

    ``many`` is true when more than :data:`ARG_VALUES_CAP` distinct values were seen; ``values``
    is then empty, so a consumer that forgets to check ``many`` cannot mistake a sample for the
    full set.
    """

    values: frozenset[int] = frozenset()
    many: bool = False

    @classmethod
    def of(cls, values: Iterable[int]) -> ArgValues:
        """Values capped at :data:`ARG_VALUES_CAP`."""
        vals = frozenset(values)
        if len(vals) > ARG_VALUES_CAP:
            return MANY
        return cls(vals, False)

    def union(self, other: ArgValues) -> ArgValues:
        """Union with the cap applied; commutative, associative and idempotent."""
        if self.many or other.many:
            return MANY
        if other.values <= self.values:
            return self
        return ArgValues.of(self.values | other.values)


MANY = ArgValues(frozenset(), True)
_NO_VALUES = ArgValues(frozenset(), False)


@dataclass(frozen=True)
class SyscallUsage:
    """How one workload used one syscall.

    ``count`` calls, of which ``errors`` returned an errno; ``first_phase`` is the earliest phase
    it was seen in (phases are ordered STARTUP < EXERCISE < SHUTDOWN, so this is the minimum of
    ``phases``); ``arches`` are libseccomp arch names; ``args[i]`` holds the raw numeric values
    seen at argument index ``i``.

    ``imported`` is true when an imported profile allowed the call (``import --spo``): such a
    profile says the call is allowed, not how often or when it was made, so an imported-only
    usage has ``count`` 0, no ``phases`` and ``first_phase`` None.
    """

    name: str
    count: int
    errors: int
    first_phase: Phase | None
    phases: frozenset[Phase]
    arches: frozenset[str]
    args: tuple[ArgValues, ...]
    imported: bool = False

    @classmethod
    def allowed(cls, name: str, arch: str) -> SyscallUsage:
        """An imported profile allowed ``name`` on ``arch``: no calls, no phase, no arguments."""
        return cls(name, 0, 0, None, frozenset(), frozenset({arch}), (), imported=True)

    def sampled(self, every: frozenset[int]) -> SyscallUsage:
        """This usage with its argument values taken as a sample: the values at an index in
        ``every`` are all there were; any other index becomes ``many``."""
        args = tuple(a if i in every else MANY for i, a in enumerate(self.args))
        return dataclasses.replace(self, args=args)

    def add(self, other: SyscallUsage) -> SyscallUsage:
        """Totals of two different observations: counts add, sets unite."""
        return self._combine(other, self.count + other.count, self.errors + other.errors)

    def join(self, other: SyscallUsage) -> SyscallUsage:
        """Two accounts of the *same* observation: the larger count, sets unite."""
        return self._combine(other, max(self.count, other.count), max(self.errors, other.errors))

    def _combine(self, other: SyscallUsage, count: int, errors: int) -> SyscallUsage:
        phases = self.phases | other.phases
        return SyscallUsage(
            name=self.name,
            count=count,
            errors=errors,
            first_phase=first_phase(phases),
            phases=phases,
            arches=self.arches | other.arches,
            args=_union_args(self.args, other.args),
            imported=self.imported or other.imported,
        )


def first_phase(phases: Iterable[Phase]) -> Phase | None:
    """The earliest of ``phases``, None when there is none (an imported-only usage)."""
    return min(phases, key=lambda p: p.order, default=None)


def _union_args(a: tuple[ArgValues, ...], b: tuple[ArgValues, ...]) -> tuple[ArgValues, ...]:
    return tuple(x.union(y) for x, y in zip_longest(a, b, fillvalue=_NO_VALUES))


@dataclass(frozen=True)
class Contribution:
    """What one ``add_events`` call (or the pool of unsourced ones) saw for one workload.

    Treated as immutable: graphs produced by ``merge`` share these objects.
    """

    usage: Mapping[str, SyscallUsage]
    transitions: Mapping[tuple[str, str], int]

    def add(self, other: Contribution) -> Contribution:
        return self._combine(other, SyscallUsage.add, lambda x, y: x + y)

    def join(self, other: Contribution) -> Contribution:
        return self._combine(other, SyscallUsage.join, max)

    def _combine(
        self,
        other: Contribution,
        usage_op: Callable[[SyscallUsage, SyscallUsage], SyscallUsage],
        count_op: Callable[[int, int], int],
    ) -> Contribution:
        usage = dict(self.usage)
        for name, u in other.usage.items():
            mine = usage.get(name)
            usage[name] = u if mine is None else usage_op(mine, u)
        transitions = dict(self.transitions)
        for pair, n in other.transitions.items():
            mine_n = transitions.get(pair)
            transitions[pair] = n if mine_n is None else count_op(mine_n, n)
        return Contribution(usage, transitions)


_EMPTY = Contribution({}, {})


def add_maps(
    a: Mapping[str, Contribution], b: Mapping[str, Contribution]
) -> dict[str, Contribution]:
    out = dict(a)
    for w, c in b.items():
        out[w] = c if w not in out else out[w].add(c)
    return out


def join_maps(
    a: Mapping[str, Contribution], b: Mapping[str, Contribution]
) -> dict[str, Contribution]:
    out = dict(a)
    for w, c in b.items():
        out[w] = c if w not in out else out[w].join(c)
    return out
