"""The ebpf backend's in-kernel counter: four BPF programs and their maps, via bpf(2).

The two syscall programs are raw tracepoint programs where they can be (x86_64: the arguments
are read from ``struct pt_regs`` at offsets found in BTF), else tracepoint programs; raw ones
save the kernel filling a tracepoint record for every system call on the machine. The fork and
exit programs are tracepoint programs.

The programs (written with :class:`seccompgen.tracing.bpf.asm.Program`, loaded with
:mod:`seccompgen.tracing.bpf.loader`) count what the bpftrace program of
:func:`seccompgen.tracing.bpf.bpftrace.bpftrace_script` counts, but increment per-CPU map values
in place: a tracked call costs one hash lookup of the caller, one array lookup of the phase
(inlined by the verifier) and one per-CPU hash lookup whose value is incremented, with no map
update. Maps:

- ``track`` (hash, tgid -> state): 1 for a tracked process; 2 for the launcher, armed: its
  calls are not counted until its first ``execve``, which sets 1 and is counted, so the target's
  own ``execve`` is its first counted call and nothing of the launcher is.
- ``phase`` (array, one u32): the phase number, written from user space at each boundary.
- ``counts`` (per-CPU hash, {tgid, tid, nr, phase} -> {count, first ns}).
- ``errors`` (per-CPU hash, {tgid, tid, nr, phase, errno} -> count): calls that returned < 0.
- ``samples`` (hash, {tgid, tid, nr, phase, args[6]} -> ns): argument tuples, inserted (never
  replaced) while this CPU's count of the key is below the sample bound.
- ``watch`` (array, syscall number -> bit mask of argument indexes): the arguments whose every
  distinct value is recorded (:func:`seccompgen.tracing.bpf.counts.watched_args`), written from
  user space before the run.
- ``distinct`` (hash, {tgid, tid, nr, phase, args[6]} -> ns): for a watched syscall, every
  distinct tuple of its watched arguments (the other five or so zero), inserted on every call
  (never replaced): an insert of a key already there fails, at the cost of one hash lookup.
- ``exits`` (hash, tgid -> {exit code, phase, ns}): ``task_struct.exit_code`` when a tracked
  process's main thread ends, read with ``bpf_probe_read_kernel`` at the member's offset in the
  kernel's BTF (the tracepoint's record does not carry it).

``sched_process_fork`` adds a child (process or thread) to ``track`` when its parent's process
is tracked, before the child first runs; a thread's own entry is dropped when it exits, so a
later process reusing its number is not tracked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from seccompgen.tracing.bpf import loader
from seccompgen.tracing.bpf.asm import (
    ADD,
    AND,
    FP,
    JEQ,
    JGE,
    JNE,
    JSGE,
    JSLT,
    R0,
    R1,
    R2,
    R3,
    R4,
    R6,
    R7,
    R8,
    R9,
    RSH,
    Program,
)
from seccompgen.tracing.bpf.loader import (
    ANY,
    GET_CURRENT_PID_TGID,
    GET_CURRENT_TASK,
    KTIME_GET_NS,
    MAP_DELETE_ELEM,
    MAP_LOOKUP_ELEM,
    MAP_UPDATE_ELEM,
    NOEXIST,
    PROBE_READ_KERNEL,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from seccompgen.tracing.bpf.counts import BpftraceState

TRACKED: Final = 1
ARMED: Final = 2

WATCH_NUMBERS: Final = 1024
"""Syscall numbers the ``watch`` map covers (0 .. this - 1); every native number is below."""

_COUNT_KEY: Final = struct.Struct("<IIII")
_ERROR_KEY: Final = struct.Struct("<IIIII")
_SAMPLE_KEY: Final = struct.Struct("<IIII6Q")
_COUNT_VALUE: Final = struct.Struct("<QQ")
_EXIT_VALUE: Final = struct.Struct("<IIQ")
_U32: Final = struct.Struct("<I")
_U64: Final = struct.Struct("<Q")


@dataclass(frozen=True)
class Layout:
    """Where the programs read their inputs: tracepoint field offsets and the exit code.

    With ``regs_args`` set, the syscall programs are raw tracepoint programs: ``enter_id``
    and ``exit_ret`` are then offsets in the argument array (``sys_enter(regs, id)``,
    ``sys_exit(regs, ret)``), and the arguments and the number at exit are read from the
    ``struct pt_regs`` at the offsets ``regs_args`` and ``regs_nr``.
    """

    enter_id: int
    enter_args: int
    exit_id: int
    exit_ret: int
    fork_child_pid: int
    task_exit_code: int
    regs_args: tuple[int, ...] | None = None
    regs_nr: int = 0


# The registers of the six syscall arguments and of the syscall number in x86_64's struct
# pt_regs (syscall(2), "Architecture calling conventions"; syscall_get_nr() reads orig_ax).
_X86_64_ARGS: Final = ("di", "si", "dx", "r10", "r8", "r9")
_X86_64_NR: Final = "orig_ax"
_REGS_BUF: Final = -224  # the stack copy of struct pt_regs' argument registers (raw mode)


def _read_regs(p: Program, lay: Layout) -> int:
    """Copy the argument registers' span of ``struct pt_regs`` (ctx[0]) to the stack at
    :data:`_REGS_BUF` (raw mode); returns the span's first offset in pt_regs."""
    assert lay.regs_args is not None
    lo, hi = min(lay.regs_args), max(lay.regs_args) + 8
    p.ldx(8, R3, R6, 0)
    if lo:
        p.alui(ADD, R3, lo)
    p.mov(R1, FP)
    p.alui(ADD, R1, _REGS_BUF)
    p.movi(R2, hi - lo)
    p.call(PROBE_READ_KERNEL)
    return lo


