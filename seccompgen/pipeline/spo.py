"""``seccompgen emit --format spo``: Security Profiles Operator resources from the store.

One ``SeccompProfile`` per workload (SPO installs each on every node, and a pod's containers
each name their own), unlike the Docker and runtime-spec forms, where several workloads make one
profile; ``ProfileBinding``s for the images given; all in one YAML stream for
``kubectl apply -f``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seccompgen.attach.spo_emit import (
    SpoEntry,
    SpoMeta,
    binding_name,
    localhost_profile,
    render_stream,
    resource_name,
    spo_resources,
)
from seccompgen.errors import ProfileError
from seccompgen.pipeline.profiles import (
    BuiltProfile,
    EmitOptions,
    build_from_store,
    chosen_workloads,
    profile_file_name,
)
from seccompgen.profile.build import Mode
from seccompgen.profile.emit import write_text_atomic
from seccompgen.runtime import RuntimeSelection, resolve_runtime


@dataclass(frozen=True)
class SpoOptions:
    """The SPO-only choices of ``emit --format spo``."""

    version: str = "v1"
    namespace: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    bindings: tuple[tuple[str | None, str], ...] = ()
    """(workload or None, image): None binds the only workload emitted."""


@dataclass(frozen=True)
class SpoProfileSummary:
    """One emitted ``SeccompProfile``."""

    workload: str
    name: str
    localhost_profile: str
    built: BuiltProfile
    bindings: tuple[tuple[str, str], ...]
    """(ProfileBinding name, image)."""


@dataclass(frozen=True)
class SpoEmitSummary:
    path: Path
    mode: Mode
    version: str
    namespace: str | None
    profiles: tuple[SpoProfileSummary, ...]
    runtime: RuntimeSelection | None
    documents: int


def default_spo_path(workloads: tuple[str, ...], mode: Mode) -> Path:
    """``profiles/NAME.yaml`` (log: ``NAME.log.yaml``), NAME the workloads joined by ``+``."""
    return Path("profiles") / profile_file_name(sorted(workloads), mode, ".yaml")


def _images_by_workload(
    bindings: tuple[tuple[str | None, str], ...], chosen: tuple[str, ...]
) -> dict[str, tuple[str, ...]]:
    images: dict[str, list[str]] = {w: [] for w in chosen}
    for workload, image in bindings:
        if workload is None:
            if len(chosen) != 1:
                raise ProfileError(
                    f"--binding {image}: say which workload's profile it binds, one of "
                    f"{', '.join(sorted(chosen))}",
                    hint=f"--binding {sorted(chosen)[0]}={image}",
                )
            workload = chosen[0]
        if workload not in images:
            raise ProfileError(
                f"--binding {workload}={image}: {workload} is not among the workloads emitted "
                f"({', '.join(sorted(chosen))})",
                hint=f"add --workload {workload}, or bind one of those",
            )
        images[workload].append(image)
    return {w: tuple(sorted(set(i))) for w, i in images.items()}


def emit_spo(opts: EmitOptions, spo: SpoOptions) -> SpoEmitSummary:
    """Build one profile per chosen workload (default: all in the store), turn each into a
    ``SeccompProfile`` with its bindings, and write them as one YAML stream.

    Nothing is recorded in the store's ``emitted.json``: verify runs profile files, and SPO
    writes its own from the resource on each node.
    """
    meta = SpoMeta(version=spo.version, namespace=spo.namespace, labels=spo.labels)
    graph, chosen = chosen_workloads(opts.store, opts.workloads)
    images = _images_by_workload(spo.bindings, chosen)
    selection = resolve_runtime(opts.runtime, opts.no_new_privileges, engine=opts.engine)
    entries: list[SpoEntry] = []
    summaries: list[SpoProfileSummary] = []
    # In the stream's order (spo_resources): by object name.
    for name, workload in sorted((resource_name(w), w) for w in chosen):
        built = build_from_store(opts, graph, [workload], selection)
        entries.append(SpoEntry(workload, built.result.profile, images[workload], name))
        summaries.append(
            SpoProfileSummary(
                workload=workload,
                name=name,
                localhost_profile=localhost_profile(name, meta.version, meta.namespace),
                built=built,
                bindings=tuple((binding_name(name, i), i) for i in images[workload]),
            )
        )
    docs = spo_resources(entries, meta)
    out = opts.output or default_spo_path(chosen, opts.mode)
    write_text_atomic(out, render_stream(docs))
    return SpoEmitSummary(
        path=out,
        mode=opts.mode,
        version=meta.version,
        namespace=meta.namespace,
        profiles=tuple(summaries),
        runtime=selection,
        documents=len(docs),
    )
