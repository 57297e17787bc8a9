"""The use cases behind each command: trace, import, emit, validate, graph, diff, learn,
verify and runtime-baseline.

Each function takes an options dataclass, does the work through the layers below, and returns a
result dataclass for the CLI to render. Nothing here prints or exits; progress goes through
callbacks and failures are ``SeccompgenError`` subclasses.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from seccompgen.attach.docker import docker_run_hint
from seccompgen.attach.kubernetes import KubernetesHint, kubernetes_snippet
from seccompgen.errors import StoreError, TracerError
from seccompgen.events import Event
from seccompgen.goruntime import go_runtime_names, workload_go_versions, workloads_are_go
from seccompgen.graph import SyscallGraph
from seccompgen.graphview import render_json, render_text
from seccompgen.inspect import (
    BinaryInfo,
    blind_spots,
    inspect_binary,
    reachable_syscalls,
    unobserved,
)
from seccompgen.inspect import Warning as ReachWarning
from seccompgen.learn import LearnFilters, LearnSummary
from seccompgen.learn import learn as learn_records
from seccompgen.parsing.audit import AuditLineParser, AuditRecord
from seccompgen.parsing.strace import (
    LogFile,
    ParseStats,
    ff_pid,
    merge_by_time,
    parse_strace,
    parse_strace_ff,
)
from seccompgen.profile.build import Mode, build_profile, process_exit_names
from seccompgen.profile.diff import ProfileDiff, diff_profiles, docker_default_profile
from seccompgen.profile.emit import profile_digest, write_profile
from seccompgen.profile.model import Action, Profile, load_profile
from seccompgen.registry import (
    CONTAINER_BACKEND,
    DELTA_BACKEND,
    get_delta_tracer,
    get_tracer,
    select_backend,
)
from seccompgen.report import Report, build_report
from seccompgen.runtime import RuntimeBlock, RuntimeSelection, resolve_runtime, write_block
from seccompgen.schema.validate import Validation, check_profile_file
from seccompgen.store import EmittedProfile, TraceStore, check_workload_name
from seccompgen.syscalls import ARCH_NAMES, canonical_name, native_arch
from seccompgen.tracefile import TraceHeader, TraceWriter
from seccompgen.tracing.audit import AuditListener, seccomp_logging_problem
from seccompgen.tracing.base import ContainerSpec, TraceOutcome, TraceProgress, TraceRequest
from seccompgen.verify import VerifyReport as VerifyReport
from seccompgen.verify import VerifyRequest as VerifyRequest
from seccompgen.verify import verify as run_verify

DOCKER_DEFAULT = "docker-default"


def _stamp() -> str:
    """A compact UTC time for trace file names, so they sort by when they were recorded."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _check_workload(name: str) -> None:
    problem = check_workload_name(name)
    if problem:
        raise StoreError(problem)


# --------------------------------------------------------------------------- trace


@dataclass(frozen=True)
class TraceOptions:
    """What ``seccompgen trace`` was asked to do.

    ``target`` is a host program (None with ``image``). ``container`` traces it inside the
    tracer image; ``image`` traces that application image instead, ``args`` then replacing its
    CMD. Either one selects the container backend (``backend`` then is ignored); ``network``
    and ``exercise_in_container`` apply to them only.
    """

    target: Path | None
    args: tuple[str, ...]
    workload: str
    store: TraceStore
    backend: str = "strace"
    exercise: str | None = None
    duration: float | None = None
    timeout: float | None = None
    grace: float = 10.0
    ready_delay: float = 0.5
    container: bool = False
    image: str | None = None
    network: str = "none"
    exercise_in_container: bool = False
    volumes: tuple[str, ...] = ()
    """Bind mounts ``HOST:CONTAINER[:ro|rw]`` for the container (with ``container``/``image``)."""
    known: Path | None = None
    """A known profile: re-check the target against it (the delta backend; only misses), on
    the host or, with ``container``/``image``, in a container the engine starts under it."""
    learn: bool = True
    """Keep the trace in the store (always, except a delta re-check not asked to learn)."""


