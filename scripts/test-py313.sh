#!/usr/bin/env bash
# The plugins' own tests (tests/tap, tests/target, tests/transform) on Python 3.13, the newest Python the plugins
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
         && "$venv/bin/python" -m pip install -e ./sandbox -e "./tap-practicehub[testing]" -e ./target-pipedrive \
              -e "$mapper_dir" "singer-sdk[msgspec,testing]==$sdk_floor" \
              "pytest>=9.1" "hypothesis>=6.100" "openapi-core>=0.23,<0.24" "psutil>=5.9"; } > "$venv/install.log" 2>&1; then
    tail -n 40 "$venv/install.log" >&2
    echo "scripts/test-py313.sh: installation failed; the full log is $venv/install.log" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
"$venv/bin/python" -c 'import sys, importlib.metadata as m; print("Python", sys.version.split()[0], "singer-sdk", m.version("singer-sdk"))'
# A quick subset (about 2-3 minutes; the whole of tests/tap, tests/target and tests/transform takes ~18 here,
# mostly rate-limit waits that do not depend on the Python version): each plugin's CLI, settings, SDK
# standard suite and private-API checks, a full tap sync and incremental re-run, the target's load and
# commands, the mapper's golden output and CLI, and the packaging checks (no deprecation warning).
# Arguments replace the selection: `scripts/test-py313.sh tests/tap` runs all the tap's tests.
# Slow tests drive Meltano, which this venv does not carry; the main suite runs them on 3.11.
if [ "$#" -eq 0 ]; then
  set -- tests/test_packaging.py \
    tests/tap/test_core.py tests/tap/test_sdk_standard.py tests/tap/test_settings.py tests/tap/test_schemas.py \
    tests/tap/test_incremental.py tests/tap/test_sdk_compat.py \
    tests/target/test_sdk_standard.py tests/target/test_sdk_compat.py tests/target/test_units.py \
    tests/target/test_values.py tests/target/test_load.py tests/target/test_api_shapes.py \
    tests/target/test_note_html.py tests/target/test_phi_guard.py tests/target/test_commands.py \
    tests/transform/test_golden.py tests/transform/test_cli.py tests/transform/test_mapping_file.py \
    tests/transform/test_dedupe.py tests/transform/test_phi.py tests/transform/test_propose.py \
    tests/transform/test_degraded.py
fi
exec "$venv/bin/python" -m pytest -m "not slow" -q -p no:cacheprovider "$@"
