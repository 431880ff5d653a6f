#!/usr/bin/env bash
# The demo (first version): extract a synthetic practice from a local PracticeHub sandbox with Meltano
# and write it as JSON lines with target-jsonl. The sandbox runs at 20 requests/second (20x the real
# API's 1/s) so the demo takes about a minute; everything binds to 127.0.0.1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
export PATH="$root/.venv/bin:$PATH"

# Keep Meltano's and uv's caches, logs and temp files inside the project.
export XDG_CACHE_HOME="$root/.meltano/xdg-cache" XDG_STATE_HOME="$root/.meltano/xdg-state"
export UV_CACHE_DIR="$root/.meltano/uv-cache"
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false MELTANO_CLI_DISABLE_VERSION_CHECK=1
mkdir -p "$XDG_CACHE_HOME" "$XDG_STATE_HOME" "$UV_CACHE_DIR"

rate=20
api_key="demo-$RANDOM$RANDOM"
sandbox_log="$(mktemp)"
practicehub-sandbox --port 0 --dataset demo --api-keys "$api_key" --rate "$rate" --burst 2 >"$sandbox_log" 2>&1 &
sandbox_pid=$!
trap 'kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; rm -f "$sandbox_log"' EXIT
base_url=""
for _ in $(seq 1 300); do
  base_url="$(sed -n 's/^practicehub-sandbox listening on //p' "$sandbox_log")"
  [ -n "$base_url" ] && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$sandbox_log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$base_url" ] || { echo "The PracticeHub sandbox did not start:" >&2; cat "$sandbox_log" >&2; exit 1; }
echo "PracticeHub sandbox (demo practice, $rate req/s) at $base_url"

export PRACTICEHUB_BASE_URL="$base_url"
export PRACTICEHUB_API_KEYS="[\"$api_key\"]"
export PRACTICEHUB_APP_DETAILS="practicehub-demo=demo@example.com"
export MELTANO_ENVIRONMENT=demo  # requests_per_second: 20 (meltano.yml)

rm -rf output/jsonl
mkdir -p output/jsonl
meltano install
meltano run --full-refresh tap-practicehub target-jsonl  # a fresh full extraction every time

echo
echo "Output: $root/output/jsonl (one .jsonl file per stream)"
for file in output/jsonl/*.jsonl; do
  printf '  %-28s %6d records\n' "$(basename "$file" .jsonl)" "$(wc -l <"$file")"
done
