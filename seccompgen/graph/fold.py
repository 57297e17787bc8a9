"""Folding an event stream into one contribution: the hot loop of the whole program.

Folding uses the compiled ``seccompgen._speedups.fold_chunk`` when the extension was built; it
updates the same dicts as the Python loop in :func:`fold_events`, with the same results, and hands
back any event it is not sure about.  Setting the environment variable ``SECCOMPGEN_PURE=1`` before
import (or ``_COMPILED = False`` in tests) keeps the Python loop.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from itertools import islice, zip_longest
from types import ModuleType

from seccompgen.events import Event, ExitEvent, Phase, SyscallEvent
from seccompgen.graph.values import (
    ARG_VALUES_CAP,
    MANY,
    ArgValues,
    Contribution,
    SyscallUsage,
    first_phase,
)

# Events are folded in chunks so that the distinct argument tuples seen per syscall can be
# reduced to per-index value sets before they pile up (pointer arguments are nearly all distinct).
_CHUNK = 4096
_ARG_TUPLES_FLUSH = 512

# The compiled fold (seccompgen/_speedups.c), unless the extension is missing or
# SECCOMPGEN_PURE is set to anything but "0"; see the module docstring.
_speedups: ModuleType | None
try:
    from seccompgen import _speedups
except ImportError:  # built without a C compiler: the Python loop does everything
    _speedups = None
_COMPILED = _speedups is not None and os.environ.get("SECCOMPGEN_PURE", "") in ("", "0")


def fold_events(events: Iterable[Event]) -> tuple[int, Contribution]:
    """Reduce an event stream to one contribution; the hot loop of the whole program.

    Per event this does a handful of dict operations and no allocation beyond two small key
    tuples: counts are keyed by ``(name, arch, phase, errno)`` and folded into
    :class:`SyscallUsage` values once at the end.
    """
    counts: dict[tuple[str, str, Phase, str | None], int] = {}
    transitions: dict[tuple[str, str], int] = {}
    arg_tuples: dict[str, set[tuple[int | None, ...]]] = {}
    arg_acc: dict[str, list[set[int] | None]] = {}
    last: dict[int, str] = {}  # tid -> the name of its previous syscall
    syscall_event = SyscallEvent
    exit_event = ExitEvent
    last_get = last.get
    last_pop = last.pop
    fold_chunk = _speedups.fold_chunk if _speedups is not None and _COMPILED else None
    it = iter(events)
    while True:
        chunk = list(islice(it, _CHUNK))
        if not chunk:
            break
        i = 0
        n = len(chunk)
        while i < n:
            if fold_chunk is not None:
                # folds what it can and stops at the first event it leaves to this loop
                i = fold_chunk(chunk, i, counts, transitions, arg_tuples, last)
                if i >= n:
                    break
            ev = chunk[i]
            i += 1
            cls = ev.__class__
            if cls is syscall_event:
                name = ev.name  # type: ignore[union-attr]
                key = (name, ev.arch, ev.phase, ev.errno)  # type: ignore[union-attr]
                try:
                    counts[key] += 1
                except KeyError:
                    counts[key] = 1
                # Bigrams per thread: strace -f interleaves threads, and only the order within
                # one thread says "this call followed that one" (strace(1), -f).
                tid = ev.tid
                prev = last_get(tid)
                last[tid] = name
                if prev is not None:
                    pair = (prev, name)
                    try:
                        transitions[pair] += 1
                    except KeyError:
                        transitions[pair] = 1
                a = ev.args  # type: ignore[union-attr]
                if a:
                    s = arg_tuples.get(name)
                    if s is None:
                        arg_tuples[name] = {a}
                    else:
                        s.add(a)
            elif cls is exit_event:
                # A thread that exited ends its chain; its tid may be reused by a new thread.
                last_pop(ev.tid, None)
            # Signals do not end a chain: the interrupted thread carries on (rt_sigreturn).
        for name, tuples in arg_tuples.items():
            if len(tuples) > _ARG_TUPLES_FLUSH:
                _fold_arg_tuples(arg_acc.setdefault(name, []), tuples)
                tuples.clear()
    for name, tuples in arg_tuples.items():
        _fold_arg_tuples(arg_acc.setdefault(name, []), tuples)

    by_name: dict[str, list[tuple[str, Phase, str | None, int]]] = {}
    total = 0
    for (name, arch, phase, errno), n in counts.items():
        by_name.setdefault(name, []).append((arch, phase, errno, n))
        total += n
    usage: dict[str, SyscallUsage] = {}
    for name, rows in by_name.items():
        phases = frozenset(r[1] for r in rows)
        acc = arg_acc.get(name, [])
        usage[name] = SyscallUsage(
            name=name,
            count=sum(r[3] for r in rows),
            errors=sum(r[3] for r in rows if r[2] is not None),
            first_phase=first_phase(phases),
            phases=phases,
            arches=frozenset(r[0] for r in rows),
            args=tuple(MANY if s is None else ArgValues(frozenset(s)) for s in acc),
        )
    return total, Contribution(usage, transitions)


def _fold_arg_tuples(acc: list[set[int] | None], tuples: set[tuple[int | None, ...]]) -> None:
    """Add distinct argument tuples to per-index value sets (``None`` in ``acc`` means many)."""
    if not tuples:
        return
    for i, column in enumerate(zip_longest(*tuples)):
        if i >= len(acc):
            acc.append(set())
        s = acc[i]
        if s is None:
            continue
        s.update(column)  # type: ignore[arg-type]
        s.discard(None)
        if len(s) > ARG_VALUES_CAP:
            acc[i] = None


# --------------------------------------------------------------------------------------------
# The graph
