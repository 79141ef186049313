#!/usr/bin/env bash
# Everything the project's own tests need on a fresh machine: the package with its dev extra,
# headless Chromium for the report tests, and the real reference servers (cached outside the clone).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -m pip install -q --disable-pip-version-check -e '.[dev]'
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "setup: could not install chromium; browser tests will skip with the reason" >&2
  fi
fi
bash servers/install.sh all
