"""`inspect` on a third-party Go program from a Debian package: runc (cgo, dynamically linked).

Debian's runc package (installed with docker.io by scripts/docker-up.sh) is built with cgo and
links libseccomp. The answers are checked against independent tools: `ldd` for the interpreter
and libraries, and `go version -m` of the Go toolchain for the build info.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from seccompgen.inspect import inspect_binary
from seccompgen.tracing.gobuild import find_go

# docker: the binary comes with the engine's packages (docker.io depends on runc).
pytestmark = [pytest.mark.docker, pytest.mark.go]


def runc_path() -> Path:
    for candidate in ("/usr/sbin/runc", "/usr/bin/runc"):
        if Path(candidate).is_file():
            return Path(candidate)
    found = shutil.which("runc")
    assert found, "runc is installed with docker.io (scripts/docker-up.sh)"
    return Path(found)


def test_runc_from_debian_is_dynamic_go_with_its_libraries() -> None:
    runc = runc_path()
    info = inspect_binary(runc)
    assert info.is_go and not info.static

    ldd = subprocess.run(["ldd", str(runc)], capture_output=True, text=True, check=True).stdout
    needed = {line.split()[0] for line in ldd.splitlines() if "=>" in line}
    interpreter = next(line.split()[0] for line in ldd.splitlines() if line.strip().startswith("/"))
    assert set(info.elf.needed) == needed
    assert info.elf.interpreter == interpreter

    go = find_go()
    assert go is not None
    meta = subprocess.run(
        [str(go), "version", "-m", str(runc)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert info.go is not None
    assert meta[0].split(": ", 1)[1] == info.go.go_version
    fields = [line.strip().split("\t") for line in meta[1:]]
    path = next(f[1] for f in fields if f[0] == "path")
    assert info.go.path == path
    settings = dict(f[1].split("=", 1) for f in fields if f[0] == "build" and "=" in f[1])
    assert settings["CGO_ENABLED"] == "1" and info.go.cgo
    for key, value in settings.items():
        assert info.go.setting(key) == value, key
