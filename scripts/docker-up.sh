#!/usr/bin/env bash
# Make a Docker engine answer on this machine, idempotently, for the docker tests.
#
# - Installs Debian's docker.io (dockerd, containerd, runc), crun (a second OCI runtime, for the
#   tests that run containers under it) and mmdebstrap (for the local base image,
#   scripts/build-base-image.sh) with apt-get when they are missing. Needs root for that.
# - On a hybrid cgroup layout (v1 controllers under /sys/fs/cgroup, cgroup2 at
#   /sys/fs/cgroup/unified) whose cgroup2 root still holds a controller, mounts a v1 hierarchy for
#   it: crun runs no container otherwise (see release_cgroup2_controllers). The mount stays.
# - When an engine already answers (`docker info`), does not start one and records nothing, so
#   scripts/docker-down.sh will not stop it. If that engine has no runtime named crun and this
#   script started it, registers crun by a configuration reload (SIGHUP); for an engine it did not
#   start it only says what is missing and how to add it.
# - Otherwise starts dockerd in the background with the default bridge disabled
#   (--bridge=none): containers get only `--network none` or `--network host`, never a
#   non-loopback address of their own. With no bridge there is nothing for dockerd to NAT, so it
#   is told not to touch iptables either. Its pidfile, log and a "started" marker live in
#   $SECCOMPGEN_DOCKER_STATE (default /run/seccompgen-docker); docker-down.sh stops only a daemon
#   whose marker is there, and, when $SECCOMPGEN_DOCKER_OWNER is set, only one started by a
#   docker-up.sh run with the same owner (so a test run stops only the engine it started).
#   crun is registered as the runtime "crun" (`--add-runtime crun=/usr/bin/crun`, or through the
#   "runtimes" of /etc/docker/daemon.json when that file declares any: dockerd refuses a flag and
#   a file key for the same option).
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
command -v crun >/dev/null 2>&1 || need+=(crun)
if ((${#need[@]})); then
    install_debian_packages "${need[@]}"
fi
crun_bin=$(command -v crun)

# crun 1.8 refuses to create a container's cgroup on a hybrid layout whose cgroup2 root has any
# controller: "cgroups in hybrid mode not supported, drop all controllers from cgroupv2" (crun
# src/libcrun/cgroup.c, libcrun_cgroup_enter, which reads /sys/fs/cgroup/unified/cgroup.controllers).
# A controller that no v1 hierarchy has bound is the cgroup2 root's; mounting a v1 hierarchy for it
# moves it there ("a cgroup v2 controller is available only if it is not currently in use via a
# mount against a cgroup v1 hierarchy", cgroups(7)), which the kernel allows while no cgroup2 group
# below the root has it enabled. runc works either way. Nothing is done on a pure v1 or v2 layout.
release_cgroup2_controllers() {
    local unified=/sys/fs/cgroup/unified controllers c
    [[ -r $unified/cgroup.controllers ]] || return 0
    controllers=$(cat "$unified/cgroup.controllers")
    [[ -n $controllers ]] || return 0
    if [[ $(id -u) -ne 0 ]]; then
        log "warning: cgroup2 at $unified holds controllers ($controllers): crun will refuse to run containers; as root, mount a cgroup v1 hierarchy for each (mount -t cgroup -o NAME cgroup /sys/fs/cgroup/NAME)"
        return 0
    fi
    for c in $controllers; do
        if mkdir -p "/sys/fs/cgroup/$c" && mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"; then
            log "mounted the cgroup v1 hierarchy $c at /sys/fs/cgroup/$c (crun runs no container while cgroup2 holds a controller on a hybrid layout)"
        else
            log "warning: could not move the $c controller from cgroup2 to a v1 hierarchy: crun will refuse to run containers"
        fi
    done
}
release_cgroup2_controllers

has_crun_runtime() {
    local names
    names=$(timeout 10 docker info --format '{{range $name, $_ := .Runtimes}} {{$name}}{{end}}' 2>/dev/null) || return 1
    [[ " $names " == *" crun "* ]]
}

# The configuration file a running dockerd reads (and rereads on SIGHUP): its --config-file, else
# /etc/docker/daemon.json (dockerd(8)).
dockerd_config_file() {
    local pid=$1 prev= arg file=/etc/docker/daemon.json
    while IFS= read -r -d '' arg; do
        case $arg in
            --config-file=*) file=${arg#--config-file=} ;;
            *) [[ $prev == --config-file ]] && file=$arg ;;
        esac
        prev=$arg
    done <"/proc/$pid/cmdline"
    printf '%s\n' "$file"
}

# Register crun with a running dockerd that this script started, without restarting it: add it to
# the "runtimes" of the configuration file and send SIGHUP, on which dockerd reloads `runtimes`
# ("Configuration reload behavior", dockerd(8)). Containers keep running.
register_crun() {
    local pid file
    pid=$(cat "$state_dir/dockerd.pid" 2>/dev/null || true)
    if [[ -z $pid ]] || [[ $(cat "/proc/$pid/comm" 2>/dev/null) != dockerd ]]; then
        log "warning: the engine has no crun runtime and its dockerd pid is unknown; the crun tests will fail"
        return 0
    fi
    if [[ $(tr '\0' '\n' <"/proc/$pid/cmdline") == *$'\n'--add-runtime* ]]; then
        log "warning: dockerd (pid $pid) has --add-runtime flags but no crun; a \"runtimes\" key in its configuration file would conflict with them. Restart it with scripts/docker-down.sh and scripts/docker-up.sh to get crun"
        return 0
    fi
    file=$(dockerd_config_file "$pid")
    log "registering crun ($crun_bin) with dockerd (pid $pid): \"runtimes\" in $file, then SIGHUP"
    mkdir -p "$(dirname "$file")"
    python3 - "$file" "$crun_bin" <<'PY'
import json, os, sys
path, crun = sys.argv[1], sys.argv[2]
try:
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
except FileNotFoundError:
    config = {}
config.setdefault("runtimes", {}).setdefault("crun", {"path": crun})
tmp = path + ".seccompgen.tmp"
with open(tmp, "w", encoding="utf-8") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
os.replace(tmp, path)
PY
    kill -HUP "$pid"
    local deadline=$((SECONDS + 15))
    until has_crun_runtime; do
        if ((SECONDS >= deadline)); then
            log "warning: dockerd did not list crun after the reload; last lines of $state_dir/dockerd.log:"
            tail -n 5 "$state_dir/dockerd.log" >&2 || true
            return 0
        fi
        sleep 0.5
    done
    log "crun registered with the engine (runtime \"crun\")"
}

client=$(command -v docker)
if engine_answers; then
    if [[ -f $state_dir/started ]]; then
        log "engine answers (dockerd pid $(cat "$state_dir/dockerd.pid" 2>/dev/null || echo '?'), started by this script); client $client"
        has_crun_runtime || register_crun
    else
        log "engine already answers (not started by this script; left alone); client $client"
        if ! has_crun_runtime; then
            log "warning: that engine has no runtime named crun, which the crun tests need: add {\"runtimes\": {\"crun\": {\"path\": \"$crun_bin\"}}} to its daemon.json and send dockerd SIGHUP (or start it with --add-runtime crun=$crun_bin)"
        fi
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

# crun as the runtime "crun": by flag, unless the configuration file dockerd reads by default
# already has "runtimes" (a flag and a file key for the same option make dockerd refuse to start,
# "the following directives are specified both as a flag and in the configuration file").
runtime_flags=(--add-runtime "crun=$crun_bin")
if [[ -f /etc/docker/daemon.json ]] && python3 -c 'import json,sys; sys.exit(0 if "runtimes" in json.load(open(sys.argv[1])) else 1)' /etc/docker/daemon.json; then
    runtime_flags=()
    if ! python3 -c 'import json,sys; sys.exit(0 if "crun" in json.load(open(sys.argv[1]))["runtimes"] else 1)' /etc/docker/daemon.json; then
        log "warning: /etc/docker/daemon.json declares \"runtimes\" without crun; the crun tests need it there"
    fi
fi

if [[ ! -f $pidfile ]]; then
    log "starting $dockerd_bin (bridge disabled, no iptables, runtimes runc and crun); log: $logfile"
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
        "${runtime_flags[@]}" \
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
