"""The ptrace backend: trace with python-ptrace, one stop per system call, no strace needed.

Layout. The tracer is a separate Python process (``python -m
seccompgen.tracing.backends.ptrace``), so its wait loop has an interpreter lock of its own and a
ptrace tracer that is one thread (ptrace(2): a tracee is traced by the thread that attached it).
It forks the target, which asks to be traced (PTRACE_TRACEME), stops itself, installs a seccomp
filter and execs the program. The tracer writes one text record per event to a file that the
:class:`~seccompgen.tracing.session.Session` tails, exactly as it tails strace's output
(:class:`~seccompgen.tracing.session.TextRecorder`); the session runs the whole lifecycle
(exercise, phases, SIGTERM, grace, SIGKILL, Ctrl-C, progress) and
:func:`~seccompgen.parsing.ptrace.decode_records` turns the records into events. The tracer
process starts in a session of its own, like strace there.

One stop per call. A stop costs far more in Python than in strace's C, so instead of the two
syscall-stops per call of PTRACE_SYSCALL (entry and exit) the target runs under a seccomp filter
whose only instruction returns SECCOMP_RET_TRACE. With PTRACE_O_TRACESECCOMP the tracer then gets
one PTRACE_EVENT_SECCOMP stop at each call's entry (seccomp(2), "SECCOMP_RET_TRACE"; ptrace(2),
"PTRACE_O_TRACESECCOMP"), and reads number, arguments and architecture in one
PTRACE_GET_SYSCALL_INFO request (Linux 5.3+, ptrace(2)). The filter is inherited by every thread
and child and kept across execve, so everything the target starts is traced the same way.

Return values: an entry stop cannot see them. ``returns=True`` (the default) resumes each seccomp
stop with PTRACE_SYSCALL to get the call's syscall-exit-stop too (two stops per call, as strace
has) and records the return value or errno name, stamped at the exit; a call that never returns
(``exit_group``, a thread killed while blocked) keeps ``ret`` None, as strace's ``= ?``.
``returns=False`` (entry-only) records each call at its entry with ``ret`` and ``errno`` None and
the entry's timestamp, for one stop per call. Measured on examples/httpservice under
examples/loadgen (4 connections, 2 cores, medians of 3 runs): bare ``strace -f`` 7.2k requests/s,
this backend 7.7k (1.06x) by default and 10.9k (1.5x) entry-only, untraced 33k. It keeps up with
strace although each stop costs more in Python: strace makes several requests per stop (registers,
then the memory behind pointer arguments) and formats every argument, where this backend reads a
call with one PTRACE_GET_SYSCALL_INFO per stop and formats nothing while the target runs.

Following: PTRACE_O_TRACECLONE/FORK/VFORK attach every new thread and child, PTRACE_O_TRACEEXEC
turns the post-exec SIGTRAP into an event stop, PTRACE_O_EXITKILL kills the tracees if the tracer
dies (so none runs on untraced). Signals: a signal-delivery-stop is resumed with that signal
(Go preempts goroutines with SIGURG; swallowing it breaks the runtime), recorded as a
:class:`SignalEvent`; group-stops and a new tracee's initial SIGSTOP are resumed without one.

python-ptrace supplies the ptrace(2) binding and constants and the syscall prototypes (how many
arguments each call takes). Its ``PtraceDebugger`` builds several objects per stop and knows no
seccomp stops, so the wait loop here calls the binding directly.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import ctypes
import functools
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from seccompgen.errors import TracerError
from seccompgen.parsing.ptrace import (
    AUDIT_ARCHES,
    INFO_ENTRY,
    INFO_EXIT,
    INFO_HEAD,
    INFO_SIZE,
    PTRACE_SYSCALL_INFO_EXIT,
    decode_records,
)
from seccompgen.tracefile import TraceWriter
from seccompgen.tracing.base import TraceOutcome, TraceProgress, TraceRequest
from seccompgen.tracing.host import HostProcesses, require_host, resolve_target
from seccompgen.tracing.session import Session, TextRecorder

MISSING_MESSAGE: Final = "python-ptrace (package `ptrace`) cannot be imported"
MISSING_HINT: Final = (
    "it is a dependency of seccompgen: reinstall it (pip install --force-reinstall seccompgen) "
    "or install it alone (pip install python-ptrace)"
)

# ptrace(2) and seccomp(2) values python-ptrace does not define (include/uapi/linux/ptrace.h,
# include/uapi/linux/seccomp.h, include/uapi/linux/prctl.h).
PTRACE_O_TRACESECCOMP: Final = 0x80
PTRACE_O_EXITKILL: Final = 0x100000
PTRACE_EVENT_SECCOMP: Final = 7
PTRACE_GET_SYSCALL_INFO: Final = 0x420E
SECCOMP_RET_TRACE: Final = 0x7FF00000
_PR_SET_NO_NEW_PRIVS: Final = 38
_PR_SET_SECCOMP: Final = 22
_SECCOMP_MODE_FILTER: Final = 2
_BPF_RET_K: Final = 0x06  # BPF_RET | BPF_K (include/uapi/linux/bpf_common.h)
_WALL: Final = 0x40000000  # __WALL: wait for threads too (wait(2))


def _import_ptrace_binding() -> Any:
    try:
        from ptrace.binding import func  # type: ignore[import-untyped]
    except ImportError as e:
        raise TracerError(f"{MISSING_MESSAGE}: {e}", hint=MISSING_HINT) from e
    return func


class PtraceTracer:
    """Trace with python-ptrace. See the module docstring for the layout and the stop scheme.

    ``returns`` also records return values (two stops per call instead of one). ``niceness``
    is the nice increment of the session's decoding thread, ``tmp_dir`` holds the record file.
    """

    name = "ptrace"

    def __init__(
        self,
        *,
        returns: bool = True,
        niceness: int = 10,
        tmp_dir: Path | None = None,
        arch: str | None = None,
    ) -> None:
        self.returns = returns
        self.niceness = niceness
        self.tmp_dir = tmp_dir
        self.arch = arch

    def unavailable_reason(self) -> str | None:
        """None when python-ptrace is importable and the kernel has PTRACE_GET_SYSCALL_INFO."""
        try:
            _import_ptrace_binding()
        except TracerError as e:
            return f"{e.message}; {e.hint}" if e.hint else e.message
        if sys.platform != "linux":
            return "the ptrace backend needs Linux"
        try:
            release = tuple(int(x) for x in os.uname().release.split(".")[:2])
        except ValueError:
            return None
        if release < (5, 3):
            return "the ptrace backend needs Linux 5.3 or later (PTRACE_GET_SYSCALL_INFO)"
        return None

    def command(self, spec: Path, output: Path) -> list[str]:
        """The tracer process's command line: this module run as a program."""
        return [sys.executable, "-m", "seccompgen.tracing.backends.ptrace", str(spec), str(output)]

    def run(
        self,
        request: TraceRequest,
        writer: TraceWriter,
        progress: Callable[[TraceProgress], None],
    ) -> TraceOutcome:
        """Trace ``request``; see :meth:`seccompgen.tracing.base.Tracer.run`.

        The lifecycle, signals and outcome are those of the strace backend
        (:meth:`seccompgen.tracing.backends.strace.StraceTracer.run`).
        """
        require_host(request, self.name)
        problem = self.unavailable_reason()
        if problem is not None:
            raise TracerError(problem)
        target = resolve_target(request)
        with tempfile.TemporaryDirectory(prefix="seccompgen-ptrace-", dir=self.tmp_dir) as tmp:
            output = Path(tmp) / "ptrace.out"
            output.touch()
            spec = Path(tmp) / "spec.json"
            env = dict(request.env) if request.env is not None else dict(os.environ)
            spec.write_text(
                json.dumps(
                    {
                        "path": str(target),
                        "argv": list(request.argv),
                        "env": env,
                        "returns": self.returns,
                    }
                )
            )
            session = Session(
                request=request,
                writer=writer,
                progress=progress,
                output=output,
                niceness=self.niceness,
                processes=_TracerProcess(),
                recorder=TextRecorder(functools.partial(decode_records, source=str(output))),
            )
            return session.run(self.command(spec, output))


