"""``seccompgen emit``, ``validate`` and ``diff``: profiles built from the store, checked, and
compared."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

from seccompgen.attach.docker import docker_run_hint
from seccompgen.attach.kubernetes import DEFAULT_SUBDIR, KubernetesHint, kubernetes_snippet
from seccompgen.errors import ProfileError, StoreError
from seccompgen.graph import SyscallGraph
from seccompgen.pipeline._shared import go_runtime_additions, observed_args
from seccompgen.profile.args import ArgPlan, plan_args
from seccompgen.profile.build import BuildResult, Mode, build_profile
from seccompgen.profile.diff import ProfileDiff, diff_profiles, docker_default_profile
from seccompgen.profile.emit import oci_profile, profile_digest, render, write_text_atomic
from seccompgen.profile.model import Action, Profile, load_profile
from seccompgen.profile.translate import Translation, merge_translations, translate
from seccompgen.runtime import RuntimeSelection, resolve_runtime
from seccompgen.schema.validate import Validation, check_profile_file
from seccompgen.store import EmittedProfile, TraceStore
from seccompgen.syscalls import ARCH_NAMES, canonical_name, native_arch

DOCKER_DEFAULT = "docker-default"


class OutputFormat(str, Enum):
    """What ``emit`` writes."""

    DOCKER = "docker"
    """The profile JSON Docker reads (``--security-opt seccomp=FILE``): runtime-spec keys, and a
    ``comment`` on a rule that explains it."""
    OCI = "oci"
    """The runtime-spec ``linux.seccomp`` object only (:func:`oci_profile`): what a kubelet's
    ``Localhost`` profile holds."""
    SPO = "spo"
    """Security Profiles Operator resources (:mod:`seccompgen.pipeline.spo`)."""


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
    fmt: OutputFormat = OutputFormat.DOCKER
    kubelet_dir: Path | None = None
    """Write into this kubelet seccomp directory (``DIR/seccompgen/NAME.json``) instead of
    ``output``."""
    args: str = "off"
    """``auto``: restrict the arguments of the curated syscalls to the observed values
    (:mod:`seccompgen.profile.args`); ``off``: names only."""
    arches: tuple[str, ...] = ()
    """The profile's architectures (libseccomp names); observed names are translated to each
    (:mod:`seccompgen.profile.translate`). Empty: the traced architectures, untranslated."""
    engine: str = "docker"
    """The engine whose default runtime ``runtime="auto"`` reads (``docker`` or ``podman``)."""


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
    fmt: OutputFormat = OutputFormat.DOCKER
    kubelet_dir: Path | None = None
    """The kubelet seccomp directory the profile was written into; ``kubernetes`` names its
    ``localhostProfile``."""
    args: ArgPlan | None = None
    """With ``--args auto``: the conditioned names and why the other curated ones are not."""
    translations: tuple[Translation, ...] = ()
    """With ``--arch``: per target architecture, the names translated and those left out."""


def default_profile_path(workloads: Sequence[str], mode: Mode) -> Path:
    """``profiles/NAME.json`` for enforce, ``profiles/NAME.log.json`` for the staging variant."""
    return Path("profiles") / profile_file_name(workloads, mode)


def profile_file_name(workloads: Sequence[str], mode: Mode, ext: str = ".json") -> str:
    """``NAME.json`` (``NAME.log.json`` for log), NAME the workloads joined by ``+``."""
    stem = "+".join(workloads)
    return f"{stem}{ext}" if mode is Mode.ENFORCE else f"{stem}.log{ext}"


def kubelet_profile_path(kubelet_dir: Path, workloads: Sequence[str], mode: Mode) -> Path:
    """``DIR/seccompgen/NAME.json`` (log: ``NAME.log.json``); ``DIR`` is the kubelet's seccomp
    directory (``/var/lib/kubelet/seccomp`` by default, :data:`KUBELET_SECCOMP_DIR`), and
    ``localhostProfile`` is the path relative to it: ``seccompgen/NAME.json``, what
    ``k8s attach --profile NAME`` puts in a manifest (:data:`DEFAULT_SUBDIR`)."""
    return kubelet_dir / DEFAULT_SUBDIR / profile_file_name(workloads, mode)


def chosen_workloads(
    store: TraceStore, workloads: Sequence[str]
) -> tuple[SyscallGraph, tuple[str, ...]]:
    """The store's graph and the workloads to emit (default: all), each known to the store."""
    graph = store.load_graph()
    known = graph.workloads()
    chosen = tuple(workloads) or tuple(known)
    missing = [w for w in chosen if w not in known]
    if missing:
        raise StoreError(
            f"no trace of workload {', '.join(missing)} in the store {store.root}",
            hint=f"known workloads: {', '.join(known) or 'none'}; record one with "
            f"`seccompgen trace ./app --workload {missing[0]}`",
        )
    if not chosen:
        raise StoreError(f"the store {store.root} holds no workloads")
    return graph, chosen


