#!/usr/bin/env bash
# The plugins' own tests (<plugin>/tests/) on Python 3.13, the newest Python the plugins
# declare, in a venv of their own (.venv-py313) with the OLDEST singer-sdk their range accepts: with the main
# .venv (3.11, the newest SDK patch) both ends of the supported Pythons and of the SDK range are tested.
# Fails loudly when Python 3.13 is missing: CI machines have it (pyenv), so a skip would hide a real gap.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python_bin="${PYTHON313:-}"
if [ -z "$python_bin" ]; then
  for candidate in python3.13 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
      python_bin="$candidate"; break
    fi
  done
fi
if [ -z "$python_bin" ]; then
  echo "scripts/test-py313.sh: Python 3.13 not found (no python3.13 on PATH, none under ~/.pyenv/versions);" \
       "install it or set PYTHON313=/path/to/python3.13. The plugins declare 3.13 support: this is not skipped." >&2
  exit 1
fi
# The floor of the SDK range, read from the tap's own dependency line so the two cannot drift apart.
sdk_floor="$(sed -n 's/^ *"singer-sdk\[msgspec\]>=\([0-9][0-9.]*\),<[0-9.]*",$/\1/p' tap-practicehub/pyproject.toml)"
if [ -z "$sdk_floor" ]; then
  echo "scripts/test-py313.sh: cannot read the singer-sdk range from tap-practicehub/pyproject.toml" >&2
  exit 1
fi
mapper_pyproject="$(grep -l '^name = "map-practicehub-pipedrive"$' ./*/pyproject.toml)"
mapper_dir="$(dirname "$mapper_pyproject")"
venv=.venv-py313
if [ ! -x "$venv/bin/python" ]; then
  "$python_bin" -m venv "$venv"
fi
stamp="$venv/.requirements.sha256"
want="$(cat ./*/pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "Installing the plugins into $venv with Python 3.13 and singer-sdk $sdk_floor (log: $venv/install.log) ..."
  if ! { "$venv/bin/python" -m pip install --upgrade pip \
         && "$venv/bin/python" -m pip install -e ./sandbox -e ./test-support -e "./tap-practicehub[testing]" -e ./target-pipedrive \
              -e "$mapper_dir" "singer-sdk[msgspec,testing]==$sdk_floor" \
              "pytest>=9.1" "hypothesis>=6.100" "openapi-core>=0.23,<0.24" "psutil>=5.9"; } > "$venv/install.log" 2>&1; then
    tail -n 40 "$venv/install.log" >&2
    echo "scripts/test-py313.sh: installation failed; the full log is $venv/install.log" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
"$venv/bin/python" -c 'import sys, importlib.metadata as m; print("Python", sys.version.split()[0], "singer-sdk", m.version("singer-sdk"))'
# A quick subset (about 2-3 minutes; the plugins' whole suites take ~18 here, mostly rate-limit waits that do
# not depend on the Python version): each plugin's CLI, settings, SDK standard suite and private-API checks, a
# full tap sync and incremental re-run, the target's load and commands, the mapper's golden output and CLI, and
# the packaging checks (no deprecation warning). Each plugin's tests run from its own folder, as in the main suite.
# `scripts/test-py313.sh target-pipedrive [pytest args]` runs one plugin's tests instead (all of them by default).
# Slow tests drive Meltano, which this venv does not carry; the main suite runs them on 3.11.
run() {  # run FOLDER [pytest args]
  local folder="$1"; shift
  echo "== $folder (Python 3.13)"
  (cd "$folder" && "$root/$venv/bin/python" -m pytest -m "not slow" -q -p no:cacheprovider "$@")
}
if [ "$#" -gt 0 ]; then
  run "$@"
  exit
fi
status=0
run tap-practicehub tests/test_core.py tests/test_sdk_standard.py tests/test_settings.py tests/test_schemas.py \
  tests/test_incremental.py tests/test_sdk_compat.py || status=$?
run target-pipedrive tests/test_sdk_standard.py tests/test_sdk_compat.py tests/test_units.py tests/test_values.py \
  tests/test_load.py tests/test_api_shapes.py tests/test_note_html.py tests/test_phi_guard.py \
  tests/test_commands.py || status=$?
run "$mapper_dir" tests/test_golden.py tests/test_cli.py tests/test_mapping_file.py tests/test_dedupe.py \
  tests/test_phi.py tests/test_propose.py tests/test_degraded.py || status=$?
run . tests/test_packaging.py || status=$?
exit "$status"
