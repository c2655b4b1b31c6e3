"""Where the shared data folder lies: `$BALA_SHARED`, else `shared` beside the repository."""

from __future__ import annotations

import os
from pathlib import Path


def shared_folder() -> Path:
    env = os.environ.get("BALA_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"
