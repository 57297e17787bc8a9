"""Unit tests of seccompgen.inspect on synthetic inputs and on small real files."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from seccompgen.errors import SeccompgenError
from seccompgen.inspect import (
    InspectError,
    inspect_binary,
    package_of,
    reachable_syscalls,
    syscall_table,
    unobserved,
)
from seccompgen.inspect.binary import _parse_modinfo, _varint_string
from seccompgen.inspect.pclntab import read_pclntab
from seccompgen.syscalls import known_names


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_package_of_handles_methods_generics_and_linker_names() -> None:
    assert package_of("net/http.(*Server).Serve") == "net/http"
    assert package_of("golang.org/x/sys/unix.Mount") == "golang.org/x/sys/unix"
    assert package_of("main.main") == "main"
    assert package_of("sync/atomic.(*Pointer[go.shape.struct { a/b.c int }]).Load") == (
        "sync/atomic"
    )
    assert package_of("type:.eq.[2]interface {}") == ""


def test_varint_string_reads_multi_byte_lengths() -> None:
    text = "x" * 300
    data = _varint(300) + text.encode() + b"rest"
    value, pos = _varint_string(data, 0)
    assert value == text
    assert data[pos:] == b"rest"


def test_modinfo_lines_quoted_settings_and_replacements() -> None:
    modinfo = (
        "path\texample.com/cmd/x\n"
        "mod\texample.com\tv1.2.3\th1:abc=\n"
        "dep\tgolang.org/x/sys\tv0.1.0\th1:def=\n"
        "=>\t../sys\t(devel)\t\n"
        'build\t-ldflags="-s -w -X main.v=1"\n'
        "build\tCGO_ENABLED=0\n"
        'build\t"odd key"=value\n'
    )
    info = _parse_modinfo("go1.22.0", modinfo, "test")
    assert info.go_version == "go1.22.0"
    assert info.path == "example.com/cmd/x"
    assert info.main is not None and info.main.version == "v1.2.3"
    assert info.deps[0].replace is not None and info.deps[0].replace.path == "../sys"
    assert info.setting("-ldflags") == "-s -w -X main.v=1"
    assert info.setting("odd key") == "value"
    assert info.cgo is False


def _pclntab_120(names: list[str]) -> bytes:
    """A minimal Go 1.20 pclntab: header, name table, function table, _func records."""
    ptr = 8
    nametab = b"".join(n.encode() + b"\0" for n in names)
    header_len = 8 + 8 * ptr
    fname = header_len
    cu = fname + len(nametab)
    pcln = cu
    name_offs = []
    off = 0
    for n in names:
        name_offs.append(off)
        off += len(n) + 1
    nfunc = len(names)
    functab_len = (2 * nfunc + 1) * 4
    funcs = b""
    table = b""
    for i, name_off in enumerate(name_offs):
        table += struct.pack("<II", i * 16, functab_len + len(funcs))
        funcs += struct.pack("<Ii", i * 16, name_off)
    table += struct.pack("<I", nfunc * 16)
    words = struct.pack("<8Q", nfunc, 0, 0, fname, cu, cu, cu, pcln)
    return struct.pack("<I", 0xFFFFFFF1) + b"\0\0\x01\x08" + words + nametab + table + funcs


def test_pclntab_120_names_are_read() -> None:
    names = ["main.main", "net.(*netFD).accept", "syscall.accept4"]
    funcs = read_pclntab(_pclntab_120(names), 0)
    assert funcs is not None
    assert funcs.format == "go1.20"
    assert funcs.nfunc == 3
    assert funcs.names == tuple(sorted(names))
    assert funcs.packages() == ("main", "net", "syscall")


def test_pclntab_rejects_bad_header() -> None:
    data = bytearray(_pclntab_120(["main.main"]))
    data[7] = 5  # pointer size 5 does not exist
    assert read_pclntab(bytes(data), 0) is None


def test_table_entries_have_reason_source_and_sorted_syscalls() -> None:
    table = syscall_table()
    assert table.version >= 1 and table.arch == "x86_64"
    for e in table.entries:
        assert e.match in ("function", "package")
        assert e.reason and e.source
        assert list(e.syscalls) == sorted(set(e.syscalls))
    assert table.wrappers["syscall.accept4"] == ("accept4",)
    # The arm64 table (generated from the same tree for GOARCH=arm64) names aarch64's calls.
    arm64 = table.wrappers_for("aarch64")
    assert arm64 is not None and table.wrappers_for("riscv64") is None
    assert arm64["syscall.EpollWait"] == ("epoll_pwait",)
    assert arm64["syscall.fstatat"] == ("newfstatat",)
    assert "syscall.Dup2" not in arm64 and "runtime.settls" not in arm64
    known = known_names("aarch64")
    assert all(set(names) <= known for names in arm64.values())


def test_unobserved_lists_only_missing_syscalls_with_reasons() -> None:
    reachable = {"accept4": ["net.(*netFD).accept", "syscall.accept4"], "read": ["syscall.read"]}
    warnings = unobserved(reachable, {"read"})
    assert [w.syscall for w in warnings] == ["accept4"]
    assert warnings[0].via == ("net.(*netFD).accept", "syscall.accept4")
    assert any("accept4(2)" in r for r in warnings[0].reasons)
    assert unobserved(reachable, {"read", "accept4"}) == []


def test_text_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(InspectError, match=r"notes.txt is not an ELF executable \(a text file\)"):
        inspect_binary(path)
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(SeccompgenError, match=r"a script: #!/bin/sh"):
        inspect_binary(script)


def test_missing_directory_and_truncated_files(tmp_path: Path) -> None:
    with pytest.raises(InspectError, match="does not exist"):
        inspect_binary(tmp_path / "nope")
    with pytest.raises(InspectError, match="is a directory"):
        inspect_binary(tmp_path)
    cut = tmp_path / "cut"
    cut.write_bytes(Path("/bin/ls").read_bytes()[:70])
    with pytest.raises(InspectError, match="cut"):
        inspect_binary(cut)


def test_bin_ls_is_dynamic_and_not_go() -> None:
    ls = shutil.which("ls")
    assert ls is not None
    info = inspect_binary(Path(ls))
    assert not info.static
    assert info.elf.interpreter is not None and "ld-linux" in info.elf.interpreter
    assert "libc.so.6" in info.elf.needed
    assert not info.is_go
    assert reachable_syscalls(info) == {}
    text = info.render_text()
    assert "not a Go binary" in text and "libc.so.6" in text
    assert info.to_dict()["go"] is None
