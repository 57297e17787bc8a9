"""What the HTML report reads from the trace store: verify results (``verified.json``), and
the names only ``learn`` recorded."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from _rules import missing_tool
from click.testing import CliRunner

from seccompgen import pipeline
from seccompgen._cli import cli
from seccompgen.errors import StoreError
from seccompgen.pipeline import enforced
from seccompgen.profile.emit import profile_digest
from seccompgen.profile.model import load_profile
from seccompgen.store import TraceStore, VerifiedProfile
from seccompgen.verify import VerifyReport, VerifyRequest
from seccompgen.verify.model import Denial, RunResult

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "profiles" / "httpservice.json"


def _entry(digest: str, target: str, when: str, passed: bool = True) -> VerifiedProfile:
    return VerifiedProfile(digest, "/p.json", target, passed, "enforce run passed", when)


def test_results_round_trip_newest_first_and_replace_the_same_target(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    assert store.verified() == ()
    store.record_verified(_entry("sha256:a", "img:1", "2026-01-01T00:00:00"))
    store.record_verified(_entry("sha256:a", "img:2", "2026-01-02T00:00:00"))
    store.record_verified(_entry("sha256:b", "img:1", "2026-01-03T00:00:00"))
    store.record_verified(_entry("sha256:a", "img:1", "2026-01-04T00:00:00", passed=False))
    found = store.verified("sha256:a")
    assert [(e.target, e.passed) for e in found] == [("img:1", False), ("img:2", True)]
    assert len(store.verified()) == 3
    data = json.loads(store.verified_path.read_text())
    assert data["format"] == "seccompgen-verified" and data["version"] == 1


def test_a_broken_record_names_the_file(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    store.verified_path.write_text("{}")
    with pytest.raises(StoreError, match=r"verified\.json"):
        store.verified()


def _fake_report(passed: bool) -> VerifyReport:
    run = RunResult("enforce", True, None if passed else "exit status 2", 0, None, "sigterm")
    denials = () if passed else (Denial("ptrace", "workload", "svc", "/svc", 1),)
    return VerifyReport(passed=passed, enforce=run, denials=denials)


def test_verify_records_its_result_in_an_existing_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "traces"
    store.mkdir()
    monkeypatch.setattr(enforced, "run_verify", lambda req, log: _fake_report(False))
    req = VerifyRequest(profile=PROFILE, image="svc:1", store=store)
    assert not pipeline.verify(req).passed
    (entry,) = TraceStore(store).verified()
    assert entry.digest == profile_digest(load_profile(PROFILE))
    assert entry.target == "svc:1" and not entry.passed
    assert "exit status 2" in entry.summary and "refused: ptrace" in entry.summary


def test_verify_creates_no_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enforced, "run_verify", lambda req, log: _fake_report(True))
    req = VerifyRequest(profile=PROFILE, image="svc:1", store=tmp_path / "none")
    assert pipeline.verify(req).passed
    assert not (tmp_path / "none").exists()


def test_html_report_shows_the_result_for_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("dot") is None:
        missing_tool("Graphviz's dot is not on PATH (apt-get install graphviz)")
    store = TraceStore(tmp_path / "traces")
    log = REPO / "traces" / "recorded" / "go_f_ttt_raw.strace"
    done = CliRunner().invoke(cli, ["import", str(log), "-w", "svc", "--store", str(store.root)])
    assert done.exit_code == 0, done.output
    opts = pipeline.ReportOptions(store=store, profile=PROFILE, runtime="none", go_runtime="off")
    rep = pipeline.report(opts)
    assert "no verify result recorded" in pipeline.html_report(opts, rep)
    monkeypatch.setattr(enforced, "run_verify", lambda req, log: _fake_report(True))
    pipeline.verify(VerifyRequest(profile=PROFILE, image="svc:1", store=store.root))
    page = pipeline.html_report(opts, rep)
    assert '<span id="verify" class="pass">passed</span>' in page
    assert "svc:1: enforce run passed" in page


def test_names_only_learn_recorded_are_marked_learned_from_log(tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        missing_tool("Graphviz's dot is not on PATH (apt-get install graphviz)")
    store = tmp_path / "traces"
    runner = CliRunner()
    log = REPO / "traces" / "recorded" / "go_f_ttt_raw.strace"
    audit = REPO / "traces" / "recorded" / "audit" / "audit.log"
    for args in (
        ["import", str(log), "-w", "svc", "--store", str(store)],
        ["learn", "--from", str(audit), "-w", "svc", "--store", str(store)],
    ):
        done = runner.invoke(cli, args)
        assert done.exit_code == 0, done.output
    opts = pipeline.ReportOptions(store=TraceStore(store), runtime="none", go_runtime="off")
    page = pipeline.html_report(opts, pipeline.report(opts))
    learned = re.findall(r'data-syscall="([^"]+)">(?:(?!</tr>).)*learned from LOG', page)
    assert learned, "no row says learned from LOG"
    rows = re.findall(r'data-syscall="([^"]+)">(?:(?!</tr>).)*<td>observed</td>', page)
    assert rows and not set(learned) & set(rows)