class _TracerProcess(HostProcesses):
    """The tracer process as a child of seccompgen, in a new session.

    As :class:`HostProcesses`, except for the environment: the tracer keeps seccompgen's (it is
    Python and must find this package); the target's environment goes in the spec file.
    """

    def environment(self, request: TraceRequest) -> dict[str, str] | None:
        return None


# --------------------------------------------------------------------------- the tracer process


class _Filter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Filter))]


def _exec_traced(path: str, argv: list[str], env: dict[str, str]) -> None:
    """In the forked child: be traced, stop for the tracer, install the filter, exec."""
    func = _import_ptrace_binding()
    # Python ignores SIGPIPE and SIGXFSZ, and ignored signals survive execve (signal(7)):
    # the target gets the defaults, as subprocess's restore_signals gives them.
    for name in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    func.ptrace_traceme()
    os.kill(os.getpid(), signal.SIGSTOP)  # the tracer sets its options while we wait here
    libc = ctypes.CDLL(None, use_errno=True)
    insn = (_Filter * 1)(_Filter(_BPF_RET_K, 0, 0, SECCOMP_RET_TRACE))
    prog = _Prog(1, insn)
    # Without CAP_SYS_ADMIN a filter needs no_new_privs (seccomp(2)); as root it is not set,
    # so setuid programs keep behaving as they would untraced.
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "cannot install the tracing seccomp filter")
    os.execve(path, argv, env)