def _key_tgid(p: Program, off: int) -> None:
    """Store the current tgid (upper half of R7 = pid_tgid) as a u32 at ``FP + off``."""
    p.mov(R1, R7)
    p.alui(RSH, R1, 32)
    p.stx(4, FP, off, R1)


def _lookup(p: Program, name: str, key_off: int) -> None:
    """R0 = lookup(map ``name``, FP + key_off)."""
    p.ld_map(R1, name)
    p.mov(R2, FP)
    p.alui(ADD, R2, key_off)
    p.call(MAP_LOOKUP_ELEM)


def _update(p: Program, name: str, key_off: int, value_off: int, flags: int) -> None:
    """R0 = update(map ``name``, FP + key_off, FP + value_off, flags)."""
    p.ld_map(R1, name)
    p.mov(R2, FP)
    p.alui(ADD, R2, key_off)
    p.mov(R3, FP)
    p.alui(ADD, R3, value_off)
    p.movi(R4, flags)
    p.call(MAP_UPDATE_ELEM)


def _phase_to(p: Program, scratch_off: int, dst_off: int) -> None:
    """Store the current phase number as a u32 at ``FP + dst_off``."""
    p.st(4, FP, scratch_off, 0)
    _lookup(p, "phase", scratch_off)
    p.movi(R1, 0)
    p.jmpi(JEQ, R0, 0, f"phase_{dst_off}")
    p.ldx(4, R1, R0, 0)
    p.label(f"phase_{dst_off}")
    p.stx(4, FP, dst_off, R1)