@dataclass(frozen=True)
class TraceSummary:
    """What a trace recorded and where it went (``path`` None: not kept)."""

    path: Path | None
    workload: str
    backend: str
    outcome: TraceOutcome
    total_syscalls: int
    new_for_workload: tuple[str, ...]
    backend_reason: str | None = None


def trace(
    opts: TraceOptions,
    progress: Callable[[TraceProgress], None],
    log: Callable[[str], None] | None = None,
) -> TraceSummary:
    """Run the target under a tracer, store the trace and fold it into the store's graph.

    ``log`` receives status lines while a container backend prepares (image builds).
    """
    _check_workload(opts.workload)
    in_container = opts.container or opts.image is not None
    spec: ContainerSpec | None = None
    if in_container:
        from seccompgen.containers.engine import parse_volume

        for volume in opts.volumes:  # a bad one is named before anything starts
            parse_volume(volume)
        spec = ContainerSpec(
            image=opts.image,
            network=opts.network,
            exercise_in_container=opts.exercise_in_container,
            volumes=opts.volumes,
        )
    argv: tuple[str, ...]
    if opts.image is not None:
        if opts.target is not None:
            raise TracerError(
                f"give a program ({opts.target}) or an image ({opts.image}) to trace, not both",
                hint="the arguments that replace the image's CMD go after `--`",
            )
        argv = opts.args
    else:
        target = opts.target
        if target is None:
            raise TracerError("nothing to trace", hint="give a program, or --image IMAGE")
        if not target.exists():
            raise TracerError(
                f"target {target} does not exist", hint="give the path to the program to trace"
            )
        argv = (str(target.resolve()), *opts.args)
    request = TraceRequest(
        argv=argv,
        workload=opts.workload,
        exercise=opts.exercise,
        duration=opts.duration,
        timeout=opts.timeout,
        grace=opts.grace,
        ready_delay=opts.ready_delay,
        cwd=None,
        env=None,
        container=spec,
    )
    backend, why = _choose_backend(opts, request, in_container)
    tracer = (
        get_delta_tracer(opts.known, container=in_container, log=log)
        if opts.known is not None
        else get_tracer(backend, log=log)
    )
    reason = tracer.unavailable_reason()
    if reason:
        raise TracerError(f"the {backend} backend is not available: {reason}")
    before = _known_syscalls(opts.store, opts.workload)
    header = TraceHeader.new(
        workload=opts.workload,
        arch=native_arch(),
        backend=tracer.name,
        command=((f"image:{opts.image}",) if opts.image else ()) + request.argv,
    )
    if opts.known is not None and not opts.learn:
        # A delta re-check only reports unless asked to learn: its trace stays out of the store.
        with tempfile.TemporaryDirectory(prefix="seccompgen-delta-") as tmp:
            scratch = Path(tmp) / "delta.trace.jsonl"
            with TraceWriter.create(scratch, header) as writer:
                outcome = tracer.run(request, writer, progress)
                writer.close(complete=outcome.complete, reason=outcome.reason)
        return TraceSummary(
            path=None,
            workload=opts.workload,
            backend=tracer.name,
            outcome=outcome,
            total_syscalls=len(before),
            new_for_workload=(),
            backend_reason=why,
        )
    path = opts.store.new_trace_path(opts.workload, header.trace_id, _stamp())
    path.parent.mkdir(parents=True, exist_ok=True)
    with TraceWriter.create(path, header) as writer:
        outcome = tracer.run(request, writer, progress)
        writer.close(complete=outcome.complete, reason=outcome.reason)
    graph = opts.store.add_trace(path)
    after = set(graph.syscalls([opts.workload])) if opts.workload in graph.workloads() else set()
    return TraceSummary(
        path=path,
        workload=opts.workload,
        backend=tracer.name,
        outcome=outcome,
        total_syscalls=len(after),
        new_for_workload=tuple(sorted(after - before)),
        backend_reason=why,
    )


def _choose_backend(
    opts: TraceOptions, request: TraceRequest, in_container: bool
) -> tuple[str, str | None]:
    """The backend name, and why when it was chosen rather than named."""
    if opts.known is not None:
        return DELTA_BACKEND, None
    if in_container:
        return CONTAINER_BACKEND, None
    if opts.backend == "auto":
        return select_backend(request)
    return opts.backend, None


