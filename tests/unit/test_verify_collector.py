"""RecordCollector places records of processes that were gone before they were read.

The audit listener is replaced by a fake fed with records of a pid no process has (so its
``/proc/PID/cgroup`` cannot be read, as for a container program that exited at once): what the
collector keeps then rests on the workload's ``exe`` and the init pid alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import ClassVar

import pytest

import seccompgen.tracing.audit
from seccompgen.parsing.audit import AuditRecord, SeccompAction
from seccompgen.verify import NOOP_PATH, RecordCollector

GONE = 4_194_304 + 4321  # above the largest pid_max: no /proc entry, ever


def record(serial: int, pid: int, exe: str, name: str) -> AuditRecord:
    return AuditRecord(
        timestamp=1.0 + serial / 1000, serial=serial, pid=pid, comm=exe.rsplit("/", 1)[-1],
        exe=exe, uid=0, arch="x86_64", syscall_number=0, name=name, action=SeccompAction.LOG,
        errno=None, raw="",
    )  # fmt: skip


class FakeListener:
    """Hands out one batch of records, then none."""

    batch: ClassVar[list[AuditRecord]] = []

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def records(self, timeout: float) -> Iterator[AuditRecord]:
        batch, FakeListener.batch = FakeListener.batch, []
        if not batch:
            time.sleep(0.01)  # as the real listener waits for records
        yield from batch


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordCollector]:
    monkeypatch.setattr(seccompgen.tracing.audit, "AuditListener", FakeListener)
    c = RecordCollector()
    yield c
    c.close()


RUNTIME_INIT = [
    record(1, GONE, "/usr/bin/runc", "capset"),
    record(2, GONE, "/usr/bin/runc", "execve"),
]
PROGRAM = [record(3, GONE, NOOP_PATH, "arch_prctl"), record(4, GONE, NOOP_PATH, "exit_group")]
OTHER = [record(5, GONE + 1, "/usr/bin/runc", "read")]


def test_the_init_records_of_a_gone_program_count_by_its_exe(collector: RecordCollector) -> None:
    collector.container_id = "0123456789ab"
    collector.workload_exe = NOOP_PATH
    FakeListener.batch = RUNTIME_INIT + PROGRAM + OTHER
    kept = collector.stop()
    # The init execs the program in place: its records before the exec share the pid.
    assert [r.name for r in kept] == ["capset", "execve", "arch_prctl", "exit_group"]


def test_without_the_exe_nothing_of_a_gone_process_is_kept(collector: RecordCollector) -> None:
    collector.container_id = "0123456789ab"
    FakeListener.batch = RUNTIME_INIT + PROGRAM
    assert collector.stop() == []


def test_a_known_init_pid_places_its_records(collector: RecordCollector) -> None:
    collector.container_id = "0123456789ab"
    collector.init_pids.add(GONE)
    FakeListener.batch = RUNTIME_INIT + OTHER
    assert [r.name for r in collector.stop()] == ["capset", "execve"]