def _tgid(tid: int) -> int:
    """The thread group of ``tid`` (``Tgid:`` in /proc/TID/status, proc(5))."""
    with contextlib.suppress(OSError), open(f"/proc/{tid}/status") as f:
        for line in f:
            if line.startswith("Tgid:"):
                return int(line.split()[1])
    return tid


class _Output:
    """Record lines queued by the wait loop and written by a thread about every 50 ms."""

    def __init__(self, path: str) -> None:
        self.queue: collections.deque[str] = collections.deque()
        self.file = open(path, "w")  # noqa: SIM115 - closed in close()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="seccompgen-ptrace-out")
        self.thread.start()

    def _drain(self) -> None:
        q = self.queue
        n = len(q)  # the wait loop only appends, so these n are there to take
        if n:
            self.file.write("".join([q.popleft() for _ in range(n)]))
            self.file.flush()

    def _run(self) -> None:
        while not self.done.wait(0.05):
            self._drain()

    def close(self) -> None:
        self.done.set()
        self.thread.join()
        self._drain()
        self.file.close()


def trace_main(spec_path: str, output_path: str) -> int:
    """The tracer process: fork and trace the target of ``spec_path`` until no tracee is left."""
    spec = json.loads(Path(spec_path).read_text())
    returns = bool(spec["returns"])
    func = _import_ptrace_binding()
    ptrace = func.ptrace
    child = os.fork()
    if child == 0:
        try:
            _exec_traced(spec["path"], spec["argv"], spec["env"])
        except BaseException as e:  # anything here must end the child, never return
            os.write(2, f"seccompgen ptrace: cannot run {spec['path']}: {e}\n".encode())
        os._exit(127)

    _, status = os.waitpid(child, _WALL)
    if not os.WIFSTOPPED(status):
        return 127
    options = (
        func.PTRACE_O_TRACESYSGOOD
        | func.PTRACE_O_TRACEFORK
        | func.PTRACE_O_TRACEVFORK
        | func.PTRACE_O_TRACECLONE
        | func.PTRACE_O_TRACEEXEC
        | PTRACE_O_TRACESECCOMP
        | PTRACE_O_EXITKILL
    )
    ptrace(func.PTRACE_SETOPTIONS, child, 0, options)
    out = _Output(output_path)
    try:
        _loop(func, child, returns, out.queue.append)
    finally:
        out.close()
    return 0


