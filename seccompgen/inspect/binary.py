"""What an ELF executable is, read from its bytes without running it.

:func:`inspect_binary` answers the questions a profile author asks before tracing: which
architecture, static or dynamic (``PT_INTERP`` and ``DT_NEEDED``, read by
:mod:`seccompgen.tracing.elf`: the ``ldd`` answer without running the loader), stripped or not
(``.symtab``, DWARF), and for Go programs the build information the toolchain embeds and the
function names of the pclntab (:mod:`seccompgen.inspect.pclntab`).

Go build information (``debug/buildinfo/buildinfo.go``, ``readRawBuildInfo``; go1.27.3 source):
a 32-byte header at a 16-byte aligned address in ``.go.buildinfo`` (or the first writable
``PT_LOAD`` segment when there are no section headers) starts with ``"\\xff Go buildinf:"``;
byte 14 is the pointer size, byte 15 the flags. With flag 2 set (Go 1.18+) two varint-prefixed
strings follow the header: the Go version and the module information. Without it (before 1.18)
the header holds the addresses of two Go string headers (pointer, length). The module
information is framed by 16 sentinel bytes on each side and is parsed as
``runtime/debug.ParseBuildInfo`` does (``runtime/debug/mod.go``): ``path``, ``mod``, ``dep``,
``=>`` and ``build key=value`` lines, keys and values quoted with ``strconv.Quote`` when needed.
"""

from __future__ import annotations

import ast
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from seccompgen.errors import SeccompgenError, TracerError
from seccompgen.inspect.pclntab import GoFunctions, find_pclntab, read_pclntab
from seccompgen.tracing.elf import ElfInfo, is_elf, read_elf

_BUILDINFO_MAGIC: Final = b"\xff Go buildinf:"
_PT_LOAD: Final = 1
_PF_X: Final = 1
_PF_W: Final = 2


class InspectError(SeccompgenError):
    """A file could not be inspected: missing, unreadable, not ELF, or a malformed ELF."""


@dataclass(frozen=True, slots=True)
class Section:
    """One ELF section header: name, file offset, size and virtual address."""

    name: str
    offset: int
    size: int
    addr: int


@dataclass(frozen=True, slots=True)
class Segment:
    """One ELF program header (``p_type``, ``p_flags``, file range and virtual address)."""

    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int


@dataclass(frozen=True, slots=True)
class ElfLayout:
    """Section and program headers of an ELF file, for finding data by name or address."""

    little: bool
    bits: int
    sections: tuple[Section, ...]
    segments: tuple[Segment, ...]

    def section(self, *names: str) -> Section | None:
        """The first section with one of ``names`` (in the order given), or None."""
        for name in names:
            for s in self.sections:
                if s.name == name:
                    return s
        return None

    def file_offset(self, vaddr: int) -> int | None:
        """The file offset of virtual address ``vaddr``, through the ``PT_LOAD`` holding it."""
        for p in self.segments:
            if p.type == _PT_LOAD and p.vaddr <= vaddr < p.vaddr + p.filesz:
                return vaddr - p.vaddr + p.offset
        return None


def read_layout(data: bytes) -> ElfLayout:
    """Parse the section and program headers of ELF ``data`` (System V gABI, elf(5)).

    Raises ``struct.error``/``IndexError``/``ValueError`` on truncated input; callers translate.
    """
    bits = 64 if data[4] == 2 else 32
    end = "<" if data[5] == 1 else ">"
    if bits == 64:
        phoff, shoff = struct.unpack_from(end + "QQ", data, 32)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(end + "HHHHH", data, 54)
    else:
        phoff, shoff = struct.unpack_from(end + "II", data, 28)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(end + "HHHHH", data, 42)
    segments = []
    for i in range(phnum):
        off = phoff + i * phentsize
        if bits == 64:
            p_type, p_flags, p_offset, p_vaddr, _pa, p_filesz = struct.unpack_from(
                end + "IIQQQQ", data, off
            )
        else:
            p_type, p_offset, p_vaddr, _pa, p_filesz, _m, p_flags = struct.unpack_from(
                end + "IIIIIII", data, off
            )
        segments.append(Segment(p_type, p_flags, p_offset, p_vaddr, p_filesz))
    raw: list[tuple[int, int, int, int, int]] = []  # name index, type, addr, offset, size
    for i in range(shnum if shoff else 0):
        off = shoff + i * shentsize
        if bits == 64:
            name, s_type, _fl, addr, offset, size = struct.unpack_from(end + "IIQQQQ", data, off)
        else:
            name, s_type, _fl, addr, offset, size = struct.unpack_from(end + "IIIIII", data, off)
        raw.append((name, s_type, addr, offset, size))
    sections = []
    if raw and shstrndx < len(raw):
        strtab = raw[shstrndx][3]
        for name, _type, addr, offset, size in raw:
            start = strtab + name
            label = data[start : data.index(b"\0", start)].decode("utf-8", "replace")
            sections.append(Section(label, offset, size, addr))
    return ElfLayout(end == "<", bits, tuple(sections), tuple(segments))


