#!/usr/bin/env bash
# Install everything the tests need (the project venv, Debian's chromium) and run them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -f scripts/install_browser.sh ]; then bash scripts/install_browser.sh; fi
# shellcheck disable=SC1091
source "${BALA_VENV:-.venv}/bin/activate"
export HF_HUB_OFFLINE=1
python -m ruff check core ingest index app eval tests
python -m pytest "$@"
