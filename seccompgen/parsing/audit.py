"""Pure parser for kernel seccomp audit records (type 1326, ``AUDIT_SECCOMP``).

When a seccomp filter returns ``SECCOMP_RET_LOG`` (``SCMP_ACT_LOG``), a ``SECCOMP_RET_KILL_*``,
or any non-allow action of a filter loaded with ``SECCOMP_FILTER_FLAG_LOG`` (seccomp(2)), the
kernel writes one audit record per call (``__audit_seccomp`` in ``kernel/auditsc.c``)::

    audit(1700000000.123:456): auid=4294967295 uid=0 gid=0 ses=4294967295 [subj=LABEL]
        pid=1234 comm="app" exe="/app" sig=0 arch=c000003e syscall=165 compat=0 ip=0x4a1b2c
        code=0x7ffc0000

That text reaches users in three shapes, all read here, line by line:

* the netlink payload itself (what :mod:`seccompgen.tracing.audit` receives; the record type is
  in the netlink header, so :func:`parse_payload` takes it separately), or a file of such
  payloads, one a line, starting with ``audit(``;
* auditd's log (``/var/log/audit/audit.log``): ``type=SECCOMP msg=audit(...): ...``, optionally
  ``node=HOST`` first, and with ``log_format = ENRICHED`` a ``\\x1d`` (GS) separator followed by
  auditd's own translations (``ARCH=x86_64 SYSCALL=getppid ...``), which are ignored here;
* the kernel log, when no auditd is connected (``kauditd_printk_skb`` in ``kernel/audit.c``):
  ``audit: type=1326 audit(...): ...`` behind any prefix, as printed by ``dmesg``
  (``[ 1234.567890] ``), ``dmesg -T`` (``[Tue Nov 28 07:40:00 2026] ``), ``journalctl -k``
  (``Nov 28 07:40:00 host kernel: ``) or read raw from ``/dev/kmsg`` (``5,1234,5678,-;``).

Lines that are not audit records at all (other kernel messages, blank lines) and audit records
of other types (``type=1300``, ``type=SYSCALL``, ...) are skipped and counted in
:class:`AuditParseStats`. A line that names the seccomp type (or, with no type, starts with
``audit(``) but cannot be read raises :class:`~seccompgen.errors.ParseError`; nothing else is
raised, whatever the input.

Decoding follows the kernel's own definitions:

* ``arch`` is an ``AUDIT_ARCH_*`` value (``include/uapi/linux/audit.h``: the ELF ``EM_*`` machine
  of ``include/uapi/linux/elf-em.h`` ORed with ``__AUDIT_ARCH_64BIT`` 0x80000000 and
  ``__AUDIT_ARCH_LE`` 0x40000000), mapped to libseccomp's architecture names (libseccomp's
  ``SCMP_ARCH_*`` tokens are these same values). An x32 process runs with
  ``AUDIT_ARCH_X86_64`` and its syscall numbers carry ``__X32_SYSCALL_BIT`` 0x40000000
  (``arch/x86/include/uapi/asm/unistd.h``), so such records are given arch ``x32``.
* ``syscall`` is resolved to a name with libseccomp (:func:`seccompgen.syscalls.resolve_number`);
  a number it does not know gives ``name=None`` (the record is kept, the caller decides).
* ``code`` is the filter's return value: the action in the high 16 bits (``SECCOMP_RET_*`` of
  seccomp(2) / ``include/uapi/linux/seccomp.h``) and ``SECCOMP_RET_DATA`` in the low 16.
  ``kernel/seccomp.c`` logs the action alone (``filter_ret & SECCOMP_RET_ACTION_FULL``), so
  ``SCMP_ACT_ERRNO(EPERM)`` arrives as ``code=0x50000`` and :attr:`AuditRecord.errno` is
  ``None``; it is filled in only for a record that does carry the data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from seccompgen import syscalls
from seccompgen.errors import ParseError, SyscallTableError
from seccompgen.events import SyscallEvent

AUDIT_SECCOMP = 1326
"""The audit record type of seccomp records (``include/uapi/linux/audit.h``)."""

# AUDIT_ARCH_* (include/uapi/linux/audit.h) -> libseccomp architecture name. The EM_* values are
# from include/uapi/linux/elf-em.h: EM_386 3, EM_68K 4, EM_MIPS 8, EM_PARISC 15, EM_PPC 20,
# EM_PPC64 21, EM_S390 22, EM_ARM 40, EM_SH 42, EM_X86_64 62, EM_AARCH64 183, EM_RISCV 243,
# EM_LOONGARCH 258. libseccomp's "sh" is little-endian SuperH (AUDIT_ARCH_SHEL) and "sheb" the
# big-endian one (AUDIT_ARCH_SH), see SCMP_ARCH_SH / SCMP_ARCH_SHEB in seccomp.h.
AUDIT_ARCHES: Mapping[int, str] = MappingProxyType(
    {
        0xC000003E: "x86_64",  # EM_X86_64 | 64BIT | LE
        0x40000003: "x86",  # EM_386 | LE (AUDIT_ARCH_I386)
        0xC00000B7: "aarch64",  # EM_AARCH64 | 64BIT | LE
        0x40000028: "arm",  # EM_ARM | LE
        0xC00000F3: "riscv64",  # EM_RISCV | 64BIT | LE
        0xC0000102: "loongarch64",  # EM_LOONGARCH | 64BIT | LE
        0x00000004: "m68k",  # EM_68K
        0x00000008: "mips",  # EM_MIPS
        0x40000008: "mipsel",  # EM_MIPS | LE
        0x80000008: "mips64",  # EM_MIPS | 64BIT
        0xC0000008: "mipsel64",  # EM_MIPS | 64BIT | LE
        0xA0000008: "mips64n32",  # EM_MIPS | 64BIT | __AUDIT_ARCH_CONVENTION_MIPS64_N32
        0xE0000008: "mipsel64n32",  # EM_MIPS | 64BIT | LE | CONVENTION_MIPS64_N32
        0x00000014: "ppc",  # EM_PPC
        0x80000015: "ppc64",  # EM_PPC64 | 64BIT
        0xC0000015: "ppc64le",  # EM_PPC64 | 64BIT | LE
        0x00000016: "s390",  # EM_S390
        0x80000016: "s390x",  # EM_S390 | 64BIT
        0x4000002A: "sh",  # EM_SH | LE (AUDIT_ARCH_SHEL)
        0x0000002A: "sheb",  # EM_SH (AUDIT_ARCH_SH)
        0x0000000F: "parisc",  # EM_PARISC
        0x8000000F: "parisc64",  # EM_PARISC | 64BIT
    }
)
"""``AUDIT_ARCH_*`` value -> libseccomp architecture name, for every arch in ``syscalls.ARCHES``
except ``x32`` (which the kernel reports as x86_64 with the x32 bit in the syscall number)."""

_AUDIT_ARCH_X86_64 = 0xC000003E


class SeccompAction(str, Enum):
    """The seccomp action a record reports, named as in ``/proc/sys/kernel/seccomp/actions_logged``.

    Values of ``SECCOMP_RET_*`` (seccomp(2)) are in :data:`ACTION_CODES`.
    """

    KILL_PROCESS = "kill_process"
    KILL_THREAD = "kill_thread"
    TRAP = "trap"
    ERRNO = "errno"
    USER_NOTIF = "user_notif"
    TRACE = "trace"
    LOG = "log"
    ALLOW = "allow"

    @property
    def scmp(self) -> str:
        """The runtime-spec / libseccomp action name (``SCMP_ACT_LOG``, ...)."""
        return "SCMP_ACT_" + self.name


ACTION_CODES: Mapping[int, SeccompAction] = MappingProxyType(
    {
        0x80000000: SeccompAction.KILL_PROCESS,  # SECCOMP_RET_KILL_PROCESS
        0x00000000: SeccompAction.KILL_THREAD,  # SECCOMP_RET_KILL_THREAD (SECCOMP_RET_KILL)
        0x00030000: SeccompAction.TRAP,  # SECCOMP_RET_TRAP
        0x00050000: SeccompAction.ERRNO,  # SECCOMP_RET_ERRNO
        0x7FC00000: SeccompAction.USER_NOTIF,  # SECCOMP_RET_USER_NOTIF
        0x7FF00000: SeccompAction.TRACE,  # SECCOMP_RET_TRACE
        0x7FFC0000: SeccompAction.LOG,  # SECCOMP_RET_LOG
        0x7FFF0000: SeccompAction.ALLOW,  # SECCOMP_RET_ALLOW
    }
)
"""``SECCOMP_RET_*`` action value (``code & SECCOMP_RET_ACTION_FULL``) -> action."""

_RET_ACTION_FULL = 0xFFFF0000  # SECCOMP_RET_ACTION_FULL
_RET_DATA = 0x0000FFFF  # SECCOMP_RET_DATA


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One seccomp audit record, decoded.

    ``timestamp`` and ``serial`` are the record's ``audit(SECONDS.MILLIS:SERIAL)`` stamp (the
    serial is shared by every audit record type, so gaps do not mean loss). ``pid`` is the
    thread-group id of the caller (``audit_log_task``). ``comm`` and ``exe`` are decoded from
    quoted or hex form (``None`` when absent or ``(null)``). ``arch`` is the libseccomp name, or
    ``None`` for an ``AUDIT_ARCH`` value libseccomp has no name for. ``name`` is ``None`` when the
    number has no syscall name on that arch. ``errno`` is set only for ``ERRNO`` records that carry
    ``SECCOMP_RET_DATA`` (the kernel normally leaves it out, see the module docstring). ``raw``
    is the record text from ``audit(`` on. ``audit_arch`` is the undecoded ``arch`` field and
    ``signal`` the ``sig`` field (31, SIGSYS, for a kill).
    """

    timestamp: float
    serial: int
    pid: int
    comm: str | None
    exe: str | None
    uid: int | None
    arch: str | None
    syscall_number: int
    name: str | None
    action: SeccompAction
    errno: int | None
    raw: str
    audit_arch: int = _AUDIT_ARCH_X86_64
    signal: int = 0

    def to_event(self) -> SyscallEvent | None:
        """The record as a :class:`SyscallEvent`, or ``None`` when the syscall has no name.

        An audit record says that a call was attempted, not how it ended, so ``ret`` and
        ``errno`` are ``None``; it carries no arguments, and the thread is unknown, so ``tid``
        is the process id.
        """
        if self.name is None or self.arch is None:
            return None
        return SyscallEvent(
            name=self.name,
            arch=self.arch,
            pid=self.pid,
            tid=self.pid,
            ret=None,
            errno=None,
            timestamp=self.timestamp,
            args=(),
        )


