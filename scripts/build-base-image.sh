#!/usr/bin/env bash
# Build a local Debian base image from Debian packages, without any image registry.
#
#   scripts/build-base-image.sh [--force] [--include PKG,...] [--tag TAG] [--save FILE.tar]
#
# mmdebstrap(1) bootstraps a `minbase` bookworm root file system (the package set of Debian's
# `-slim` images: Essential + apt) into a tarball, trimmed like those images (no man pages, docs
# or locales), and `docker import` turns it into the image TAG (default
# seccompgen/debian:bookworm-slim, or $SECCOMPGEN_BASE_IMAGE). Nothing is ever pulled.
#
# The packages come from this machine's apt sources (its sources.list files are handed to
# mmdebstrap, so the image's apt uses the same mirrors) and the apt options this machine needs
# to reach them (snapshot validity, proxies) are carried into the image, so `apt-get` in a
# `docker build --network host` FROM this image works as well as it does here.
#
# An image already present under TAG is reused unless --force is given. --include adds packages
# (e.g. strace,python3) for machines where apt cannot run inside a container build. --save also
# writes the image with `docker save`, for `docker load` on another machine.
set -euo pipefail

tag=${SECCOMPGEN_BASE_IMAGE:-seccompgen/debian:bookworm-slim}
suite=bookworm
force=0
include=""
save=""
while (($#)); do
    case $1 in
    --force) force=1 ;;
    --include) include=$2; shift ;;
    --include=*) include=${1#*=} ;;
    --tag) tag=$2; shift ;;
    --tag=*) tag=${1#*=} ;;
    --save) save=$2; shift ;;
    --save=*) save=${1#*=} ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-base-image: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
log() { echo "build-base-image: $*" >&2; }

if ! timeout 10 docker info >/dev/null 2>&1; then
    log "no Docker engine answers; start one with scripts/docker-up.sh"
    exit 1
fi
if ((!force)) && docker image inspect "$tag" >/dev/null 2>&1; then
    log "$tag is present ($(docker image inspect --format '{{.Id}}' "$tag" | cut -c1-19)); reusing it"
    [[ -z $save ]] || docker save -o "$save" "$tag"
    exit 0
fi
if ! command -v mmdebstrap >/dev/null 2>&1; then
    log "mmdebstrap is missing; scripts/docker-up.sh installs it (apt-get install mmdebstrap)"
    exit 1
fi

# This machine's Debian sources, as files mmdebstrap pastes into the image's sources.list
# (mmdebstrap(1), MIRROR: "if MIRROR is an existing file, its contents are pasted").
mirrors=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] && grep -qE '^[[:space:]]*(deb|Types:)' "$f" && grep -q debian "$f" && mirrors+=("$f")
done
((${#mirrors[@]})) || log "no Debian sources found under /etc/apt; using mmdebstrap's default mirror"

# The apt options this machine relies on to reach its mirrors: snapshot mirrors serve Release
# files past their Valid-Until date (apt.conf(5), Acquire::Check-Valid-Until), and a proxy may be
# configured. They go into the image's /etc/apt/apt.conf.d/99mmdebstrap.
aptopts=()
while IFS= read -r line; do
    aptopts+=(--aptopt="$line")
done < <(apt-config dump | grep -E '^Acquire::(Check-Valid-Until|Check-Date|https?::Proxy|Retries) ' || true)

work=$(mktemp -d "${TMPDIR:-/tmp}/seccompgen-base.XXXXXX")
trap 'rm -rf "$work"' EXIT
tarball=$work/rootfs.tar

log "bootstrapping Debian $suite (minbase${include:+ + $include}) with mmdebstrap"
start=$SECONDS
# The path excludes are those of Debian's slim images (debuerreotype's slimify list): dpkg never
# unpacks man pages, docs (but copyright) or translations.
mmdebstrap \
    --variant=minbase \
    --mode=auto \
    ${include:+--include="$include"} \
    "${aptopts[@]}" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log' \
    "$suite" "$tarball" "${mirrors[@]}" >"$work/mmdebstrap.log" 2>&1 || {
    log "mmdebstrap failed; last lines of its log:"
    tail -n 30 "$work/mmdebstrap.log" >&2
    exit 1
}
log "root file system: $(du -h "$tarball" | cut -f1) in $((SECONDS - start))s; importing as $tag"

# `docker import` keeps no config from the tarball; these mirror the official image's.
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --message "mmdebstrap --variant=minbase $suite${include:+ --include=$include}" \
    "$tarball" "$tag" >/dev/null
log "built $tag ($(docker image inspect --format '{{.Id}}' "$tag" | cut -c1-19))"
[[ -z $save ]] || docker save -o "$save" "$tag"
