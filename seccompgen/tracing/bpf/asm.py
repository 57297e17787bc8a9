"""BPF programs without a toolchain: the instruction set and a small assembler.

No library: the instructions are encoded with :mod:`struct` (the layout of ``struct bpf_insn``
in include/uapi/linux/bpf.h, documented in the kernel's Documentation/bpf/standardization/
instruction-set.rst). A :class:`Program` is built instruction by instruction, with labels as
jump targets; :func:`seccompgen.tracing.bpf.loader.load_program` loads it. The numbers a
program passes to the kernel (helper function ids, map update flags) are the loader's
(:mod:`seccompgen.tracing.bpf.loader`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

# --------------------------------------------------------------------------- instruction set
# include/uapi/linux/bpf_common.h and bpf.h.

LD: Final = 0x00
LDX: Final = 0x01
ST: Final = 0x02
STX: Final = 0x03
ALU: Final = 0x04
JMP: Final = 0x05
ALU64: Final = 0x07

W: Final = 0x00
H: Final = 0x08
B: Final = 0x10
DW: Final = 0x18
_SIZES: Final = {1: B, 2: H, 4: W, 8: DW}

IMM: Final = 0x00
MEM: Final = 0x60
K: Final = 0x00
X: Final = 0x08

ADD: Final = 0x00
SUB: Final = 0x10
AND: Final = 0x50
RSH: Final = 0x70
NEG: Final = 0x80
MOV: Final = 0xB0

JA: Final = 0x00
JEQ: Final = 0x10
JGT: Final = 0x20
JGE: Final = 0x30
JNE: Final = 0x50
JSGE: Final = 0x70
CALL: Final = 0x80
EXIT: Final = 0x90
JLT: Final = 0xA0
JSLT: Final = 0xC0

PSEUDO_MAP_FD: Final = 1

R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, FP = range(11)


# --------------------------------------------------------------------------- assembler


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


@dataclass
class Program:
    """A BPF program under construction: instructions, labels, and where jumps go.

    Jump targets are labels, resolved by :meth:`code`. ``maps`` maps the names used in
    :meth:`ld_map` to map fds, known when the program is built.
    """

    maps: dict[str, int]
    _insns: list[bytes] = field(default_factory=list)
    _labels: dict[str, int] = field(default_factory=dict)
    _jumps: list[tuple[int, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self._insns)

    def _emit(self, raw: bytes) -> None:
        self._insns.append(raw)

    def label(self, name: str) -> None:
        """Put label ``name`` at the next instruction."""
        if name in self._labels:
            raise ValueError(f"label {name} defined twice")
        self._labels[name] = len(self._insns)

    def mov(self, dst: int, src: int) -> None:
        """``dst = src`` (64-bit registers)."""
        self._emit(_insn(ALU64 | MOV | X, dst, src))

    def mov32(self, dst: int, src: int) -> None:
        """``dst = (u32) src``."""
        self._emit(_insn(ALU | MOV | X, dst, src))

    def movi(self, dst: int, imm: int) -> None:
        """``dst = imm`` (a signed 32-bit immediate, sign-extended)."""
        self._emit(_insn(ALU64 | MOV | K, dst, 0, 0, imm))

    def alui(self, op: int, dst: int, imm: int) -> None:
        """``dst op= imm`` (64-bit), e.g. ``alui(ADD, R2, -8)``."""
        self._emit(_insn(ALU64 | op | K, dst, 0, 0, imm))

    def neg(self, dst: int) -> None:
        """``dst = -dst``."""
        self._emit(_insn(ALU64 | NEG | K, dst))

    def ldx(self, size: int, dst: int, src: int, off: int) -> None:
        """``dst = *(size *)(src + off)``; ``size`` in bytes."""
        self._emit(_insn(LDX | MEM | _SIZES[size], dst, src, off))

    def stx(self, size: int, dst: int, off: int, src: int) -> None:
        """``*(size *)(dst + off) = src``."""
        self._emit(_insn(STX | MEM | _SIZES[size], dst, src, off))

    def st(self, size: int, dst: int, off: int, imm: int) -> None:
        """``*(size *)(dst + off) = imm``."""
        self._emit(_insn(ST | MEM | _SIZES[size], dst, 0, off, imm))

    def ld_map(self, dst: int, name: str) -> None:
        """``dst = &map`` (``BPF_LD_IMM64`` with ``BPF_PSEUDO_MAP_FD``: two instructions)."""
        self._emit(_insn(LD | DW | IMM, dst, PSEUDO_MAP_FD, 0, self.maps[name]))
        self._emit(_insn(0))

    def call(self, helper: int) -> None:
        """Call BPF helper ``helper``; arguments in R1-R5, result in R0, R1-R5 clobbered."""
        self._emit(_insn(JMP | CALL, 0, 0, 0, helper))

    def jmp(self, label: str) -> None:
        """Jump to ``label``."""
        self._jumps.append((len(self._insns), label))
        self._emit(_insn(JMP | JA))

    def jmpi(self, op: int, dst: int, imm: int, label: str) -> None:
        """``if dst op imm goto label`` (64-bit compare)."""
        self._jumps.append((len(self._insns), label))
        self._emit(_insn(JMP | op | K, dst, 0, 0, imm))

    def jmpx(self, op: int, dst: int, src: int, label: str) -> None:
        """``if dst op src goto label``."""
        self._jumps.append((len(self._insns), label))
        self._emit(_insn(JMP | op | X, dst, src))

    def exit(self, ret: int = 0) -> None:
        """``return ret``."""
        self.movi(R0, ret)
        self._emit(_insn(JMP | EXIT))

    def code(self) -> bytes:
        """The encoded program, jumps resolved."""
        insns = list(self._insns)
        for at, label in self._jumps:
            if label not in self._labels:
                raise ValueError(f"jump to undefined label {label}")
            code, regs, _off, imm = struct.unpack("<BBhi", insns[at])
            insns[at] = struct.pack("<BBhi", code, regs, self._labels[label] - at - 1, imm)
        return b"".join(insns)
