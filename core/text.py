"""Pure text comparisons shared by the answer engine and the benchmarks that mirror it."""

from __future__ import annotations

import re

NEAR_DUPLICATE = 0.8  # share of words two sentences have in common when they say the same
_WORD = re.compile(r"\w+")


def near_duplicate(a: str, b: str) -> bool:
    """The same sentence twice: overlapping excerpts of one abstract, an excerpt cut mid-word
    ("he Fragile-X related disorders…"), a title repeated in a reprint. Word-set Jaccard at
    least `NEAR_DUPLICATE`; texts without words compare as they are."""
    wa, wb = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    if not wa or not wb:
        return a.strip().lower() == b.strip().lower()
    return len(wa & wb) / len(wa | wb) >= NEAR_DUPLICATE
