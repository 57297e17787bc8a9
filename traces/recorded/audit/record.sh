#!/bin/sh
# Re-record the seccomp audit records in this folder (see ../../README.md). Needs root, Go,
# libseccomp2 and, for audit.log, auditd (apt-get install auditd; it is started and stopped here).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
go=${GO:-$repo/.venv/bin/go}
py=${PYTHON:-$repo/.venv/bin/python}
probe=$repo/tests/integration/programs/auditprobe
launch="$py $probe/seccomp_launch.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for a in amd64 386; do
  (cd "$probe" && GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOARCH=$a \
    "$go" build -trimpath -ldflags='-s -w' -o "$tmp/auditprobe-$a" .)
done
calls=getppid,getpgid,sysinfo,uname
scenario() {
  $launch log=$calls -- "$tmp/auditprobe-amd64" >/dev/null
  $launch --arch x86 log=$calls -- "$tmp/auditprobe-386" >/dev/null
  $launch --flag-log errno=sysinfo log=getppid -- "$tmp/auditprobe-amd64" >/dev/null
  $launch --flag-log trap=uname -- "$tmp/auditprobe-amd64" >/dev/null 2>&1 || true
  $launch kill_process=sysinfo -- "$tmp/auditprobe-amd64" >/dev/null 2>&1 || true
  # A shell under the filter: records from other programs (sh, uname) and a name with a space.
  cp /bin/uname "$tmp/my uname"
  $launch log=uname -- /bin/sh -c "'$tmp/my uname' -s" >/dev/null
}
capture() {  # capture SECONDS FILE: every seccomp netlink payload, one a line
  "$py" -c '
import sys
from seccompgen.tracing.audit import AuditListener
with AuditListener() as listener, open(sys.argv[2], "w") as out:
    for kind, text in listener.messages(float(sys.argv[1])):
        if kind == 1326:
            out.write(text + "\n")
' "$@"
}
cd "$here"
# 1. No auditd: the multicast group gets every record, dmesg a rate-limited subset.
dmesg -C
echo "seccompgen-record: start" > /dev/kmsg
capture 8 netlink.txt & cap=$!
sleep 1; scenario; wait $cap
dmesg > dmesg.txt
dmesg -T > dmesg_T.txt
# /dev/kmsg keeps what dmesg -C cleared: keep the records from the start marker on.
"$py" -c '
import os
fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
out, keep = [], False
while True:
    try:
        rec = os.read(fd, 16384).decode("utf-8", "replace")
    except BlockingIOError:
        break
    keep = keep or "seccompgen-record: start" in rec
    if keep:
        out.append(rec)
open("kmsg.txt", "w").write("".join(out))
'
# 2. auditd running (ENRICHED log format): it gets the records, the kernel log gets none.
if command -v auditd >/dev/null; then
  : > "$tmp/audit.log"
  { printf 'log_file = %s\nlog_format = ENRICHED\nflush = INCREMENTAL_ASYNC\nfreq = 1\n' "$tmp/audit.log"
    grep -v -E '^(#|$|log_file|log_format|flush|freq) ' /etc/audit/auditd.conf; } > "$tmp/auditd.conf"
  chmod 600 "$tmp/auditd.conf"
  auditd -n -c "$tmp" & ad=$!
  sleep 2; scenario; sleep 2
  kill "$ad"; wait "$ad" || true
  cp "$tmp/audit.log" audit.log
fi