def sys_enter_program(maps: dict[str, int], lay: Layout, execve_nr: int, samples: int) -> Program:
    """``raw_syscalls:sys_enter``: count the call, sample its arguments, and record the
    distinct values of its watched arguments (the ``watch`` map)."""
    p = Program(maps)
    # Stack: FP-64 .. FP-48 the count key, FP-48 .. FP the six arguments (together the sample
    # key), FP-80 the value to insert, FP-84 scratch.
    p.mov(R6, R1)
    p.call(GET_CURRENT_PID_TGID)
    p.mov(R7, R0)
    _key_tgid(p, -4)
    _lookup(p, "track", -4)
    p.jmpi(JEQ, R0, 0, "out")
    p.ldx(4, R1, R0, 0)
    p.jmpi(JEQ, R1, TRACKED, "counted")
    # Armed (the launcher): its execve starts the count; nothing before it is counted.
    p.ldx(8, R2, R6, lay.enter_id)
    p.jmpi(JNE, R2, execve_nr, "out")
    p.st(4, R0, 0, TRACKED)
    p.label("counted")
    _key_tgid(p, -64)
    p.stx(4, FP, -60, R7)  # the low half: the thread id
    p.ldx(8, R1, R6, lay.enter_id)
    p.stx(4, FP, -56, R1)
    _phase_to(p, -84, -52)
    _lookup(p, "counts", -64)
    p.jmpi(JEQ, R0, 0, "insert")
    p.label("found")
    p.ldx(8, R8, R0, 0)
    p.mov(R1, R8)
    p.alui(ADD, R1, 1)
    p.stx(8, R0, 0, R1)
    # Another CPU inserted the key: this CPU's slot starts at zero, first time included.
    p.jmpi(JNE, R8, 0, "sample")
    p.mov(R7, R0)
    p.call(KTIME_GET_NS)
    p.stx(8, R7, 8, R0)
    p.jmp("sample")
    p.label("insert")
    p.movi(R8, 0)
    p.call(KTIME_GET_NS)
    p.st(8, FP, -80, 1)
    p.stx(8, FP, -72, R0)
    _update(p, "counts", -64, -80, NOEXIST)
    p.jmpi(JEQ, R0, 0, "sample")
    # Lost a race with another CPU inserting the same key: count in the entry it made.
    _lookup(p, "counts", -64)
    p.jmpi(JEQ, R0, 0, "out")
    p.ldx(8, R8, R0, 0)
    p.mov(R1, R8)
    p.alui(ADD, R1, 1)
    p.stx(8, R0, 0, R1)
    p.label("sample")
    p.jmpi(JGE, R8, samples, "watch")
    if lay.regs_args is None:
        for i in range(6):
            p.ldx(8, R1, R6, lay.enter_args + 8 * i)
            p.stx(8, FP, -48 + 8 * i, R1)
    else:
        lo = _read_regs(p, lay)
        for i, off in enumerate(lay.regs_args):
            p.ldx(8, R1, FP, _REGS_BUF + off - lo)
            p.stx(8, FP, -48 + 8 * i, R1)
    p.call(KTIME_GET_NS)
    p.stx(8, FP, -80, R0)
    _update(p, "samples", -64, -80, NOEXIST)
    # Every call of a watched syscall: its watched arguments (the others zero) into
    # ``distinct``, once per distinct tuple; the count key above stays the key's first half.
    p.label("watch")
    p.ldx(8, R1, R6, lay.enter_id)
    p.stx(4, FP, -84, R1)
    _lookup(p, "watch", -84)
    p.jmpi(JEQ, R0, 0, "out")
    p.ldx(4, R9, R0, 0)
    p.jmpi(JEQ, R9, 0, "out")
    lo = _read_regs(p, lay) if lay.regs_args is not None else 0
    for i in range(6):
        p.st(8, FP, -48 + 8 * i, 0)
        p.mov(R1, R9)
        p.alui(AND, R1, 1 << i)
        p.jmpi(JEQ, R1, 0, f"unwatched_{i}")
        if lay.regs_args is None:
            p.ldx(8, R1, R6, lay.enter_args + 8 * i)
        else:
            p.ldx(8, R1, FP, _REGS_BUF + lay.regs_args[i] - lo)
        p.stx(8, FP, -48 + 8 * i, R1)
        p.label(f"unwatched_{i}")
    p.call(KTIME_GET_NS)
    p.stx(8, FP, -80, R0)
    _update(p, "distinct", -64, -80, NOEXIST)
    p.label("out")
    p.exit()
    return p


