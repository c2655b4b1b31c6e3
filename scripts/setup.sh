#!/usr/bin/env bash
# Create the project's virtual environment (.venv, or $BALA_VENV) and install bala into it
# (idempotent). Nothing is installed into the caller's Python, so a dependency missing from
# pyproject.toml fails here and in CI instead of being hidden by the machine's packages.
# torch is pinned to the local CPU wheel first: an unpinned torch pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${BALA_VENV:-.venv}
PY=${PYTHON:-python3.11}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --quiet --disable-pip-version-check)
"${PIP[@]}" install "torch==2.13.0"
# `train` (datasets, accelerate): the tests run `bala train`'s fine-tuning for a few steps.
"${PIP[@]}" install -e ".[test,train]"
