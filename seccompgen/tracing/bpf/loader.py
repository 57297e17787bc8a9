"""BPF programs and maps through bpf(2) directly: the loader, map access, attaching.

No library: the ``bpf_attr`` unions are filled byte by byte, and the system calls go through
libc's ``syscall(2)``. Programs (built with :class:`seccompgen.tracing.bpf.asm.Program`) are
tracepoint programs (``BPF_PROG_TYPE_TRACEPOINT``) attached with ``perf_event_open(2)`` and
``PERF_EVENT_IOC_SET_BPF``, whose context is the tracepoint's record, whose field offsets come
from tracefs ``events/<group>/<name>/format``; or raw tracepoint programs attached with
``BPF_RAW_TRACEPOINT_OPEN``. Offsets of kernel structure members come from the kernel's BTF.

Everything here raises :class:`BpfError` (an ``OSError``) on failure, with the verifier's log
when a program is refused.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from seccompgen.tracing.bpf.asm import Program

# --------------------------------------------------------------------------- kernel interface

# Helper function ids (enum bpf_func_id, include/uapi/linux/bpf.h).
MAP_LOOKUP_ELEM: Final = 1
MAP_UPDATE_ELEM: Final = 2
MAP_DELETE_ELEM: Final = 3
KTIME_GET_NS: Final = 5
GET_CURRENT_PID_TGID: Final = 14
GET_CURRENT_TASK: Final = 35
PROBE_READ_KERNEL: Final = 113

# Map update flags.
ANY: Final = 0
NOEXIST: Final = 1

# Map types (enum bpf_map_type) and the program type (enum bpf_prog_type).
MAP_HASH: Final = 1
MAP_ARRAY: Final = 2
MAP_PERCPU_HASH: Final = 5
PROG_TRACEPOINT: Final = 5
PROG_RAW_TRACEPOINT: Final = 17

# bpf(2) commands (enum bpf_cmd).
_MAP_CREATE: Final = 0
_MAP_LOOKUP_ELEM: Final = 1
_MAP_UPDATE_ELEM: Final = 2
_MAP_GET_NEXT_KEY: Final = 4
_PROG_LOAD: Final = 5
_PROG_GET_NEXT_ID: Final = 11
_RAW_TRACEPOINT_OPEN: Final = 17

# perf_event_open(2).
_PERF_TYPE_TRACEPOINT: Final = 2
_PERF_FLAG_FD_CLOEXEC: Final = 8
_PERF_EVENT_IOC_ENABLE: Final = 0x2400  # _IO('$', 0)
_PERF_EVENT_IOC_DISABLE: Final = 0x2401  # _IO('$', 1)
_PERF_EVENT_IOC_SET_BPF: Final = 0x40042408  # _IOW('$', 8, __u32)
_PERF_ATTR_SIZE: Final = 128  # PERF_ATTR_SIZE_VER7

# Syscall numbers by machine (arch/*/entry/syscalls tables; asm-generic for arm64, riscv64).
_SYSCALLS: Final = {
    "x86_64": {"bpf": 321, "perf_event_open": 298},
    "aarch64": {"bpf": 280, "perf_event_open": 241},
    "riscv64": {"bpf": 280, "perf_event_open": 241},
    "ppc64le": {"bpf": 361, "perf_event_open": 319},
    "s390x": {"bpf": 351, "perf_event_open": 331},
}

_LOG_SIZE: Final = 1 << 20


class BpfError(OSError):
    """A bpf(2) or perf_event_open(2) call failed; ``log`` is the verifier's, if any."""

    def __init__(self, errno: int, what: str, log: str = "") -> None:
        super().__init__(errno, f"{what}: {os.strerror(errno)}")
        self.what = what
        self.log = log

    def __str__(self) -> str:
        text = f"{self.what}: {os.strerror(self.errno or 0)}"
        if self.log:
            tail = "\n".join(self.log.strip().splitlines()[-12:])
            text += f"\nverifier log (end):\n{tail}"
        return text


# --------------------------------------------------------------------------- system calls


