#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, Docker engine, lint, type check, tests.
# Extra arguments go to pytest (e.g. scripts/test.sh -k parser).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

# The ebpf backend's tests need tracefs (bpftrace finds tracepoints there); mount it when it is
# missing and unmount it at the end, only if mounted here.
mounted_tracefs=
if [[ ! -d /sys/kernel/tracing/events ]] && [[ $(id -u) -eq 0 ]]; then
    mount -t tracefs nodev /sys/kernel/tracing && mounted_tracefs=1
fi

# The docker-marked tests need an engine: start one when none answers (bridge disabled, so no
# container gets a non-loopback address) and stop it again at the end, only if started here.
export SECCOMPGEN_DOCKER_OWNER="test.sh-$$-$(date +%s%N)"
scripts/docker-up.sh
trap 'scripts/docker-down.sh; if [[ -n $mounted_tracefs ]]; then umount /sys/kernel/tracing || true; fi' EXIT
scripts/build-base-image.sh

echo "== ruff" >&2
.venv/bin/ruff check seccompgen tests benchmarks
.venv/bin/ruff format --check seccompgen tests benchmarks
echo "== mypy" >&2
.venv/bin/mypy
echo "== pytest" >&2
# pytest's own exit status is the script's: 5 (no tests collected) fails like any other.
status=0
.venv/bin/python -m pytest "$@" || status=$?
exit "$status"
