"""seccompgen.inspect on real Go binaries built here from the examples (and one with cgo)."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from _rules import missing_tool

from seccompgen.inspect import inspect_binary, reachable_syscalls, unobserved
from seccompgen.tracing.gobuild import find_go, go_cache_dir

pytestmark = pytest.mark.go

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _toolchain_version() -> str:
    go = find_go()
    assert go is not None
    out = subprocess.run([str(go), "version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"\b(go1\.\S+)", out)
    assert match, out
    return match.group(1)


def _module_path(example: str) -> str:
    text = (EXAMPLES / example / "go.mod").read_text()
    match = re.search(r"^module\s+(\S+)", text, re.M)
    assert match
    return match.group(1)


@pytest.mark.parametrize("example", ["httpservice", "batch"])
def test_example_build_info(build_example: Callable[[str], Path], example: str) -> None:
    info = inspect_binary(build_example(example))
    assert info.static and info.elf.machine == "x86_64" and info.stripped and not info.dwarf
    assert info.go is not None
    assert info.go.go_version == _toolchain_version()
    assert info.go.setting("GOARCH") == "amd64" and info.go.setting("GOOS") == "linux"
    assert info.go.setting("CGO_ENABLED") == "0"
    assert info.go.setting("-trimpath") == "true"
    assert info.go.path == _module_path(example)
    assert info.go.main is not None and info.go.main.path == _module_path(example)
    data = info.to_dict()
    assert json.dumps(data, sort_keys=False) == json.dumps(
        inspect_binary(build_example(example)).to_dict()
    )
    assert info.render_text().endswith("\n")


def test_pclntab_finds_http_server_only_in_httpservice(
    build_example: Callable[[str], Path],
) -> None:
    http = inspect_binary(build_example("httpservice"))
    batch = inspect_binary(build_example("batch"))
    assert http.functions is not None and batch.functions is not None
    assert "net/http.(*Server).Serve" in http.functions.names
    assert "net/http.(*Server).Serve" not in batch.functions.names
    assert "net/http" in http.functions.packages()
    assert "net" not in batch.functions.packages()
    assert "main.main" in batch.functions.names


def test_reachable_network_syscalls_come_from_net(build_example: Callable[[str], Path]) -> None:
    http = reachable_syscalls(inspect_binary(build_example("httpservice")))
    for name in ("accept4", "bind", "listen"):
        assert any(v.startswith("net.") for v in http[name]), (name, http[name])
    batch = reachable_syscalls(inspect_binary(build_example("batch")))
    assert not {"accept4", "bind", "listen"} & set(batch)
    assert "openat" in batch
    warnings = unobserved(http, set(http) - {"accept4"})
    assert [w.syscall for w in warnings] == ["accept4"]


def test_stripped_section_headers_use_the_magic(
    build_example: Callable[[str], Path], tmp_path: Path
) -> None:
    """With the section header table gone (as sstrip does), both tables are found by magic."""
    data = bytearray(build_example("httpservice").read_bytes())
    struct.pack_into("<Q", data, 40, 0)  # e_shoff
    struct.pack_into("<HHH", data, 58, 0, 0, 0)  # e_shentsize, e_shnum, e_shstrndx
    path = tmp_path / "sstripped"
    path.write_bytes(bytes(data))
    info = inspect_binary(path)
    full = inspect_binary(build_example("httpservice"))
    assert not info.section_headers
    assert info.go is not None and info.go.found_by == "magic scan"
    assert full.go is not None and info.go.settings == full.go.settings
    assert info.functions is not None and full.functions is not None
    assert info.functions.found_by == "magic scan"
    assert info.functions.names == full.functions.names


def test_cgo_program_is_dynamic_with_libc(tmp_path: Path) -> None:
    """A Go program built here with CGO_ENABLED=1 (gcc): interpreter and libc are listed."""
    go = find_go()
    if go is None or shutil.which("gcc") is None:
        missing_tool("needs the Go toolchain and gcc")
    src = tmp_path / "src"
    src.mkdir()
    (src / "go.mod").write_text("module example.com/cgouser\n\ngo 1.22\n")
    (src / "main.go").write_text(
        'package main\n\n/*\n#include <unistd.h>\n*/\nimport "C"\n\nimport "fmt"\n\n'
        "func main() { fmt.Println(C.getpid()) }\n"
    )
    env = dict(os.environ, CGO_ENABLED="1", GOTOOLCHAIN="local", GOPROXY="off")
    env["GOCACHE"] = str(go_cache_dir())
    out = tmp_path / "cgouser"
    subprocess.run(
        [str(go), "build", "-o", str(out), "."], cwd=src, env=env, check=True, timeout=600
    )
    info = inspect_binary(out)
    assert not info.static
    assert info.elf.interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert "libc.so.6" in info.elf.needed
    assert not info.stripped
    assert info.go is not None and info.go.cgo is True
    assert info.go.path == "example.com/cgouser"
    text = info.render_text()
    assert "dynamic, interpreter /lib64/ld-linux-x86-64.so.2" in text