class _Sys:
    """libc's syscall(2) for bpf(2) and perf_event_open(2), errno kept."""

    def __init__(self) -> None:
        machine = os.uname().machine
        numbers = _SYSCALLS.get(machine)
        if numbers is None:
            raise BpfError(95, f"bpf(2) on {machine}")  # EOPNOTSUPP
        self.numbers = numbers
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.syscall.restype = ctypes.c_long
        self.libc.ioctl.restype = ctypes.c_int

    def bpf(self, cmd: int, attr: ctypes.Array[ctypes.c_char], what: str, log: str = "") -> int:
        ret = int(
            self.libc.syscall(
                ctypes.c_long(self.numbers["bpf"]),
                ctypes.c_int(cmd),
                attr,
                ctypes.c_uint(len(attr)),
            )
        )
        if ret < 0:
            raise BpfError(ctypes.get_errno(), what, log)
        return ret

    def bpf_errno(self, cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
        """Like :meth:`bpf`, but returns ``-errno`` instead of raising."""
        ret = int(
            self.libc.syscall(
                ctypes.c_long(self.numbers["bpf"]),
                ctypes.c_int(cmd),
                attr,
                ctypes.c_uint(len(attr)),
            )
        )
        return -ctypes.get_errno() if ret < 0 else ret

    def perf_event_open(self, attr: ctypes.Array[ctypes.c_char], cpu: int, what: str) -> int:
        ret = int(
            self.libc.syscall(
                ctypes.c_long(self.numbers["perf_event_open"]),
                attr,
                ctypes.c_int(-1),
                ctypes.c_int(cpu),
                ctypes.c_int(-1),
                ctypes.c_ulong(_PERF_FLAG_FD_CLOEXEC),
            )
        )
        if ret < 0:
            raise BpfError(ctypes.get_errno(), what)
        return ret

    def ioctl(self, fd: int, request: int, arg: int, what: str) -> None:
        if self.libc.ioctl(ctypes.c_int(fd), ctypes.c_ulong(request), ctypes.c_ulong(arg)) < 0:
            raise BpfError(ctypes.get_errno(), what)


_sys: _Sys | None = None


def _system() -> _Sys:
    global _sys
    if _sys is None:
        _sys = _Sys()
    return _sys


def _attr(size: int = 128) -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(size)


def _addr(buf: ctypes.Array[ctypes.c_char]) -> int:
    return ctypes.addressof(buf)


def possible_cpus(path: Path = Path("/sys/devices/system/cpu/possible")) -> int:
    """How many CPUs per-CPU map values hold: the highest possible CPU + 1 (``0-3`` -> 4)."""
    return parse_cpu_list(path.read_text())[-1] + 1


def online_cpus(path: Path = Path("/sys/devices/system/cpu/online")) -> list[int]:
    """The online CPUs (``0-1,3`` -> [0, 1, 3])."""
    return parse_cpu_list(path.read_text())


def parse_cpu_list(text: str) -> list[int]:
    """A sysfs CPU list (``0-3,8``) as sorted CPU numbers."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return sorted(cpus)


# --------------------------------------------------------------------------- maps


class Map:
    """A BPF map (an fd) with Python-side access to its entries; close it when done."""

    def __init__(
        self, name: str, map_type: int, key_size: int, value_size: int, max_entries: int
    ) -> None:
        self.name = name
        self.map_type = map_type
        self.key_size = key_size
        self.value_size = value_size
        self.max_entries = max_entries
        self.percpu = map_type == MAP_PERCPU_HASH
        self.cpus = possible_cpus() if self.percpu else 1
        # Per-CPU values cross bpf(2) as one 8-byte-aligned slot per possible CPU
        # (kernel/bpf/syscall.c bpf_map_value_size).
        self.slot = (value_size + 7) & ~7 if self.percpu else value_size
        attr = _attr()
        struct.pack_into("<IIIII", attr, 0, map_type, key_size, value_size, max_entries, 0)
        struct.pack_into("16s", attr, 36, name.encode()[:15])  # map_name
        self.fd = _system().bpf(_MAP_CREATE, attr, f"creating BPF map {name}")

    def close(self) -> None:
        """Close the map's fd (the kernel frees it once no program holds it)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _elem_attr(
        self, key: bytes, value: ctypes.Array[ctypes.c_char], flags: int = 0
    ) -> tuple[ctypes.Array[ctypes.c_char], ctypes.Array[ctypes.c_char]]:
        kbuf = ctypes.create_string_buffer(key, len(key))
        attr = _attr()
        struct.pack_into("<IIQQQ", attr, 0, self.fd, 0, _addr(kbuf), _addr(value), flags)
        return attr, kbuf

    def update(self, key: bytes, value: bytes, flags: int = ANY) -> None:
        """Set ``key`` to ``value`` (for per-CPU maps: ``value`` for every CPU)."""
        raw = value if not self.percpu else value.ljust(self.slot, b"\0") * self.cpus
        vbuf = ctypes.create_string_buffer(raw, len(raw))
        attr, _k = self._elem_attr(key, vbuf, flags)
        _system().bpf(_MAP_UPDATE_ELEM, attr, f"updating BPF map {self.name}")

    def lookup(self, key: bytes) -> list[bytes] | None:
        """The value of ``key``: one ``bytes`` per CPU for per-CPU maps, else one; None if
        absent."""
        vbuf = ctypes.create_string_buffer(self.slot * self.cpus)
        attr, _k = self._elem_attr(key, vbuf)
        ret = _system().bpf_errno(_MAP_LOOKUP_ELEM, attr)
        if ret == -2:  # ENOENT: deleted since its key was listed
            return None
        if ret < 0:
            raise BpfError(-ret, f"reading BPF map {self.name}")
        raw = vbuf.raw
        return [raw[i * self.slot : i * self.slot + self.value_size] for i in range(self.cpus)]

    def keys(self) -> Iterator[bytes]:
        """Every key, by ``BPF_MAP_GET_NEXT_KEY`` from none (entries added meanwhile may or may
        not be listed; a deleted current key restarts the walk, as the kernel does)."""
        cur: ctypes.Array[ctypes.c_char] | None = None
        seen = 0
        while seen <= self.max_entries:
            nxt = ctypes.create_string_buffer(self.key_size)
            attr = _attr()
            struct.pack_into(
                "<IIQQ", attr, 0, self.fd, 0, 0 if cur is None else _addr(cur), _addr(nxt)
            )
            ret = _system().bpf_errno(_MAP_GET_NEXT_KEY, attr)
            if ret == -2:  # ENOENT: the last key
                return
            if ret < 0:
                raise BpfError(-ret, f"listing BPF map {self.name}")
            seen += 1
            cur = nxt
            yield nxt.raw

    def items(self) -> Iterator[tuple[bytes, list[bytes]]]:
        """``(key, value)`` for every entry (values as in :meth:`lookup`)."""
        for key in self.keys():
            value = self.lookup(key)
            if value is not None:
                yield key, value


