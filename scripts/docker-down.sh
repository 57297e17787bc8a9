#!/usr/bin/env bash
# Stop the Docker engine that scripts/docker-up.sh started, and only that one.
#
# docker-up.sh leaves a "started" marker in $SECCOMPGEN_DOCKER_STATE (default
# /run/seccompgen-docker) when it started dockerd itself; without the marker an engine was already
# there and is left alone. Idempotent: running it twice, or with nothing started, is fine.
# Images stay in dockerd's data root, so the next docker-up.sh reuses them.
set -euo pipefail

state_dir=${SECCOMPGEN_DOCKER_STATE:-/run/seccompgen-docker}
wait_s=${SECCOMPGEN_DOCKER_STOP_WAIT:-30}
log() { echo "docker-down: $*" >&2; }

if [[ ! -f $state_dir/started ]]; then
    log "no engine started by docker-up.sh; nothing to stop"
    exit 0
fi

owner=$(cat "$state_dir/owner" 2>/dev/null || true)
if [[ -n ${SECCOMPGEN_DOCKER_OWNER:-} && $owner != "$SECCOMPGEN_DOCKER_OWNER" ]]; then
    log "the running engine was not started by this run (owner '${owner:-unknown}'); left alone"
    exit 0
fi

pid=$(cat "$state_dir/dockerd.pid" 2>/dev/null || cat "$state_dir/started" 2>/dev/null || true)
# Only signal the pid when it still is a dockerd: pids are reused after a process dies.
if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]]; then
    log "stopping dockerd (pid $pid)"
    # SIGTERM is dockerd's clean shutdown: it stops containers and its managed containerd.
    kill -TERM "$pid"
    deadline=$((SECONDS + wait_s))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            log "dockerd (pid $pid) still running after ${wait_s}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
else
    log "dockerd started by docker-up.sh is no longer running"
fi
rm -f "$state_dir/started" "$state_dir/dockerd.pid" "$state_dir/owner"
