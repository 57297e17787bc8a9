"""The bpf(2) layer's pure parts: instruction encoding, labels, tracefs formats, CPU lists, BTF.

Nothing is loaded into the kernel here (``tests/integration/test_bpf_counter.py`` does that).
"""

from __future__ import annotations

import struct

import pytest

from seccompgen.tracing.bpf import loader as bpf
from seccompgen.tracing.bpf.asm import FP, JEQ, R0, R1, R2, Program
from seccompgen.tracing.bpf.loader import BpfError

SYS_ENTER_FORMAT = """\
name: sys_enter
ID: 443
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;
\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;

print fmt: "NR %ld (%lx, %lx, %lx, %lx, %lx, %lx)", REC->id, REC->args[0]
"""


def insns(code: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack_from("<BBhi", code, i) for i in range(0, len(code), 8)]


def test_instructions_encode_as_struct_bpf_insn() -> None:
    p = Program({"m": 7})
    p.mov(R1, FP)  # BPF_ALU64 | BPF_MOV | BPF_X = 0xbf, dst 1, src 10
    p.st(4, FP, -4, 9)  # BPF_ST | BPF_MEM | BPF_W = 0x62
    p.ld_map(R1, "m")  # BPF_LD | BPF_DW | BPF_IMM = 0x18, src BPF_PSEUDO_MAP_FD
    p.call(bpf.MAP_LOOKUP_ELEM)  # BPF_JMP | BPF_CALL = 0x85
    p.exit()  # mov r0, 0; BPF_JMP | BPF_EXIT = 0x95
    assert insns(p.code()) == [
        (0xBF, 0xA1, 0, 0),
        (0x62, 0x0A, -4, 9),
        (0x18, 0x11, 0, 7),
        (0x00, 0x00, 0, 0),
        (0x85, 0x00, 0, 1),
        (0xB7, 0x00, 0, 0),
        (0x95, 0x00, 0, 0),
    ]


def test_jumps_resolve_to_labels_forward_and_back() -> None:
    p = Program({})
    p.label("top")
    p.jmpi(JEQ, R0, 0, "end")  # at 0; "end" is at 3: offset 2
    p.mov(R2, R1)
    p.jmp("top")  # at 2: back to 0, offset -3
    p.label("end")
    p.exit()
    got = insns(p.code())
    assert got[0] == (0x15, 0x00, 2, 0)
    assert got[2] == (0x05, 0x00, -3, 0)


def test_undefined_and_duplicate_labels_are_refused() -> None:
    p = Program({})
    p.jmp("nowhere")
    with pytest.raises(ValueError, match="nowhere"):
        p.code()
    p.label("a")
    with pytest.raises(ValueError, match="twice"):
        p.label("a")


def test_tracepoint_format_gives_id_and_field_offsets() -> None:
    fmt = bpf.parse_format(SYS_ENTER_FORMAT)
    assert fmt.id == 443
    assert fmt.offset("id", 8) == 8
    assert fmt.offset("args", 48) == 16
    assert fmt.offset("common_pid") == 4
    with pytest.raises(BpfError, match="not 4"):
        fmt.offset("id", 4)
    with pytest.raises(BpfError, match="ret"):
        fmt.offset("ret")


def test_cpu_lists() -> None:
    assert bpf.parse_cpu_list("0-3,8\n") == [0, 1, 2, 3, 8]
    assert bpf.parse_cpu_list("0\n") == [0]


def _btf(types: bytes, strings: bytes) -> bytes:
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return header + types + strings


# String section: offsets 0 "", 1 "int", 5 "state", 11 "exit_code", 21 "task_struct".
STRINGS = b"\0int\0state\0exit_code\0task_struct\0"
INT = struct.pack("<IIII", 1, 1 << 24, 4, 32)  # type 1: int, 4 bytes


def _struct(name: int, size: int, members: list[tuple[int, int, int]], flag: int = 0) -> bytes:
    head = struct.pack("<III", name, (flag << 31) | (4 << 24) | len(members), size)
    return head + b"".join(struct.pack("<III", *m) for m in members)


def test_btf_member_offset_looks_into_anonymous_members() -> None:
    inner = _struct(0, 4, [(11, 1, 0)])  # type 2: struct { int exit_code; }
    task = _struct(21, 16, [(5, 1, 0), (0, 2, 96)])  # type 3: exit_code at byte 12
    assert (
        bpf.btf_member_offset(_btf(INT + inner + task, STRINGS), "task_struct", "exit_code") == 12
    )


def test_btf_missing_member_bitfield_and_bad_magic_are_errors() -> None:
    task = _struct(21, 16, [(5, 1, 0)])
    with pytest.raises(BpfError, match="no member exit_code"):
        bpf.btf_member_offset(_btf(INT + task, STRINGS), "task_struct", "exit_code")
    bitfield = _struct(21, 16, [(11, 1, (3 << 24) | 5)], flag=1)
    with pytest.raises(BpfError, match="bitfield"):
        bpf.btf_member_offset(_btf(INT + bitfield, STRINGS), "task_struct", "exit_code")
    with pytest.raises(BpfError, match="magic"):
        bpf.btf_member_offset(b"\0" * 32, "task_struct", "exit_code")