@dataclass
class AuditParseStats:
    """What a parser saw besides records: counts of each kind of line.

    ``lost_reported`` is the largest ``audit_lost=N`` the kernel printed (records it dropped,
    ``audit_log_lost`` in ``kernel/audit.c``), ``printk_suppressed`` sums the kernel's
    ``N callbacks suppressed`` notices for audit printing: both mean the text log is incomplete.
    """

    lines: int = 0
    records: int = 0
    other_audit: int = 0
    not_audit: int = 0
    lost_reported: int = 0
    printk_suppressed: int = 0
    other_types: dict[str, int] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        """Lines that were not seccomp records."""
        return self.other_audit + self.not_audit


# audit(SECONDS.MILLIS:SERIAL): the stamp audit_log_start() puts at the head of every record.
_STAMP = re.compile(r"audit\((\d{1,12})\.(\d{1,9}):(\d{1,20})\):")
# The start of anything that claims to be an audit stamp, well-formed or not.
_STAMP_START = re.compile(r"\baudit\(")
# "type=1326" (kernel log), "type=SECCOMP" (auditd), "type=UNKNOWN[1326]" (auditd without a name).
_TYPE = re.compile(r"\btype=([A-Za-z_]+(?:\[\d{1,10}\])?|\d{1,10})(?=\s|$)")
# key=value pairs of the record body; values are "quoted" (no spaces or quotes inside, the
# kernel hex-encodes such strings, audit_log_n_untrustedstring) or bare tokens.
_FIELD = re.compile(r'([a-z_][a-z0-9_-]*)=("[^"]*"|\S*)')
_HEX = re.compile(r"^(?:[0-9A-F]{2})+$")
# kernel/audit.c, audit_log_lost(): "audit_lost=%u audit_rate_limit=%u audit_backlog_limit=%u"
_LOST = re.compile(r"\baudit_lost=(\d{1,20})\b")
# lib/ratelimit.c via printk_ratelimit(): "kauditd_printk_skb: 12 callbacks suppressed"
_SUPPRESSED = re.compile(r"\bkauditd_printk_skb: (\d{1,20}) callbacks suppressed")

