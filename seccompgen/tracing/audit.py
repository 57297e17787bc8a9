"""Live reader of seccomp audit records from the kernel's audit netlink multicast group.

:class:`AuditListener` opens a ``NETLINK_AUDIT`` socket and joins the ``AUDIT_NLGRP_READLOG``
multicast group (``include/uapi/linux/audit.h``), the read-only "best effort" log feed the kernel
offers next to auditd's unicast connection. It needs ``CAP_AUDIT_READ`` (checked by
``audit_multicast_bind`` in ``kernel/audit.c``), works whether or not auditd runs, changes no
audit setting and does not compete with auditd: every listener gets its own copy.

Why not ``dmesg`` / ``/dev/kmsg``: with no auditd connected, the kernel also prints each record
(``kauditd_printk_skb``), but through ``printk_ratelimit()``, i.e. ``kernel.printk_ratelimit``
(5 s) and ``kernel.printk_ratelimit_burst`` (10): about ten records per five seconds, the rest
dropped without a trace in the log. A Go service under an ``SCMP_ACT_LOG`` profile easily
makes hundreds of logged calls at start-up, so the text log is a sample, not the set. (On the
recording host a burst of 13 records left 10 in ``dmesg``; see ``traces/README.md``.) With
auditd running the kernel does not print them at all; auditd's log is then complete and can be
read with :mod:`seccompgen.parsing.audit`.

The multicast feed is not subject to printk's limit. Two losses remain possible and are
reported rather than hidden: the socket's receive buffer overflowing (``ENOBUFS``, counted in
:attr:`AuditListener.overruns`; the buffer is raised to 8 MiB to make that unlikely), and the
kernel's own backlog (``audit_backlog_limit``, see ``auditctl -s``), where a task logging
faster than ``kauditd`` drains is made to wait rather than dropped in most cases.

Environment notes, checked on Linux 6.x:

* auditd not running: records still reach the multicast group (and, rate-limited, the kernel
  log). Nothing needs to be configured; ``/proc/sys/kernel/seccomp/actions_logged`` must list
  ``log`` (the default) for ``SECCOMP_RET_LOG`` to be logged at all.
* ``audit=0`` on the kernel command line: ``audit_enable`` marks audit ``AUDIT_DISABLED`` and
  ``audit_init`` returns before creating the audit netlink socket, so ``socket()`` fails with
  ``EPROTONOSUPPORT`` (as on a kernel built without ``CONFIG_AUDIT``) and no seccomp record is
  produced anywhere, kernel log included. :class:`TracerError` says so.
* The kernel multicasts from the initial network namespace only: run the listener on the host
  or in a container with ``--network host`` and ``--cap-add AUDIT_READ``.
"""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import struct
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from seccompgen.errors import ParseError, TracerError
from seccompgen.parsing.audit import AUDIT_SECCOMP, AuditRecord, parse_payload

NETLINK_AUDIT = 9
"""``NETLINK_AUDIT`` from ``include/uapi/linux/netlink.h``."""

AUDIT_NLGRP_READLOG = 1
"""The read-only audit multicast group (``enum audit_nlgrps`` in ``include/uapi/linux/audit.h``)."""

_NLMSG_HDR = struct.Struct("=IHHII")  # struct nlmsghdr: len, type, flags, seq, pid
_NLMSG_ALIGN = 4
_RCVBUF = 8 << 20
_RECV_SIZE = 1 << 16
_ACTIONS_LOGGED = Path("/proc/sys/kernel/seccomp/actions_logged")


def split_netlink(buffer: bytes) -> list[tuple[int, str]]:
    """Split one datagram of audit netlink messages into ``(type, text)`` pairs.

    Each ``struct nlmsghdr`` (netlink(7)) is followed by the record text; messages are aligned
    to 4 bytes. A truncated or inconsistent header ends the walk (the rest is not a message).
    """
    out: list[tuple[int, str]] = []
    offset = 0
    while offset + _NLMSG_HDR.size <= len(buffer):
        length, msg_type, _flags, _seq, _pid = _NLMSG_HDR.unpack_from(buffer, offset)
        if length < _NLMSG_HDR.size or offset + length > len(buffer):
            break
        payload = buffer[offset + _NLMSG_HDR.size : offset + length]
        text = payload.split(b"\0", 1)[0].decode("utf-8", errors="replace")
        out.append((msg_type, text))
        offset += (length + _NLMSG_ALIGN - 1) & ~(_NLMSG_ALIGN - 1)
    return out


