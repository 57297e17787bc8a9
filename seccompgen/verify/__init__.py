"""Proof by enforcement: run a workload in a real container under its profile.

A generated profile is a claim about a program; :func:`verify` checks it the way production
will: the Docker engine starts the workload with the profile (``docker run --security-opt
seccomp=...``, the SDK sending the JSON text as the docker CLI does), optionally with
``no-new-privileges``, the exercise runs on the host, and the run passes when

* the container started (the runtime's own calls after the filter were allowed),
* the exercise exited 0, and
* the workload either exited 0 on its own (a batch job), or kept running to the end and then
  stopped cleanly on SIGTERM (exit status 0, or 143 for death by SIGTERM, as ``docker stop``).

When it fails, the same run is repeated with the profile's staging variant (default action
``SCMP_ACT_LOG``, every rule kept) while :class:`~seccompgen.tracing.audit.AuditListener` reads
the kernel's seccomp audit records. Every logged call is one the enforce profile refused with its
default action; each is attributed to the runtime's init (before its ``execve`` of the workload,
:func:`seccompgen.runtime.is_runtime_init`) or to the workload, and the report names the command
that fixes the profile.

A pass proves the workload *survived* the profile, not that nothing was refused: many programs
carry on when a call fails with EPERM (a Go service whose profiling timer is refused answers
200 with an empty CPU profile; a refused ``madvise`` only keeps memory). ``strict`` closes that
gap: after an enforce pass the staging run is made as well, and any call it logs fails the
verification, attributed and with the same fix commands.

A program given as a path (``verify PROFILE ./app``) is copied into a throwaway ``FROM scratch``
image (the form these services ship in: no shell, no libc), labelled and removed afterwards. A
bind mount into some base image would run the program in a filesystem it does not ship with.

Records are attributed to the container by cgroup: the listener reads ``/proc/PID/cgroup`` of the
caller when a record arrives and keeps the pids whose cgroup path holds the container id (the
kernel logs host pids, and the workload keeps its init's pid across ``execve``).

:func:`measure_runtime` uses the same machinery for ``seccompgen runtime-baseline``.

The package: :mod:`~seccompgen.verify.model` (requests, results, profile variants),
:mod:`~seccompgen.verify.run` (one container run and its Docker plumbing),
:mod:`~seccompgen.verify.audit` (record collection and attribution),
:mod:`~seccompgen.verify.fixes` (the fix commands and the workloads they name),
:mod:`~seccompgen.verify.check` (:func:`verify` itself) and
:mod:`~seccompgen.verify.baseline` (:func:`measure_runtime`).
"""

from __future__ import annotations

from seccompgen.verify.audit import RecordCollector, attribute
from seccompgen.verify.baseline import NOOP_PATH, BaselineRequest, measure_runtime
from seccompgen.verify.check import verify
from seccompgen.verify.fixes import fix_commands, fix_workloads
from seccompgen.verify.model import (
    APP_PATH,
    NETWORKS,
    VERIFY_LABEL,
    Denial,
    FixWorkloads,
    RunResult,
    VerifyReport,
    VerifyRequest,
    log_everything_profile,
    staging_variant,
)
from seccompgen.verify.run import (
    CLEAN_STOP,
    GO_PID1_SIGTERM,
    build_scratch_image,
    go_pid1_sigterm_exit,
    sigterm_as_interrupt,
)

__all__ = [
    "APP_PATH",
    "CLEAN_STOP",
    "GO_PID1_SIGTERM",
    "NETWORKS",
    "NOOP_PATH",
    "VERIFY_LABEL",
    "BaselineRequest",
    "Denial",
    "FixWorkloads",
    "RecordCollector",
    "RunResult",
    "VerifyReport",
    "VerifyRequest",
    "attribute",
    "build_scratch_image",
    "fix_commands",
    "fix_workloads",
    "go_pid1_sigterm_exit",
    "log_everything_profile",
    "measure_runtime",
    "sigterm_as_interrupt",
    "staging_variant",
    "verify",
]