@dataclass(frozen=True, slots=True)
class GoModule:
    """A module line of Go build info: path, version, checksum, and its replacement if any."""

    path: str
    version: str
    sum: str = ""
    replace: GoModule | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form; ``replace`` only when present."""
        out: dict[str, object] = {"path": self.path, "version": self.version, "sum": self.sum}
        if self.replace is not None:
            out["replace"] = self.replace.to_dict()
        return out


@dataclass(frozen=True, slots=True)
class GoBuildInfo:
    """The build information the Go toolchain embeds (``go version -m`` prints the same)."""

    go_version: str
    """Toolchain version, e.g. ``go1.27.3``."""
    path: str
    """Package path of the main package (empty when built outside module mode)."""
    main: GoModule | None
    deps: tuple[GoModule, ...]
    settings: tuple[tuple[str, str], ...]
    """``build`` lines in file order: ``-buildmode``, ``-compiler``, ``-ldflags`` (omitted by
    ``go build`` under ``-trimpath``), ``-trimpath``, ``CGO_ENABLED``, ``GOARCH``, ``GOOS``,
    ``GOAMD64``, ``vcs``, ``vcs.revision``, ``vcs.time``, ``vcs.modified``, ..."""
    found_by: str
    """``section .go.buildinfo`` or ``magic scan`` (no section headers)."""

    def setting(self, key: str) -> str | None:
        """The value of build setting ``key``, or None when it is not recorded."""
        return next((v for k, v in self.settings if k == key), None)

    @property
    def cgo(self) -> bool | None:
        """``CGO_ENABLED`` as a bool, None when not recorded."""
        value = self.setting("CGO_ENABLED")
        return None if value is None else value == "1"


@dataclass(frozen=True, slots=True)
class BinaryInfo:
    """What :func:`inspect_binary` read from one executable."""

    path: str
    size: int
    elf: ElfInfo
    """Machine (``uname -m`` name), ``PT_INTERP`` interpreter, ``DT_NEEDED`` libraries."""
    little_endian: bool
    section_headers: bool
    """False when section headers are gone (``sstrip``); data is then found by magic."""
    stripped: bool
    """True when there is no ``.symtab`` (``-ldflags=-s`` or strip(1))."""
    dwarf: bool
    """True when a ``.debug_info`` or ``.zdebug_info`` section is present (``-w`` drops it)."""
    go: GoBuildInfo | None
    functions: GoFunctions | None = field(default=None, repr=False)
    """Go function names from the pclntab (kept even under ``-s -w``), or None."""

    @property
    def static(self) -> bool:
        """True when the kernel starts it directly (no ``PT_INTERP``)."""
        return self.elf.interpreter is None

    @property
    def is_go(self) -> bool:
        """True when Go build info or a Go pclntab was found."""
        return self.go is not None or self.functions is not None

    def to_dict(self) -> dict[str, object]:
        """Deterministic JSON-ready form (function names summarised as packages and a count)."""
        go: dict[str, object] | None = None
        if self.is_go:
            go = {
                "version": self.go.go_version if self.go else None,
                "path": self.go.path if self.go else None,
                "main": self.go.main.to_dict() if self.go and self.go.main else None,
                "deps": [d.to_dict() for d in self.go.deps] if self.go else [],
                "settings": dict(self.go.settings) if self.go else {},
                "buildinfo_found_by": self.go.found_by if self.go else None,
                "pclntab": self.functions.to_dict() if self.functions else None,
            }
        return {
            "path": self.path,
            "size": self.size,
            "class": f"ELF{self.elf.bits}",
            "endianness": "little" if self.little_endian else "big",
            "machine": self.elf.machine,
            "linkage": "static" if self.static else "dynamic",
            "interpreter": self.elf.interpreter,
            "needed": list(self.elf.needed),
            "section_headers": self.section_headers,
            "stripped": self.stripped,
            "dwarf": self.dwarf,
            "go": go,
        }

    def render_text(self) -> str:
        """A short human-readable report, one fact a line, ending in a newline."""
        lines = [
            f"{self.path}: ELF {self.elf.bits}-bit "
            f"{'LSB' if self.little_endian else 'MSB'}, {self.elf.machine}",
        ]
        if self.static:
            lines.append("  linkage:     static (no PT_INTERP)")
        else:
            lines.append(f"  linkage:     dynamic, interpreter {self.elf.interpreter}")
            libs = ", ".join(self.elf.needed) or "(none)"
            lines.append(f"  libraries:   {libs}")
        strip = "stripped (no .symtab)" if self.stripped else "not stripped (.symtab)"
        dwarf = "DWARF" if self.dwarf else "no DWARF"
        headers = "" if self.section_headers else ", no section headers"
        lines.append(f"  symbols:     {strip}, {dwarf}{headers}")
        if not self.is_go:
            lines.append("  Go:          not a Go binary (no Go build info, no pclntab)")
            return "\n".join(lines) + "\n"
        if self.go is not None:
            lines.append(f"  Go:          {self.go.go_version}")
            if self.go.path:
                lines.append(f"  main:        {self.go.path}")
            if self.go.main is not None:
                lines.append(f"  module:      {self.go.main.path} {self.go.main.version}")
            if self.go.deps:
                lines.append(f"  deps:        {len(self.go.deps)} modules")
            for key, value in self.go.settings:
                lines.append(f"  build:       {key}={value}")
        else:
            lines.append("  Go:          yes (pclntab), but no build info")
        if self.functions is not None:
            f = self.functions
            lines.append(
                f"  functions:   {len(f.names)} in the pclntab ({f.format} format), "
                f"{len(f.packages())} packages"
            )
        return "\n".join(lines) + "\n"


def inspect_binary(path: Path) -> BinaryInfo:
    """Read ``path`` (an ELF executable) without running it.

    Raises :class:`InspectError` naming the file when it cannot be read, is not ELF (saying what
    it looks like instead), or is truncated.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError as e:
        raise InspectError(f"{path} is a directory, not an executable") from e
    except FileNotFoundError as e:
        raise InspectError(f"{path} does not exist", hint="check the path") from e
    except OSError as e:
        raise InspectError(f"cannot read {path}: {e.strerror}") from e
    if not is_elf(data):
        raise InspectError(
            f"{path} is not an ELF executable ({_describe(data)})",
            hint="inspect works on Linux ELF programs; pass the compiled binary",
        )
    try:
        elf = read_elf(data, name=str(path))
        layout = read_layout(data)
    except TracerError as e:
        raise InspectError(e.message) from e
    except (struct.error, IndexError, ValueError) as e:
        raise InspectError(f"{path} is not a readable ELF file ({e})") from e
    names = {s.name for s in layout.sections}
    return BinaryInfo(
        path=str(path),
        size=len(data),
        elf=elf,
        little_endian=layout.little,
        section_headers=bool(layout.sections),
        stripped=".symtab" not in names,
        dwarf=bool(names & {".debug_info", ".zdebug_info"}),
        go=read_buildinfo(data, layout),
        functions=_functions(data, layout),
    )