def sys_exit_program(maps: dict[str, int], lay: Layout) -> Program:
    """``raw_syscalls:sys_exit``: count failures (a negative return) per errno."""
    p = Program(maps)
    # Stack: FP-24 .. FP-4 the error key, FP-4 the tgid, FP-32 the value, FP-36 scratch,
    # FP-48 the number read from pt_regs (raw mode).
    p.mov(R6, R1)
    p.ldx(8, R8, R6, lay.exit_ret)
    p.jmpi(JSGE, R8, 0, "out")
    p.call(GET_CURRENT_PID_TGID)
    p.mov(R7, R0)
    _key_tgid(p, -4)
    _lookup(p, "track", -4)
    p.jmpi(JEQ, R0, 0, "out")
    p.ldx(4, R1, R0, 0)
    p.jmpi(JNE, R1, TRACKED, "out")
    if lay.regs_args is None:
        p.ldx(8, R9, R6, lay.exit_id)
    else:
        # The number is not an argument of the raw tracepoint: read it from pt_regs, only
        # for a tracked process's failed call.
        p.ldx(8, R3, R6, 0)
        p.alui(ADD, R3, lay.regs_nr)
        p.mov(R1, FP)
        p.alui(ADD, R1, -48)
        p.movi(R2, 8)
        p.call(PROBE_READ_KERNEL)
        p.ldx(8, R9, FP, -48)
    p.jmpi(JSLT, R9, 0, "out")
    _key_tgid(p, -24)
    p.stx(4, FP, -20, R7)
    p.stx(4, FP, -16, R9)
    _phase_to(p, -36, -12)
    p.neg(R8)
    p.stx(4, FP, -8, R8)
    _lookup(p, "errors", -24)
    p.jmpi(JEQ, R0, 0, "insert")
    p.label("increment")
    p.ldx(8, R1, R0, 0)
    p.alui(ADD, R1, 1)
    p.stx(8, R0, 0, R1)
    p.jmp("out")
    p.label("insert")
    p.st(8, FP, -32, 1)
    _update(p, "errors", -24, -32, NOEXIST)
    p.jmpi(JEQ, R0, 0, "out")
    _lookup(p, "errors", -24)
    p.jmpi(JNE, R0, 0, "increment")
    p.label("out")
    p.exit()
    return p


def fork_program(maps: dict[str, int], lay: Layout) -> Program:
    """``sched:sched_process_fork``: track the child of a tracked process."""
    p = Program(maps)
    p.mov(R6, R1)
    p.call(GET_CURRENT_PID_TGID)
    p.mov(R7, R0)
    _key_tgid(p, -4)
    _lookup(p, "track", -4)
    p.jmpi(JEQ, R0, 0, "out")
    p.ldx(4, R1, R6, lay.fork_child_pid)
    p.stx(4, FP, -8, R1)
    p.st(4, FP, -12, TRACKED)
    _update(p, "track", -8, -12, ANY)
    p.label("out")
    p.exit()
    return p


def exit_program(maps: dict[str, int], lay: Layout) -> Program:
    """``sched:sched_process_exit``: a tracked process's exit status, when its main thread
    ends; a thread's own ``track`` entry goes."""
    p = Program(maps)
    # Stack: FP-4 tgid, FP-8 tid, FP-24 .. FP-8 the exit value, FP-28 scratch.
    p.call(GET_CURRENT_PID_TGID)
    p.mov(R7, R0)
    _key_tgid(p, -4)
    p.mov(R1, R7)
    p.alui(RSH, R1, 32)
    p.mov32(R2, R7)
    p.jmpx(JEQ, R1, R2, "main")
    p.stx(4, FP, -8, R7)
    p.ld_map(R1, "track")
    p.mov(R2, FP)
    p.alui(ADD, R2, -8)
    p.call(MAP_DELETE_ELEM)
    p.jmp("out")
    p.label("main")
    _lookup(p, "track", -4)
    p.jmpi(JEQ, R0, 0, "out")
    p.call(GET_CURRENT_TASK)
    p.mov(R3, R0)
    p.alui(ADD, R3, lay.task_exit_code)
    p.mov(R1, FP)
    p.alui(ADD, R1, -24)
    p.movi(R2, 4)
    p.call(PROBE_READ_KERNEL)
    _phase_to(p, -28, -20)
    p.call(KTIME_GET_NS)
    p.stx(8, FP, -16, R0)
    _update(p, "exits", -4, -24, ANY)
    p.label("out")
    p.exit()
    return p


