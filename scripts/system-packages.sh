#!/usr/bin/env bash
# Debian packages some tests use: Chromium (renders the HTML report) and a PostgreSQL server
# (Meltano's system database on Postgres). Installed only when missing and when we may use apt;
# otherwise the tests that need them skip and say why.
set -uo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  apt=(apt-get)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  apt=(sudo -n apt-get)
else
  echo "Not installing ${missing[*]} (needs root): the tests that use them will skip." >&2
  exit 0
fi
echo "Installing Debian packages: ${missing[*]} (log: .venv/apt.log) ..."
mkdir -p .venv
if ! { "${apt[@]}" update -qq && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}"; } >.venv/apt.log 2>&1; then
  tail -n 20 .venv/apt.log >&2
  echo "Could not install ${missing[*]}: the tests that use them will skip." >&2
fi
exit 0
