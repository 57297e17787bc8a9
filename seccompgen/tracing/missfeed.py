"""The misses of one run: the LOG records of its processes, read from the kernel's audit feed.

The delta backends (:mod:`seccompgen.tracing.backends.delta` on the host,
:mod:`seccompgen.containers.delta` in a container) run a workload under the staging variant of
a profile; the kernel writes one audit record (type 1326) for each call the profile does not
list. :class:`MissFeed` reads them from the audit netlink multicast group
(:class:`~seccompgen.tracing.audit.AuditListener`) in a thread and keeps those of the run's
processes, which it follows through the proc connector's fork events (:class:`ForkWatcher`)
and ``/proc/PID/task/TID/children`` (proc(5)); why each record is taken or left is told in the
host delta backend's module docstring.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Final

from seccompgen.parsing.audit import AuditRecord, SeccompAction
from seccompgen.tracing.audit import AuditListener

#: Seconds between looks at the known processes' children.
CHILD_POLL: Final = 0.25
_AUDIT_WAIT: Final = 0.05  # seconds the audit reader blocks before looking at its stop flag


def _children(pid: int) -> set[int]:
    """The children of every thread of ``pid`` (``/proc/PID/task/TID/children``, proc(5))."""
    out: set[int] = set()
    with contextlib.suppress(OSError):
        for task in os.scandir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError):
                out.update(int(c) for c in Path(task.path, "children").read_text().split())
    return out


NETLINK_CONNECTOR: Final = 11  # include/uapi/linux/netlink.h
_CN_IDX_PROC: Final = 1  # include/uapi/linux/connector.h
_CN_VAL_PROC: Final = 1
_PROC_CN_MCAST_LISTEN: Final = 1  # enum proc_cn_mcast_op, include/uapi/linux/cn_proc.h
_PROC_EVENT_FORK: Final = 0x00000001  # enum what in struct proc_event
_NLMSG_HDR = struct.Struct("=IHHII")  # struct nlmsghdr
_CN_MSG = struct.Struct("=IIIIHH")  # struct cb_id {idx, val}, seq, ack, len, flags
_EVENT_HEAD = struct.Struct("=IIQ")  # struct proc_event: what, cpu, timestamp_ns
_FORK = struct.Struct("=iiii")  # fork: parent_pid, parent_tgid, child_pid, child_tgid
_NLMSG_DONE: Final = 3


class ForkWatcher:
    """Fork notifications from the kernel's process events connector (``CONFIG_PROC_EVENTS``).

    The connector (``drivers/connector/cn_proc.c``) multicasts a ``PROC_EVENT_FORK`` with the
    parent's and the child's thread-group ids for every fork and thread creation; it needs
    ``CAP_NET_ADMIN`` in the initial namespaces. Following it, a child that runs for a few
    milliseconds and is reaped before its first audit record is read is still known to be a
    descendant. :meth:`read` returns ``(parent_tgid, child_tgid)`` pairs for new processes.
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            self.sock.bind((os.getpid(), _CN_IDX_PROC))
            op = struct.pack("=I", _PROC_CN_MCAST_LISTEN)
            cn = _CN_MSG.pack(_CN_IDX_PROC, _CN_VAL_PROC, 0, 0, len(op), 0) + op
            hdr = _NLMSG_HDR.pack(_NLMSG_HDR.size + len(cn), _NLMSG_DONE, 0, 0, os.getpid())
            self.sock.send(hdr + cn)
        except OSError:
            self.sock.close()
            raise
        self.sock.setblocking(False)
        self.overruns = 0

    def read(self) -> list[tuple[int, int]]:
        """The fork events queued now: ``(parent_tgid, child_tgid)`` of new processes."""
        out: list[tuple[int, int]] = []
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                return out
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    self.overruns += 1
                    continue
                raise
            offset = 0
            while offset + _NLMSG_HDR.size <= len(data):
                length = _NLMSG_HDR.unpack_from(data, offset)[0]
                if length < _NLMSG_HDR.size:
                    break
                body = offset + _NLMSG_HDR.size + _CN_MSG.size
                if body + _EVENT_HEAD.size + _FORK.size <= offset + length:
                    what = _EVENT_HEAD.unpack_from(data, body)[0]
                    if what == _PROC_EVENT_FORK:
                        _ppid, ptgid, cpid, ctgid = _FORK.unpack_from(data, body + _EVENT_HEAD.size)
                        if cpid == ctgid:  # a new process, not a new thread
                            out.append((ptgid, ctgid))
                offset += (length + 3) & ~3

    def close(self) -> None:
        """Stop listening."""
        self.sock.close()


