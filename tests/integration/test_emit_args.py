"""emit --args auto on a real strace trace of the example service (Go): the profile passes
validate, the socket rules list the address families and socket types the service used, and
clone refuses the namespace flags."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from _support import free_port, sg

from seccompgen.graph import SyscallGraph
from seccompgen.profile.args import U32, describe_profile
from seccompgen.profile.model import Operator

pytestmark = [pytest.mark.strace, pytest.mark.go, pytest.mark.slow]

MASKED_EQ = Operator.MASKED_EQ.value
TYPE_MASK = U32 & ~(socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)


@pytest.fixture(scope="module")
def traced(build_example: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding ./traces with one traced run of the service under load."""
    work = tmp_path_factory.mktemp("emit-args")
    service, loadgen = build_example("httpservice"), build_example("loadgen")
    port = free_port()
    load = f"{loadgen} -c 2 -d 1s http://127.0.0.1:{port}/healthz"
    proc = sg("trace", str(service), "--exercise", load, "--", "-addr", f"127.0.0.1:{port}",
              cwd=work)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work


def test_socket_rules_list_the_observed_families_and_types_and_validate_passes(
    traced: Path,
) -> None:
    proc = sg("emit", "-w", "httpservice", "--args", "auto", "-o", "args.json", cwd=traced)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    graph = SyscallGraph.from_json((traced / "traces" / "graph.json").read_text())
    families, types = graph.usage("httpservice")["socket"].args[:2]
    assert not families.many and families.values and not types.many and types.values
    kinds = {t & TYPE_MASK for t in types.values}
    data = json.loads((traced / "args.json").read_text())
    socket_rules = [r for r in data["syscalls"] if r["names"] == ["socket"]]
    # One rule per (family, type): the family on its low 32 bits, ANDed with the type compared
    # without SOCK_NONBLOCK|SOCK_CLOEXEC (Go sets both on every socket).
    got = set()
    for r in socket_rules:
        family, kind = r["args"]
        assert (family["index"], family["value"], family["op"]) == (0, U32, MASKED_EQ)
        assert (kind["index"], kind["value"], kind["op"]) == (1, TYPE_MASK, MASKED_EQ)
        got.add((family.get("valueTwo", 0), kind.get("valueTwo", 0)))
    assert got == {(f, k) for f in families.values for k in kinds}
    words = ", ".join(sorted(socket.AddressFamily(v).name for v in families.values))
    kind_words = ", ".join(sorted(socket.SocketKind(k).name for k in kinds))
    assert f"arguments: socket: {words} × {kind_words}\n" in out
    assert "arguments: clone: no namespace flags" in out
    unconditional = next(r for r in data["syscalls"] if "args" not in r and r["action"] ==
                         "SCMP_ACT_ALLOW")  # fmt: skip
    assert "socket" not in unconditional["names"] and "clone" not in unconditional["names"]
    check = sg("validate", "args.json", cwd=traced)
    assert check.returncode == 0 and "args.json: ok" in check.stdout, check.stdout
    from seccompgen.profile.model import load_profile

    described = dict(describe_profile(load_profile(traced / "args.json")))
    assert described["socket"] == f"{words} × {kind_words}"


def test_args_off_is_the_default(traced: Path) -> None:
    proc = sg("emit", "-w", "httpservice", "-o", "plain.json", cwd=traced)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((traced / "plain.json").read_text())
    assert not any("args" in r for r in data["syscalls"])
    assert "arguments:" not in proc.stdout


def test_spo_resources_carry_the_argument_rules(traced: Path) -> None:
    from seccompgen.attach.spo import check_resource
    from seccompgen.yamlio import load_all

    proc = sg("emit", "-w", "httpservice", "--format", "spo", "--args", "auto", "-o", "sp.yaml",
              cwd=traced)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "    arguments: clone: no namespace flags" in proc.stdout
    (doc,) = load_all((traced / "sp.yaml").read_text(), source="sp.yaml")
    assert isinstance(doc, dict) and check_resource(doc) == []
    rules = doc["spec"]["syscalls"]
    assert any(r["names"] == ["socket"] and r.get("args") for r in rules)
