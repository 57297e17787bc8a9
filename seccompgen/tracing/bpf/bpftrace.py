"""The ebpf backend's bpftrace engine: the bpftrace(8) program, and what it counts.

What the bpftrace program does (the bpf engine's programs, :mod:`seccompgen.tracing.bpf.counter`,
do the same):

- ``tracepoint:raw_syscalls:sys_enter`` counts each call of a tracked process by (pid, tid,
  syscall number, phase), remembers when each such key was first seen, and keeps a bounded sample
  of argument tuples: the distinct tuples among the first
  :data:`~seccompgen.tracing.bpf.counts.ARGS_SAMPLES` calls of each key, all six argument
  registers as seccomp(2) sees them in ``struct seccomp_data``; and, for the syscalls whose
  arguments ``emit --args auto`` conditions
  (:func:`~seccompgen.tracing.bpf.counts.watched_args`), every distinct value of those
  arguments, whatever the call's place in the count.
- ``tracepoint:raw_syscalls:sys_exit`` counts failures (a negative return) per errno.
- ``tracepoint:sched:sched_process_fork`` adds a child to the tracked set when its parent is in
  it; the probe runs in the parent, before the child is first woken (kernel_clone()), so the
  child's first call is already counted. Threads are children too, keyed by their tgid.
- ``tracepoint:sched:sched_process_exit`` reports each tracked process's exit status
  (``task_struct.exit_code``, read through BTF), when its main thread ends; the trace gets one
  exit event per process (strace also reports each thread's end).

bpftrace prints the maps as ``-f json`` lines, which
:meth:`seccompgen.tracing.bpf.counts.BpftraceState.feed` folds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from seccompgen.tracing.bpf.counts import ARGS_SAMPLES

MARKER: Final = 0x53434750
"""The prctl(2) option (``"SCGP"``) of the marker call; no kernel defines it, so it fails with
EINVAL. Real options are small numbers or four-letter tags (PR_SET_PTRACER is ``"Yama"``)."""

NOT_FOUND_MESSAGE: Final = (
    "bpftrace not found on PATH; install it (apt-get install bpftrace) or use --backend strace"
)


def bpftrace_script(
    *,
    prctl_nr: int,
    own_pid: int,
    token: int = 0,
    args_samples: int = ARGS_SAMPLES,
    watched: Mapping[int, tuple[int, ...]] | None = None,
) -> str:
    """The bpftrace program (see the module docstring).

    ``prctl_nr`` is prctl's number on the traced arch, ``own_pid`` the pid whose marker calls
    set the phase (seccompgen's) when their third argument is ``token`` (one run's own number,
    so that two runs in one process do not move each other's phases), ``args_samples`` the
    bound of :data:`~seccompgen.tracing.bpf.counts.ARGS_SAMPLES`. Tracking starts with the
    marker call of bpftrace's child (``cpid``, the launcher). ``watched`` (syscall number ->
    argument indexes) are the arguments whose every distinct value goes into ``@v``, the
    others zero (``(uint64)0``: a map's keys must all have one type).
    """
    key = "pid, tid, args->id, $ph"
    argkey = f"{key}, " + ", ".join(f"args->args[{i}]" for i in range(6))
    watch = ""
    for nr, indexes in sorted((watched or {}).items()):
        vkey = f"{key}, " + ", ".join(
            f"args->args[{i}]" if i in indexes else "(uint64)0" for i in range(6)
        )
        watch += f"    if (args->id == {nr}) {{ if (@v[{vkey}] == 0) {{ @v[{vkey}] = nsecs; }} }}\n"
    maps = ["@n", "@t", "@e", "@a"] + (["@v"] if watch else [])
    printed = " ".join(f"print({m});" for m in maps)
    cleared = " ".join(f"clear({m});" for m in maps)
    return f"""\
BEGIN {{ @phase = 0; }}

tracepoint:sched:sched_process_fork /@track[pid]/ {{ @track[args->child_pid] = 1; }}

tracepoint:raw_syscalls:sys_enter
{{
  if (@track[pid]) {{
    $ph = @phase;
    $c = @n[{key}];
    if ($c == 0) {{ @t[{key}] = nsecs; }}
    @n[{key}] = $c + 1;
    if ($c < {args_samples}) {{
      if (@a[{argkey}] == 0) {{ @a[{argkey}] = nsecs; }}
    }}
{watch}  }} else if (args->id == {prctl_nr} && args->args[0] == {MARKER}) {{
    if (pid == cpid) {{
      @track[pid] = 2;
      printf("start %d %llu\\n", pid, nsecs);
    }} else if (pid == {own_pid} && args->args[2] == {token}) {{
      @phase = args->args[1];
    }}
  }}
}}

tracepoint:raw_syscalls:sys_exit /args->ret < 0/
{{
  $tr = @track[pid];
  if ($tr == 2) {{
    @track[pid] = 1;  // the launcher's marker call itself: not the target's
  }} else if ($tr && args->id >= 0) {{
    @e[pid, tid, args->id, @phase, -args->ret] = count();
  }}
}}

tracepoint:sched:sched_process_exit /@track[pid] && pid == tid/
{{
  printf("exit %d %d %d %llu\\n", pid, curtask->exit_code, @phase, nsecs);
}}

interval:s:1 {{ print(@n); }}

END
{{
  {printed}
  printf("end\\n");
  {cleared} clear(@track); clear(@phase);
}}
"""