# --------------------------------------------------------------------------- programs


def load_program(
    prog: Program, name: str, prog_type: int = PROG_TRACEPOINT, license: str = "GPL"
) -> int:
    """Load ``prog`` as a program of ``prog_type`` (a tracepoint program by default); its fd.
    A refusal raises :class:`BpfError` with the verifier's log."""
    code = prog.code()
    insns = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(license.encode())
    log = ctypes.create_string_buffer(_LOG_SIZE)
    attr = _attr()
    struct.pack_into(
        "<IIQQIIQII",
        attr,
        0,
        prog_type,
        len(code) // 8,
        _addr(insns),
        _addr(lic),
        1,  # log_level: the log of a refused program
        _LOG_SIZE,
        _addr(log),
        0,
        0,
    )
    struct.pack_into("16s", attr, 48, name.encode()[:15])  # prog_name
    try:
        return _system().bpf(_PROG_LOAD, attr, f"loading BPF program {name}")
    except BpfError as e:
        text = log.value.decode("utf-8", "replace")
        raise BpfError(e.errno or 0, f"loading BPF program {name}", text) from None


def loaded_program_ids() -> list[int]:
    """The ids of every BPF program loaded on this machine (``BPF_PROG_GET_NEXT_ID``)."""
    ids: list[int] = []
    start = 0
    sysc = _system()
    while True:
        attr = _attr()
        struct.pack_into("<I", attr, 0, start)
        ret = sysc.bpf_errno(_PROG_GET_NEXT_ID, attr)
        if ret < 0:
            return ids
        (start,) = struct.unpack_from("<I", attr, 4)
        ids.append(start)


# --------------------------------------------------------------------------- tracepoints


