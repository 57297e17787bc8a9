"""The launchers of the ebpf backend's engines: small Python programs that start the target.

Each runs as ``python -I -S <launcher> <spec> ...``, reads the target's path, argv and
environment from the JSON file ``spec``, restores the signal dispositions that Python changed,
and execs the target at the moment its calls are to be counted.
"""

from __future__ import annotations

from typing import Final

from seccompgen.tracing.bpf.bpftrace import MARKER

#: The launcher bpftrace runs (``-c``): argv[1] is a JSON file with ``path``, ``argv``, ``env``.
LAUNCHER: Final = f"""\
import ctypes, json, os, signal, sys
with open(sys.argv[1]) as f:
    spec = json.load(f)
# Python ignores SIGPIPE and SIGXFSZ, and ignored signals survive execve(2): restore them.
for s in (signal.SIGPIPE, signal.SIGXFSZ):
    signal.signal(s, signal.SIG_DFL)
ctypes.CDLL(None).prctl({MARKER}, 0, 0, 0, 0)
try:
    os.execve(spec["path"], spec["argv"], spec["env"])
except OSError as e:
    sys.stderr.write("seccompgen: cannot run %s: %s\\n" % (spec["path"], e.strerror))
    os._exit(127)
"""

#: The launcher of the bpf engine: argv[1] is the JSON spec as above, argv[2] a FIFO. It forks
#: at once; the child blocks on the FIFO until seccompgen has armed the child's pid in the
#: ``track`` map, then execs the target (its calls before that execve are not counted, see
#: :mod:`seccompgen.tracing.bpf.counter`). The launcher stays the session leader (setsid(2) fails
#: for a session or process-group leader, so the target must not be one) and ends as the target
#: ended: the same exit code, or the same signal.
BPF_LAUNCHER: Final = """\
import json, os, signal, sys
with open(sys.argv[1]) as f:
    spec = json.load(f)
# Python ignores SIGPIPE and SIGXFSZ, and ignored signals survive execve(2): restore them.
for s in (signal.SIGPIPE, signal.SIGXFSZ):
    signal.signal(s, signal.SIG_DFL)
signal.signal(signal.SIGINT, signal.SIG_DFL)
pid = os.fork()
if pid == 0:
    fd = os.open(sys.argv[2], os.O_RDONLY)
    if os.read(fd, 1) != b"g":
        os._exit(126)
    os.close(fd)
    try:
        os.execve(spec["path"], spec["argv"], spec["env"])
    except OSError as e:
        sys.stderr.write("seccompgen: cannot run %s: %s\\n" % (spec["path"], e.strerror))
        os._exit(127)
_, status = os.waitpid(pid, 0)
if os.WIFSIGNALED(status):
    signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(status))
os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)
"""
