#!/usr/bin/env bash
# The test command: installs what it needs, lints, then runs every suite on Python 3.11 and (with no
# arguments, as CI runs it) the plugins' own tests on Python 3.13 too (scripts/test-py313.sh).
#
# Each plugin keeps its unit tests beside it (<plugin>/tests/, run from the plugin's folder with its own
# pytest settings, as it would be once released on its own); the root tests/ holds the end-to-end,
# reliability, integration and fleet suites. With no arguments the tests that measure a pace run first, alone;
# then the rest in three lanes at once (the plugins' suites then Python 3.13; end to end; fleet, reliability,
# integration and the repository checks): most of their time is spent waiting on rate limits, not CPU.
#
#   bash scripts/test.sh                                 everything (what CI runs)
#   bash scripts/test.sh target-pipedrive [-k adoption]  one plugin's tests (any pytest arguments after it)
#   bash scripts/test.sh tap-practicehub/tests/test_core.py
#   bash scripts/test.sh tests/e2e -x                    root suites: pytest arguments as usual
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
bash scripts/system-packages.sh
.venv/bin/ruff check .

python="$root/.venv/bin/python"
plugin_suites=(tap-practicehub map-practicehub-pipedrive target-pipedrive report sandbox)

suite_of() {  # the plugin folder a path argument belongs to, if any
  local first="${1%%/*}" suite
  for suite in "${plugin_suites[@]}"; do
    if [ "$first" = "$suite" ]; then echo "$suite"; return; fi
  done
}

if [ "$#" -gt 0 ]; then
  suite="$(suite_of "$1")"
  if [ -z "$suite" ]; then
    exec "$python" -m pytest "$@"
  fi
  rest=("${@:2}")
  relative="${1#"$suite"}"; relative="${relative#/}"
  if [ -n "$relative" ]; then rest=("$relative" "${rest[@]}"); fi
  cd "$suite"
  exec "$python" -m pytest "${rest[@]}"
fi

logs="$root/output/test-logs"  # each suite's whole output, kept after the run (output/ is not versioned)
rm -rf "$logs"
mkdir -p "$logs"
run_suite() {  # run_suite NAME FOLDER [pytest args]: one pytest run, its output in a log, one result line printed
  local name="$1" folder="$2" started status=0
  shift 2
  started=$SECONDS
  (cd "$folder" && "$python" -m pytest -q -p no:cacheprovider --durations=10 "$@") > "$logs/$name.log" 2>&1 \
    || status=$?
  if [ "$status" -eq 5 ]; then status=0; fi  # 5: nothing selected (a suite without paced tests)
  echo "$status" > "$logs/$name.status"
  echo "[$name] $(tail -n 1 "$logs/$name.log") ($((SECONDS - started)) s)"
  sed -n '/short test summary info/,$p' "$logs/$name.log" | sed '1d;$d' | sed "s/^/[$name]   /"
}
# Tests that measure a pace run first, one suite at a time, with nothing else on the machine: beside the
# other lanes a starved process misses its pace, and that would say nothing about the code.
for suite in "${plugin_suites[@]}"; do run_suite "$suite-paced" "$suite" -m paced; done
plugin_lane() {
  local suite
  for suite in "${plugin_suites[@]}"; do run_suite "$suite" "$suite" -m "not paced"; done
  local started=$SECONDS status=0
  bash scripts/test-py313.sh > "$logs/python-3.13.log" 2>&1 || status=$?
  echo "$status" > "$logs/python-3.13.status"
  echo "[python-3.13] $(grep -E '(passed|failed|error).* in [0-9.]+s' "$logs/python-3.13.log" | paste -sd ';' -)" \
       "($((SECONDS - started)) s)"
}
plugin_lane &
plugin_pid=$!
run_suite end-to-end . -m "not paced" tests/e2e &
end_to_end_pid=$!
run_suite root . -m "not paced" --ignore=tests/e2e
wait "$plugin_pid" "$end_to_end_pid" || true

status=0
for result in "$logs"/*.status; do
  name="$(basename "$result" .status)"
  if [ "$(cat "$result")" != "0" ]; then
    status=1
    echo "===== $name: FAILED — its output follows ====="
    cat "$logs/$name.log"
  fi
done
if [ "$status" -eq 0 ]; then echo "All suites passed (logs: output/test-logs/)."; fi
exit "$status"