def _known_syscalls(store: TraceStore, workload: str) -> set[str]:
    try:
        graph = store.load_graph()
    except StoreError:
        return set()
    if workload not in graph.workloads():
        return set()
    return set(graph.syscalls([workload]))


# --------------------------------------------------------------------------- import


@dataclass(frozen=True)
class ImportOptions:
    """What ``seccompgen import`` was asked to do."""

    logs: tuple[Path, ...]
    workload: str
    store: TraceStore
    arch: str | None = None


@dataclass(frozen=True)
class ImportSummary:
    path: Path
    workload: str
    events: int
    distinct: int
    truncated: bool
    warnings: tuple[str, ...]
    new_for_workload: tuple[str, ...]


def import_logs(opts: ImportOptions) -> ImportSummary:
    """Parse existing ``strace -f`` (one file) or ``strace -ff`` (one file per pid) logs.

    One pass: events are written to a temporary trace file that is renamed into the store only
    when the whole input parsed, so bad input leaves the store as it was.
    """
    _check_workload(opts.workload)
    arch = opts.arch or native_arch()
    for log in opts.logs:
        if not log.is_file():
            raise StoreError(
                f"strace log {log} does not exist or is not a file",
                hint="give the file written by `strace -f -o FILE` (or the FILE.PID files of -ff)",
            )
    before = _known_syscalls(opts.store, opts.workload)
    header = TraceHeader.new(
        workload=opts.workload,
        arch=arch,
        backend="import",
        command=[str(p) for p in opts.logs],
    )
    path = opts.store.new_trace_path(opts.workload, header.trace_id, _stamp())
    path.parent.mkdir(parents=True, exist_ok=True)
    groups = _log_groups(opts.logs)
    fresh = [ParseStats() for _ in groups]
    streams = [
        _parse_logs(group, ff, arch, st) for (group, ff), st in zip(groups, fresh, strict=True)
    ]
    events: Iterator[Event] = streams[0] if len(streams) == 1 else merge_by_time(streams)
    count = 0
    writer = TraceWriter.create(path, header)
    try:
        for event in events:
            writer.write(event)
            count += 1
    except BaseException:
        # A bad line rejects the whole input: the store stays as it was.
        writer.discard()
        raise
    truncated = any(s.truncated_last_line for s in fresh)
    writer.close(complete=not truncated, reason="truncated input" if truncated else None)
    graph = opts.store.add_trace(path)
    after = set(graph.syscalls([opts.workload]))
    warnings = tuple(w for s in fresh for w in s.warnings)
    return ImportSummary(
        path=path,
        workload=opts.workload,
        events=count,
        distinct=len(after),
        truncated=truncated,
        warnings=warnings,
        new_for_workload=tuple(sorted(after - before)),
    )


def _log_groups(logs: Sequence[Path]) -> list[tuple[list[Path], bool]]:
    """The logs parsed together, and whether they are ``-ff`` files: when more than one log is
    given, the ``PREFIX.PID`` files of one ``strace -ff`` run (same folder and prefix) form one
    group; any other log (and a single log) is parsed on its own."""
    if len(logs) == 1:
        return [(list(logs), False)]
    runs: dict[tuple[Path, str], list[Path]] = {}
    alone: list[tuple[list[Path], bool]] = []
    for log in logs:
        if ff_pid(log.name) is None:
            alone.append(([log], False))
        else:
            runs.setdefault((log.parent, log.name.rpartition(".")[0]), []).append(log)
    return [(run, True) for run in runs.values()] + alone


def _parse_logs(logs: Sequence[Path], ff: bool, arch: str, stats: ParseStats) -> Iterator[Event]:
    """One log, or the files of one ``-ff`` run parsed as one trace (parse_strace_ff)."""
    with contextlib.ExitStack() as stack:
        try:
            handles = [
                stack.enter_context(log.open(encoding="utf-8", errors="replace", newline=""))
                for log in logs
            ]
            if ff:
                files = [
                    LogFile(str(log), ff_pid(log.name) or 0, fh)
                    for log, fh in zip(logs, handles, strict=True)
                ]
                yield from parse_strace_ff(files, arch=arch, stats=stats)
            else:
                yield from parse_strace(handles[0], source=str(logs[0]), arch=arch, stats=stats)
        except OSError as e:
            raise StoreError(f"cannot read {e.filename or 'a log'}: {e.strerror or e}") from e


