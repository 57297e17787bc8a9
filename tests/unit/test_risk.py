"""The bundled risk notes (seccompgen/data/risk.json): names libseccomp knows, each with a
reason and a source."""

from __future__ import annotations

import re

from seccompgen import syscalls
from seccompgen.risk import risk_notes

# A CVE id, a manual page reference such as ptrace(2), or a kernel documentation path.
_SOURCE = re.compile(r"CVE-\d{4}-\d{4,}|[a-z_0-9]+\(\d\)|Documentation/[\w/.-]+\.rst")


def test_every_name_is_known_to_libseccomp_on_x86_64_or_aarch64() -> None:
    known = syscalls.known_names("x86_64") | syscalls.known_names("aarch64")
    unknown = sorted(set(risk_notes()) - known)
    assert not unknown, f"risk.json names syscalls libseccomp does not know: {unknown}"


def test_every_entry_has_a_reason_and_a_source() -> None:
    notes = risk_notes()
    assert len(notes) >= 30
    for name, note in notes.items():
        assert note.name == name
        assert len(note.reason) > 10, name
        assert _SOURCE.search(note.source), f"{name}: source {note.source!r} cites nothing"


def test_the_calls_the_issue_names_are_covered() -> None:
    notes = risk_notes()
    for name in (
        "ptrace", "mount", "bpf", "keyctl", "io_uring_setup", "io_uring_enter",
        "io_uring_register", "userfaultfd", "perf_event_open", "personality", "unshare",
        "setns", "clone", "process_vm_readv", "process_vm_writev", "kexec_load",
        "kexec_file_load", "init_module", "finit_module", "delete_module", "chroot",
        "pivot_root",
    ):  # fmt: skip
        assert name in notes, name
