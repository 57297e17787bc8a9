"""The seccomp audit records of one container (read in a thread while it runs), and their
attribution to the runtime's init or the workload."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from seccompgen.parsing.audit import AuditRecord
from seccompgen.runtime import is_runtime_init
from seccompgen.verify.model import POLL, Denial

_QUIET: Final = 0.5


class RecordCollector:
    """Seccomp audit records of one container, read in a thread while it runs.

    The listener takes every record; a record belongs to the container when its pid's
    ``/proc/PID/cgroup`` names the container id (checked on arrival and remembered per pid,
    so the last records of a process that has exited in the meantime still count).
    """

    def __init__(self) -> None:
        from seccompgen.tracing.audit import AuditListener

        self.listener = AuditListener()
        self.listener.open()  # raises TracerError without CAP_AUDIT_READ
        self.container_id: str | None = None
        self.init_pids: set[int] = set()
        """Host pids known to be the container's init (from the engine after the start)."""
        self.workload_exe: str | None = None
        """The workload's path inside the container: a record of a process that was gone
        before its cgroup could be read still counts when it names this ``exe``."""
        self.records: list[AuditRecord] = []
        self._pending: list[AuditRecord] = []
        self._members: dict[int, bool] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._last = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="seccompgen-audit", daemon=True)
        self._thread.start()

    def _belongs(self, pid: int) -> bool | None:
        known = self._members.get(pid)
        if known is not None:
            return known
        cid = self.container_id
        if cid is None:
            return None
        try:
            text = Path(f"/proc/{pid}/cgroup").read_text(encoding="utf-8")
        except OSError:
            return None
        self._members[pid] = cid in text
        return self._members[pid]

    def _run(self) -> None:
        with contextlib.suppress(Exception):
            while not self._stop.is_set():
                for record in self.listener.records(0.2):
                    self._last = time.monotonic()
                    with self._lock:
                        member = self._belongs(record.pid)
                        if member:
                            self.records.append(record)
                        elif member is None:
                            self._pending.append(record)

    def stop(self) -> list[AuditRecord]:
        """Wait until no record arrived for a moment, stop, and return the container's records.

        Records whose pid could not be placed on arrival count when the same pid was placed in
        the container later, or is a known init pid, or made a record naming the workload's
        ``exe``: the runtime's init execs the workload in place (same pid), so a short job's
        init records count even when the process was gone before any of them was read.
        """
        deadline = time.monotonic() + 5.0
        while time.monotonic() - self._last < _QUIET and time.monotonic() < deadline:
            time.sleep(POLL)
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.listener.close()
        with self._lock:
            exe_pids = {
                r.pid
                for r in self._pending
                if self.workload_exe is not None and r.exe == self.workload_exe
            }
            late = [
                r
                for r in self._pending
                if self._members.get(r.pid) or r.pid in self.init_pids or r.pid in exe_pids
            ]
            out = sorted(self.records + late, key=lambda r: (r.timestamp, r.serial))
        return out

    def close(self) -> None:
        """Stop without waiting (idempotent)."""
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.listener.close()


def attribute(records: Sequence[AuditRecord]) -> tuple[Denial, ...]:
    """Group records by syscall name and process kind (runtime init or workload), sorted."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for r in records:
        process = "runtime" if is_runtime_init(r) else "workload"
        name = r.name or f"#{r.syscall_number}"
        counts[(process, name, r.comm or "?", r.exe or "?")] += 1
    return tuple(
        Denial(name=name, process=process, comm=comm, exe=exe, count=n)
        for (process, name, comm, exe), n in sorted(counts.items())
    )
