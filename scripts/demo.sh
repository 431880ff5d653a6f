#!/usr/bin/env bash
# The main job: a whole migration of a synthetic practice between the two local sandboxes, with Meltano.
# Installs what it needs into .venv; every output goes under output/demo/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
# Keep Meltano's and uv's caches, logs and temp files inside the project.
export XDG_CACHE_HOME="$root/.meltano/xdg-cache" XDG_STATE_HOME="$root/.meltano/xdg-state"
export UV_CACHE_DIR="$root/.meltano/uv-cache"
mkdir -p "$XDG_CACHE_HOME" "$XDG_STATE_HOME" "$UV_CACHE_DIR"
exec .venv/bin/python scripts/migrate_demo.py --confirm-mapping "$@"