_SECCOMP_TYPES = frozenset({"1326", "SECCOMP", "UNKNOWN[1326]"})
_REQUIRED = ("pid", "arch", "syscall", "code")


def _bad(message: str, source: str, line: int | None) -> ParseError:
    return ParseError(
        message,
        source=source,
        line=line,
        hint="the line looks like a seccomp audit record (type 1326) but is not in the kernel's "
        "format; pass the file unchanged as auditd, dmesg or journalctl wrote it",
    )


def _untrusted(value: str) -> str | None:
    """Decode a string logged with ``audit_log_untrustedstring``: quoted, hex, or ``(null)``."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    if value in ("(null)", "?", ""):
        return None
    if _HEX.match(value):
        return bytes.fromhex(value).decode("utf-8", errors="replace")
    return value


def _int(fields: Mapping[str, str], key: str, base: int, source: str, line: int | None) -> int:
    text = fields[key]
    try:
        if not text or len(text) > 24 or not text.lstrip("-").isalnum():
            raise ValueError
        return int(text, base)
    except ValueError:
        raise _bad(f"bad {key}={text!r} in a seccomp audit record", source, line) from None


def _resolve(arch: str | None, number: int) -> str | None:
    if arch is None or not syscalls.arch_supported(arch):
        return None
    try:
        return syscalls.resolve_number(arch, number)
    except SyscallTableError:
        return None


def parse_payload(text: str, *, source: str = "<netlink>", line: int | None = None) -> AuditRecord:
    """Decode the body of one seccomp record, ``audit(...): key=value ...``.

    ``text`` may have anything before the stamp (it is dropped) and auditd's enriched part
    after a ``\\x1d`` (ignored). Raises :class:`ParseError` when a field is missing or bad.
    """
    start = _STAMP_START.search(text)
    match = None if start is None else _STAMP.match(text, start.start())
    if match is None:
        raise _bad("no audit(SECONDS.MILLIS:SERIAL): stamp", source, line)
    body = text[match.end() :].split("\x1d", 1)[0]
    raw = text[match.start() : match.end()] + body
    raw = raw.rstrip("\r\n")
    fields: dict[str, str] = {}
    for key, value in _FIELD.findall(body):
        fields.setdefault(key, value)
    missing = [k for k in _REQUIRED if k not in fields]
    if missing:
        raise _bad(f"seccomp audit record without {', '.join(missing)}", source, line)
    seconds, fraction, serial = match.groups()
    timestamp = float(f"{seconds}.{fraction}")
    pid = _int(fields, "pid", 10, source, line)
    audit_arch = _int(fields, "arch", 16, source, line)
    number = _int(fields, "syscall", 10, source, line)
    code = _int(fields, "code", 16, source, line)
    if pid < 0 or not 0 <= audit_arch <= 0xFFFFFFFF or not 0 <= code <= 0xFFFFFFFF:
        raise _bad("pid, arch or code out of range in a seccomp audit record", source, line)
    action = ACTION_CODES.get(code & _RET_ACTION_FULL)
    if action is None:
        raise ParseError(
            f"unknown seccomp action in code={fields['code']}",
            source=source,
            line=line,
            hint="a kernel newer than this seccompgen; see SECCOMP_RET_* in seccomp(2)",
        )
    data = code & _RET_DATA
    errno = data if action is SeccompAction.ERRNO and data else None
    uid: int | None = None
    if "uid" in fields:
        uid = _int(fields, "uid", 10, source, line)
    signal = _int(fields, "sig", 10, source, line) if "sig" in fields else 0
    arch = AUDIT_ARCHES.get(audit_arch)
    if audit_arch == _AUDIT_ARCH_X86_64 and number & syscalls.X32_SYSCALL_BIT:
        arch = "x32"
    return AuditRecord(
        timestamp=timestamp,
        serial=int(serial),
        pid=pid,
        comm=_untrusted(fields["comm"]) if "comm" in fields else None,
        exe=_untrusted(fields["exe"]) if "exe" in fields else None,
        uid=uid,
        arch=arch,
        syscall_number=number,
        name=_resolve(arch, number),
        action=action,
        errno=errno,
        raw=raw,
        audit_arch=audit_arch,
        signal=signal,
    )


class AuditLineParser:
    """Reads seccomp records from text lines of any of the shapes in the module docstring.

    Feed lines with :meth:`feed` (one at a time, line numbers counted from 1) or iterate
    :meth:`parse`; :attr:`stats` counts what was skipped.
    """

    def __init__(self, source: str = "<audit>") -> None:
        self.source = source
        self.stats = AuditParseStats()

    def feed(self, line: str) -> AuditRecord | None:
        """The record on ``line``, or ``None`` for a line that is not a seccomp record."""
        self.stats.lines += 1
        lineno = self.stats.lines
        start = _STAMP_START.search(line)
        if start is None:
            kind = _TYPE.search(line)
            if kind is not None and kind.group(1) in _SECCOMP_TYPES:
                raise _bad("seccomp audit record without its audit(...) stamp", self.source, lineno)
            self._note_kernel_notice(line)
            self.stats.not_audit += 1
            return None
        head = line[: start.start()]
        kind = _TYPE.search(head)
        if kind is None:
            # A bare payload (netlink capture) carries no type: it must be at the start of the
            # line, and only seccomp records have a "code=" field next to "syscall=".
            if head.strip():
                self.stats.not_audit += 1
                return None
            if " code=" not in line or " syscall=" not in line:
                self._count_other("unknown")
                return None
        elif kind.group(1) not in _SECCOMP_TYPES:
            self._count_other(kind.group(1))
            return None
        record = parse_payload(line[start.start() :], source=self.source, line=lineno)
        self.stats.records += 1
        return record

    def parse(self, lines: Iterable[str]) -> Iterator[AuditRecord]:
        """Records from ``lines``, in order; skipped lines are counted in :attr:`stats`."""
        for line in lines:
            record = self.feed(line)
            if record is not None:
                yield record

    def _count_other(self, kind: str) -> None:
        self.stats.other_audit += 1
        self.stats.other_types[kind] = self.stats.other_types.get(kind, 0) + 1

    def _note_kernel_notice(self, line: str) -> None:
        lost = _LOST.search(line)
        if lost is not None:
            self.stats.lost_reported = max(self.stats.lost_reported, int(lost.group(1)))
        suppressed = _SUPPRESSED.search(line)
        if suppressed is not None:
            self.stats.printk_suppressed += int(suppressed.group(1))


def parse_audit_lines(
    lines: Iterable[str], *, source: str = "<audit>"
) -> tuple[list[AuditRecord], AuditParseStats]:
    """Every seccomp record in ``lines`` and the parser's statistics (convenience wrapper)."""
    parser = AuditLineParser(source)
    records = list(parser.parse(lines))
    return records, parser.stats
