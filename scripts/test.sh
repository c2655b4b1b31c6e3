#!/usr/bin/env bash
# Install everything the tests need (Python packages, Debian's chromium) and run them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -f scripts/install_browser.sh ]; then bash scripts/install_browser.sh; fi
export HF_HUB_OFFLINE=1
python3 -m ruff check ingest index app eval tests
python3 -m pytest "$@"
