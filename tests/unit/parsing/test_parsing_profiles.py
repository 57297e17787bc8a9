"""parse_profiles: SPO SeccompProfile resources and Docker/OCI JSON profiles -> allowed names,
on the recorded-style fixtures in tests/data/spo/ and on small documents made here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seccompgen.errors import ManifestError, ProfileError
from seccompgen.parsing.profiles import OCI, SPO, parse_profiles

DATA = Path(__file__).resolve().parents[2] / "data" / "spo"
HTTPSERVICE = json.loads(
    (Path(__file__).resolve().parents[3] / "profiles" / "httpservice.json").read_text()
)


def _parse(name: str, **kw: str) -> list:  # type: ignore[type-arg]
    path = DATA / name
    return parse_profiles(path.read_text(), source=name, native="x86_64", **kw)


def _spo(spec: str, *, version: str = "v1", name: str = "web") -> str:
    return (
        f"apiVersion: security-profiles-operator.x-k8s.io/{version}\nkind: SeccompProfile\n"
        f"metadata:\n  name: {name}\nspec:\n" + "".join(f"  {line}\n" for line in spec.splitlines())
    )


def test_a_recorded_list_gives_one_profile_per_item() -> None:
    a, b = _parse("recorded.yaml")
    assert (a.form, a.version, a.name, a.document, a.item) == (
        SPO, "v1beta1", "demo-recording-httpservice", 0, 0
    )  # fmt: skip
    assert a.where == "recorded.yaml document 0 item 0"
    assert a.label == "SeccompProfile v1beta1 demo-recording-httpservice"
    assert a.allowed == tuple(HTTPSERVICE["syscalls"][0]["names"])
    assert a.arch == "x86_64"
    assert not a.notes
    assert (b.name, b.item, len(b.allowed)) == ("demo-recording-batch", 1, 24)


def test_a_multi_document_stream_and_a_log_default() -> None:
    web, staging = _parse("profiles.yaml")
    assert (web.document, web.version, web.name, len(web.allowed)) == (
        0,
        "v1beta1",
        "httpservice",
        53,
    )
    assert staging.document == 1 and staging.version == "v1"
    # LOG default: the ALLOW rules; the ERRNO rule denies; unknown names are skipped, noted.
    assert staging.allowed == ("read", "write", "openat", "close", "exit_group", "personality")
    assert staging.conditional == ("personality",)
    assert staging.unknown == ("not_a_syscall",)
    assert any("some argument values" in n and "personality" in n for n in staging.notes)
    assert any("not_a_syscall" in n and "runtimes skip them" in n for n in staging.notes)


def test_a_docker_json_profile() -> None:
    (p,) = _parse("batch-docker.json")
    assert (p.form, p.name, p.version, p.label) == (OCI, None, None, "Docker/OCI profile")
    # archMap lists x86_64 first; the rules needing CAP_SYS_PTRACE or x86 do not count.
    assert p.arch == "x86_64"
    assert "ptrace" not in p.allowed and "socketcall" not in p.allowed
    assert len(p.allowed) == 24


def test_the_architecture_is_the_profiles() -> None:
    text = _spo("defaultAction: SCMP_ACT_ERRNO\narchitectures: [SCMP_ARCH_AARCH64]\n"
                "syscalls:\n- action: SCMP_ACT_ALLOW\n  names: [read, openat]")  # fmt: skip
    (p,) = parse_profiles(text, source="a.yaml", native="x86_64")
    assert p.arch == "aarch64"
    (q,) = parse_profiles(text, source="a.yaml", native="x86_64", arch="x86_64")
    assert q.arch == "x86_64"
    native = _spo("defaultAction: SCMP_ACT_ERRNO\narchitectures: [SCMP_ARCH_NATIVE]\n"
                  "syscalls:\n- action: SCMP_ACT_ALLOW\n  names: [read]")  # fmt: skip
    assert parse_profiles(native, source="n.yaml", native="x86_64")[0].arch == "x86_64"


def test_notes_for_a_base_profile_and_a_partial_profile() -> None:
    text = _spo("defaultAction: SCMP_ACT_ERRNO\nbaseProfileName: runc-v1.1.5\n"
                "syscalls:\n- action: SCMP_ACT_ALLOW\n  names: [read]")  # fmt: skip
    text = text.replace(
        "  name: web\n", "  name: web\n  labels:\n    spo.x-k8s.io/partial: 'true'\n"
    )
    (p,) = parse_profiles(text, source="b.yaml", native="x86_64")
    assert any("baseProfileName runc-v1.1.5 is not followed" in n for n in p.notes)
    assert any("partial profile" in n for n in p.notes)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad-yaml.yaml", r"^bad-yaml\.yaml:18: document 1: not valid YAML"),
        ("deployment.yaml", r"^deployment\.yaml: document 0: a Deployment \(apps/v1\), not a Secc"),
        (
            "bad-version.yaml",
            r"^bad-version\.yaml: document 0: \$\.apiVersion: .*v1alpha1.* is not",
        ),
        ("bad-action.yaml", r"^bad-action\.yaml: document 1: \$\.spec\.syscalls\[0\]\.action: 'SC"),
        (
            "allow-default.yaml",
            r"^allow-default\.yaml: document 0: defaultAction SCMP_ACT_ALLOW all",
        ),
    ],
)
def test_bad_documents_name_the_file_and_the_document(name: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        _parse(name)


def test_a_bad_json_profile_names_the_document() -> None:
    where = r"^bad-action\.json: document 0: \$\.syscalls\[0\]\.action: "
    with pytest.raises(ProfileError, match=where + "unknown value 'SCMP_ACT_PERMIT'"):
        _parse("bad-action.json")
    with pytest.raises(ManifestError, match=r"^x\.json:1:\d+: document 0: not valid JSON"):
        parse_profiles('{"defaultAction": ', source="x.json", native="x86_64")


UNKNOWN_ONLY = "defaultAction: SCMP_ACT_ERRNO\nsyscalls:\n- action: SCMP_ACT_ALLOW\n  names: [no]"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no profile in the file"),
        ("---\n---\n", "no profile in the file"),
        ("- a\n- b\n", "document 0: not a SeccompProfile resource or a seccomp profile"),
        (_spo("defaultAction: SCMP_ACT_ERRNO"), "document 0: allows no system call on x86_64"),
        (_spo(UNKNOWN_ONLY), "allows no system call on x86_64; nothing to import"),
        (_spo("defaultAction: SCMP_ACT_ERRNO", version="v9"), "not a served version"),
        ("apiVersion: v1\nkind: List\nitems:\n- kind: ProfileBinding\n", "0 item 0: a Profil"),
    ],
)  # fmt: skip
def test_input_with_nothing_to_import_is_refused(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_profiles(text, source="t.yaml", native="x86_64")


def test_round_trip_of_an_emitted_profiles_names_through_spo() -> None:
    """A SeccompProfile built by hand from an emitted profile gives back its allowed names: the
    profile as spec, less what the CRD has no field for (defaultErrnoRet, comments)."""
    allowed = [
        n for r in HTTPSERVICE["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]
    ]
    doc = {
        "apiVersion": "security-profiles-operator.x-k8s.io/v1",
        "kind": "SeccompProfile",
        "metadata": {"name": "httpservice"},
        "spec": {
            "defaultAction": HTTPSERVICE["defaultAction"],
            "architectures": HTTPSERVICE["architectures"],
            "syscalls": [
                {k: v for k, v in r.items() if k != "comment"} for r in HTTPSERVICE["syscalls"]
            ],
        },
    }
    (p,) = parse_profiles(json.dumps(doc), source="h.json", native="x86_64")
    assert sorted(p.allowed) == sorted(allowed)
    (q,) = parse_profiles(json.dumps(HTTPSERVICE), source="h.json", native="x86_64")
    assert sorted(q.allowed) == sorted(allowed)