@dataclass(frozen=True)
class TracepointFormat:
    """A tracepoint's id and its fields' ``(offset, size)``, from tracefs."""

    id: int
    fields: dict[str, tuple[int, int]]

    def offset(self, name: str, size: int | None = None) -> int:
        """The offset of field ``name`` (checked to be ``size`` bytes wide when given)."""
        try:
            off, width = self.fields[name]
        except KeyError:
            raise BpfError(2, f"tracepoint field {name} (have {sorted(self.fields)})") from None
        if size is not None and width != size:
            raise BpfError(22, f"tracepoint field {name} is {width} bytes, not {size}")
        return off


_FIELD = re.compile(r"field:(?P<decl>[^;]*);\s*offset:(?P<off>\d+);\s*size:(?P<size>\d+);")


def parse_format(text: str) -> TracepointFormat:
    """A tracefs ``format`` file: ``ID:`` and the ``field:`` lines."""
    m = re.search(r"^ID:\s*(\d+)", text, re.M)
    if m is None:
        raise BpfError(22, "tracepoint format without an ID line")
    fields: dict[str, tuple[int, int]] = {}
    for f in _FIELD.finditer(text):
        decl = f.group("decl").strip()
        name = re.sub(r"\[.*\]$", "", decl.split()[-1])
        fields[name] = (int(f.group("off")), int(f.group("size")))
    return TracepointFormat(int(m.group(1)), fields)


def tracepoint_format(tracefs: Path, group: str, name: str) -> TracepointFormat:
    """The format of tracepoint ``group:name`` under the tracefs mount ``tracefs``."""
    path = tracefs / "events" / group / name / "format"
    try:
        return parse_format(path.read_text())
    except OSError as e:
        raise BpfError(e.errno or 2, f"reading {path}") from e


def attach_tracepoint(prog_fd: int, tp_id: int, cpu: int) -> int:
    """Attach program ``prog_fd`` to the tracepoint with id ``tp_id``; the perf event's fd.

    One perf event is enough: the program joins the tracepoint's own program list
    (kernel/trace/bpf_trace.c perf_event_attach_bpf_prog) and runs for every hit on every
    CPU; ``cpu`` only names an online CPU for the event. Closing the fd detaches it.
    """
    sysc = _system()
    attr = _attr(_PERF_ATTR_SIZE)
    # type, size, config, sample_period; wakeup_events at offset 48.
    struct.pack_into("<IIQQ", attr, 0, _PERF_TYPE_TRACEPOINT, _PERF_ATTR_SIZE, tp_id, 1)
    struct.pack_into("<I", attr, 48, 1)
    fd = sysc.perf_event_open(attr, cpu, f"perf_event_open on tracepoint {tp_id}")
    try:
        sysc.ioctl(fd, _PERF_EVENT_IOC_SET_BPF, prog_fd, "attaching a BPF program")
        sysc.ioctl(fd, _PERF_EVENT_IOC_ENABLE, 0, "enabling a tracepoint")
    except BaseException:
        os.close(fd)
        raise
    return fd


def attach_raw_tracepoint(prog_fd: int, name: str) -> int:
    """Attach raw tracepoint program ``prog_fd`` to tracepoint ``name`` (``sys_enter``); the
    link's fd (``BPF_RAW_TRACEPOINT_OPEN``). Closing it detaches the program.

    A raw tracepoint program gets the tracepoint's arguments as they are passed (for
    ``sys_enter``: the ``struct pt_regs *`` and the syscall number), without the record that a
    tracepoint program is given, which the kernel would fill in a per-CPU buffer first.
    """
    tp = ctypes.create_string_buffer(name.encode())
    attr = _attr()
    struct.pack_into("<QI", attr, 0, _addr(tp), prog_fd)
    return _system().bpf(_RAW_TRACEPOINT_OPEN, attr, f"attaching to raw tracepoint {name}")


def detach(fd: int) -> None:
    """Detach: disable and close a perf event, or close a raw tracepoint link."""
    with contextlib.suppress(OSError):
        _system().ioctl(fd, _PERF_EVENT_IOC_DISABLE, 0, "disabling a tracepoint")
    os.close(fd)


# --------------------------------------------------------------------------- BTF

