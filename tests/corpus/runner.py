"""Run the corpus end to end, as a user types the commands.

For each program: its plan's steps are traced in the corpus image (``seccompgen trace --image``,
the exercise on the host or the batch job to its end, every step into one workload); then, for
each of {without, with} no-new-privileges, ``seccompgen emit`` writes the enforce profile,
``seccompgen validate`` and ``seccompgen diff ... docker-default --summary`` read it, and
``seccompgen verify --strict`` runs every step again with it enforced (and once more under its
staging variant, which must log nothing). The outputs of the batch steps are checked after the
traced run and after each verified run. Nothing is edited by hand between the commands.

Every command is ``python -m seccompgen ...`` in a subprocess; a failure is recorded with the
command and the end of its output, and the program's remaining commands are skipped.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from seccompgen.verify import go_pid1_sigterm_exit

from .programs import PROGRAMS, CheckFailed, Context, Plan, Program

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build-corpus-image.sh"
#: The label on the (unconfined, untraced) containers that prepare a program's inputs.
PREPARE_LABEL = "io.seccompgen.corpus"
MODES = ("default", "nnp")  # without and with --no-new-privileges
TIMEOUT = 300  # seconds, per seccompgen command

Log = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


class CorpusError(Exception):
    """The corpus image could not be built or read."""


def build_image(timeout: float = 1800) -> str:
    """Build (or reuse, by its content hash) the corpus image; its tag."""
    proc = subprocess.run(
        [str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise CorpusError(f"{BUILD_SCRIPT.name} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout.split()[-1]


@dataclass(frozen=True)
class Facts:
    """What the image says about a program: its package version, how ``ldd`` in the image
    sees it, and what ``seccompgen inspect`` reads from it (linkage, Go version, cgo)."""

    version: str
    ldd: str  # "static" or "dynamic"
    linkage: str  # "static" or "dynamic", from seccompgen inspect
    go_version: str | None
    cgo: str | None  # the CGO_ENABLED build setting


def read_facts(image: str, programs: Sequence[Program], scratch: Path) -> dict[str, Facts]:
    """Package versions (dpkg-query) and ldd's answer in the image, in one run that also copies
    the programs to ``scratch``, where ``seccompgen inspect`` reads them."""
    scratch.mkdir(parents=True, exist_ok=True)
    lines = [
        f"printf '%s\\t%s\\t' {shlex.quote(p.name)} \"$(dpkg-query -W -f '${{Version}}' "
        f'{shlex.quote(p.package)})"; ldd {shlex.quote(p.binary)} 2>&1 | head -n 1; '
        f"cp {shlex.quote(p.binary)} /out/{shlex.quote(p.name)}"
        for p in programs
    ]
    proc = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--label", f"{PREPARE_LABEL}=facts",
         "-v", f"{scratch}:/out", image, "sh", "-ec", "\n".join(lines)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise CorpusError(f"cannot read package facts from {image}: {proc.stderr[-2000:]}")
    facts = {}
    for line in proc.stdout.splitlines():
        name, version, ldd = line.split("\t", 2)
        # glibc's ldd: "not a dynamic executable" (exit 1) or "statically linked" for a static
        # program, a list of libraries ("libc.so.6 => ...") for a dynamic one.
        static = "not a dynamic executable" in ldd or "statically linked" in ldd
        inspected = sg("inspect", str(scratch / name), "--format", "json", cwd=scratch)
        if inspected.returncode != 0:
            raise CorpusError(f"seccompgen inspect {name} failed: {inspected.stderr[-2000:]}")
        info = json.loads(inspected.stdout)
        go = info.get("go") or {}
        facts[name] = Facts(
            version=version,
            ldd="static" if static else "dynamic",
            linkage=str(info["linkage"]),
            go_version=go.get("version"),
            cgo=(go.get("settings") or {}).get("CGO_ENABLED"),
        )
        (scratch / name).unlink()
    return facts


@dataclass
class ModeResult:
    """Emit and verify with one no-new-privileges setting."""

    allowed: int | None = None  # names the enforce profile allows
    docker_default: int | None = None  # names Docker's default profile allows (same arches)
    passed: bool = False
    failure: str | None = None


@dataclass
class ProgramResult:
    name: str
    package: str
    version: str
    linkage: str
    go_version: str | None
    kind: str
    traced: bool = False
    distinct: int | None = None  # distinct syscalls the traces recorded
    failure: str | None = None  # of the trace pass
    modes: dict[str, ModeResult] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.traced and all(self.modes.get(m, ModeResult()).passed for m in MODES)

    def failures(self) -> list[str]:
        out = [f"{self.name}: trace: {self.failure}"] if self.failure else []
        out += [f"{self.name} ({m}): {r.failure}" for m, r in self.modes.items() if r.failure]
        if not out and not self.passed:
            out.append(f"{self.name}: did not run to the end")
        return out


class StepFailed(Exception):
    pass


def sg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m seccompgen ARGS`` in ``cwd``; output captured, never raises on exit status."""
    return subprocess.run(
        [sys.executable, "-m", "seccompgen", *args],
        cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT * 3, check=False,
    )  # fmt: skip


