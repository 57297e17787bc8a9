"""What verify is asked and what it reports: requests, run results, denials, the profile
variants it runs, and the constants the other verify modules share."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from seccompgen.profile.build import same_effect
from seccompgen.profile.model import Action, Profile
from seccompgen.runtime import RuntimeInfo

#: The label on every container and image verify and runtime-baseline create; value: a run id.
VERIFY_LABEL: Final = "io.seccompgen.verify"
#: Networks a verified container may use.
NETWORKS: Final = ("none", "host")
#: Where the program lives in the throwaway image.
APP_PATH: Final = "/app"

POLL: Final = 0.05
Log = Callable[[str], None]


def quiet(_line: str) -> None:
    pass


# ---------------------------------------------------------------------- requests and results


@dataclass(frozen=True)
class VerifyRequest:
    """What ``seccompgen verify`` was asked to do.

    Exactly one of ``image`` and ``program``. ``args`` replace the image's CMD (as ``docker run
    IMAGE ARGS``) or follow the program. ``volumes`` are ``HOST:CONTAINER[:ro|rw]`` bind mounts
    (input files of a batch job). ``timeout`` bounds each run; ``grace`` is the time between
    SIGTERM and SIGKILL. ``workload`` names the workload in the fix commands; without it they
    name the workloads the trace store (``store`` as given to ``--store``; None: the default
    store) recorded emitting this profile for, else the profile's file name (see
    :func:`fix_workloads`). ``records`` is where the workload's staging records are written (for
    ``seccompgen learn --from``).
    ``strict`` also fails a run that passed but would have had calls refused (see the module
    docstring); it needs the audit records (root). ``runtime`` names a runtime configured in
    the engine (``docker run --runtime``; None: the engine's default).
    """

    profile: Path
    image: str | None = None
    program: Path | None = None
    args: tuple[str, ...] = ()
    exercise: str | None = None
    no_new_privileges: bool = False
    network: str = "none"
    duration: float | None = None
    timeout: float = 300.0
    grace: float = 10.0
    ready_delay: float = 0.5
    volumes: tuple[str, ...] = ()
    workload: str | None = None
    store: Path | None = None
    records: Path | None = None
    diagnose: bool = True
    engine: str = "docker"
    strict: bool = False
    runtime: str | None = None


@dataclass(frozen=True)
class RunResult:
    """How one container run went. ``failure`` is None when it passed."""

    variant: str  # "enforce" or "staging"
    started: bool
    failure: str | None
    exit_code: int | None = None
    exercise_exit: int | None = None
    stopped: str = ""  # "exited", "sigterm", "sigkill", "never started"
    logs: str = ""

    @property
    def passed(self) -> bool:
        """Whether the run met every condition (see the module docstring)."""
        return self.failure is None


@dataclass(frozen=True)
class Denial:
    """A syscall the enforce profile refused, and who made it (``runtime`` or ``workload``)."""

    name: str
    process: str
    comm: str
    exe: str
    count: int


@dataclass(frozen=True)
class FixWorkloads:
    """The workloads the fix commands name, and how they were found (one line for the user)."""

    names: tuple[str, ...]
    note: str
    known: bool
    """True when ``--workload`` or the store named them; False for the file-name fallback."""


@dataclass(frozen=True)
class VerifyReport:
    """The result of :func:`verify`."""

    passed: bool
    enforce: RunResult
    staging: RunResult | None = None
    denials: tuple[Denial, ...] = ()
    fixes: tuple[str, ...] = ()
    workloads: FixWorkloads | None = None
    """Whom ``fixes`` name (set whenever there are fixes)."""
    diagnosis_problem: str | None = None
    records_path: Path | None = None
    runtime: RuntimeInfo | None = None
    strict: bool = False
    """True when the enforce run passed and ``strict`` made the staging run too: ``passed`` then
    says whether that run logged nothing."""

    def names(self, process: str | None = None) -> tuple[str, ...]:
        """The denied names (of one process kind), sorted."""
        return tuple(sorted({d.name for d in self.denials if process in (None, d.process)}))


# ---------------------------------------------------------------------- profile variants


def staging_variant(profile: Profile) -> Profile:
    """The same profile with ``SCMP_ACT_LOG`` as its default action.

    Every rule is kept (the ENOSYS answers included, so the program behaves as under the
    enforce profile) except those that would then repeat the default action, which runtimes
    drop (:func:`seccompgen.profile.build.same_effect`). What the kernel logs is exactly what
    the enforce profile's default action refused.
    """
    rules = tuple(
        r for r in profile.syscalls if not same_effect(r.action, r.errno_ret, Action.LOG, None)
    )
    return replace(profile, default_action=Action.LOG, default_errno_ret=None, syscalls=rules)


def log_everything_profile() -> str:
    """``{"defaultAction": "SCMP_ACT_LOG"}`` with no rules: every call allowed and logged.

    ``seccompgen validate`` flags it as unconfined, rightly; it is only used to measure.
    """
    return json.dumps({"defaultAction": Action.LOG.value, "syscalls": []})