_BTF_MAGIC: Final = 0xEB9F
_KIND_STRUCT: Final = 4
_KIND_UNION: Final = 5
# Bytes after the 12-byte common header of each kind: fixed, per member (tools/lib/bpf/btf.c
# btf_type_size; Documentation/bpf/btf.rst).
_KIND_EXTRA: Final = {
    0: (0, 0),
    1: (4, 0),  # INT
    2: (0, 0),  # PTR
    3: (12, 0),  # ARRAY
    4: (0, 12),  # STRUCT
    5: (0, 12),  # UNION
    6: (0, 8),  # ENUM
    7: (0, 0),  # FWD
    8: (0, 0),  # TYPEDEF
    9: (0, 0),  # VOLATILE
    10: (0, 0),  # CONST
    11: (0, 0),  # RESTRICT
    12: (0, 0),  # FUNC
    13: (0, 8),  # FUNC_PROTO
    14: (4, 0),  # VAR
    15: (0, 12),  # DATASEC
    16: (0, 0),  # FLOAT
    17: (4, 0),  # DECL_TAG
    18: (0, 0),  # TYPE_TAG
    19: (0, 12),  # ENUM64
}


class Btf:
    """The struct and union members of raw BTF (``/sys/kernel/btf/vmlinux``), parsed once.

    The format is the kernel's Documentation/bpf/btf.rst: a header, a type section of
    variable-length records, and a string section.
    """

    def __init__(self, data: bytes) -> None:
        if len(data) < 24:
            raise BpfError(22, "BTF: too short")
        magic, _ver, _flags, hdr_len, type_off, type_len, str_off, _str_len = struct.unpack_from(
            "<HBBIIIII", data, 0
        )
        if magic != _BTF_MAGIC:
            raise BpfError(22, "BTF: bad magic")
        self.data = data
        self.strings = hdr_len + str_off
        # types[i] = (kind, name_off, referred type, members as (name_off, type_id, bit
        # offset)); id 0 is void.
        self.types: list[tuple[int, int, int, list[tuple[int, int, int]]]] = [(0, 0, 0, [])]
        pos = hdr_len + type_off
        end = pos + type_len
        while pos < end:
            name_off, info, size_or_type = struct.unpack_from("<III", data, pos)
            kind = (info >> 24) & 0x1F
            vlen = info & 0xFFFF
            pos += 12
            extra = _KIND_EXTRA.get(kind)
            if extra is None:
                raise BpfError(22, f"BTF: unknown kind {kind}")
            members: list[tuple[int, int, int]] = []
            if kind in (_KIND_STRUCT, _KIND_UNION):
                for m_name, m_type, m_off in struct.iter_unpack(
                    "<III", data[pos : pos + 12 * vlen]
                ):
                    if info >> 31:
                        m_off &= 0xFFFFFF  # kind_flag: the high 8 bits are a bitfield's size
                    members.append((m_name, m_type, m_off))
            self.types.append((kind, name_off, size_or_type, members))
            pos += extra[0] + extra[1] * vlen

    def _name(self, off: int) -> bytes:
        start = self.strings + off
        return self.data[start : self.data.index(b"\0", start)]

    def member_offset(self, struct_name: str, member: str) -> int:
        """The byte offset of ``member`` in ``struct struct_name``, looking into anonymous
        struct and union members too."""
        want = member.encode()

        def find(type_id: int, depth: int) -> int | None:
            for m_name, m_type, m_off in self.types[type_id][3]:
                if m_name and self._name(m_name) == want:
                    return m_off
                if not m_name and depth < 8:
                    t = m_type
                    while self.types[t][0] in _QUALIFIERS:  # typedef, volatile, const, restrict
                        t = self.types[t][2]
                    if self.types[t][0] in (_KIND_STRUCT, _KIND_UNION):
                        inner = find(t, depth + 1)
                        if inner is not None:
                            return m_off + inner
            return None

        wanted_struct = struct_name.encode()
        for type_id, (kind, name_off, _ref, _members) in enumerate(self.types):
            if kind == _KIND_STRUCT and name_off and self._name(name_off) == wanted_struct:
                bits = find(type_id, 0)
                if bits is not None:
                    if bits % 8:
                        raise BpfError(22, f"BTF: {struct_name}.{member} is a bitfield")
                    return bits // 8
        raise BpfError(2, f"BTF: no member {member} in struct {struct_name}")


_QUALIFIERS: Final = (8, 9, 10, 11)


def btf_member_offset(data: bytes, struct_name: str, member: str) -> int:
    """The byte offset of ``member`` in ``struct struct_name`` from raw BTF (see :class:`Btf`)."""
    return Btf(data).member_offset(struct_name, member)
