"""Text normalizations the reference benchmarks share (ours and the refextract comparison)."""

from __future__ import annotations

import re

TRUTH = "truth.json"


def norm(text: str) -> str:
    """Whitespace collapsed (the comparison the truth's README describes)."""
    return " ".join(text.split())


def loose(text: str) -> str:
    """Letters and digits only, lower case (hyphenation and spacing differences ignored)."""
    return re.sub(r"[^0-9a-z]", "", text.lower())
