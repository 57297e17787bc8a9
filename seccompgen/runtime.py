"""Container runtime base sets: the syscalls a runtime's init makes after installing the filter.

A container runtime installs the seccomp filter from inside the container's init process and
then still has work to do before it ``execve(2)``\\ s the workload, all of it under the filter
(OCI runtime-spec config-linux.md, "seccomp": the filter applies to the container process, and
runc's ``libcontainer/standard_init_linux.go`` loads it and only then finishes the set-up). A
profile that allows only what the workload was seen to do therefore refuses the runtime's own
calls and the container never starts. What the runtime needs depends on its version and on
``no_new_privileges``: runc (``standard_init_linux.go``, ``Init``) installs the filter as late as
possible, right before ``execve``, when ``NoNewPrivileges`` is set, but *before* it drops
capabilities and changes user when it is not (loading a filter without ``no_new_privs`` needs
``CAP_SYS_ADMIN``, seccomp(2)), so many more calls follow the filter then (``capset``,
``setuid``, ``prctl``, ...).

crun (src/libcrun/container.c, 1.8.1) makes the same choice with less work on either side. It
compiles the profile with libseccomp in ``crun create`` (seccomp.c, ``libcrun_generate_seccomp``,
``seccomp_export_bpf``) and the container process loads the ready BPF with one ``seccomp(2)``
``SECCOMP_SET_MODE_FILTER`` call (``libcrun_apply_seccomp``). With ``no_new_privileges`` that is
in ``container_init`` after the wait on the exec fifo, right before ``execv``: only the ``close``
of the filter's file follows. Without, it is in ``container_init_setup`` before
``libcrun_set_caps`` (``prctl(PR_CAPBSET_DROP)`` per dropped capability, ``setresgid``,
``setresuid``, ``capset``, ``prctl(PR_CAP_AMBIENT)``), then ``unblock_signals``
(``rt_sigprocmask``, ``rt_sigaction`` for every signal), the sync ``write`` to ``crun create`` and
the wait on the exec fifo (``pselect6``, ``read``, ``close``).

These sets are measured, not guessed: ``seccompgen runtime-baseline`` runs a trivial static
program under a profile that logs every call (``defaultAction: SCMP_ACT_LOG`` and no rules) and
keeps the audit records of the runtime's init process up to its ``execve`` of the program
(:func:`measure_runtime` in :mod:`seccompgen.verify`). Each result is a :class:`RuntimeBlock`,
stored as ``<runtime>-<version>-<nnp|no-nnp>.json``; ``emit --runtime`` merges the matching one
into a profile's allowlist.

Where blocks live (:func:`runtime_dirs`, earlier wins for the same file name):
``$SECCOMPGEN_RUNTIME_DIR``; ``profiles/runtime`` under the current directory, where
``runtime-baseline`` writes by default (a project's own measurements, next to its profiles);
and the blocks measured for this release, shipped inside the package (``seccompgen/data/runtime``),
so an installed seccompgen has them too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from seccompgen.errors import ProfileError, TracerError
from seccompgen.parsing.audit import AuditRecord

RUNTIMES: Final = ("runc", "crun")
"""Runtimes with known init-process names (:func:`is_runtime_init`)."""
CHOICES: Final = ("auto", *RUNTIMES, "none")
"""Values of ``emit --runtime``."""
ENV_DIR: Final = "SECCOMPGEN_RUNTIME_DIR"
"""Environment variable naming an extra directory of runtime blocks, searched first."""
FORMAT: Final = 1

BUNDLED_DIR: Final = Path(__file__).resolve().parent / "data" / "runtime"
"""The blocks measured for this release (package data)."""
LOCAL_DIR: Final = Path("profiles") / "runtime"
"""A project's own blocks, relative to the current directory (``runtime-baseline``'s output)."""


@dataclass(frozen=True, slots=True)
class RuntimeInfo:
    """A runtime by name and version (``version`` None when unknown)."""

    name: str
    version: str | None


@dataclass(frozen=True, slots=True)
class RuntimeBlock:
    """The syscalls one runtime version makes under the filter, in one NNP mode, measured.

    ``syscalls`` is sorted. ``engine`` and ``kernel`` record where it was measured, ``records``
    how many audit records the runtime's init logged (calls, not distinct names).
    """

    runtime: str
    version: str
    no_new_privileges: bool
    arch: str
    syscalls: tuple[str, ...]
    engine: str = ""
    kernel: str = ""
    records: int = 0
    users: tuple[str, ...] = ()
    """The container users the block was measured as (``root``, ``65532:65532``); empty for a
    block stored before the user was recorded (measured as root)."""

    @property
    def file_name(self) -> str:
        """``<runtime>-<version>-<nnp|no-nnp>.json``."""
        return block_file_name(self.runtime, self.version, self.no_new_privileges)

    @property
    def label(self) -> str:
        """``runc 1.1.5 (no NNP)``: how the block is named in messages."""
        mode = "NNP" if self.no_new_privileges else "no NNP"
        return f"{self.runtime} {self.version} ({mode})"

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON object, keys in a stable order."""
        return {
            "format": FORMAT,
            "runtime": self.runtime,
            "version": self.version,
            "noNewPrivileges": self.no_new_privileges,
            "arch": self.arch,
            "measured": {
                "engine": self.engine,
                "kernel": self.kernel,
                "records": self.records,
                **({"users": list(self.users)} if self.users else {}),
            },
            "comment": (
                "syscalls the runtime's init process made after installing the seccomp filter "
                "and up to its execve of the workload; measured by `seccompgen runtime-baseline`"
            ),
            "syscalls": sorted(self.syscalls),
        }

    @classmethod
    def from_dict(cls, data: object, *, source: str) -> RuntimeBlock:
        """Read a stored block; bad content raises :class:`ProfileError` naming ``source``."""
        if not isinstance(data, dict):
            raise ProfileError(f"{source}: a runtime block is a JSON object")
        try:
            names = data["syscalls"]
            measured = data.get("measured") or {}
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise TypeError("syscalls must be a list of names")
            return cls(
                runtime=str(data["runtime"]),
                version=str(data["version"]),
                no_new_privileges=bool(data["noNewPrivileges"]),
                arch=str(data["arch"]),
                syscalls=tuple(sorted(set(names))),
                engine=str(measured.get("engine", "")),
                kernel=str(measured.get("kernel", "")),
                records=int(measured.get("records", 0)),
                users=tuple(str(u) for u in measured.get("users", ())),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ProfileError(
                f"{source}: not a runtime block ({e})",
                hint="regenerate it with `seccompgen runtime-baseline`",
            ) from e


def block_file_name(runtime: str, version: str, nnp: bool) -> str:
    """The file name of a block; characters other than ``[A-Za-z0-9._+-]`` become ``_``."""
    safe = re.sub(r"[^A-Za-z0-9._+-]", "_", version)
    return f"{runtime}-{safe}-{'nnp' if nnp else 'no-nnp'}.json"


def runtime_dirs() -> list[Path]:
    """Where blocks are looked up, in order: ``$SECCOMPGEN_RUNTIME_DIR``, ``profiles/runtime``
    under the current directory, then the bundled blocks."""
    dirs = []
    extra = os.environ.get(ENV_DIR)
    if extra:
        dirs.append(Path(extra))
    dirs.append(LOCAL_DIR)
    dirs.append(BUNDLED_DIR)
    return dirs


def default_output_dir() -> Path:
    """Where ``runtime-baseline`` writes: ``profiles/runtime`` under the current directory."""
    return LOCAL_DIR


def load_blocks(dirs: Iterable[Path] | None = None) -> list[RuntimeBlock]:
    """Every block in ``dirs`` (default :func:`runtime_dirs`); earlier directories win."""
    seen: set[str] = set()
    out: list[RuntimeBlock] = []
    for d in runtime_dirs() if dirs is None else dirs:
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.json")):
            if path.name in seen:
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as e:
                raise ProfileError(f"{path}: cannot read the runtime block: {e}") from e
            seen.add(path.name)
            out.append(RuntimeBlock.from_dict(data, source=str(path)))
    return out


def write_block(block: RuntimeBlock, directory: Path) -> Path:
    """Write ``block`` as ``directory/<file_name>`` (sorted names, trailing newline)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / block.file_name
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(block.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        raise ProfileError(f"{path}: cannot write: {e}") from e
    return path


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version.split("+")[0].split("-")[0])[:3])


def upstream_version(version: str) -> str:
    """``1.1.5`` from ``1.1.5+ds1``, ``1.1.5+ds1-1+deb12u1`` or ``v1.1.5``."""
    m = re.search(r"\d+(?:\.\d+)+", version)
    return m.group(0) if m else version


@dataclass(frozen=True, slots=True)
class RuntimeSelection:
    """The block ``emit`` merges, and how it was chosen (``note`` says so in a sentence)."""

    block: RuntimeBlock
    wanted: RuntimeInfo
    exact: bool
    note: str


def select_block(
    blocks: Sequence[RuntimeBlock], wanted: RuntimeInfo, nnp: bool
) -> RuntimeSelection | None:
    """The stored block for ``wanted`` in NNP mode ``nnp``.

    The same upstream version first; else the same major.minor; else the newest stored
    version of that runtime (with a note that it is not an exact match). None when no block of
    that runtime and mode is stored.
    """
    same = [b for b in blocks if b.runtime == wanted.name and b.no_new_privileges == nnp]
    if not same:
        return None
    same.sort(key=lambda b: _version_key(b.version), reverse=True)
    if wanted.version is not None:
        up = upstream_version(wanted.version)
        for b in same:
            if upstream_version(b.version) == up:
                return RuntimeSelection(b, wanted, True, f"measured block {b.label}")
        minor = _version_key(up)[:2]
        for b in same:
            if _version_key(b.version)[:2] == minor:
                return RuntimeSelection(
                    b, wanted, False, f"block {b.label}, nearest to {wanted.name} {up}"
                )
    b = same[0]
    why = (
        f"no block for {wanted.name} {upstream_version(wanted.version)} is stored"
        if wanted.version
        else f"the {wanted.name} version is unknown"
    )
    return RuntimeSelection(b, wanted, False, f"block {b.label} ({why}; newest stored)")


def local_runtime_version(name: str, path: str | None = None) -> str | None:
    """``<runtime> --version`` of the binary on this machine (``runc version 1.1.5+ds1``)."""
    exe = shutil.which(path or name)
    if exe is None:
        return None
    try:
        proc = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in proc.stdout.splitlines():
        m = re.match(rf"^\s*{re.escape(name)}\s+version\s+(\S+)", line)
        if m:
            return m.group(1)
    return None


def engine_runtime(info: dict[str, Any], name: str | None = None) -> RuntimeInfo:
    """A runtime of a Docker engine from its ``docker info`` (``GET /info``): the one the engine
    calls ``name``, by default its ``DefaultRuntime``.

    ``Runtimes`` maps each name to its binary (``path``); which runtime that is (runc, crun)
    comes from the binary's name. The version comes from that binary on this machine (``runc
    --version``, ``crun --version``: the engine is local, the verify and trace commands need that
    anyway), else, for runc, from ``RuncCommit.ID`` (``1.1.5+ds1-1+deb12u1`` on Debian, a commit
    hash on some builds).
    """
    name = name or str(info.get("DefaultRuntime") or "runc")
    runtimes = info.get("Runtimes") or {}
    path = str((runtimes.get(name) or {}).get("path") or name)
    kind = next((r for r in RUNTIMES if Path(path).name.startswith(r)), None) or name
    kind = "runc" if kind.startswith("io.containerd.runc") else kind
    version = local_runtime_version(kind, path)
    if version is None and kind == "runc":
        commit = str((info.get("RuncCommit") or {}).get("ID") or "")
        version = commit if re.match(r"^v?\d+\.\d+", commit) else None
    return RuntimeInfo(kind, version)


def require_engine_runtime(info: dict[str, Any], name: str) -> None:
    """Raise :class:`TracerError` when the engine (``docker info``) has no runtime ``name``.

    Docker itself would only refuse the container ("unknown or invalid runtime name"); this
    says which runtimes the engine has and how to add one.
    """
    runtimes = sorted(info.get("Runtimes") or {})
    if name in runtimes:
        return
    binary = shutil.which(name) or f"/usr/bin/{name}"
    raise TracerError(
        f"the Docker engine has no runtime named {name!r} (it has: {', '.join(runtimes) or '-'})",
        hint=f"register it: start dockerd with --add-runtime {name}={binary}, or add "
        f'{{"runtimes": {{"{name}": {{"path": "{binary}"}}}}}} to its daemon.json and send '
        "dockerd SIGHUP (scripts/docker-up.sh does this for the engine it starts)",
    )


def resolve_runtime(
    choice: str,
    nnp: bool,
    *,
    blocks: Sequence[RuntimeBlock] | None = None,
    engine: str = "docker",
) -> RuntimeSelection | None:
    """The block ``emit --runtime CHOICE [--no-new-privileges]`` merges (None for ``none``).

    ``auto``: the default runtime of the local ``engine`` (``docker`` or ``podman``) when it
    answers, else runc.
    ``runc``/``crun``: that runtime, at the version of its binary on this machine when there is
    one. Raises :class:`ProfileError` when no block of that runtime and mode is stored.
    """
    if choice == "none":
        return None
    if choice not in CHOICES:
        raise ProfileError(f"unknown runtime {choice!r}", hint=f"use one of {', '.join(CHOICES)}")
    source = ""
    if choice == "auto":
        try:
            from seccompgen.containers.image import docker_client

            client = docker_client(engine)
            try:
                wanted = engine_runtime(client.info())
            finally:
                client.close()
            source = f"the local {engine} engine's default runtime"
        except (TracerError, OSError):
            wanted = RuntimeInfo("runc", None)
            source = f"no {engine} engine answered, so runc"
    else:
        wanted = RuntimeInfo(choice, local_runtime_version(choice))
    stored = load_blocks() if blocks is None else list(blocks)
    selection = select_block(stored, wanted, nnp)
    if selection is None:
        mode = "with" if nnp else "without"
        flag = " --no-new-privileges" if nnp else ""
        raise ProfileError(
            f"no measured block for {wanted.name} {mode} no-new-privileges is stored "
            f"(looked in {', '.join(str(d) for d in runtime_dirs())})",
            hint=f"measure it: `seccompgen runtime-baseline --runtime {wanted.name}{flag}`, "
            "or emit with --runtime none",
        )
    if source:
        return RuntimeSelection(
            selection.block, selection.wanted, selection.exact, f"{selection.note}; {source}"
        )
    return selection


# ---------------------------------------------------------------------- init records


def is_runtime_init(record: AuditRecord) -> bool:
    """Whether ``record`` was logged by a runtime's init process rather than the workload.

    runc names its init stages with ``prctl(PR_SET_NAME)``: ``runc:[0:PARENT]``,
    ``runc:[1:CHILD]``, ``runc:[2:INIT]`` (libcontainer/nsenter/nsexec.c); the last one loads
    the filter and execs the workload, so its records carry ``comm="runc:[2:INIT]"`` until the
    exec completes (measured: its ``exe`` then shows ``/``, the cloned binary being unreachable
    from the container's mount namespace). crun renames nothing: its container process is a
    clone of ``crun create`` that loads the filter and ``execv``\\ s the workload itself
    (src/libcrun/container.c, ``container_init``), so its records carry ``comm="crun"``
    (measured with crun 1.8.1; ``exe`` shows ``/`` as for runc, crun running from a sealed
    memfd copy of itself, src/libcrun/cloned_binary.c). In both the ``execve`` record is the
    runtime's last (``comm`` is still the runtime's when the call is logged, on entry) and the
    next record of that pid is the workload's.
    """
    comm = record.comm or ""
    exe = Path(record.exe or "").name
    return comm.startswith("runc:[") or comm == "crun" or exe == "crun" or exe.startswith("runc")


def runtime_calls(records: Sequence[AuditRecord], pid: int | None = None) -> list[AuditRecord]:
    """The records of a runtime's init, up to and including its ``execve`` of the workload.

    ``pid`` restricts them to one process (the container's init, whose pid the workload keeps
    across the exec). Records after the first one the workload itself logged are not the
    runtime's, whatever their comm.
    """
    out: list[AuditRecord] = []
    for r in records:
        if pid is not None and r.pid != pid:
            continue
        if not is_runtime_init(r):
            break
        out.append(r)
    return out
