#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, lint, type check, tests.
# Extra arguments go to pytest (e.g. scripts/test.sh -k parser).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

echo "== ruff" >&2
.venv/bin/ruff check seccompgen tests benchmarks
.venv/bin/ruff format --check seccompgen tests benchmarks
echo "== mypy" >&2
.venv/bin/mypy
echo "== pytest" >&2
# pytest's own exit status is the script's: 5 (no tests collected) fails like any other.
exec .venv/bin/python -m pytest "$@"