@dataclass(frozen=True)
class BuiltProfile:
    """A profile built from some workloads' traces, and what was added to the observed names."""

    result: BuildResult
    unknown: tuple[tuple[str, str], ...]
    runtime_names: tuple[str, ...]
    go_runtime_names: dict[str, tuple[str, ...]]
    args: ArgPlan | None = None
    translations: tuple[Translation, ...] = ()
    """With target architectures (``EmitOptions.arches``): what each translation did."""

    @property
    def allowed(self) -> tuple[str, ...]:
        """Names some ALLOW rule lets through (for some arguments, if conditioned)."""
        return tuple(
            sorted(
                {
                    n
                    for rule in self.result.profile.syscalls
                    if rule.action is Action.ALLOW
                    for n in rule.names
                }
            )
        )


def build_from_store(
    opts: EmitOptions,
    graph: SyscallGraph,
    chosen: Sequence[str],
    selection: RuntimeSelection | None,
) -> BuiltProfile:
    """The profile for the workloads ``chosen``: what they were seen to call, the runtime
    block ``selection``, and the Go runtime's rare paths (``opts.go_runtime``)."""
    traced = graph.arches(list(chosen))
    names: set[str] = set()
    unknown: list[tuple[str, str]] = []
    for name in graph.syscalls(list(chosen)):
        resolved = {canonical_name(a, name) for a in traced} - {None}
        if not resolved:
            unknown.append((name, f"no arch among {', '.join(traced)} knows it"))
        names.update(n for n in resolved if n is not None)
    arches = list(dict.fromkeys(opts.arches)) or traced
    translations: list[Translation] = []
    if opts.arches:
        # The names as each target architecture knows them (open -> openat on aarch64).
        translations = [translate(names, arch) for arch in arches]
        names = {n for t in translations for n in t.names}
    # The runtime's init makes its own calls under the filter before it execs the workload
    # (seccompgen.runtime): without them the container does not even start.
    runtime_names: list[str] = []
    block_names: tuple[str, ...] = ()
    if selection is not None:
        block = set(selection.block.syscalls)
        if opts.arches:
            # Measured on x86_64 (seccompgen/data/runtime): the same runtime makes the
            # target's counterparts.
            on_target = [translate(block, arch) for arch in arches]
            translations = [
                merge_translations(a, b) for a, b in zip(translations, on_target, strict=True)
            ]
            resolved_block = {n for t in on_target for n in t.names}
            block_names = tuple(sorted(resolved_block))
        else:
            block_names = selection.block.syscalls
            resolved_block = {
                n for name in block for a in arches if (n := canonical_name(a, name)) is not None
            }
        runtime_names.extend(n for n in resolved_block if n not in names)
        names.update(runtime_names)
    go_names = go_runtime_additions(opts.store, opts.go_runtime, chosen, arches, names)
    names.update(go_names)
    plan: ArgPlan | None = None
    if opts.args == "auto":
        plan = plan_args(
            names,
            observed_args(graph, chosen),
            arches=arches,
            runtime_names=block_names,
            go_names=go_names,
        )
        names.difference_update(plan.enosys_instead)
    result = build_profile(
        sorted(names), arches, opts.mode, conditioned=plan.rules if plan is not None else ()
    )
    return BuiltProfile(
        result=result,
        unknown=tuple(unknown) + tuple(result.unknown),
        runtime_names=tuple(sorted(set(runtime_names))),
        go_runtime_names=go_names,
        args=plan,
        translations=tuple(translations),
    )


def emit(opts: EmitOptions) -> EmitSummary:
    """Build the profile for the chosen workloads (default: all in the store), write it in the
    Docker or the runtime-spec form, and record in the store which workloads it came from
    (:meth:`TraceStore.record_emitted`)."""
    if opts.fmt is OutputFormat.SPO:
        raise ProfileError("internal: SPO resources are written by pipeline.emit_spo")
    graph, chosen = chosen_workloads(opts.store, opts.workloads)
    selection = resolve_runtime(opts.runtime, opts.no_new_privileges, engine=opts.engine)
    built = build_from_store(opts, graph, chosen, selection)
    profile = built.result.profile
    if opts.fmt is OutputFormat.OCI:
        profile = oci_profile(profile)
    if opts.kubelet_dir is not None:
        out = kubelet_profile_path(opts.kubelet_dir, chosen, opts.mode)
    else:
        out = opts.output or default_profile_path(chosen, opts.mode)
    write_text_atomic(out, render(profile))
    # Which workloads this profile came from, for verify's fix commands (found by content, so
    # the profile JSON carries no extra key and stays a plain runtime-spec profile).
    record_problem = None
    try:
        opts.store.record_emitted(
            EmittedProfile(
                digest=profile_digest(profile),
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
    return EmitSummary(
        path=out,
        mode=opts.mode,
        workloads=tuple(chosen),
        profile=profile,
        allowed=built.allowed,
        enosys=built.result.enosys,
        unknown=built.unknown,
        docker=docker_run_hint(out),
        kubernetes=kubernetes_snippet(out, subdir=DEFAULT_SUBDIR),
        runtime=selection,
        runtime_names=built.runtime_names,
        go_runtime_names=built.go_runtime_names,
        record_problem=record_problem,
        always_names=built.result.always,
        fmt=opts.fmt,
        kubelet_dir=opts.kubelet_dir,
        args=built.args,
        translations=built.translations,
    )


def validate(path: Path) -> Validation:
    """Problems with the profile at ``path`` (none when it is valid), and warnings."""
    return check_profile_file(path)


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
