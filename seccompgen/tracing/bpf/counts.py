"""The counts of one ebpf run, as both engines fold them, and the trace events they become.

The bpftrace engine's output lines (:meth:`BpftraceState.feed`) and the bpf engine's maps
(:meth:`seccompgen.tracing.bpf.counter.BpfCounter.read_all`) fill the same
:class:`BpftraceState`; :func:`counted_events` turns it into the ``(event, count)`` pairs of the
trace file (``docs/trace-format.md``, "Counted traces"), so the trace is the same for both
engines.
"""

from __future__ import annotations

import errno as errno_module
import json
import signal
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Final

from seccompgen.errors import TracerError
from seccompgen.events import Phase, SyscallEvent
from seccompgen.syscalls import KERNEL_ERRNOS

PHASE_NUMBER: Final = {Phase.STARTUP: 0, Phase.EXERCISE: 1, Phase.SHUTDOWN: 2}
"""The phase numbers the BPF programs count with (the bpf engine's ``phase`` map, the
bpftrace program's ``@phase``)."""
PHASES: Final = {v: k for k, v in PHASE_NUMBER.items()}

ARGS_SAMPLES: Final = 8
"""The argument tuples of the first this many calls of each (process, thread, syscall, phase)
are kept, each distinct tuple once: at most this many tuples per key. Sampling by the key's own
count costs no extra map lookup on the calls after those."""

MAP_KEYS_MAX: Final = 65536
"""Keys per BPF map (bpftrace's ``BPFTRACE_MAP_KEYS_MAX``; its default is 4096)."""

# Calls that never return (strace prints "= ?"); their events have no return value.
_NO_RETURN: Final = frozenset({"exit", "exit_group"})

CountKey = tuple[int, int, int, int]
"""(pid, tid, syscall number, phase number)."""

_ARG_RULES: Final = "arg-rules.json"


def watched_args() -> dict[str, tuple[int, ...]]:
    """The argument indexes whose every distinct value both engines record, by syscall name.

    They are the arguments ``emit --args auto`` draws rules from (each entry's ``index`` and
    ``pairIndex`` in ``seccompgen/data/arg-rules.json``): a rule drawn from a sample would
    refuse the values of the calls after it. The file is read here by name and index only, so
    tracing does not depend on the profile layer that interprets the rest.
    """
    resource = resources.files("seccompgen") / "data" / _ARG_RULES
    try:
        data = json.loads(resource.read_text(encoding="utf-8"))
        out: dict[str, tuple[int, ...]] = {}
        for e in data["syscalls"]:
            indexes = {int(e["index"])}
            if "pairIndex" in e:
                indexes.add(int(e["pairIndex"]))
            if not all(0 <= i < 6 for i in indexes):
                raise ValueError(f"argument index out of 0..5 for {e['name']}")
            out[str(e["name"])] = tuple(sorted(indexes))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise TracerError(
            f"bundled {_ARG_RULES} is unreadable: {e}", hint="reinstall seccompgen"
        ) from e
    return out


def watched_numbers(
    watched: Mapping[str, tuple[int, ...]], number_of: Callable[[str], int | None]
) -> dict[int, tuple[int, ...]]:
    """:func:`watched_args` by syscall number (names without a number on the arch are left
    out)."""
    out: dict[int, tuple[int, ...]] = {}
    for name, indexes in watched.items():
        nr = number_of(name)
        if nr is not None:
            out[nr] = indexes
    return out


