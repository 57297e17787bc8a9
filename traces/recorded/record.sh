#!/bin/sh
# Re-record the strace logs in this folder (see ../README.md).  Needs strace and Go.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
go=${GO:-$here/../../.venv/bin/go}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build() { (cd "$here/src/echoserver" && GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod CGO_ENABLED=0 \
  GOARCH=$1 "$go" build -trimpath -ldflags='-s -w' -o "$2" .); }
build amd64 "$tmp/echoserver"
build 386 "$tmp/echoserver386"
cd "$here"
strace -f -ttt -X raw -o go_f_ttt_raw.strace "$tmp/echoserver" -n 3 -c 2 >/dev/null
strace -f -tt -T "$tmp/echoserver" -n 2 -c 2 2>go_stderr_tt_T.strace >/dev/null
rm -rf go_ff && mkdir go_ff && strace -ff -ttt -o go_ff/go "$tmp/echoserver" -n 1 -c 1 >/dev/null
strace -f -e quiet=none -o sh_exec32_quietnone.strace sh -c "$tmp/echoserver386 -n 1 -c 1 -child /bin/true" >/dev/null
strace -r -o ls_single_r.strace /bin/ls /nonexistent 2>/dev/null || true
strace -o ls_single_yy.strace -yy -t cat /etc/hostname >/dev/null
strace -f -t -o sh_kill9.strace sh -c 'kill -9 $$' || true
strace -f -o sh_segv.strace sh -c "ulimit -c unlimited; cd $tmp; kill -SEGV \$\$" || true
printf 'import threading, subprocess, os\nt = [threading.Thread(target=lambda: None) for _ in range(2)]\n[x.start() for x in t]; [x.join() for x in t]\nsubprocess.run(["/bin/true"])\nif os.fork() == 0:\n    os._exit(3)\nos.wait()\n' >"$tmp/thr.py"
strace -f -X raw -o py_threads_raw.strace /usr/bin/python3 "$tmp/thr.py"
strace -f -r -T -o py_threads.strace /usr/bin/python3 "$tmp/thr.py"
strace -f -o py_unknown_syscall.strace /usr/bin/python3 -c 'import ctypes,os; ctypes.CDLL(None).syscall(451, 1, 2); ctypes.CDLL(None).syscall(999); os.access("/bin/sh", os.X_OK, effective_ids=True)'
sleep 1 & p=$!; sleep 0.2; strace -tt -p $p 2>attach_sleep.strace
sleep 3 & p=$!; sleep 0.2; timeout -s INT 0.5 strace -f -p $p 2>detach_sleep.strace || true; kill $p
strace -f -ttt -o sleep_stopcont.strace sleep 1 & sleep 0.3
p=$(pgrep -x sleep -n); kill -STOP "$p"; sleep 0.2; kill -CONT "$p"; wait
