"""Go function names from the pclntab, the table the runtime uses for tracebacks.

The linker keeps the pclntab in every Go binary, also under ``-ldflags='-s -w'`` (which drop
``.symtab`` and DWARF), because the runtime needs it. Layout (go1.27.3 source:
``runtime/symtab.go`` ``pcHeader``, ``functab``, ``_func``; ``debug/gosym/pclntab.go``
``parsePclnTab`` and ``go12Funcs``; magics in ``internal/abi/symtab.go``):

- header: magic (``0xfffffff1`` Go 1.20+, ``0xfffffff0`` 1.18-1.19, ``0xfffffffa`` 1.16-1.17,
  ``0xfffffffb`` 1.2-1.15), two zero bytes, the PC quantum (1, 2 or 4), the pointer size (4 or 8);
- then pointer-sized words. 1.18+: ``nfunc, nfiles, textStart (unused since 1.26),
  funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset``; 1.16: the same without
  ``textStart``. Offsets are from the header;
- the function table at ``pclnOffset``: ``nfunc`` pairs ``(entry, funcoff)`` of uint32 (1.18+)
  or pointers (1.16), ``funcoff`` relative to the table; at each ``funcoff`` a ``_func`` starting
  with the entry (uint32 in 1.18+, a pointer before) and ``nameOff`` (int32), an offset into the
  function name table at ``funcnameOffset``;
- 1.2-1.15: ``nfunc`` at byte 8, pairs of pointers after it, ``funcoff`` and ``nameOff``
  relative to the header.

The name table of 1.16+ also holds the names of inlined functions (the inline trees refer to
it), so every NUL-terminated string between ``funcnameOffset`` and ``cuOffset`` is read too:
a function inlined into all its callers is still "linked in".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, Protocol

_MAGICS: Final = {
    0xFFFFFFF1: "go1.20",
    0xFFFFFFF0: "go1.18",
    0xFFFFFFFA: "go1.16",
    0xFFFFFFFB: "go1.2",
}


class _HasRange(Protocol):
    @property
    def offset(self) -> int: ...


@dataclass(frozen=True, slots=True)
class GoFunctions:
    """Function names read from a pclntab."""

    format: str
    """The header format by magic: ``go1.20``, ``go1.18``, ``go1.16`` or ``go1.2``."""
    found_by: str
    """``section .gopclntab`` (or the PIE name) or ``magic scan``."""
    nfunc: int
    """Entries of the function table (functions with code of their own)."""
    names: tuple[str, ...]
    """Sorted, unique: the function table's names plus inlined functions' names."""

    def packages(self) -> tuple[str, ...]:
        """Sorted import paths of the linked functions (see :func:`package_of`)."""
        return tuple(sorted({p for n in self.names if (p := package_of(n))}))

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary: format, how it was found, counts, linked packages."""
        return {
            "format": self.format,
            "found_by": self.found_by,
            "functions": self.nfunc,
            "names": len(self.names),
            "packages": list(self.packages()),
        }


def package_of(symbol: str) -> str:
    """The import path of Go symbol ``symbol``: ``net/http.(*Server).Serve`` -> ``net/http``.

    The path ends at the first ``.`` after its last ``/``; type arguments (``[...]``) are cut
    first since they may contain both. Linker-made names (``type:.eq.T``, ``go:buildid``) have
    no package and give ``""``.
    """
    base = symbol.split("[", 1)[0]
    if ":" in base.split(".", 1)[0]:
        return ""
    slash = base.rfind("/")
    dot = base.find(".", slash + 1)
    return base[:dot] if dot > 0 else ""


