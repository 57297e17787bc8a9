#!/usr/bin/env bash
# Make a Docker engine answer on this machine, idempotently, for the docker tests.
#
# - Installs Debian's docker.io (dockerd, containerd, runc) and mmdebstrap (for the local base
#   image, scripts/build-base-image.sh) with apt-get when they are missing. Needs root for that.
# - When an engine already answers (`docker info`), leaves it alone and records nothing, so
#   scripts/docker-down.sh will not stop it.
# - Otherwise starts dockerd in the background with the default bridge disabled
#   (--bridge=none): containers get only `--network none` or `--network host`, never a
#   non-loopback address of their own. With no bridge there is nothing for dockerd to NAT, so it
#   is told not to touch iptables either. Its pidfile, log and a "started" marker live in
#   $SECCOMPGEN_DOCKER_STATE (default /run/seccompgen-docker); docker-down.sh stops only a daemon
#   whose marker is there, and, when $SECCOMPGEN_DOCKER_OWNER is set, only one started by a
#   docker-up.sh run with the same owner (so a test run stops only the engine it started).
# - Waits (bounded by $SECCOMPGEN_DOCKER_WAIT seconds, default 60) until `docker info` answers;
#   on failure prints the tail of the daemon's log and exits 1.
#
# Clients: /usr/local/bin/docker (a newer CLI) comes before Debian's /usr/bin/docker on PATH when
# present; both negotiate the API version down to what the daemon speaks (Debian's dockerd 20.10
# speaks API 1.41), so either works. The script prints which client and daemon it found.
set -euo pipefail

state_dir=${SECCOMPGEN_DOCKER_STATE:-/run/seccompgen-docker}
wait_s=${SECCOMPGEN_DOCKER_WAIT:-60}
log() { echo "docker-up: $*" >&2; }

engine_answers() {
    timeout 10 docker info >/dev/null 2>&1
}

install_debian_packages() {
    local pkgs=("$@")
    if [[ $(id -u) -ne 0 ]]; then
        log "need root to apt-get install ${pkgs[*]}; install them and rerun"
        exit 1
    fi
    log "installing Debian packages: ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Package scripts must not start a daemon with its default (bridged) network: this script
    # starts the one the tests use. policy-rc.d's exit 101 means "action forbidden"
    # (invoke-rc.d(8), /usr/share/doc/init-system-helpers/README.policy-rc.d).
    local added_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    local rc=0
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; } || rc=$?
    if ((added_policy)); then rm -f /usr/sbin/policy-rc.d; fi
    if ((rc)); then
        log "apt-get install ${pkgs[*]} failed (exit $rc)"
        exit 1
    fi
}

need=()
[[ -x /usr/sbin/dockerd ]] || command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker >/dev/null 2>&1 || [[ " ${need[*]} " == *" docker.io "* ]] || need+=(docker.io)
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
if ((${#need[@]})); then
    install_debian_packages "${need[@]}"
fi

client=$(command -v docker)
if engine_answers; then
    if [[ -f $state_dir/started ]]; then
        log "engine answers (dockerd pid $(cat "$state_dir/dockerd.pid" 2>/dev/null || echo '?'), started by this script); client $client"
    else
        log "engine already answers (not started by this script; left alone); client $client"
    fi
    exit 0
fi

dockerd_bin=$(command -v dockerd || echo /usr/sbin/dockerd)
if [[ $(id -u) -ne 0 ]]; then
    log "no Docker engine answers and starting $dockerd_bin needs root"
    exit 1
fi
mkdir -p "$state_dir"
pidfile=$state_dir/dockerd.pid
logfile=$state_dir/dockerd.log

# A stale pidfile from a daemon that died makes dockerd refuse to start; clear it only when its
# process is gone.
if [[ -f $pidfile ]]; then
    old=$(cat "$pidfile" 2>/dev/null || true)
    if [[ -n $old ]] && kill -0 "$old" 2>/dev/null; then
        log "dockerd (pid $old) is running but does not answer yet; waiting for it"
    else
        rm -f "$pidfile" "$state_dir/started"
    fi
fi

if [[ ! -f $pidfile ]]; then
    log "starting $dockerd_bin (bridge disabled, no iptables); log: $logfile"
    # dockerd starts and supervises its own containerd when none is configured
    # (dockerd(8), --containerd). setsid detaches it from this script's session so it outlives
    # the caller; --pidfile is what docker-down.sh signals.
    setsid "$dockerd_bin" \
        --bridge=none \
        --iptables=false \
        --ip-masq=false \
        --ip-forward=false \
        --pidfile="$pidfile" \
        --host=unix:///var/run/docker.sock \
        </dev/null >>"$logfile" 2>&1 &
    echo $! >"$state_dir/started"
    # Who started it: docker-down.sh run with the same $SECCOMPGEN_DOCKER_OWNER stops it, and a
    # later run that merely found the engine answering (another owner) leaves it alone.
    printf '%s\n' "${SECCOMPGEN_DOCKER_OWNER:-}" >"$state_dir/owner"
fi

deadline=$((SECONDS + wait_s))
until engine_answers; do
    if ((SECONDS >= deadline)); then
        log "dockerd did not answer within ${wait_s}s; last lines of $logfile:"
        tail -n 30 "$logfile" >&2 || true
        exit 1
    fi
    started_pid=$(cat "$state_dir/started" 2>/dev/null || true)
    if [[ -n $started_pid ]] && ! kill -0 "$started_pid" 2>/dev/null; then
        log "dockerd exited during start-up; last lines of $logfile:"
        tail -n 30 "$logfile" >&2 || true
        rm -f "$state_dir/started"
        exit 1
    fi
    sleep 0.5
done

versions=$(docker version --format 'client {{.Client.Version}} (API {{.Client.APIVersion}}), server {{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null || echo '?')
log "engine answers: $versions; client $client"