def layout(tracefs: Path, btf: Path, *, raw: bool) -> Layout:
    """The field offsets of this kernel's tracepoints and of ``task_struct.exit_code``; with
    ``raw``, the offsets of the syscall registers in ``struct pt_regs`` too (x86_64 only)."""
    enter = loader.tracepoint_format(tracefs, "raw_syscalls", "sys_enter")
    exit_ = loader.tracepoint_format(tracefs, "raw_syscalls", "sys_exit")
    fork = loader.tracepoint_format(tracefs, "sched", "sched_process_fork")
    try:
        types = loader.Btf(btf.read_bytes())
    except OSError as e:
        raise loader.BpfError(e.errno or 2, f"reading {btf}") from e
    base = Layout(
        enter_id=enter.offset("id", 8),
        enter_args=enter.offset("args", 48),
        exit_id=exit_.offset("id", 8),
        exit_ret=exit_.offset("ret", 8),
        fork_child_pid=fork.offset("child_pid", 4),
        task_exit_code=types.member_offset("task_struct", "exit_code"),
    )
    if not raw or os.uname().machine != "x86_64":
        return base
    return dataclasses.replace(
        base,
        enter_id=8,
        exit_ret=8,
        regs_args=tuple(types.member_offset("pt_regs", r) for r in _X86_64_ARGS),
        regs_nr=types.member_offset("pt_regs", _X86_64_NR),
    )


def layout_field(tracefs: Path, name: str, field: str) -> int:
    """The offset of 8-byte ``field`` in the record of ``raw_syscalls:<name>``."""
    return loader.tracepoint_format(tracefs, "raw_syscalls", name).offset(field, 8)


