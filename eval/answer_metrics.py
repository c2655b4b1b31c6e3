"""Answer-level metrics: is a gold exact answer inside a quote; ROUGE-2 recall of the quotes.

An exact answer matches when any of its synonyms occurs in the text case-folded, at word
boundaries: "XIa" matches "factor XIa (FXIa)", not "FXIa"; a hyphen is a boundary.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+")


@lru_cache(maxsize=8192)
def _pattern(name: str) -> re.Pattern:
    return re.compile(r"(?<![a-z0-9])" + re.escape(name.casefold()) + r"(?![a-z0-9])")


def contains_answer(text: str, items: Sequence[Sequence[str]]) -> bool:
    """Whether any synonym of any exact-answer item occurs in `text` (case-folded, bounded)."""
    folded = text.casefold()
    return any(_pattern(name).search(folded) for item in items for name in item if name)


def _bigrams(text: str) -> Counter:
    words = _WORD.findall(text.casefold())
    return Counter(zip(words, words[1:]))


def rouge2_recall(candidate_texts: Iterable[str], reference: str) -> float:
    """Share of the reference's word bigrams found in the candidates (clipped counts)."""
    ref = _bigrams(reference)
    if not ref:
        return 0.0
    cand = Counter()
    for text in candidate_texts:
        cand.update(_bigrams(text))
    hit = sum(min(n, cand[b]) for b, n in ref.items())
    return hit / sum(ref.values())
