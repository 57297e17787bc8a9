"""import --spo end to end: recorded and emitted profiles into a store, emit from them, merge
with a real local trace of an example program, and bad input leaving the store byte-identical."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from _support import sg

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "spo"
PLAIN = ("--runtime", "none", "--go-runtime", "off")  # only what the store holds
EXITS = {"exit", "exit_group"}  # every emitted profile allows them (profile.build)


def _allowed(profile: Path) -> set[str]:
    data = json.loads(profile.read_text())
    return {n for r in data["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}


def _emit(store: Path, workload: str, out: Path, *extra: str) -> set[str]:
    proc = sg("emit", "-w", workload, *PLAIN, *extra, "--store", str(store), "-o", str(out),
              cwd=store.parent)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return _allowed(out)


def _snapshot(root: Path) -> dict[str, bytes]:
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _names(doc: dict[str, object]) -> set[str]:
    spec = doc["spec"]
    assert isinstance(spec, dict)
    return {n for r in spec["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}


def test_a_recorded_list_imports_and_emits_the_same_allowed_sets(tmp_path: Path) -> None:
    store = tmp_path / "traces"
    proc = sg("import", "--spo", str(DATA / "recorded.yaml"), "--store", str(store), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(
        r"(?m)^\S+/traces/demo-recording-httpservice/\S+\.trace\.jsonl: workload "
        r"demo-recording-httpservice: 53 syscalls, 53 new from \S+/recorded\.yaml document 0 "
        r"item 0 \(SeccompProfile v1beta1 demo-recording-httpservice\)$",
        proc.stdout,
    ), proc.stdout
    assert "  seccompgen emit --workload demo-recording-batch --store " in proc.stdout
    from seccompgen.yamlio import read_all

    listed = read_all(DATA / "recorded.yaml")[0]
    assert isinstance(listed, dict)
    for item in listed["items"]:
        name = item["metadata"]["name"]
        assert _emit(store, name, tmp_path / f"{name}.json") == _names(item) | EXITS
    # graph.json marks the imported usage; traces are version 2 with allow lines only.
    graph = json.loads((store / "graph.json").read_text())
    usages = [
        u for s in graph["sources"] for c in s["workloads"].values() for u in c["syscalls"].values()
    ]
    assert usages and all(u["imported"] is True and u["count"] == 0 for u in usages)
    (trace,) = (store / "demo-recording-batch").glob("*.trace.jsonl")
    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    assert lines[0]["version"] == 2 and lines[0]["backend"] == "import-spo"
    assert lines[0]["command"] == [str(DATA / "recorded.yaml"), "document 0", "item 1"]
    assert {line["k"] for line in lines[1:-1]} == {"allow"}


@pytest.mark.strace
@pytest.mark.go
def test_round_trips_and_a_merge_with_a_local_trace(
    tmp_path: Path, build_example: Callable[[str], Path]
) -> None:
    batch = build_example("batch")
    store = tmp_path / "traces"
    traced = sg("trace", str(batch), "--store", str(store), "--", "-in", str(REPO / "README.md"),
                "-out", str(tmp_path / "out.json"), cwd=tmp_path)  # fmt: skip
    assert traced.returncode == 0, traced.stdout + traced.stderr
    original = tmp_path / "batch.json"
    emitted = _emit(store, "batch", original)

    # Docker JSON -> import -> emit: the same allowed set.
    proc = sg("import", "--spo", str(original), "--workload", "copy", "--store", str(store),
              cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(Docker/OCI profile)" in proc.stdout
    assert _emit(store, "copy", tmp_path / "copy.json") == emitted

    # A SeccompProfile made by hand from the emitted profile (spec: the profile, less the fields
    # the CRD does not have) -> import -> emit: the same allowed set.
    profile = json.loads(original.read_text())
    spo = {
        "apiVersion": "security-profiles-operator.x-k8s.io/v1",
        "kind": "SeccompProfile",
        "metadata": {"name": "batch-spo"},
        "spec": {
            "defaultAction": profile["defaultAction"],
            "architectures": profile["architectures"],
            "syscalls": [
                {k: v for k, v in r.items() if k != "comment"} for r in profile["syscalls"]
            ],
        },
    }
    from seccompgen.yamlio import dump_all

    (tmp_path / "batch-spo.yaml").write_text(dump_all([spo]))
    proc = sg("import", "--spo", "batch-spo.yaml", "--store", str(store), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(SeccompProfile v1 batch-spo)" in proc.stdout
    assert _emit(store, "batch-spo", tmp_path / "batch-spo.json") == emitted

    # Merge: a profile for the traced workload with names the trace lacks -> the union.
    rule = {"names": ["read", "mknodat", "uname"], "action": "SCMP_ACT_ALLOW"}
    extra = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
             "syscalls": [rule]}  # fmt: skip
    (tmp_path / "extra.json").write_text(json.dumps(extra))
    proc = sg("import", "--spo", "extra.json", "-w", "batch", "--store", str(store), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    new = {"mknodat", "uname"} - emitted
    assert f"workload batch: 3 syscalls, {len(new)} new from extra.json" in proc.stdout
    merged = _emit(store, "batch", tmp_path / "merged.json")
    assert merged == emitted | {"mknodat", "uname"}

    # The views take imported usage (no counts, no phases) beside traced usage.
    for args in (("graph", "-w", "batch"), ("graph", "--format", "json"), ("graph", "--format",
                 "dot"), ("report", "-w", "batch"), ("report", "--format", "json"),
                 ("report", "--format", "dot"), ("inspect", str(batch), "--against", "batch"),
                 ("diff", str(original), str(tmp_path / "merged.json"))):  # fmt: skip
        proc = (
            sg(*args, "--store", str(store), cwd=tmp_path)
            if args[0] != "diff"
            else sg(*args, cwd=tmp_path)
        )
        assert proc.returncode == 0, f"{args}: {proc.stdout}{proc.stderr}"
    graph = sg("graph", "-w", "batch", "--store", str(store), cwd=tmp_path).stdout
    if "mknodat" in new:
        assert re.search(r"(?m)^  mknodat +- +- +imported$", graph), graph
    report = json.loads(sg("report", "--format", "json", "-w", "batch", "--store", str(store),
                           cwd=tmp_path).stdout)  # fmt: skip
    calls = {c["name"]: c for w in report["workloads"] for c in w["syscalls"]}
    assert calls["uname"]["imported"] is True
    assert calls["read"]["count"] > 0 and calls["read"]["imported"] is True


BAD = [
    "bad-yaml.yaml",
    "deployment.yaml",
    "bad-version.yaml",
    "bad-action.yaml",
    "allow-default.yaml",
    "bad-action.json",
]


@pytest.mark.parametrize("bad", [*BAD, "a-directory", "missing.yaml", "bad-name"])
def test_every_error_leaves_the_store_byte_identical(tmp_path: Path, bad: str) -> None:
    store = tmp_path / "traces"
    first = sg("import", "--spo", str(DATA / "profiles.yaml"), "--store", str(store), cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    before = _snapshot(store)
    if bad == "a-directory":
        target, expect = str(DATA), r"spo: is a directory"
    elif bad == "missing.yaml":
        target, expect = "missing.yaml", r"missing\.yaml: no such file"
    elif bad == "bad-name":
        (tmp_path / "Not A Name.json").write_text(json.dumps(json.loads(
            (DATA / "batch-docker.json").read_text())))  # fmt: skip
        target, expect = "Not A Name.json", r"document 0: the workload name from the file name"
    else:
        target, expect = str(DATA / bad), re.escape(bad) + r"(:\d+)?: document \d"
    # A good file first: nothing of it may be written either.
    proc = sg("import", "--spo", str(DATA / "recorded.yaml"), target, "--store", str(store),
              cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and re.search(expect, errors[0]), proc.stderr
    assert proc.stdout == ""
    assert _snapshot(store) == before


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
@pytest.mark.parametrize("mode", ["enforce", "log"])
def test_emit_format_spo_then_import_spo_gives_the_same_allowed_sets(
    tmp_path: Path, build_example: Callable[[str], Path], version: str, mode: str
) -> None:
    """The round trip through SPO's own resource: every workload of an `emit --format spo`
    stream imports back (into a fresh store) to the allowed set its Docker profile has."""
    batch = build_example("batch")
    store = tmp_path / "traces"
    traced = sg("trace", str(batch), "--store", str(store), "--", "-in", str(REPO / "README.md"),
                "-out", str(tmp_path / "out.json"), cwd=tmp_path)  # fmt: skip
    assert traced.returncode == 0, traced.stdout + traced.stderr
    # A second workload in the same stream: the batch job's profile plus two names.
    extra = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
             "syscalls": [{"names": ["uname", "mknodat"], "action": "SCMP_ACT_ALLOW"}]}  # fmt: skip
    (tmp_path / "extra.json").write_text(json.dumps(extra))
    proc = sg("import", "--spo", "extra.json", "-w", "helper", "--store", str(store),
              cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    expected = {
        w: _emit(store, w, tmp_path / f"{w}.json", "--mode", mode) for w in ("batch", "helper")
    }

    stream = tmp_path / "profiles.yaml"
    proc = sg("emit", "-w", "batch", "-w", "helper", *PLAIN, "--mode", mode, "--format", "spo",
              "--api-version", version, "--namespace", "shop", "--store", str(store),
              "-o", str(stream), cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    from seccompgen.attach.spo import check_resource
    from seccompgen.yamlio import read_all

    docs = read_all(stream)
    assert [d["metadata"]["name"] for d in docs if isinstance(d, dict)] == ["batch", "helper"]
    for doc in docs:
        assert check_resource(doc) == []
        assert isinstance(doc, dict)
        assert doc["apiVersion"].endswith(f"/{version}")
        want = "SCMP_ACT_LOG" if mode == "log" else "SCMP_ACT_ERRNO"
        assert doc["spec"]["defaultAction"] == want

    fresh = tmp_path / "fresh"
    proc = sg("import", "--spo", str(stream), "--store", str(fresh), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for workload, allowed in expected.items():
        assert _emit(fresh, workload, tmp_path / f"back-{workload}.json") == allowed
        doc = next(d for d in docs if isinstance(d, dict) and d["metadata"]["name"] == workload)
        assert _names(doc) == allowed
