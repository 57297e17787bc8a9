"""``seccompgen learn``, ``verify`` and ``runtime-baseline``: the use cases that run under a
seccomp filter or read what the kernel logged of one (audit records)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from seccompgen.errors import ProfileError, StoreError
from seccompgen.learn import LearnFilters, LearnSummary
from seccompgen.learn import learn as learn_records
from seccompgen.parsing.audit import AuditLineParser, AuditRecord
from seccompgen.pipeline._shared import check_workload
from seccompgen.profile.emit import profile_digest
from seccompgen.profile.model import load_profile
from seccompgen.runtime import RuntimeBlock, write_block
from seccompgen.store import TraceStore, VerifiedProfile
from seccompgen.tracing.audit import AuditListener, seccomp_logging_problem
from seccompgen.verify import VerifyReport, VerifyRequest
from seccompgen.verify import verify as run_verify


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
    check_workload(opts.workload)
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


def verify(req: VerifyRequest, log: Callable[[str], None] | None = None) -> VerifyReport:
    """Run the workload in a container with the profile enforced; see :mod:`seccompgen.verify`.

    The result is recorded in the trace store (``verified.json``, by the profile's digest) when
    the store exists, so ``report --format html`` can show it; a store that cannot take it is
    reported through ``log`` and does not change the verdict."""
    report = run_verify(req, log)
    store = TraceStore.resolve(req.store)
    if store.root.is_dir():
        try:
            store.record_verified(verify_record(req, report))
        except (StoreError, ProfileError, OSError) as e:
            if log is not None:
                log(f"note: the verify result was not recorded in {store.root}: {e}")
    return report


def verify_record(req: VerifyRequest, report: VerifyReport) -> VerifiedProfile:
    """What the store keeps of one verify run."""
    run = report.enforce
    if report.passed:
        summary = f"enforce run passed ({run.stopped or 'ran'})"
        if report.strict:
            summary += "; strict: the staging run logged nothing"
    else:
        summary = run.failure or "the staging run logged calls the profile refuses (strict)"
        if report.denials:
            summary += f"; refused: {', '.join(report.names())}"
    return VerifiedProfile(
        digest=profile_digest(load_profile(req.profile)),
        path=str(req.profile.resolve()),
        target=req.image or str(req.program),
        passed=report.passed,
        summary=summary,
        verified=datetime.now(UTC).isoformat(timespec="microseconds"),
    )


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
    users: tuple[str, ...] = ("root", "65532:65532")
    """Each round measures as each of these container users (see
    :data:`seccompgen.verify.baseline.BASELINE_USERS`)."""


@dataclass(frozen=True)
class BaselineReport:
    """The measured block, where it was written, and the names each round saw."""

    block: RuntimeBlock
    path: Path
    per_round: tuple[tuple[str, tuple[str, ...]], ...]
    """(the container user, the names) of each run, in order."""


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
            src = Path(__file__).resolve().parents[2] / "examples" / "noop"
            if log is not None:
                log(f"building {src}")
            program = build_go(src, Path(tmp) / "noop")
        blocks = [
            measure_runtime(
                BaselineRequest(
                    program=program,
                    runtime=opts.runtime,
                    no_new_privileges=opts.no_new_privileges,
                    user=user,
                ),
                log,
            )
            for _ in range(max(1, opts.rounds))
            for user in opts.users
        ]
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
        users=tuple(dict.fromkeys(opts.users)),
    )
    path = write_block(block, opts.output_dir)
    return BaselineReport(
        block=block, path=path, per_round=tuple((b.users[0], b.syscalls) for b in blocks)
    )