def seccomp_logging_problem(path: Path = _ACTIONS_LOGGED) -> str | None:
    """Why ``SECCOMP_RET_LOG`` calls would not be logged on this host, or ``None``.

    The kernel logs an action only if its name is in ``kernel.seccomp.actions_logged``
    (seccomp(2), "/proc interfaces").
    """
    try:
        names = path.read_text(encoding="ascii").split()
    except OSError:
        return f"{path} is missing: this kernel has no seccomp logging (Linux >= 4.14 needed)"
    if "log" not in names:
        return (
            f"'log' is not in {path} ({' '.join(names) or 'empty'}): SCMP_ACT_LOG calls are "
            "not logged; add it with: sysctl kernel.seccomp.actions_logged='... log'"
        )
    return None


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Which records to keep: every given criterion must match (``None`` means any).

    ``pids`` are as the kernel logs them: thread-group ids in the initial pid namespace (host
    pids, not the pids a container sees).

    ``cgroup`` is a substring of the caller's ``/proc/PID/cgroup`` (a container id, say),
    read when the record arrives; a process that has already exited does not match.
    """

    pids: frozenset[int] | None = None
    comms: frozenset[str] | None = None
    exes: frozenset[str] | None = None
    cgroup: str | None = None

    def matches(self, record: AuditRecord) -> bool:
        """Whether ``record`` passes the filter."""
        if self.pids is not None and record.pid not in self.pids:
            return False
        if self.comms is not None and record.comm not in self.comms:
            return False
        if self.exes is not None and record.exe not in self.exes:
            return False
        if self.cgroup is not None:
            try:
                text = Path(f"/proc/{record.pid}/cgroup").read_text(encoding="utf-8")
            except OSError:
                return False
            return self.cgroup in text
        return True


class AuditListener:
    """A subscription to the kernel's audit multicast group, as a context manager.

    ``with AuditListener(pids={1234}) as listener: for r in listener.records(10): ...``.
    Records are parsed with :func:`seccompgen.parsing.audit.parse_payload`; non-seccomp audit
    messages are counted in :attr:`other` and records dropped by the filter in :attr:`filtered`.
    """

    def __init__(
        self,
        *,
        pids: Iterable[int] | None = None,
        comms: Iterable[str] | None = None,
        exes: Iterable[str] | None = None,
        cgroup: str | None = None,
    ) -> None:
        self.filter = RecordFilter(
            pids=None if pids is None else frozenset(pids),
            comms=None if comms is None else frozenset(comms),
            exes=None if exes is None else frozenset(exes),
            cgroup=cgroup,
        )
        self._sock: socket.socket | None = None
        self.overruns = 0
        """Times the receive buffer overflowed (``ENOBUFS``): records were lost."""
        self.other = 0
        """Audit messages of other types received."""
        self.filtered = 0
        """Seccomp records that did not pass the filter."""
        self.malformed = 0
        """Seccomp messages that could not be parsed (kept out of :meth:`records`)."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Create the socket and join the group; :class:`TracerError` when the kernel refuses."""
        if self._sock is not None:
            return
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
        except OSError as e:
            if e.errno in (errno.EPROTONOSUPPORT, errno.EAFNOSUPPORT):
                raise TracerError(
                    "the kernel offers no audit netlink socket: it was built without "
                    "CONFIG_AUDIT or booted with audit=0, and then logs no seccomp records at all",
                    hint="boot a kernel with audit enabled (remove audit=0 from the kernel "
                    "command line), or record with the strace backend instead",
                ) from e
            raise TracerError(f"cannot open an audit netlink socket: {e.strerror}") from e
        try:
            with contextlib.suppress(OSError):
                # SO_RCVBUFFORCE (root) goes past net.core.rmem_max; SO_RCVBUF is the fallback.
                sock.setsockopt(socket.SOL_SOCKET, 33, _RCVBUF)  # SO_RCVBUFFORCE, socket(7)
            with contextlib.suppress(OSError):
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) < _RCVBUF:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
            sock.bind((0, 1 << (AUDIT_NLGRP_READLOG - 1)))
        except OSError as e:
            sock.close()
            if e.errno in (errno.EPERM, errno.EACCES):
                raise TracerError(
                    "reading the kernel's audit log feed needs CAP_AUDIT_READ "
                    f"(bind to the audit multicast group failed: {e.strerror})",
                    hint="run as root, or give the capability (setcap cap_audit_read+ep, or "
                    "docker run --cap-add AUDIT_READ --network host); alternatively pass "
                    "auditd's log or a dmesg dump to `seccompgen learn --from`",
                ) from e
            raise TracerError(f"cannot join the audit multicast group: {e.strerror}") from e
        self._sock = sock

    def close(self) -> None:
        """Leave the group and close the socket (idempotent)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def messages(self, timeout: float | None) -> Iterator[tuple[int, str]]:
        """Every audit message ``(type, text)`` that arrives within ``timeout`` seconds.

        ``None`` waits forever (until the caller stops iterating); ``0`` returns what is queued.
        """
        sock = self._sock
        if sock is None:
            raise TracerError("the audit listener is not open", hint="use it in a with block")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([sock], [], [], wait)
            if not ready:
                return
            try:
                data = sock.recv(_RECV_SIZE)
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    # The kernel dropped messages for this socket (netlink(7), ENOBUFS); keep
                    # reading, the loss is reported through ``overruns``.
                    self.overruns += 1
                    continue
                if e.errno == errno.EINTR:
                    continue
                raise TracerError(f"reading the audit socket failed: {e.strerror}") from e
            yield from split_netlink(data)

    def records(self, timeout: float | None) -> Iterator[AuditRecord]:
        """Seccomp records that pass the filter, arriving within ``timeout`` seconds."""
        for msg_type, text in self.messages(timeout):
            record = self._accept(msg_type, text)
            if record is not None:
                yield record

    def drain(self) -> list[AuditRecord]:
        """The matching seccomp records already queued on the socket, without waiting."""
        return list(self.records(0))

    def _accept(self, msg_type: int, text: str) -> AuditRecord | None:
        if msg_type != AUDIT_SECCOMP:
            self.other += 1
            return None
        try:
            record = parse_payload(text, source="<audit netlink>")
        except ParseError:
            self.malformed += 1
            return None
        if not self.filter.matches(record):
            self.filtered += 1
            return None
        return record