def _loop(func: Any, child: int, returns: bool, emit: Callable[[str], None]) -> None:
    """The wait loop. Hot path first: one seccomp stop per call."""
    ptrace = func.ptrace
    PtraceError = sys.modules["ptrace"].PtraceError
    cont, sysc = func.PTRACE_CONT, func.PTRACE_SYSCALL
    info = ctypes.create_string_buffer(INFO_SIZE)
    addr = ctypes.addressof(info)
    word = ctypes.c_ulong()
    waddr = ctypes.addressof(word)
    siginfo = ctypes.create_string_buffer(128)
    waitpid, now = os.waitpid, time.time
    seccomp_stop = signal.SIGTRAP | (PTRACE_EVENT_SECCOMP << 8)
    sysgood_stop = signal.SIGTRAP | 0x80
    stop_signals = {signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}

    tgid: dict[int, int] = {child: child}
    pending: dict[int, bytes] = {}  # tid -> entry info, waiting for its exit (returns=True)
    execed = False  # nothing before the target's first execve is the target's

    ptrace(cont, child, 0, 0)
    while True:
        try:
            tid, status = waitpid(-1, _WALL)
        except ChildProcessError:
            break
        try:
            if status & 0xFF == 0x7F:  # WIFSTOPPED
                stop = status >> 8
                if stop == seccomp_stop:
                    ptrace(PTRACE_GET_SYSCALL_INFO, tid, INFO_SIZE, addr)
                    if not execed:
                        execed = _is_exec(info.raw)
                        if not execed:
                            ptrace(cont, tid, 0, 0)
                            continue
                    if returns:
                        pending[tid] = info.raw
                        ptrace(sysc, tid, 0, 0)
                    else:
                        emit(f"s {now()!r} {tgid[tid]} {tid} {info.raw.hex()} -\n")
                        ptrace(cont, tid, 0, 0)
                    continue
                if stop == sysgood_stop:
                    entry = pending.pop(tid, None)
                    ptrace(PTRACE_GET_SYSCALL_INFO, tid, INFO_SIZE, addr)
                    if entry is not None and info.raw[0] == PTRACE_SYSCALL_INFO_EXIT:
                        ex = info.raw[INFO_HEAD.size : INFO_HEAD.size + INFO_EXIT.size].hex()
                        emit(f"s {now()!r} {tgid[tid]} {tid} {entry.hex()} {ex}\n")
                    ptrace(cont, tid, 0, 0)
                    continue
                sig = stop & 0xFF
                event = stop >> 8
                resume = sysc if tid in pending else cont
                if tid not in tgid:
                    # A new tracee: its first stop is the SIGSTOP of auto-attach (ptrace(2)),
                    # possibly reported before its parent's clone event.
                    tgid[tid] = _tgid(tid)
                    if sig == signal.SIGSTOP and event == 0:
                        ptrace(resume, tid, 0, 0)
                        continue
                if event:
                    if event in (
                        func.PTRACE_EVENT_FORK,
                        func.PTRACE_EVENT_VFORK,
                        func.PTRACE_EVENT_CLONE,
                    ):
                        ptrace(func.PTRACE_GETEVENTMSG, tid, 0, waddr)
                        new = word.value
                        if new not in tgid:
                            # CLONE may be a thread or not (CLONE_THREAD); FORK/VFORK never.
                            clone = event == func.PTRACE_EVENT_CLONE
                            tgid[new] = _tgid(new) if clone else new
                    elif event == func.PTRACE_EVENT_EXEC:
                        # A non-leader thread that execs takes over the leader's tid (execve(2)).
                        ptrace(func.PTRACE_GETEVENTMSG, tid, 0, waddr)
                        former = word.value
                        if former != tid:
                            tgid.pop(former, None)
                            if former in pending:
                                pending[tid] = pending.pop(former)
                                resume = sysc
                        tgid[tid] = tid
                    ptrace(resume, tid, 0, 0)
                    continue
                if sig in stop_signals:
                    try:
                        ptrace(func.PTRACE_GETSIGINFO, tid, 0, ctypes.addressof(siginfo))
                    except PtraceError:
                        # EINVAL: a group-stop, not a signal delivery (ptrace(2), "Group-stop").
                        ptrace(resume, tid, 0, 0)
                        continue
                emit(f"g {now()!r} {tgid[tid]} {tid} {sig}\n")
                ptrace(resume, tid, 0, sig)  # deliver the signal, as the kernel would have
                continue
            # The thread ended (WIFEXITED / WIFSIGNALED).
            ts = now()
            pid = tgid.pop(tid, tid)
            entry = pending.pop(tid, None)
            if entry is not None:
                emit(f"s {ts!r} {pid} {tid} {entry.hex()} -\n")
            if os.WIFEXITED(status):
                emit(f"x {ts!r} {pid} {tid} {os.WEXITSTATUS(status)} -\n")
            else:
                emit(f"x {ts!r} {pid} {tid} - {os.WTERMSIG(status)}\n")
        except PtraceError:
            # The tracee vanished between its stop and our request (SIGKILL, exit_group by
            # another thread): its exit is reported by waitpid next.
            continue
    ts = now()
    for tid, entry in pending.items():
        emit(f"s {ts!r} {tgid.get(tid, tid)} {tid} {entry.hex()} -\n")


@functools.cache
def _execve_numbers() -> frozenset[tuple[int, int]]:
    from seccompgen.syscalls import resolve_name

    found = set()
    for audit, arch in AUDIT_ARCHES.items():
        with contextlib.suppress(Exception):
            for name in ("execve", "execveat"):
                nr = resolve_name(arch, name)
                if nr is not None:
                    found.add((audit, nr))
    return frozenset(found)


def _is_exec(info: bytes) -> bool:
    """Whether the call at a seccomp stop is execve or execveat on its architecture."""
    _, audit, _, _ = INFO_HEAD.unpack_from(info)
    nr = INFO_ENTRY.unpack_from(info, INFO_HEAD.size)[0]
    return (audit, nr) in _execve_numbers()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m seccompgen.tracing.backends.ptrace SPEC OUTPUT`` (by :class:`PtraceTracer`)."""
    parser = argparse.ArgumentParser(prog="seccompgen.tracing.backends.ptrace")
    parser.add_argument("spec")
    parser.add_argument("output")
    args = parser.parse_args(argv)
    try:
        return trace_main(args.spec, args.output)
    except TracerError as e:
        sys.stderr.write(f"seccompgen ptrace: {e.explain()}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