# --------------------------------------------------------------------------- emit


@dataclass(frozen=True)
class EmitOptions:
    """What ``seccompgen emit`` was asked to do."""

    store: TraceStore
    workloads: tuple[str, ...]
    mode: Mode
    output: Path | None
    runtime: str = "none"
    """``auto``, ``runc``, ``crun`` or ``none``: the measured runtime block to merge
    (:func:`seccompgen.runtime.resolve_runtime`)."""
    no_new_privileges: bool = False
    """Pick the runtime block measured with ``no-new-privileges``."""
    go_runtime: str = "off"
    """``auto``, ``on`` or ``off``: add the Go runtime's rare-path syscalls
    (:mod:`seccompgen.goruntime`); ``auto`` adds them unless the traced programs were inspected
    and none is a Go binary."""


@dataclass(frozen=True)
class EmitSummary:
    path: Path
    mode: Mode
    workloads: tuple[str, ...]
    profile: Profile
    allowed: tuple[str, ...]
    enosys: tuple[str, ...]
    unknown: tuple[tuple[str, str], ...]
    docker: str
    kubernetes: KubernetesHint
    runtime: RuntimeSelection | None = None
    """The runtime block merged, and how it was chosen."""
    runtime_names: tuple[str, ...] = ()
    """Names allowed because the runtime needs them, not observed in the workloads."""
    go_runtime_names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Names allowed because the Go runtime needs them on rare paths, not observed, with the
    paths that need each."""
    record_problem: str | None = None
    """Why the store could not record which workloads the profile came from (the profile was
    written; verify then names the workload after the file)."""
    always_names: tuple[str, ...] = ()
    """Exit syscalls allowed because a process must be able to end, not observed and not added
    for a runtime (:func:`seccompgen.profile.build.process_exit_names`)."""


def default_profile_path(workloads: Sequence[str], mode: Mode) -> Path:
    """``profiles/NAME.json`` for enforce, ``profiles/NAME.log.json`` for the staging variant."""
    stem = "+".join(workloads)
    suffix = ".json" if mode is Mode.ENFORCE else ".log.json"
    return Path("profiles") / f"{stem}{suffix}"


def emit(opts: EmitOptions) -> EmitSummary:
    """Build the profile for the chosen workloads (default: all in the store), write it, and
    record in the store which workloads it came from (:meth:`TraceStore.record_emitted`)."""
    graph = opts.store.load_graph()
    known = graph.workloads()
    chosen = opts.workloads or tuple(known)
    missing = [w for w in chosen if w not in known]
    if missing:
        raise StoreError(
            f"no trace of workload {', '.join(missing)} in the store {opts.store.root}",
            hint=f"known workloads: {', '.join(known) or 'none'}; record one with "
            f"`seccompgen trace ./app --workload {missing[0]}`",
        )
    if not chosen:
        raise StoreError(f"the store {opts.store.root} holds no workloads")
    arches = graph.arches(list(chosen))
    names: set[str] = set()
    unknown: list[tuple[str, str]] = []
    for name in graph.syscalls(list(chosen)):
        resolved = {canonical_name(a, name) for a in arches} - {None}
        if not resolved:
            unknown.append((name, f"no arch among {', '.join(arches)} knows it"))
        names.update(n for n in resolved if n is not None)
    # The runtime's init makes its own calls under the filter before it execs the workload
    # (seccompgen.runtime): without them the container does not even start.
    selection = resolve_runtime(opts.runtime, opts.no_new_privileges)
    runtime_names: list[str] = []
    if selection is not None:
        for name in selection.block.syscalls:
            resolved = {canonical_name(a, name) for a in arches} - {None}
            runtime_names.extend(n for n in resolved if n is not None and n not in names)
        names.update(runtime_names)
    go_names = _go_runtime_additions(opts.store, opts.go_runtime, chosen, arches, names)
    names.update(go_names)
    result = build_profile(sorted(names), arches, opts.mode)
    out = opts.output or default_profile_path(chosen, opts.mode)
    write_profile(out, result.profile)
    # Which workloads this profile came from, for verify's fix commands (found by content, so
    # the profile JSON carries no extra key and stays a plain runtime-spec profile).
    record_problem = None
    try:
        opts.store.record_emitted(
            EmittedProfile(
                digest=profile_digest(result.profile),
                workloads=tuple(chosen),
                path=str(out.resolve()),
                mode=opts.mode.value,
                emitted=datetime.now(UTC).isoformat(timespec="microseconds"),
            )
        )
    except StoreError as e:
        record_problem = e.explain().replace("\n", "; ")
    except OSError as e:
        record_problem = f"cannot write {opts.store.emitted_path}: {e.strerror or e}"
    allowed = tuple(
        sorted(
            n for rule in result.profile.syscalls if rule.action is Action.ALLOW for n in rule.names
        )
    )
    return EmitSummary(
        path=out,
        mode=opts.mode,
        workloads=tuple(chosen),
        profile=result.profile,
        allowed=allowed,
        enosys=result.enosys,
        unknown=tuple(unknown) + tuple(result.unknown),
        docker=docker_run_hint(out),
        kubernetes=kubernetes_snippet(out),
        runtime=selection,
        runtime_names=tuple(sorted(set(runtime_names))),
        go_runtime_names=go_names,
        record_problem=record_problem,
        always_names=result.always,
    )


def _go_runtime_additions(
    store: TraceStore,
    go_runtime: str,
    chosen: Sequence[str],
    arches: Sequence[str],
    names: set[str],
) -> dict[str, tuple[str, ...]]:
    """The Go runtime safety-net names (with their paths) not already in ``names``."""
    if go_runtime == "off":
        return {}
    is_go, versions = workload_go_versions(store, chosen)
    if go_runtime == "auto" and is_go is False:
        return {}
    added: dict[str, tuple[str, ...]] = {}
    for arch in arches:
        for name, paths in go_runtime_names(arch, versions).items():
            if name not in names:
                added[name] = paths
    return added


# --------------------------------------------------------------------------- validate, graph, diff


def validate(path: Path) -> Validation:
    """Problems with the profile at ``path`` (none when it is valid), and warnings."""
    return check_profile_file(path)


def graph_view(store: TraceStore, workloads: Sequence[str], fmt: str) -> str:
    """The store's graph as text, summary JSON or Graphviz DOT."""
    graph = store.load_graph()
    chosen = list(workloads) or None
    if chosen:
        unknown = [w for w in chosen if w not in graph.workloads()]
        if unknown:
            raise StoreError(
                f"no trace of workload {', '.join(unknown)} in the store {store.root}",
                hint=f"known workloads: {', '.join(graph.workloads()) or 'none'}",
            )
    if fmt == "text":
        return render_text(graph, chosen)
    if fmt == "json":
        return render_json(graph, chosen)
    if fmt == "dot":
        return _dot(graph, chosen)
    raise ValueError(fmt)