class BpfCounter:
    """The maps and programs of one run, attached until :meth:`close` (use it as a context
    manager: every fd is closed on every path, which detaches the programs).

    ``raw`` chooses the syscall programs: raw tracepoint programs (True; x86_64), tracepoint
    programs (False), or raw ones when they load and attach here, else tracepoint ones (None).
    :attr:`raw` tells which were attached. The raw ones cost less per call: the kernel does not
    fill a tracepoint record for them.
    """

    def __init__(
        self,
        *,
        tracefs: Path,
        btf: Path,
        execve_nr: int,
        args_samples: int,
        max_keys: int,
        raw: bool | None = None,
    ) -> None:
        self.maps: dict[str, loader.Map] = {}
        self.progs: list[int] = []
        self.events: list[int] = []
        self.raw = False
        try:
            self._map("track", loader.MAP_HASH, 4, 4, max_keys)
            self._map("phase", loader.MAP_ARRAY, 4, 4, 1)
            self._map("counts", loader.MAP_PERCPU_HASH, 16, 16, max_keys)
            self._map("errors", loader.MAP_PERCPU_HASH, 20, 8, max_keys)
            self._map("samples", loader.MAP_HASH, 64, 8, max_keys)
            self._map("watch", loader.MAP_ARRAY, 4, 4, WATCH_NUMBERS)
            self._map("distinct", loader.MAP_HASH, 64, 8, max_keys)
            self._map("exits", loader.MAP_HASH, 4, 16, max_keys)
            fds = {name: m.fd for name, m in self.maps.items()}
            raw_lay = layout(tracefs, btf, raw=raw is not False)
            lay = dataclasses.replace(
                raw_lay,
                enter_id=layout_field(tracefs, "sys_enter", "id"),
                exit_ret=layout_field(tracefs, "sys_exit", "ret"),
                regs_args=None,
            )
            cpu = loader.online_cpus()[0]
            for name, prog in (
                ("sched_process_fork", fork_program(fds, lay)),
                ("sched_process_exit", exit_program(fds, lay)),
            ):
                fd = self._load(prog, f"sg_{name[-4:]}", loader.PROG_TRACEPOINT)
                tp = loader.tracepoint_format(tracefs, "sched", name)
                self.events.append(loader.attach_tracepoint(fd, tp.id, cpu))
            if raw_lay.regs_args is None and raw:
                raise loader.BpfError(95, f"raw syscall tracepoints on {os.uname().machine}")
            if raw_lay.regs_args is not None:
                try:
                    self._attach_syscalls(raw_lay, fds, execve_nr, args_samples, None, cpu)
                    self.raw = True
                except loader.BpfError:
                    if raw:
                        raise
            if not self.raw:
                self._attach_syscalls(lay, fds, execve_nr, args_samples, tracefs, cpu)
        except BaseException:
            self.close()
            raise

    def _load(self, prog: Program, name: str, prog_type: int) -> int:
        fd = loader.load_program(prog, name, prog_type)
        self.progs.append(fd)
        return fd

    def _attach_syscalls(
        self,
        lay: Layout,
        fds: dict[str, int],
        execve_nr: int,
        args_samples: int,
        tracefs: Path | None,
        cpu: int,
    ) -> None:
        """Load and attach the sys_exit and sys_enter programs: raw tracepoint programs when
        ``tracefs`` is None; on failure, none of them stays loaded."""
        progs, events = len(self.progs), len(self.events)
        prog_type = loader.PROG_TRACEPOINT if tracefs is not None else loader.PROG_RAW_TRACEPOINT
        try:
            for name, prog in (
                ("sys_exit", sys_exit_program(fds, lay)),
                ("sys_enter", sys_enter_program(fds, lay, execve_nr, args_samples)),
            ):
                fd = self._load(prog, f"sg_{name}", prog_type)
                if tracefs is None:
                    self.events.append(loader.attach_raw_tracepoint(fd, name))
                else:
                    tp = loader.tracepoint_format(tracefs, "raw_syscalls", name)
                    self.events.append(loader.attach_tracepoint(fd, tp.id, cpu))
        except BaseException:
            for fd in self.events[events:]:
                loader.detach(fd)
            for fd in self.progs[progs:]:
                os.close(fd)
            del self.events[events:], self.progs[progs:]
            raise

    def _map(self, name: str, map_type: int, key: int, value: int, entries: int) -> None:
        self.maps[name] = loader.Map(name, map_type, key, value, entries)

    def __enter__(self) -> BpfCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Detach the programs and close every fd (idempotent)."""
        for fd in self.events:
            loader.detach(fd)
        self.events = []
        for fd in self.progs:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.progs = []
        for m in self.maps.values():
            m.close()
        self.maps = {}

    def arm(self, pid: int) -> None:
        """Track the launcher ``pid`` from its next ``execve`` on."""
        self.maps["track"].update(_U32.pack(pid), _U32.pack(ARMED))

    def watch(self, watched: Mapping[int, tuple[int, ...]]) -> None:
        """Record every distinct value of these arguments (syscall number -> indexes)."""
        for nr, indexes in watched.items():
            if 0 <= nr < WATCH_NUMBERS:
                mask = sum(1 << i for i in indexes)
                self.maps["watch"].update(_U32.pack(nr), _U32.pack(mask))

    def set_phase(self, number: int) -> None:
        """Count the calls from now on in phase ``number``."""
        self.maps["phase"].update(_U32.pack(0), _U32.pack(number))

    def read_counts(self, state: BpftraceState) -> None:
        """Fold the ``counts`` map into ``state.counts`` and ``state.first_seen``: counts summed
        over the CPUs, the first time the earliest CPU's."""
        counts: dict[tuple[int, int, int, int], int] = {}
        first: dict[tuple[int, int, int, int], int] = {}
        for raw, values in self.maps["counts"].items():
            key = _COUNT_KEY.unpack(raw)
            total = 0
            earliest = 0
            for v in values:
                n, ns = _COUNT_VALUE.unpack(v)
                total += n
                if ns and (not earliest or ns < earliest):
                    earliest = ns
            if total:
                counts[key] = total
                if earliest:
                    first[key] = earliest
        state.counts = counts
        state.first_seen = first

    def read_all(self, state: BpftraceState) -> None:
        """Fold every map into ``state`` (counts, errors, samples, exits in time order)."""
        self.read_counts(state)
        errors: dict[tuple[int, int, int, int, int], int] = {}
        for raw, values in self.maps["errors"].items():
            total = sum(_U64.unpack(v)[0] for v in values)
            if total:
                errors[_ERROR_KEY.unpack(raw)] = total
        state.errors = errors
        samples: dict[tuple[int, ...], int] = {}
        for raw, values in self.maps["samples"].items():
            samples[_SAMPLE_KEY.unpack(raw)] = _U64.unpack(values[0])[0]
        state.samples = samples
        distinct: dict[tuple[int, ...], int] = {}
        for raw, values in self.maps["distinct"].items():
            distinct[_SAMPLE_KEY.unpack(raw)] = _U64.unpack(values[0])[0]
        state.distinct = distinct
        state.distinct_full = len(distinct) >= self.maps["distinct"].max_entries
        exits = []
        for raw, values in self.maps["exits"].items():
            code, phase, ns = _EXIT_VALUE.unpack(values[0])
            exits.append((_U32.unpack(raw)[0], code, phase, ns))
        state.exits = sorted(exits, key=lambda e: (e[3], e[0]))
