"""``seccompgen runtime-baseline``: the calls a runtime's init makes between loading the filter
and exec, measured with a log-everything profile."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from seccompgen.errors import TracerError
from seccompgen.runtime import RuntimeBlock, engine_runtime, require_engine_runtime, runtime_calls
from seccompgen.syscalls import native_arch
from seccompgen.verify.audit import RecordCollector
from seccompgen.verify.model import VERIFY_LABEL, Log, log_everything_profile, quiet
from seccompgen.verify.run import (
    build_scratch_image,
    engine_client,
    remove_container,
    remove_image,
    sigterm_as_interrupt,
    wait_exit,
)


@dataclass(frozen=True)
class BaselineRequest:
    """What ``seccompgen runtime-baseline`` was asked to do.

    ``program`` is a static program that exits 0 (``examples/noop``); ``runtime`` a runtime
    configured in the engine (None: the engine's default).
    """

    program: Path
    runtime: str | None = None
    no_new_privileges: bool = False
    timeout: float = 60.0
    user: str = "root"
    """The container's user (``docker run --user``): the runtime's init switches to it, and
    what it does on the way depends on it (see :data:`BASELINE_USERS`)."""


BASELINE_USERS: Final = ("root", "65532:65532")
"""The users ``runtime-baseline`` measures as by default, their names united: root, and the
non-root user of distroless's ``nonroot`` images. Measured with runc 1.1.5 without
no-new-privileges: for a non-root user its init also calls ``fchown`` (fixStdioPermissions in
libcontainer/init_linux.go hands the container's stdio to the user; it ignores EPERM, so a
profile without it still starts, but ``verify --strict`` fails on it). crun 1.8.1 makes the same
calls for both users."""


#: Where the measured program lives in its image; a path no runtime uses.
NOOP_PATH: Final = "/seccompgen-noop"


def measure_runtime(req: BaselineRequest, log: Log | None = None) -> RuntimeBlock:
    """Measure the calls a runtime's init makes between loading the filter and exec.

    The program runs under :func:`log_everything_profile`; the records of the container's
    init up to the first record the program itself logged (its ``exe`` is the program) are the
    runtime's. Needs ``CAP_AUDIT_READ`` for the listener.
    """
    import docker.errors  # type: ignore[import-untyped]

    log = log or quiet
    client = engine_client()
    info = client.info()
    if req.runtime is not None:
        require_engine_runtime(info, req.runtime)
    measured = engine_runtime(info, req.runtime)
    name = measured.name
    run_id = uuid.uuid4().hex[:12]
    with sigterm_as_interrupt(), contextlib.ExitStack() as stack:
        stack.callback(client.close)
        tag = build_scratch_image(client, req.program, run_id, path=NOOP_PATH)
        stack.callback(remove_image, client, tag)
        collector = RecordCollector()
        stack.callback(collector.close)
        security = [f"seccomp={log_everything_profile()}"]
        if req.no_new_privileges:
            security.append("no-new-privileges")
        kwargs: dict[str, Any] = {}
        if req.runtime is not None:
            kwargs["runtime"] = req.runtime
        try:
            container = client.containers.create(
                tag,
                security_opt=security,
                network_mode="none",
                labels={VERIFY_LABEL: run_id},
                detach=True,
                user="" if req.user == "root" else req.user,
                **kwargs,
            )
        except docker.errors.DockerException as e:
            raise TracerError(f"cannot create the measuring container: {e}") from e
        stack.callback(remove_container, container)
        collector.container_id = container.id
        # The program exits at once: its records can all arrive after it is gone, when its
        # cgroup can no longer be read; its exe (and so its pid, the init's) still places them.
        collector.workload_exe = NOOP_PATH
        log(f"running {req.program.name} under {name} as {req.user} with a log-everything profile")
        try:
            container.start()
        except docker.errors.DockerException as e:
            raise TracerError(f"the measuring container did not start: {e}") from e
        rc = wait_exit(container, req.timeout)
        if rc != 0:
            raise TracerError(
                f"the measuring program exited with {rc}, expected 0",
                hint="give a static program that exits 0 (examples/noop)",
            )
        records = collector.stop()
    workload = [r for r in records if r.exe == NOOP_PATH]
    if not workload:
        raise TracerError(
            "no audit record of the measuring program arrived: the kernel did not log "
            "SCMP_ACT_LOG calls",
            hint="check /proc/sys/kernel/seccomp/actions_logged lists 'log' and that audit is on",
        )
    pid = workload[0].pid
    init = runtime_calls(records, pid)
    if not init or not any(r.name == "execve" for r in init):
        raise TracerError(
            f"found no record of {name}'s init before its execve of the program",
            hint=f"is {name} a runtime whose init is named like runc's or crun's?",
        )
    return RuntimeBlock(
        runtime=name,
        version=measured.version or "unknown",
        no_new_privileges=req.no_new_privileges,
        arch=init[0].arch or native_arch(),
        syscalls=tuple(sorted({r.name for r in init if r.name})),
        engine=f"docker {info.get('ServerVersion', '?')}",
        kernel=str(info.get("KernelVersion", "")),
        records=len(init),
        users=(req.user,),
    )
