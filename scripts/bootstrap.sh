#!/usr/bin/env bash
# Creates ./.venv with Python 3.11 and installs the project's packages and tools into it.
# Idempotent: re-running only installs what changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python_bin="${PYTHON:-}"
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python_bin="$candidate"; break
    fi
  done
fi
if [ -z "$python_bin" ]; then
  echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$python_bin" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want="$(cat requirements-dev.txt */pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "Installing the project into .venv (log: .venv/install.log) ..."
  if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -r requirements-dev.txt; } > .venv/install.log 2>&1; then
    tail -n 40 .venv/install.log >&2
    echo "Installation failed; the full log is .venv/install.log" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
