"""ELF reading: e_machine, PT_INTERP and DT_NEEDED from synthetic files and this machine's."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from _rules import missing_tool

from seccompgen.errors import TracerError
from seccompgen.tracing.elf import is_elf, machine_matches, read_elf


def make_elf(
    *,
    bits: int = 64,
    little: bool = True,
    machine: int = 62,
    interp: str | None = None,
    needed: tuple[str, ...] = (),
    load_vaddr: int = 0x400000,
) -> bytes:
    """A minimal ELF executable: header, program headers, then interp, strtab and dynamic.

    One PT_LOAD covers the whole file at ``load_vaddr``, so DT_STRTAB (a virtual address) maps
    back to a file offset as in a real linked program.
    """
    e = "<" if little else ">"
    ehsize, phentsize = (64, 56) if bits == 64 else (52, 32)
    phdrs: list[tuple[int, int, int]] = []  # (type, offset, size), filled below
    nph = 1 + (interp is not None) + bool(needed)
    data_start = ehsize + nph * phentsize
    blob = b""
    interp_off = data_start
    if interp is not None:
        raw = interp.encode() + b"\0"
        blob += raw
        phdrs.append((3, interp_off, len(raw)))
    strtab_off = data_start + len(blob)
    strtab = b"\0"
    name_offsets = []
    for n in needed:
        name_offsets.append(len(strtab))
        strtab += n.encode() + b"\0"
    blob += strtab
    dyn_off = data_start + len(blob)
    dyn = b""
    if needed:
        entry = e + ("qQ" if bits == 64 else "iI")
        for off in name_offsets:
            dyn += struct.pack(entry, 1, off)  # DT_NEEDED
        dyn += struct.pack(entry, 5, load_vaddr + strtab_off)  # DT_STRTAB
        dyn += struct.pack(entry, 0, 0)  # DT_NULL
        blob += dyn
        phdrs.append((2, dyn_off, len(dyn)))
    total = data_start + len(blob)
    phdrs.insert(0, (1, 0, total))

    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 1 if little else 2, 1]) + b"\0" * 9
    if bits == 64:
        header = ident + struct.pack(
            e + "HHIQQQIHHHHHH", 2, machine, 1, 0, ehsize, 0, 0, ehsize, phentsize, nph, 0, 0, 0
        )
    else:
        header = ident + struct.pack(
            e + "HHIIIIIHHHHHH", 2, machine, 1, 0, ehsize, 0, 0, ehsize, phentsize, nph, 0, 0, 0
        )
    assert len(header) == ehsize
    ph = b""
    for p_type, off, size in phdrs:
        vaddr = load_vaddr + off
        if bits == 64:
            ph += struct.pack(e + "IIQQQQQQ", p_type, 4, off, vaddr, vaddr, size, size, 8)
        else:
            ph += struct.pack(e + "IIIIIIII", p_type, off, vaddr, vaddr, size, size, 4, 4)
    return header + ph + blob


def test_static_x86_64_program_has_no_interpreter_and_no_libraries() -> None:
    info = read_elf(make_elf())
    assert (info.machine, info.bits, info.interpreter, info.needed) == ("x86_64", 64, None, ())
    assert not info.dynamic


def test_dynamic_program_lists_interpreter_and_needed_in_order() -> None:
    data = make_elf(interp="/lib64/ld-linux-x86-64.so.2", needed=("libfoo.so.1", "libc.so.6"))
    info = read_elf(data)
    assert info.interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert info.needed == ("libfoo.so.1", "libc.so.6")
    assert info.dynamic


@pytest.mark.parametrize(
    ("bits", "little", "machine", "name"),
    [
        (64, True, 183, "aarch64"),
        (32, True, 40, "arm"),
        (32, False, 8, "mips"),
        (64, False, 22, "s390x"),
    ],
)
def test_class_byte_order_and_machine(bits: int, little: bool, machine: int, name: str) -> None:
    info = read_elf(make_elf(bits=bits, little=little, machine=machine, needed=("libc.so.6",)))
    assert (info.bits, info.machine, info.needed) == (bits, name, ("libc.so.6",))


def test_unknown_machine_is_named_by_number() -> None:
    assert read_elf(make_elf(machine=9999)).machine == "em9999"


def test_engine_architecture_aliases() -> None:
    x86 = read_elf(make_elf(machine=62))
    arm64 = read_elf(make_elf(machine=183))
    assert machine_matches(x86, "x86_64") and machine_matches(x86, "amd64")
    assert machine_matches(arm64, "aarch64") and machine_matches(arm64, "arm64")
    assert not machine_matches(arm64, "x86_64")
    assert not machine_matches(x86, "aarch64")


def test_not_elf_and_truncated_files_are_tracer_errors() -> None:
    assert not is_elf(b"#!/bin/sh\n")
    with pytest.raises(TracerError, match="script is not an ELF executable"):
        read_elf(b"#!/bin/sh\necho hi\n", name="script")
    data = make_elf(interp="/lib/ld.so", needed=("libc.so.6",))
    with pytest.raises(TracerError, match="not a readable ELF file"):
        read_elf(data[:80], name="cut")


def test_agrees_with_ldd_on_this_machines_strace() -> None:
    if shutil.which("ldd") is None:
        missing_tool("ldd is not installed (apt-get install libc-bin)")
    # A real, linker-produced file: the interpreter and each DT_NEEDED soname appear in ldd's
    # output (ldd adds libraries those libraries need, so it may list more).
    strace = shutil.which("strace") or "/bin/ls"
    info = read_elf(Path(strace).read_bytes())
    out = subprocess.run(["ldd", strace], capture_output=True, text=True, check=True).stdout
    assert info.interpreter is not None and info.interpreter in out
    assert info.needed
    for lib in info.needed:
        assert f"{lib} =>" in out