def _functions(data: bytes, layout: ElfLayout) -> GoFunctions | None:
    found = find_pclntab(data, layout.section(".gopclntab", ".data.rel.ro.gopclntab"))
    if found is None:
        return None
    offset, how = found
    return read_pclntab(data, offset, found_by=how)


def _describe(data: bytes) -> str:
    if not data:
        return "an empty file"
    if data.startswith(b"#!"):
        first = data.split(b"\n", 1)[0].decode("utf-8", "replace")
        return f"a script: {first}"
    if data[:2] == b"MZ":
        return "a Windows PE file"
    if data[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
        return "a Mach-O file"
    if data[:2] == b"\x1f\x8b":
        return "gzip data"
    sample = data[:512]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        return f"binary data starting {data[:4].hex()}"
    return "a text file"


def read_buildinfo(data: bytes, layout: ElfLayout) -> GoBuildInfo | None:
    """Decode the Go build info blob of ELF ``data``, or None when there is none."""
    section = layout.section(".go.buildinfo")
    if section is not None:
        start, stop, how = section.offset, section.offset + section.size, "section .go.buildinfo"
    else:
        # As debug/buildinfo does: the first writable, non-executable PT_LOAD segment.
        seg = next(
            (
                p
                for p in layout.segments
                if p.type == _PT_LOAD and p.flags & (_PF_X | _PF_W) == _PF_W
            ),
            None,
        )
        if seg is None:
            return None
        start, stop, how = seg.offset, seg.offset + seg.filesz, "magic scan"
    at = data.find(_BUILDINFO_MAGIC, start, stop)
    # The blob is 16-byte aligned in memory; PT_LOAD keeps vaddr and offset congruent mod page.
    while at >= 0 and (at - start) % 16:
        at = data.find(_BUILDINFO_MAGIC, at + 1, stop)
    if at < 0 or at + 32 > len(data):
        return None
    ptr_size, flags = data[at + 14], data[at + 15]
    if flags & 2:
        version, rest = _varint_string(data, at + 32)
        modinfo, _ = _varint_string(data, rest)
    else:
        end = ">" if flags & 1 else "<"
        fmt = end + ("Q" if ptr_size == 8 else "I")
        version = _pointer_string(data, layout, struct.unpack_from(fmt, data, at + 16)[0], fmt)
        addr = struct.unpack_from(fmt, data, at + 16 + ptr_size)[0]
        modinfo = _pointer_string(data, layout, addr, fmt)
    if not version:
        return None
    # modinfo is framed by 16-byte sentinels (cmd/go/internal/modload infoStart/infoEnd).
    modinfo = modinfo[16:-16] if len(modinfo) >= 33 and modinfo[-17] == "\n" else ""
    return _parse_modinfo(version, modinfo, how)


def _varint_string(data: bytes, pos: int) -> tuple[str, int]:
    length = shift = 0
    while pos < len(data):
        b = data[pos]
        pos += 1
        length |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    if pos + length > len(data):
        return "", pos
    return data[pos : pos + length].decode("utf-8", "replace"), pos + length


def _pointer_string(data: bytes, layout: ElfLayout, addr: int, fmt: str) -> str:
    size = struct.calcsize(fmt)
    hdr = layout.file_offset(addr)
    if hdr is None or hdr + 2 * size > len(data):
        return ""
    ptr = struct.unpack_from(fmt, data, hdr)[0]
    length = struct.unpack_from(fmt, data, hdr + size)[0]
    off = layout.file_offset(ptr)
    if off is None or off + length > len(data):
        return ""
    return data[off : off + length].decode("utf-8", "replace")


def _unquote(text: str) -> str:
    # strconv.Quote output is a valid Python string literal for the escapes it produces
    # (\a \b \f \n \r \t \v \\ \" \xNN \uNNNN \UNNNNNNNN); backquoted raw strings have none.
    if text.startswith("`") and text.endswith("`"):
        return text[1:-1]
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, str) else text