def _dot(graph: SyscallGraph, workloads: Sequence[str] | None) -> str:
    return graph.to_dot(workloads)


@dataclass(frozen=True)
class DiffReport:
    a: str
    b: str
    arch: str
    diff: ProfileDiff


def load_profile_or_default(ref: str) -> Profile:
    """A profile file, or Docker's default profile for the word ``docker-default``."""
    if ref == DOCKER_DEFAULT:
        return docker_default_profile()
    return load_profile(Path(ref))


def diff(a: str, b: str) -> DiffReport:
    """Names allowed by ``b`` and not ``a`` (added) and the reverse (removed).

    Docker's default profile allows some names only on some architectures, so both sides are
    compared on one: the first architecture of the first profile other than Docker's default
    that lists one, else this machine's.
    """
    pa, pb = load_profile_or_default(a), load_profile_or_default(b)
    arch = native_arch()
    for ref, prof in ((a, pa), (b, pb)):
        if ref != DOCKER_DEFAULT and prof.architectures:
            arch = ARCH_NAMES.get(prof.architectures[0].value, arch)
            break
    return DiffReport(a=a, b=b, arch=arch, diff=diff_profiles(pa, pb, arch=arch))


# --------------------------------------------------------------------------- learn


@dataclass(frozen=True)
class LearnOptions:
    """What ``seccompgen learn`` was asked to do: read records from a file, or listen."""

    store: TraceStore
    workload: str
    source_file: Path | None = None
    listen_seconds: float | None = None
    pids: tuple[int, ...] = ()
    comms: tuple[str, ...] = ()
    exes: tuple[str, ...] = ()
    cgroup: str | None = None


