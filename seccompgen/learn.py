"""``seccompgen learn``: fold kernel seccomp audit records back into the trace store.

The staging loop: emit a profile with ``--mode log`` (calls it does not allow are allowed but
logged, ``SCMP_ACT_LOG``), run the workload under it, then learn what the kernel logged and emit
again with ``--mode enforce``. :func:`learn` takes the records (parsed from auditd's log or a
kernel log dump by :mod:`seccompgen.parsing.audit`, or read live by
:mod:`seccompgen.tracing.audit`) and writes the calls the workload did not have yet as one
trace file (backend ``"audit"``) in the store, so the graph and every later ``emit`` see them.

Only first sightings are written: a record whose ``(arch, name)`` the workload already has, in
the graph or earlier in the same input, is counted but adds nothing. Learning the same input
twice therefore leaves the graph's name sets as they were (the second run writes no trace).
The only side effect is the store; nothing is printed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from seccompgen.errors import StoreError
from seccompgen.parsing.audit import AuditRecord
from seccompgen.store import TraceStore, check_workload_name
from seccompgen.tracefile import TraceHeader, TraceWriter

BACKEND = "audit"
"""The ``backend`` of trace files written by :func:`learn`."""


@dataclass(frozen=True, slots=True)
class LearnFilters:
    """Which records belong to the workload; each given set must contain the record's value.

    ``None`` (the default) accepts any value. ``pids`` are host pids as the kernel logs them.
    """

    pids: frozenset[int] | None = None
    comms: frozenset[str] | None = None
    exes: frozenset[str] | None = None

    def matches(self, record: AuditRecord) -> bool:
        """Whether ``record`` passes every given criterion."""
        return (
            (self.pids is None or record.pid in self.pids)
            and (self.comms is None or record.comm in self.comms)
            and (self.exes is None or record.exe in self.exes)
        )


@dataclass(frozen=True, slots=True)
class LearnSummary:
    """What :func:`learn` did.

    ``new`` holds the ``(arch, name)`` pairs added to the workload, sorted; ``new_names`` their
    names. ``counts`` is the number of matching records per syscall name (new or not).
    ``records`` counts every record given; ``filtered`` those the filters rejected;
    ``duplicates`` matching records whose ``(arch, name)`` was already known; ``unknown`` the
    matching records with no syscall name, per ``(arch or AUDIT_ARCH hex, number)``.
    ``trace_path`` and ``trace_id`` are ``None`` when there was nothing new to write.
    """

    workload: str
    source: str
    new: tuple[tuple[str, str], ...]
    counts: Mapping[str, int]
    records: int
    filtered: int
    duplicates: int
    unknown: Mapping[tuple[str, int], int]
    trace_path: Path | None
    trace_id: str | None

    @property
    def new_names(self) -> tuple[str, ...]:
        """The distinct syscall names added, sorted."""
        return tuple(sorted({name for _arch, name in self.new}))

    @property
    def matched(self) -> int:
        """Records that passed the filters."""
        return self.records - self.filtered


def known_pairs(store: TraceStore, workload: str) -> frozenset[tuple[str, str]]:
    """The ``(arch, name)`` pairs the store's graph already has for ``workload``."""
    try:
        graph = store.load_graph()
        usage = graph.usage(workload)
    except StoreError:
        # An empty store, or a workload seen for the first time: nothing is known yet.
        return frozenset()
    return frozenset((arch, name) for name, u in usage.items() for arch in u.arches)


def learn(
    store: TraceStore,
    workload: str,
    records: Iterable[AuditRecord],
    *,
    source: str,
    filters: LearnFilters,
) -> LearnSummary:
    """Add the calls in ``records`` that ``workload`` has not been seen making to the store.

    ``source`` names where the records came from (a file, ``netlink``); it goes into the trace
    header's command. Raises :class:`StoreError` for a bad workload name and
    :class:`~seccompgen.errors.TraceFileError` when the trace cannot be written.
    """
    problem = check_workload_name(workload)
    if problem:
        raise StoreError(problem)
    known = set(known_pairs(store, workload))
    counts: Counter[str] = Counter()
    unknown: Counter[tuple[str, int]] = Counter()
    total = filtered = duplicates = 0
    fresh = []
    for record in records:
        total += 1
        if not filters.matches(record):
            filtered += 1
            continue
        event = record.to_event()
        if event is None:
            arch = record.arch if record.arch is not None else f"{record.audit_arch:#x}"
            unknown[(arch, record.syscall_number)] += 1
            continue
        counts[event.name] += 1
        pair = (event.arch, event.name)
        if pair in known:
            duplicates += 1
            continue
        known.add(pair)
        fresh.append(event)

    trace_path: Path | None = None
    trace_id: str | None = None
    if fresh:
        arches = Counter(e.arch for e in fresh)
        header = TraceHeader.new(
            workload=workload,
            arch=arches.most_common(1)[0][0],
            backend=BACKEND,
            command=(BACKEND, source),
        )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = store.new_trace_path(workload, header.trace_id, stamp)
        with TraceWriter.create(path, header) as writer:
            for event in fresh:
                writer.write(event)
        store.add_trace(path)
        trace_path, trace_id = path, header.trace_id

    return LearnSummary(
        workload=workload,
        source=source,
        new=tuple(sorted((e.arch, e.name) for e in fresh)),
        counts=MappingProxyType(dict(sorted(counts.items()))),
        records=total,
        filtered=filtered,
        duplicates=duplicates,
        unknown=MappingProxyType(dict(sorted(unknown.items()))),
        trace_path=trace_path,
        trace_id=trace_id,
    )