@dataclass
class BpftraceState:
    """What bpftrace printed so far (its ``-f json`` lines), folded by :meth:`feed`.

    Each map print replaces the previous one (the BPF maps only grow), so the state after the
    last line is the final count even when bpftrace was killed before its END block. The bpf
    engine fills the same fields from its maps
    (:meth:`~seccompgen.tracing.bpf.counter.BpfCounter.read_all`).
    """

    counts: dict[CountKey, int] = field(default_factory=dict)
    first_seen: dict[CountKey, int] = field(default_factory=dict)
    errors: dict[tuple[int, int, int, int, int], int] = field(default_factory=dict)
    samples: dict[tuple[int, ...], int] = field(default_factory=dict)
    distinct: dict[tuple[int, ...], int] = field(default_factory=dict)
    """(pid, tid, nr, phase, args[6]) -> first ns: every distinct value of the watched
    arguments (:func:`watched_args`), the others zero."""
    distinct_full: bool = False
    """The map of distinct values filled up: some may be missing."""
    started: list[tuple[int, int]] = field(default_factory=list)
    exits: list[tuple[int, int, int, int]] = field(default_factory=list)
    ended: bool = False

    def feed(self, line: str) -> str | None:
        """Fold one output line in; returns what it was: ``"start"``, ``"exit"``, a map name
        (``"@n"``, ...), ``"end"``, or None for anything else (ignored)."""
        line = line.strip()
        if not line.startswith("{"):
            return None
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            return None  # a line cut short when bpftrace was killed
        kind = obj.get("type") if isinstance(obj, dict) else None
        data = obj.get("data") if isinstance(obj, dict) else None
        if kind == "printf" and isinstance(data, str):
            words = data.split()
            if words[:1] == ["start"] and len(words) == 3:
                self.started.append((int(words[1]), int(words[2])))
                return "start"
            if words[:1] == ["exit"] and len(words) == 5:
                pid, code, phase, ns = map(int, words[1:])
                self.exits.append((pid, code, phase, ns))
                return "exit"
            if words == ["end"]:
                self.ended = True
                return "end"
            return None
        if kind == "map" and isinstance(data, dict):
            for name, values in data.items():
                if not isinstance(values, dict):
                    continue
                parsed = {_key(k): int(v) for k, v in values.items()}
                if name == "@n":
                    self.counts = {k: v for k, v in parsed.items() if len(k) == 4}
                elif name == "@t":
                    self.first_seen = {k: v for k, v in parsed.items() if len(k) == 4}
                elif name == "@e":
                    self.errors = {k: v for k, v in parsed.items() if len(k) == 5}
                elif name == "@a":
                    self.samples = {k: v for k, v in parsed.items() if len(k) == 10}
                elif name == "@v":
                    self.distinct = {k: v for k, v in parsed.items() if len(k) == 10}
                else:
                    continue
                return str(name)
        return None


def _key(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(","))


def errno_name(number: int) -> str:
    """The symbolic name of errno ``number`` (``ENOENT``), kernel-internal ones included."""
    name = errno_module.errorcode.get(number) or KERNEL_ERRNOS.get(number)
    return name if name is not None else f"E{number}"


def exit_status(code: int) -> tuple[int | None, str | None]:
    """``task_struct.exit_code`` as (exit code, signal name): wait(2)'s status encoding."""
    sig = code & 0x7F
    if sig:
        try:
            return None, signal.Signals(sig).name
        except ValueError:
            return None, f"SIG{sig}"
    return (code >> 8) & 0xFF, None


