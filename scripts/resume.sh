#!/usr/bin/env bash
# After a crash (SIGKILL, OOM, power loss): resume the migration job safely, e.g. `bash scripts/resume.sh full-migration`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
exec .venv/bin/python scripts/resume.py "$@"
