"""Helpers the benchmarks share: the shared data folder, child processes, printed results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def shared_folder() -> Path:
    """`$BALA_SHARED`, else `shared` beside the repository."""
    env = os.environ.get("BALA_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"


def run_in_child(module: str, function: str, *args, timeout: float = 7200) -> dict:
    """`module.function(*args)` in a fresh interpreter, so its peak memory is its own; the
    arguments travel as JSON, and the child's last printed line is its JSON result."""
    code = (
        f"import json, sys; from {module} import {function}; {function}(*json.loads(sys.argv[1]))"
    )
    cmd = [sys.executable, "-c", code, json.dumps(args)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=timeout)
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_json(result: dict, out: str | None) -> str:
    """A benchmark's JSON result as text, also written to the file `out` when one is named."""
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")
    return text


def print_result(result: dict, out: str | None = None) -> None:
    """A benchmark's JSON result on stdout, and also in the file `out` when one is named."""
    print(write_json(result, out))