def find_pclntab(data: bytes, section: _HasRange | None) -> tuple[int, str] | None:
    """File offset of the pclntab header and how it was found, or None for non-Go files.

    The section (``.gopclntab``; ``.data.rel.ro.gopclntab`` in PIE) is used when present;
    otherwise the file is scanned for a 1.16+ magic followed by a plausible header.
    """
    if section is not None and _plausible(data, section.offset):
        return section.offset, "section"  # .gopclntab or .data.rel.ro.gopclntab
    for magic in (0xFFFFFFF1, 0xFFFFFFF0, 0xFFFFFFFA):
        for end in ("<", ">"):
            needle = struct.pack(end + "I", magic) + b"\0\0"
            at = data.find(needle)
            while at >= 0:
                if _plausible(data, at):
                    return at, "magic scan"
                at = data.find(needle, at + 1)
    return None


def _header(data: bytes, at: int) -> tuple[str, str, int, int] | None:
    """(format, byte order, quantum, pointer size) when ``at`` starts a pclntab header."""
    if at + 8 > len(data) or data[at + 4] or data[at + 5]:
        return None
    quantum, ptr = data[at + 6], data[at + 7]
    if quantum not in (1, 2, 4) or ptr not in (4, 8):
        return None
    for end in ("<", ">"):
        fmt = _MAGICS.get(struct.unpack_from(end + "I", data, at)[0])
        if fmt is not None:
            return fmt, end, quantum, ptr
    return None


def _words(data: bytes, at: int, end: str, ptr: int, count: int) -> tuple[int, ...]:
    return struct.unpack_from(end + ("Q" if ptr == 8 else "I") * count, data, at + 8)


def _plausible(data: bytes, at: int) -> bool:
    head = _header(data, at)
    if head is None:
        return False
    fmt, end, _q, ptr = head
    if fmt == "go1.2":
        return True
    try:
        words = _words(data, at, end, ptr, 8 if fmt in ("go1.20", "go1.18") else 7)
    except struct.error:
        return False
    offsets = words[3:] if fmt in ("go1.20", "go1.18") else words[2:]
    # A real header has functions and its table offsets in increasing order inside the file.
    return (
        0 < words[0] < 10_000_000
        and list(offsets) == sorted(offsets)
        and offsets[0] > 0
        and at + offsets[-1] < len(data)
    )


def read_pclntab(data: bytes, at: int, *, found_by: str = "section") -> GoFunctions | None:
    """Read the function names of the pclntab whose header is at file offset ``at``.

    Returns None when the header is not a pclntab or the tables run outside ``data``.
    """
    head = _header(data, at)
    if head is None:
        return None
    fmt, end, _quantum, ptr = head
    pfmt = end + ("Q" if ptr == 8 else "I")
    names: set[str] = set()
    try:
        if fmt == "go1.2":
            nfunc = struct.unpack_from(pfmt, data, at + 8)[0]
            functab, field, funcdata, nametab, nameend = at + 8 + ptr, ptr, at, at, None
            entry_size = ptr
        else:
            if fmt in ("go1.20", "go1.18"):
                nfunc, _nfiles, _text, fname, cu, _ft, _pc, pcln = _words(data, at, end, ptr, 8)
                field = entry_size = 4
            else:
                nfunc, _nfiles, fname, cu, _ft, _pc, pcln = _words(data, at, end, ptr, 7)
                field = entry_size = ptr
            functab = funcdata = at + pcln
            nametab, nameend = at + fname, at + cu
        ffmt = end + ("I" if field == 4 else "Q")
        for i in range(nfunc):
            funcoff = struct.unpack_from(ffmt, data, functab + (2 * i + 1) * field)[0]
            (name_off,) = struct.unpack_from(end + "i", data, funcdata + funcoff + entry_size)
            start = nametab + name_off
            names.add(data[start : data.index(b"\0", start)].decode("utf-8", "replace"))
        if nameend is not None:
            for raw in data[nametab:nameend].split(b"\0"):
                if raw:
                    names.add(raw.decode("utf-8", "replace"))
    except (struct.error, ValueError, IndexError):
        return None
    return GoFunctions(fmt, found_by, nfunc, tuple(sorted(names)))
