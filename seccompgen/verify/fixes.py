"""The commands that fix a profile after a verify failure, and the workloads they name (from
``--workload``, the store's record of emitted profiles, or the profile's file name)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from seccompgen.errors import StoreError
from seccompgen.profile.emit import profile_digest
from seccompgen.profile.model import Profile
from seccompgen.runtime import RuntimeInfo
from seccompgen.store import TraceStore
from seccompgen.verify.model import Denial, FixWorkloads, VerifyRequest


def fix_workloads(req: VerifyRequest, profile: Profile) -> FixWorkloads:
    """The workloads to name in the fix commands: ``--workload``; else those the store recorded
    emitting this profile for (matched by :func:`profile_digest`, so a copy or a renamed file
    counts; the newest record when several); else the profile's file name, with a note."""
    if req.workload:
        return FixWorkloads(
            (req.workload,), f"the fix commands name workload {req.workload} (--workload)", True
        )
    stem = req.profile.name.removesuffix(".json").removesuffix(".log")
    store = TraceStore.resolve(req.store)
    fallback = (
        f"so the fix commands name the workload {stem!r} after the file name; if it was "
        "emitted for another workload, give --workload NAME (or --store DIR)"
    )
    try:
        found = store.emitted(profile_digest(profile))
    except StoreError as e:
        return FixWorkloads((stem,), f"{e.message}; {fallback}", False)
    if not found:
        return FixWorkloads(
            (stem,),
            f"the store {store.root} has no record of emitting this profile, {fallback}",
            False,
        )
    newest = found[0]
    names = ", ".join(newest.workloads)
    note = (
        f"the fix commands name workload(s) {names}: the store {store.root} recorded emitting "
        "this profile for them "
        f"({newest.mode}, as {newest.path}, {newest.emitted})"
    )
    others = sorted({w for e in found[1:] for w in e.workloads} - set(newest.workloads))
    if others:
        note += f"; the same profile was also emitted for {', '.join(others)}"
    if len(newest.workloads) > 1:
        # The profile allows the union of its workloads' calls, so teaching one of them fixes it.
        note += f"; learn adds the calls to {newest.workloads[0]}, the first of them"
    return FixWorkloads(newest.workloads, note, True)


def fix_commands(
    req: VerifyRequest,
    denials: Sequence[Denial],
    records_path: Path | None,
    runtime: RuntimeInfo | None,
    workloads: FixWorkloads | None = None,
) -> tuple[str, ...]:
    """The commands that add the refused calls to the profile (``workloads``: whom they name;
    default: ``req.workload``, else the profile's file name)."""
    import shlex

    if workloads is None:
        stem = req.profile.name.removesuffix(".json").removesuffix(".log")
        workloads = FixWorkloads((req.workload or stem,), "", bool(req.workload))
    store = f" --store {shlex.quote(str(req.store))}" if req.store is not None else ""
    out = shlex.quote(str(req.profile))
    nnp = " --no-new-privileges" if req.no_new_privileges else ""
    name = runtime.name if runtime is not None else "runc"
    fixes: list[str] = []
    if any(d.process == "runtime" for d in denials):
        fixes.append(
            f"seccompgen runtime-baseline --runtime {name}{nnp}   # when no block is stored "
            "for this runtime version"
        )
    if any(d.process == "workload" for d in denials) and records_path is not None:
        fixes.append(
            f"seccompgen learn --from {shlex.quote(str(records_path))} "
            f"--workload {workloads.names[0]}{store}"
        )
    if denials:
        chosen = " ".join(f"--workload {w}" for w in workloads.names)
        fixes.append(f"seccompgen emit {chosen} --runtime {name}{nnp}{store} -o {out}")
    return tuple(fixes)


# ---------------------------------------------------------------------- runtime baseline
