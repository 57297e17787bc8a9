#!/usr/bin/env bash
# Build the corpus image: Debian bookworm minbase plus the Go programs of tests/corpus, from
# Debian packages, without any image registry.
#
#   scripts/build-corpus-image.sh [--print-tag] [--force]
#
# The packages are listed in tests/corpus/packages.txt. The image is bootstrapped with
# mmdebstrap and imported with `docker import` by scripts/build-base-image.sh (--include), and
# tagged seccompgen/corpus:<hash>, the hash taken over the package list, this script and
# build-base-image.sh: an image already present under that tag is reused, and any change to
# them builds a new one. Prints the tag on standard output. Nothing is ever pulled.
#
# --print-tag prints the tag without building; --force rebuilds an image that is present.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
list=$repo/tests/corpus/packages.txt
print_only=0
force=()
while (($#)); do
    case $1 in
    --print-tag) print_only=1 ;;
    --force) force=(--force) ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-corpus-image: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

packages=$(grep -vE '^[[:space:]]*(#|$)' "$list" | tr -d '[:blank:]' | sort -u | paste -sd, -)
if [[ -z $packages ]]; then
    echo "build-corpus-image: $list lists no package" >&2
    exit 1
fi
hash=$(cat "$list" "$here/build-corpus-image.sh" "$here/build-base-image.sh" | sha256sum | cut -c1-12)
tag=seccompgen/corpus:$hash
if ((print_only)); then
    echo "$tag"
    exit 0
fi
"$here/build-base-image.sh" "${force[@]}" --include "$packages" --tag "$tag" >&2
echo "$tag"