def _split_setting(kv: str) -> tuple[str, str]:
    if kv[:1] in ('"', "`"):
        close = kv.find(kv[0], 1)
        while kv[0] == '"' and close > 0 and kv[close - 1] == "\\":
            close = kv.find('"', close + 1)
        key, rest = kv[: close + 1], kv[close + 1 :]
        rest = rest[1:] if rest.startswith("=") else rest
        return _unquote(key), _unquote(rest)
    key, _, value = kv.partition("=")
    return key, _unquote(value) if value[:1] in ('"', "`") else value


def _parse_modinfo(version: str, modinfo: str, how: str) -> GoBuildInfo:
    path = ""
    main: GoModule | None = None
    deps: list[GoModule] = []
    settings: list[tuple[str, str]] = []
    last: str | None = None  # "main" or "dep": the module a "=>" line replaces
    for line in modinfo.split("\n"):
        tag, _, rest = line.partition("\t")
        cols = rest.split("\t")
        if tag == "path":
            path = rest
        elif tag in ("mod", "dep") and len(cols) in (2, 3):
            module = GoModule(cols[0], cols[1], cols[2] if len(cols) == 3 else "")
            if tag == "mod":
                main, last = module, "mod"
            else:
                deps.append(module)
                last = "dep"
        elif tag == "=>" and len(cols) == 3 and last is not None:
            repl = GoModule(cols[0], cols[1], cols[2])
            if last == "mod" and main is not None:
                main = GoModule(main.path, main.version, main.sum, repl)
            elif deps:
                d = deps[-1]
                deps[-1] = GoModule(d.path, d.version, d.sum, repl)
            last = None
        elif tag == "build" and rest:
            settings.append(_split_setting(rest))
    return GoBuildInfo(version, path, main, tuple(deps), tuple(settings), how)
