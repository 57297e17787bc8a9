#!/usr/bin/env bash
# The main job on a fresh machine: build the example Go HTTP service, trace it on the host under
# strace with a loopback load, then emit its enforce and staging profiles into profiles/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

bin=.cache/bin
port=${PORT:-18080}
.venv/bin/python -m seccompgen.tracing.gobuild examples/httpservice "$bin/httpservice"
.venv/bin/python -m seccompgen.tracing.gobuild examples/loadgen "$bin/loadgen"

sg=.venv/bin/seccompgen
$sg trace "$bin/httpservice" --workload httpservice \
    --exercise "$bin/loadgen -c 4 -d 3s http://127.0.0.1:$port/healthz http://127.0.0.1:$port/debug/pprof/" \
    -- -addr "127.0.0.1:$port"
$sg emit --workload httpservice --mode enforce -o profiles/httpservice.json
$sg emit --workload httpservice --mode log -o profiles/httpservice.log.json
$sg validate profiles/httpservice.json profiles/httpservice.log.json
$sg diff profiles/httpservice.json docker-default --summary
