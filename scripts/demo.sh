#!/usr/bin/env bash
# Fresh machine -> running app: install, ingest the demo library beside the repo, serve it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
source "${BALA_VENV:-.venv}/bin/activate"
export HF_HUB_OFFLINE=1
export BALA_INDEX=${BALA_INDEX:-$HOME/.local/share/bala/index}
SHARED=${BALA_SHARED:-../shared}
bala ingest "$SHARED/corpus"
bala status | head -5
exec bala serve --host "${BALA_HOST:-127.0.0.1}" --port "${BALA_PORT:-8501}"
