#!/usr/bin/env bash
# Three practices migrated at once under Dagster (orchestration/), their state in one shared PostgreSQL
# database. Installs what it needs into .venv (and PostgreSQL's server, as root); outputs go to
# output/<practice environment>/ and output/fleet/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
pg_server() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
pg_server || bash scripts/system-packages.sh  # Debian's PostgreSQL server (as root or with sudo)
if ! pg_server; then
  echo "The fleet demo needs a PostgreSQL server: run scripts/system-packages.sh as root." >&2
  exit 1
fi
# Keep Meltano's and uv's caches, logs and temp files inside the project.
export XDG_CACHE_HOME="$root/.meltano/xdg-cache" XDG_STATE_HOME="$root/.meltano/xdg-state"
export UV_CACHE_DIR="$root/.meltano/uv-cache"
mkdir -p "$XDG_CACHE_HOME" "$XDG_STATE_HOME" "$UV_CACHE_DIR"
exec .venv/bin/python scripts/fleet_demo.py "$@"
