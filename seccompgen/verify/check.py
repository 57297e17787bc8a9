"""``seccompgen verify``: the enforce run, and on failure (or with ``strict``) the staging run
whose audit records say what the profile refused."""

from __future__ import annotations

import contextlib
import uuid

from seccompgen.errors import TracerError
from seccompgen.profile.emit import render
from seccompgen.runtime import engine_runtime, is_runtime_init, require_engine_runtime
from seccompgen.verify.audit import RecordCollector, attribute
from seccompgen.verify.fixes import fix_commands, fix_workloads
from seccompgen.verify.model import (
    APP_PATH,
    NETWORKS,
    Log,
    VerifyReport,
    VerifyRequest,
    quiet,
    staging_variant,
)
from seccompgen.verify.run import (
    RunPlan,
    build_scratch_image,
    engine_client,
    image_exe,
    remove_image,
    run_container,
    sigterm_as_interrupt,
)


def verify(req: VerifyRequest, log: Log | None = None) -> VerifyReport:
    """Run the workload under ``req.profile``; on failure, find what the profile refused.

    Containers and the throwaway image are labelled ``io.seccompgen.verify`` and removed however
    the run ends (success, failure, timeout, Ctrl-C, SIGTERM).
    """
    from seccompgen.containers.engine import parse_volume
    from seccompgen.profile.model import load_profile

    log = log or quiet
    if (req.image is None) == (req.program is None):
        raise TracerError("give exactly one of an image and a program to verify")
    if req.network not in NETWORKS:
        raise TracerError(f"network {req.network!r} is not allowed", hint="use none or host")
    profile = load_profile(req.profile)
    enforce_json = render(profile)
    staging_json = render(staging_variant(profile))
    volumes = dict(parse_volume(v) for v in req.volumes)
    run_id = uuid.uuid4().hex[:12]
    client = engine_client(req.engine)
    with sigterm_as_interrupt(), contextlib.ExitStack() as stack:
        stack.callback(client.close)
        if req.runtime is not None:
            require_engine_runtime(client.info(), req.runtime)
        if req.program is not None:
            log(f"building a FROM scratch image holding {req.program}")
            tag = build_scratch_image(client, req.program, run_id)
            stack.callback(remove_image, client, tag)
            plan = RunPlan(tag, list(req.args) or None, volumes, APP_PATH)
        else:
            assert req.image is not None
            plan = RunPlan(req.image, list(req.args) or None, volumes, image_exe(client, req))
        if req.strict:  # it needs the audit records whatever the enforce run does: check now
            try:
                RecordCollector().close()
            except TracerError as e:
                raise TracerError(
                    f"verify --strict needs the kernel's seccomp audit records: {e.message}",
                    hint=e.hint or "run as root (CAP_AUDIT_READ), or drop --strict",
                ) from e
        enforce = run_container(client, plan, enforce_json, req, "enforce", run_id, None, log)
        if enforce.passed and not req.strict:
            return VerifyReport(True, enforce)
        runtime = None
        with contextlib.suppress(Exception):
            runtime = engine_runtime(client.info(), req.runtime)
        if not req.diagnose and not enforce.passed:
            return VerifyReport(False, enforce, runtime=runtime)
        try:
            collector = RecordCollector()
        except TracerError as e:
            return VerifyReport(
                False,
                enforce,
                diagnosis_problem=f"cannot read seccomp audit records: {e.explain()}",
                runtime=runtime,
            )
        stack.callback(collector.close)
        if enforce.passed:
            log("enforce run passed; --strict: repeating it with the staging (SCMP_ACT_LOG) "
                "variant to find calls the workload survived being refused")  # fmt: skip
        else:
            log("enforce run failed; repeating it with the staging (SCMP_ACT_LOG) variant")
        staging = run_container(client, plan, staging_json, req, "staging", run_id, collector, log)
        records = collector.stop()
        denials = attribute(records)
        records_path = None
        workload_records = [r for r in records if not is_runtime_init(r)]
        if workload_records:
            records_path = req.records or req.profile.with_name(
                req.profile.name.removesuffix(".json") + ".denied.audit"
            )
            records_path.write_text(
                "".join(r.raw.rstrip("\n") + "\n" for r in workload_records), encoding="utf-8"
            )
        named = fix_workloads(req, profile) if denials else None
        fixes = fix_commands(req, denials, records_path, runtime, named)
        if enforce.passed:  # strict
            return VerifyReport(
                not denials,
                enforce,
                staging,
                denials,
                fixes,
                workloads=named,
                records_path=records_path,
                runtime=runtime,
                strict=True,
            )
        problem = None
        if not denials:
            problem = (
                "the staging run logged no refused call, so the failure is not a seccomp denial"
                if staging.passed
                else "the staging run failed too and logged no refused call: the workload "
                "fails without seccomp's help (see its output)"
            )
        return VerifyReport(
            False,
            enforce,
            staging,
            denials,
            fixes,
            workloads=named,
            diagnosis_problem=problem,
            records_path=records_path,
            runtime=runtime,
        )
