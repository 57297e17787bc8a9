"""``seccompgen trace`` and ``seccompgen import``: a run of the target, or existing strace logs,
recorded into the store as a trace file and folded into its graph."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from seccompgen.errors import StoreError, TracerError
from seccompgen.events import Event
from seccompgen.parsing.strace import (
    LogFile,
    ParseStats,
    ff_pid,
    merge_by_time,
    parse_strace,
    parse_strace_ff,
)
from seccompgen.pipeline._shared import check_workload, known_syscalls, stamp
from seccompgen.registry import (
    CONTAINER_BACKEND,
    DELTA_BACKEND,
    EMULATE_BACKEND,
    get_delta_tracer,
    get_emulating_tracer,
    get_tracer,
    select_backend,
)
from seccompgen.store import TraceStore
from seccompgen.syscalls import native_arch
from seccompgen.tracefile import TraceHeader, TraceWriter
from seccompgen.tracing.base import (
    ContainerSpec,
    TraceOutcome,
    TraceProgress,
    Tracer,
    TraceRequest,
)


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
    engine: str = "docker"
    exercise_in_container: bool = False
    volumes: tuple[str, ...] = ()
    """Bind mounts ``HOST:CONTAINER[:ro|rw]`` for the container (with ``container``/``image``)."""
    known: Path | None = None
    """A known profile: re-check the target against it (the delta backend; only misses), on
    the host or, with ``container``/``image``, in a container the engine starts under it."""
    learn: bool = True
    """Keep the trace in the store (always, except a delta re-check not asked to learn)."""
    emulate: str | None = None
    """Run a program built for this architecture (libseccomp name, ``aarch64``) under
    qemu-user and record the guest's system calls, labelled with that architecture."""


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
    check_workload(opts.workload)
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
            engine=opts.engine,
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
    if opts.emulate is not None:
        tracer = _emulating_tracer(opts, in_container)
    elif opts.known is not None:
        tracer = get_delta_tracer(opts.known, container=in_container, log=log)
    else:
        tracer = get_tracer(backend, log=log)
    reason = tracer.unavailable_reason()
    if reason:
        raise TracerError(f"the {backend} backend is not available: {reason}")
    before = known_syscalls(opts.store, opts.workload)
    header = TraceHeader.new(
        workload=opts.workload,
        arch=opts.emulate or native_arch(),
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
    path = opts.store.new_trace_path(opts.workload, header.trace_id, stamp())
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


def _emulating_tracer(opts: TraceOptions, in_container: bool) -> Tracer:
    """The qemu tracer for ``opts.emulate``, after the checks that need no run: a host
    program of that architecture, and no option that needs another backend."""
    from seccompgen.tracing.backends.qemu import check_program

    assert opts.emulate is not None
    if in_container or opts.known is not None:
        raise TracerError(
            f"--emulate {opts.emulate} runs the program on this host under qemu-user",
            hint="leave out --container, --image and --delta",
        )
    assert opts.target is not None
    check_program(opts.target, opts.emulate)
    return get_emulating_tracer(opts.emulate)


def _choose_backend(
    opts: TraceOptions, request: TraceRequest, in_container: bool
) -> tuple[str, str | None]:
    """The backend name, and why when it was chosen rather than named."""
    if opts.emulate is not None:
        return EMULATE_BACKEND, None
    if opts.known is not None:
        return DELTA_BACKEND, None
    if in_container:
        return CONTAINER_BACKEND, None
    if opts.backend == "auto":
        return select_backend(request)
    return opts.backend, None


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
    check_workload(opts.workload)
    arch = opts.arch or native_arch()
    for log in opts.logs:
        if not log.is_file():
            raise StoreError(
                f"strace log {log} does not exist or is not a file",
                hint="give the file written by `strace -f -o FILE` (or the FILE.PID files of -ff)",
            )
    before = known_syscalls(opts.store, opts.workload)
    header = TraceHeader.new(
        workload=opts.workload,
        arch=arch,
        backend="import",
        command=[str(p) for p in opts.logs],
    )
    path = opts.store.new_trace_path(opts.workload, header.trace_id, stamp())
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
