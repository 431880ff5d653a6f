#!/usr/bin/env bash
# The test command: installs what it needs, lints, then runs the whole suite on Python 3.11, and (with no
# arguments, as CI runs it) the plugins' own tests on Python 3.13 too (scripts/test-py313.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
bash scripts/system-packages.sh
.venv/bin/ruff check .
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$#" -eq 0 ]; then
  bash scripts/test-py313.sh || status=$?
fi
exit "$status"