def _must(proc: subprocess.CompletedProcess[str], ok: bool, why: str) -> None:
    if not ok:
        cmd = shlex.join(["seccompgen", *proc.args[3:]])
        raise StepFailed(
            f"{why}\n$ {cmd}\nexit {proc.returncode}\n--- stdout\n{proc.stdout[-2500:]}"
            f"\n--- stderr\n{proc.stderr[-2500:]}"
        )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare_run(image: str, plan: Plan, root: Path) -> list[str]:
    """Write the plan's files into a fresh ``root``, run its prepare commands; the ``-V``
    flags that mount it."""
    root.mkdir(parents=True)
    for mount in plan.mounts:
        (root / mount.subdir).mkdir(parents=True, exist_ok=True)
    for rel, text in plan.files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    volumes = [f"{root / m.subdir}:{m.container}:{m.mode}" for m in plan.mounts]
    for command in plan.prepare:
        flags = [x for v in volumes for x in ("-v", v)]
        proc = subprocess.run(
            ["docker", "run", "--rm", "--network", "none", "--label", f"{PREPARE_LABEL}=prepare",
             *flags, image, *command],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise StepFailed(f"preparing with {shlex.join(command)} failed: {proc.stderr[-1500:]}")
    return [x for v in volumes for x in ("-V", v)]


def _check(plan: Plan, root: Path, when: str) -> None:
    try:
        plan.check(root)
    except CheckFailed as e:
        raise StepFailed(f"after {when}: {e}") from e


_EXIT = re.compile(r"^target exit status: (-?\d+)$", re.MULTILINE)
_DISTINCT = re.compile(r"^workload \S+: (\d+) distinct syscalls in the store", re.MULTILINE)
_ALLOWED = re.compile(r"^(\S+): (\d+) syscalls allowed$", re.MULTILINE)


def _trace(program: Program, plan: Plan, image: str, work: Path, go_version: str | None) -> int:
    volumes = _prepare_run(image, plan, work / "trace-run")
    distinct = 0
    for step in plan.steps * (1 + plan.restarts):
        args = ["trace", "--image", image, "-w", program.name, "--network", plan.network,
                "--timeout", str(TIMEOUT), *volumes]  # fmt: skip
        if step.exercise:
            args += ["--exercise", step.exercise]
        proc = sg(*args, "--", *step.args, cwd=work)
        _must(proc, proc.returncode == 0 and "trace complete" in proc.stdout, "trace failed")
        _must(proc, "warning: the exercise command exited" not in proc.stderr,
              "the exercise failed under trace")  # fmt: skip
        m = _EXIT.search(proc.stdout)
        rc = None if m is None else int(m.group(1))
        # A service stops on SIGTERM as verify counts it: status 0, death by the signal (143,
        # -15 as trace reports a signal), or a Go program's exit as process 1 (see verify).
        clean = rc == 0 or (
            step.exercise is not None
            and rc is not None
            and (rc in (-15, 143) or go_pid1_sigterm_exit(rc, proc.stderr, go_version))
        )
        _must(proc, clean, "the target did not end cleanly")
        d = _DISTINCT.search(proc.stdout)
        distinct = int(d.group(1)) if d else distinct
    _check(plan, work / "trace-run", "the traced run")
    return distinct


def _emit_and_verify(
    program: Program, plan: Plan, image: str, work: Path, mode: str, result: ModeResult
) -> None:
    nnp = ["--no-new-privileges"] if mode == "nnp" else []
    profile = work / "profiles" / f"{program.name}.{mode}.json"
    proc = sg("emit", "-w", program.name, *nnp, "-o", str(profile), cwd=work)
    _must(proc, proc.returncode == 0 and profile.is_file(), "emit failed")
    proc = sg("validate", str(profile), cwd=work)
    _must(proc, proc.returncode == 0, "the emitted profile does not validate")
    proc = sg("diff", str(profile), "docker-default", "--summary", cwd=work)
    counts = {name: int(n) for name, n in _ALLOWED.findall(proc.stdout)}
    _must(proc, proc.returncode == 0 and len(counts) == 2, "diff --summary failed")
    result.allowed = counts.get(str(profile), counts.get(profile.name))
    result.docker_default = counts.get("docker-default")
    run = work / f"verify-{mode}"
    volumes = _prepare_run(image, plan, run)
    for step in plan.steps:
        args = ["verify", "--strict", str(profile), "--image", image, *nnp,
                "--network", plan.network, "--timeout", str(TIMEOUT), *volumes]  # fmt: skip
        if step.exercise:
            args += ["--exercise", step.exercise]
        proc = sg(*args, "--", *step.args, cwd=work)
        _must(
            proc,
            proc.returncode == 0
            and proc.stdout.startswith("PASS")
            and "strict: the staging variant logged no call" in proc.stdout,
            "verify --strict failed",
        )
    _check(plan, run, f"the verified runs ({mode})")
    result.passed = True


def run_program(
    program: Program, image: str, facts: Facts, work: Path, log: Log = _quiet
) -> ProgramResult:
    """Trace, emit and verify ``program`` in ``work`` (a fresh directory: the trace store and
    the profiles go there); never raises for a failing step, which is recorded instead."""
    start = time.monotonic()
    ctx = Context(tuple(_free_port() for _ in range(program.ports)), uuid.uuid4().hex[:10])
    plan = program.plan(ctx)
    result = ProgramResult(program.name, program.package, facts.version, facts.linkage,
                           facts.go_version, program.kind)  # fmt: skip
    work.mkdir(parents=True, exist_ok=True)
    try:
        log(f"{program.name}: trace ({len(plan.steps)} step(s), network {plan.network})")
        result.distinct = _trace(program, plan, image, work, facts.go_version)
        result.traced = True
    except StepFailed as e:
        result.failure = str(e)
    if result.traced:
        for mode in MODES:
            mode_result = result.modes.setdefault(mode, ModeResult())
            log(f"{program.name}: emit + verify --strict ({mode})")
            try:
                _emit_and_verify(program, plan, image, work, mode, mode_result)
            except StepFailed as e:
                mode_result.failure = str(e)
    result.seconds = round(time.monotonic() - start, 1)
    log(f"{program.name}: {'PASS' if result.passed else 'FAIL'} in {result.seconds:.0f}s")
    return result


def run_corpus(
    work: Path, names: Sequence[str] = (), log: Log = _quiet
) -> tuple[str, list[ProgramResult], float]:
    """Build the image and run every program (or those named), one after the other."""
    start = time.monotonic()
    chosen = [p for p in PROGRAMS if not names or p.name in names]
    image = build_image()
    facts = read_facts(image, chosen, work / "facts")
    results = [run_program(p, image, facts[p.name], work / p.name, log) for p in chosen]
    return image, results, round(time.monotonic() - start, 1)


def save(path: Path, image: str, results: Sequence[ProgramResult], seconds: float) -> None:
    data = {"image": image, "seconds": seconds, "programs": [asdict(r) for r in results]}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
