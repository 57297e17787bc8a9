"""The use cases behind each command: trace, import (strace logs, and --spo profiles), emit,
validate, graph, diff, learn, verify, runtime-baseline and k8s attach.

Each function takes an options dataclass, does the work through the layers below, and returns a
result dataclass for the CLI to render. Nothing here prints or exits; progress goes through
callbacks and failures are ``SeccompgenError`` subclasses.

One module per group of commands: :mod:`~seccompgen.pipeline.recording` (trace, import),
:mod:`~seccompgen.pipeline.imported` (import --spo: profiles as observations),
:mod:`~seccompgen.pipeline.profiles` (emit, validate, diff), :mod:`~seccompgen.pipeline.spo`
(emit --format spo), :mod:`~seccompgen.pipeline.views` (graph, inspect, report),
:mod:`~seccompgen.pipeline.enforced` (learn, verify, runtime-baseline) and
:mod:`~seccompgen.pipeline.manifests` (k8s attach); this package
re-exports them all.
"""

from __future__ import annotations

from seccompgen.pipeline.enforced import (
    BaselineOptions,
    BaselineReport,
    LearnOptions,
    LearnReport,
    learn,
    runtime_baseline,
    verify,
)
from seccompgen.pipeline.imported import (
    ImportedDocument,
    ProfileImportOptions,
    ProfileImportSummary,
    import_profiles,
)
from seccompgen.pipeline.manifests import AttachOptions, AttachReport, k8s_attach
from seccompgen.pipeline.profiles import (
    DOCKER_DEFAULT,
    DiffReport,
    EmitOptions,
    EmitSummary,
    OutputFormat,
    default_profile_path,
    diff,
    emit,
    load_profile_or_default,
    validate,
)
from seccompgen.pipeline.recording import (
    ImportOptions,
    ImportSummary,
    TraceOptions,
    TraceSummary,
    import_logs,
    trace,
)
from seccompgen.pipeline.spo import SpoEmitSummary, SpoOptions, emit_spo
from seccompgen.pipeline.views import (
    InspectReport,
    ReportOptions,
    graph_view,
    html_report,
    inspect,
    report,
)
from seccompgen.verify import VerifyReport, VerifyRequest

__all__ = [
    "DOCKER_DEFAULT",
    "AttachOptions",
    "AttachReport",
    "BaselineOptions",
    "BaselineReport",
    "DiffReport",
    "EmitOptions",
    "EmitSummary",
    "ImportOptions",
    "ImportSummary",
    "ImportedDocument",
    "InspectReport",
    "LearnOptions",
    "LearnReport",
    "OutputFormat",
    "ProfileImportOptions",
    "ProfileImportSummary",
    "ReportOptions",
    "SpoEmitSummary",
    "SpoOptions",
    "TraceOptions",
    "TraceSummary",
    "VerifyReport",
    "VerifyRequest",
    "default_profile_path",
    "diff",
    "emit",
    "emit_spo",
    "graph_view",
    "html_report",
    "import_logs",
    "import_profiles",
    "inspect",
    "k8s_attach",
    "learn",
    "load_profile_or_default",
    "report",
    "runtime_baseline",
    "trace",
    "validate",
    "verify",
]
