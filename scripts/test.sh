#!/usr/bin/env bash
# The test command: installs what it needs, lints, then runs the whole suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
bash scripts/system-packages.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