class MissFeed:
    """The LOG records of one run's processes, read from the audit feed in a thread.

    :meth:`open` joins the audit multicast group (and the fork connector when it can) before
    the target starts, since records are multicast only to sockets bound when they are sent;
    :meth:`start` begins reading once the target's first pid is known (what arrived meanwhile
    waits in the sockets). A record belongs to the run when its pid is known (the roots, their
    children from the fork connector or ``/proc/PID/task/TID/children``), or when ``claim(pid)``
    says so; a record from an unknown pid waits until :meth:`stop`, where it belongs to the run
    when its pid has become known or ``late(record)`` says so, and else counts in
    :attr:`unattributed`. Records of the run go to ``output`` one per line, except those
    ``aside(record)`` picks (a container runtime's own calls), which are kept in :attr:`aside`.
    A record from a pid that ``foreign(pid)`` knows is not the run's (a process that shares the
    run's container but not its process tree) is dropped, neither written nor counted.
    """

    def __init__(
        self,
        output: Path,
        claim: Callable[[int], bool],
        *,
        aside: Callable[[AuditRecord], bool] | None = None,
        late: Callable[[AuditRecord], bool] | None = None,
        foreign: Callable[[int], bool] | None = None,
    ) -> None:
        self.output = output
        self.claim = claim
        self.late = late
        self.foreign = foreign
        self.set_aside = aside
        self.pids: set[int] = set()
        self.aside: list[AuditRecord] = []
        self.unattributed = 0
        self.overruns = 0
        self._listener: AuditListener | None = None
        self._forks: ForkWatcher | None = None
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._pending: list[AuditRecord] = []  # unknown pids, judged again at the end
        self._out: IO[str] | None = None
        self.error: BaseException | None = None

    def open(self, stack: contextlib.ExitStack) -> None:
        """Join the audit group and the fork connector; cleanup goes on ``stack``.

        :class:`TracerError` when the audit socket cannot be opened (no ``CAP_AUDIT_READ``).
        """
        listener = AuditListener()
        listener.open()
        stack.callback(listener.close)
        self._listener = listener
        try:
            self._forks = ForkWatcher()
            stack.callback(self._forks.close)
        except OSError:
            self._forks = None  # no proc connector: /proc polling and claim() only
        self._out = stack.enter_context(self.output.open("a", encoding="utf-8"))
        stack.callback(self.stop)

    def start(self, *roots: int) -> None:
        """Read records from now on; ``roots`` are the run's first processes (host pids)."""
        self.add(*roots)
        self._reader = threading.Thread(target=self._read, name="seccompgen-delta-audit")
        self._reader.start()

    def add(self, *pids: int) -> None:
        """Count ``pids`` (host pids) and their future children as the run's, from now on."""
        self.pids.update(pids)

    def stop(self) -> None:
        """Stop reading, judge the records still pending, flush; idempotent.

        Re-raises (once) an error the reader thread met.
        """
        self._stop.set()
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join()
        self._reader = None
        if self._listener is not None:
            self.overruns = self._listener.overruns
        self._follow_forks()
        for record in self._pending:
            if record.pid in self.pids or (self.late is not None and self.late(record)):
                self._emit(record)
            elif self.foreign is None or not self.foreign(record.pid):
                self.unattributed += 1
        self._pending = []
        if self._out is not None:
            self._out.flush()
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def _read(self) -> None:
        listener = self._listener
        assert listener is not None
        next_poll = 0.0
        try:
            while True:
                stopping = self._stop.is_set()
                for record in listener.records(0 if stopping else _AUDIT_WAIT):
                    self._follow_forks()
                    self._judge(record)
                now = time.monotonic()
                if now >= next_poll:
                    self._poll_children()
                    next_poll = now + CHILD_POLL
                if stopping:
                    return
        except BaseException as e:  # re-raised by stop() in the lifecycle's thread
            self.error = e

    def _poll_children(self) -> None:
        self._follow_forks()
        for pid in list(self.pids):
            self.pids.update(_children(pid))

    def _follow_forks(self) -> None:
        if self._forks is None:
            return
        for parent, child in self._forks.read():
            if parent in self.pids:
                self.pids.add(child)

    def _judge(self, record: AuditRecord) -> None:
        if record.action is not SeccompAction.LOG:
            return
        if record.pid not in self.pids:
            if self.claim(record.pid):
                self.pids.add(record.pid)
            else:
                self._poll_children()
        if record.pid in self.pids:
            self._emit(record)
        elif self.foreign is None or not self.foreign(record.pid):
            self._pending.append(record)

    def _emit(self, record: AuditRecord) -> None:
        if self.set_aside is not None and self.set_aside(record):
            self.aside.append(record)
            return
        assert self._out is not None
        self._out.write(record.raw + "\n")
        self._out.flush()