@dataclass(frozen=True)
class LearnReport:
    """What ``learn`` added, and anything that says records may be missing."""

    summary: LearnSummary
    warnings: tuple[str, ...]
    interrupted: bool = False


def learn(
    opts: LearnOptions, on_record: Callable[[AuditRecord], None] | None = None
) -> LearnReport:
    """Feed seccomp audit records (from a file, or live from the kernel) into a workload.

    Records are collected first and then learned, so Ctrl-C while listening keeps what arrived.
    """
    _check_workload(opts.workload)
    filters = LearnFilters(
        pids=frozenset(opts.pids) or None,
        comms=frozenset(opts.comms) or None,
        exes=frozenset(opts.exes) or None,
    )
    warnings: list[str] = []
    records: list[AuditRecord] = []
    interrupted = False
    if opts.source_file is not None:
        path = opts.source_file
        parser = AuditLineParser(str(path))
        try:
            with path.open(encoding="utf-8", errors="replace") as fh:
                records = list(parser.parse(fh))
        except OSError as e:
            raise StoreError(f"cannot read {path}: {e.strerror or e}") from e
        st = parser.stats
        if st.printk_suppressed or st.lost_reported:
            warnings.append(
                f"{path} shows the kernel dropped audit records (printk suppressed "
                f"{st.printk_suppressed}, audit lost {st.lost_reported}); kernel log text is "
                "rate-limited, so use `seccompgen learn --listen SECONDS` (netlink, lossless) "
                "or auditd's log"
            )
        source = str(path)
    else:
        problem = seccomp_logging_problem()
        if problem:
            warnings.append(problem)
        with AuditListener(
            pids=opts.pids or None,
            comms=opts.comms or None,
            exes=opts.exes or None,
            cgroup=opts.cgroup,
        ) as listener:
            try:
                for record in listener.records(opts.listen_seconds):
                    records.append(record)
                    if on_record is not None:
                        on_record(record)
            except KeyboardInterrupt:
                interrupted = True
            if listener.overruns:
                warnings.append(
                    f"the kernel dropped records {listener.overruns} time(s): the listener "
                    "could not keep up"
                )
        source = "netlink"
    summary = learn_records(opts.store, opts.workload, records, source=source, filters=filters)
    return LearnReport(summary=summary, warnings=tuple(warnings), interrupted=interrupted)


# --------------------------------------------------------------------------- verify


def verify(req: VerifyRequest, log: Callable[[str], None] | None = None) -> VerifyReport:
    """Run the workload in a container with the profile enforced; see :mod:`seccompgen.verify`."""
    return run_verify(req, log)


# --------------------------------------------------------------------------- runtime-baseline


@dataclass(frozen=True)
class BaselineOptions:
    """What ``seccompgen runtime-baseline`` was asked to do.

    ``program`` is a static program that exits 0; None builds ``examples/noop`` of the source
    tree. ``rounds`` runs are made and their names united (runc is a Go program: a few calls of
    its runtime, such as ``futex``, depend on timing). ``output_dir`` receives the block.
    """

    output_dir: Path
    runtime: str | None = None
    no_new_privileges: bool = False
    program: Path | None = None
    rounds: int = 3


@dataclass(frozen=True)
class BaselineReport:
    """The measured block, where it was written, and the names each round saw."""

    block: RuntimeBlock
    path: Path
    per_round: tuple[tuple[str, ...], ...]


