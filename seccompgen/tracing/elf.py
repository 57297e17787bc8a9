"""Just enough ELF reading to check a program against a container before running it.

Three facts, read from the bytes of an executable (the System V gABI, "ELF header", "Program
header" and "Dynamic section"; elf(5)):

- ``e_machine``: the architecture it was built for, compared with the engine's;
- ``PT_INTERP``: the dynamic loader the kernel starts for it (absent for a static program);
- ``DT_NEEDED``: the shared libraries that loader must find, as ``ldd`` would list them.

Pure Python, no I/O: callers hand in the bytes (read from the host, or from an image).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from seccompgen.errors import TracerError

# e_machine values (elf.h) and the `uname -m` names the Docker engine reports for them
# (GET /info "Architecture" is the daemon's uname machine field).
_MACHINES: Final = {
    3: "i386",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390x",
    40: "arm",
    62: "x86_64",
    183: "aarch64",
    243: "riscv64",
}

# `uname -m` spellings that mean the same architecture as the name above.
_ENGINE_ALIASES: Final = {
    "amd64": "x86_64",
    "arm64": "aarch64",
    "i686": "i386",
    "i586": "i386",
    "armv7l": "arm",
    "armv6l": "arm",
    "armhf": "arm",
    "ppc64le": "ppc64",
    "mips64": "mips",
}

_PT_LOAD: Final = 1
_PT_DYNAMIC: Final = 2
_PT_INTERP: Final = 3
_DT_NULL: Final = 0
_DT_NEEDED: Final = 1
_DT_STRTAB: Final = 5


@dataclass(frozen=True, slots=True)
class ElfInfo:
    """What :func:`read_elf` found.

    ``machine`` is the ``uname -m`` style name of ``e_machine`` (``"em<N>"`` when unknown),
    ``interpreter`` the ``PT_INTERP`` path (None: static), ``needed`` the ``DT_NEEDED`` sonames
    in file order.
    """

    machine: str
    e_machine: int
    bits: int
    interpreter: str | None
    needed: tuple[str, ...]

    @property
    def dynamic(self) -> bool:
        """True when the kernel needs a loader to start it (it has ``PT_INTERP``)."""
        return self.interpreter is not None


def is_elf(data: bytes) -> bool:
    """True when ``data`` starts with the ELF magic ``\\x7fELF``."""
    return data[:4] == b"\x7fELF"


def machine_matches(info: ElfInfo, engine_arch: str) -> bool:
    """True when a program for ``info.machine`` runs natively on ``engine_arch`` (uname -m)."""
    arch = _ENGINE_ALIASES.get(engine_arch, engine_arch)
    return info.machine == arch


def read_elf(data: bytes, *, name: str = "program") -> ElfInfo:
    """Read ``e_machine``, ``PT_INTERP`` and ``DT_NEEDED`` from an ELF file's bytes.

    Raises :class:`TracerError` naming ``name`` when ``data`` is not ELF or is truncated.
    """
    if not is_elf(data):
        raise TracerError(f"{name} is not an ELF executable")
    try:
        return _read(data)
    except (struct.error, IndexError, ValueError) as e:
        raise TracerError(f"{name} is not a readable ELF file ({e})") from e


def _read(data: bytes) -> ElfInfo:
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        raise ValueError("bad EI_CLASS or EI_DATA")
    bits = 64 if ei_class == 2 else 32
    end = "<" if ei_data == 1 else ">"
    (e_machine,) = struct.unpack_from(end + "H", data, 18)
    if bits == 64:
        e_phoff, e_phentsize, e_phnum = (
            struct.unpack_from(end + "Q", data, 32)[0],
            *struct.unpack_from(end + "HH", data, 54),
        )
    else:
        e_phoff, e_phentsize, e_phnum = (
            struct.unpack_from(end + "I", data, 28)[0],
            *struct.unpack_from(end + "HH", data, 42),
        )
    # (p_type, p_offset, p_vaddr, p_filesz) of each program header.
    segments: list[tuple[int, int, int, int]] = []
    for i in range(e_phnum):
        off = e_phoff + i * e_phentsize
        if bits == 64:
            p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from(
                end + "IIQQQQ", data, off
            )
        else:
            p_type, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from(
                end + "IIIII", data, off
            )
        segments.append((p_type, p_offset, p_vaddr, p_filesz))

    interpreter: str | None = None
    needed: list[str] = []
    for p_type, p_offset, _vaddr, p_filesz in segments:
        if p_type == _PT_INTERP:
            interpreter = data[p_offset : p_offset + p_filesz].split(b"\0", 1)[0].decode()
    for p_type, p_offset, _vaddr, p_filesz in segments:
        if p_type != _PT_DYNAMIC:
            continue
        entries: list[tuple[int, int]] = []
        fmt, size = (end + "qQ", 16) if bits == 64 else (end + "iI", 8)
        for off in range(p_offset, p_offset + p_filesz, size):
            tag, val = struct.unpack_from(fmt, data, off)
            if tag == _DT_NULL:
                break
            entries.append((tag, val))
        strtab = next((v for t, v in entries if t == _DT_STRTAB), None)
        if strtab is None:
            continue
        # DT_STRTAB is a virtual address: map it to a file offset through the PT_LOAD segment
        # that holds it.
        base = _file_offset(segments, strtab)
        for tag, val in entries:
            if tag == _DT_NEEDED:
                start = base + val
                needed.append(data[start : data.index(b"\0", start)].decode())
    return ElfInfo(
        machine=_MACHINES.get(e_machine, f"em{e_machine}"),
        e_machine=e_machine,
        bits=bits,
        interpreter=interpreter,
        needed=tuple(needed),
    )


def _file_offset(segments: list[tuple[int, int, int, int]], vaddr: int) -> int:
    for p_type, p_offset, p_vaddr, p_filesz in segments:
        if p_type == _PT_LOAD and p_vaddr <= vaddr < p_vaddr + p_filesz:
            return vaddr - p_vaddr + p_offset
    raise ValueError(f"address {vaddr:#x} is in no PT_LOAD segment")