def counted_events(
    state: BpftraceState,
    *,
    arch: str,
    name_of: Callable[[int], str | None],
    wall_offset: float,
    watched: Mapping[int, tuple[int, ...]] | None = None,
) -> Iterator[tuple[SyscallEvent, int]]:
    """The trace events for ``state``: ``(event, count)`` pairs, in first-seen order.

    Per (pid, tid, syscall, phase): one event per errno the call failed with (ret -1), one for
    the calls that did not fail, and the sampled argument tuples as single events taken out of
    those counts. ``wall_offset`` turns BPF times (CLOCK_MONOTONIC nanoseconds) into seconds
    since the epoch. A call that spans a phase boundary and fails is counted as entered in one
    phase and as failed in the next; the counts of a phase then add up to at most one more call
    per such crossing. Syscall numbers that ``name_of`` does not know are left out.

    ``watched`` (syscall number -> argument indexes, :func:`watched_numbers`) adds the distinct
    values of ``state.distinct`` that no sample of the same key carries: one more single event
    per such combination of the watched arguments, with the other arguments unknown (None).
    Each stands for a call no sample came from (its values differ from every sample's), so the
    events of a key never outnumber its count.
    """
    errors: dict[CountKey, dict[int, int]] = {}
    for (pid, tid, nr, ph, err), n in state.errors.items():
        errors.setdefault((pid, tid, nr, ph), {})[err] = n
    samples: dict[CountKey, list[tuple[int, tuple[int | None, ...]]]] = {}
    for k, when in state.samples.items():
        samples.setdefault((k[0], k[1], k[2], k[3]), []).append((when, k[4:]))
    for key, extra in _distinct_events(state, watched or {}, samples).items():
        samples.setdefault(key, []).extend(extra)

    def wall(ns: int | None) -> float | None:
        return None if ns is None else round(ns / 1e9 + wall_offset, 6)

    rows: list[tuple[float, int, SyscallEvent, int]] = []
    for key in sorted(set(state.counts) | set(errors)):
        pid, tid, nr, ph = key
        name = name_of(nr)
        phase = PHASES.get(ph)
        if name is None or phase is None:
            continue
        ns = state.first_seen.get(key)
        ts = wall(ns)
        order = float(ns) if ns is not None else float("inf")
        fails = errors.get(key, {})
        ok = max(0, state.counts.get(key, 0) - sum(fails.values()))
        buckets: list[tuple[int | None, str | None, int]] = [
            (-1, errno_name(err), n) for err, n in sorted(fails.items())
        ]
        for sample_ns, args in sorted(samples.get(key, []), key=_sample_order):
            # A sample stands for one of the counted calls: from the successes if any are
            # left, else from the largest failure bucket.
            ret: int | None
            err_name: str | None
            if ok > 0:
                ok -= 1
                ret, err_name = (None if name in _NO_RETURN else 0), None
            else:
                live = [j for j in range(len(buckets)) if buckets[j][2] > 0]
                if not live:
                    break
                i = max(live, key=lambda j: buckets[j][2])
                r, e, n = buckets[i]
                buckets[i] = (r, e, n - 1)
                ret, err_name = r, e
            event = SyscallEvent(name, arch, pid, tid, ret, err_name, wall(sample_ns), args, phase)
            rows.append((float(sample_ns), 1, event, 1))
        if ok > 0:
            ret0 = None if name in _NO_RETURN else 0
            rows.append(
                (order, 0, SyscallEvent(name, arch, pid, tid, ret0, None, ts, (), phase), ok)
            )
        for r, e, n in buckets:
            if n > 0:
                rows.append((order, 2, SyscallEvent(name, arch, pid, tid, r, e, ts, (), phase), n))
    rows.sort(key=lambda r: (r[0], r[2].pid, r[2].tid, r[2].name, r[1], r[2].errno or ""))
    for _order, _kind, event, n in rows:
        yield event, n


def _sample_order(sample: tuple[int, tuple[int | None, ...]]) -> tuple[int, tuple[int, ...]]:
    return sample[0], tuple(-1 if a is None else a for a in sample[1])


def _distinct_events(
    state: BpftraceState,
    watched: Mapping[int, tuple[int, ...]],
    samples: Mapping[CountKey, list[tuple[int, tuple[int | None, ...]]]],
) -> dict[CountKey, list[tuple[int, tuple[int | None, ...]]]]:
    """The argument tuples (watched positions only, None elsewhere) of ``state.distinct`` that
    no sample of their key already carries, by key, with their first-seen times."""
    out: dict[CountKey, list[tuple[int, tuple[int | None, ...]]]] = {}
    seen: dict[CountKey, set[tuple[int | None, ...]]] = {}
    for k, when in sorted(state.distinct.items(), key=lambda kv: (kv[1], kv[0])):
        key = (k[0], k[1], k[2], k[3])
        indexes = watched.get(k[2])
        if indexes is None:
            continue
        have = seen.get(key)
        if have is None:
            have = seen[key] = {tuple(a[i] for i in indexes) for _ns, a in samples.get(key, ())}
        values = tuple(k[4 + i] for i in indexes)
        if values in have:
            continue
        have.add(values)
        args: list[int | None] = [None] * 6
        for i, v in zip(indexes, values, strict=True):
            args[i] = v
        out.setdefault(key, []).append((when, tuple(args)))
    return out