def runtime_baseline(
    opts: BaselineOptions, log: Callable[[str], None] | None = None
) -> BaselineReport:
    """Measure a runtime's calls after the filter ``rounds`` times and store the union."""
    import tempfile

    from seccompgen.tracing.gobuild import build_go
    from seccompgen.verify import BaselineRequest, measure_runtime

    with tempfile.TemporaryDirectory(prefix="seccompgen-noop-") as tmp:
        program = opts.program
        if program is None:
            src = Path(__file__).resolve().parents[1] / "examples" / "noop"
            if log is not None:
                log(f"building {src}")
            program = build_go(src, Path(tmp) / "noop")
        request = BaselineRequest(
            program=program, runtime=opts.runtime, no_new_privileges=opts.no_new_privileges
        )
        blocks = [measure_runtime(request, log) for _ in range(max(1, opts.rounds))]
    first = blocks[0]
    union = sorted({n for b in blocks for n in b.syscalls})
    block = RuntimeBlock(
        runtime=first.runtime,
        version=first.version,
        no_new_privileges=first.no_new_privileges,
        arch=first.arch,
        syscalls=tuple(union),
        engine=first.engine,
        kernel=first.kernel,
        records=max(b.records for b in blocks),
    )
    path = write_block(block, opts.output_dir)
    return BaselineReport(block=block, path=path, per_round=tuple(b.syscalls for b in blocks))


# --------------------------------------------------------------------------- inspect


@dataclass(frozen=True)
class InspectReport:
    """A binary read without running it, and, against a workload, what it could do unseen."""

    info: BinaryInfo
    reachable: dict[str, list[str]]
    unobserved: tuple[ReachWarning, ...]
    blind_spots: tuple[str, ...]
    against: str | None


def inspect(
    path: Path, *, store: TraceStore | None = None, against: str | None = None
) -> InspectReport:
    """Inspect ``path``; with ``against``, list syscalls its Go code can make that the
    workload's traces never saw (static over-approximation: warnings, never added)."""
    info = inspect_binary(path)
    reachable = reachable_syscalls(info)
    warnings: list[ReachWarning] = []
    if against is not None:
        if store is None:
            raise StoreError("--against needs a trace store")
        graph = store.load_graph()
        if against not in graph.workloads():
            raise StoreError(
                f"no trace of workload {against} in the store {store.root}",
                hint=f"known workloads: {', '.join(graph.workloads()) or 'none'}",
            )
        warnings = unobserved(reachable, set(graph.syscalls([against])))
    return InspectReport(
        info=info,
        reachable=reachable,
        unobserved=tuple(warnings),
        blind_spots=tuple(blind_spots(info)),
        against=against,
    )


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class ReportOptions:
    """What ``seccompgen report`` was asked to do."""

    store: TraceStore
    workloads: tuple[str, ...] = ()
    runtime: str = "auto"
    no_new_privileges: bool = False
    go_runtime: str = "auto"
    binary: Path | None = None


def report(opts: ReportOptions) -> Report:
    """Per workload what was observed (counts, phases, startup-only calls), what ``emit`` would
    add for the runtime and the Go runtime and why, and with ``binary`` what its linked Go code
    could do that no trace showed."""
    graph = opts.store.load_graph()
    known = graph.workloads()
    chosen = opts.workloads or tuple(known)
    missing = [w for w in chosen if w not in known]
    if missing:
        raise StoreError(
            f"no trace of workload {', '.join(missing)} in the store {opts.store.root}",
            hint=f"known workloads: {', '.join(known) or 'none'}",
        )
    arches = graph.arches(list(chosen))
    observed = set(graph.syscalls(list(chosen)))
    selection = resolve_runtime(opts.runtime, opts.no_new_privileges)
    runtime_names = (
        sorted(set(selection.block.syscalls) - observed) if selection is not None else []
    )
    go_names = _go_runtime_additions(opts.store, opts.go_runtime, chosen, arches, observed)
    safety_net: dict[str, tuple[str, ...]] | None = None
    if go_names or (opts.go_runtime != "off" and workloads_are_go(opts.store, chosen)):
        safety_net = {}
        for arch in arches:
            safety_net.update(go_runtime_names(arch))
    warnings: list[ReachWarning] | None = None
    if opts.binary is not None:
        warnings = unobserved(reachable_syscalls(inspect_binary(opts.binary)), observed)
    return build_report(
        graph,
        list(chosen),
        go_runtime=go_names,
        runtime_names=runtime_names,
        unobserved=warnings,
        safety_net=safety_net,
        exits=process_exit_names(),
    )
