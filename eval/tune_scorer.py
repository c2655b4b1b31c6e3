"""`bala train bars`: choose the quote bar and margin on BioASQ 10B only (never 11B).

The engine reports each candidate's answer probability for every 10B factoid/list question
(the shipped answer model, app/engine/scorer.py). The first quote is the best non-echo
candidate; further quotes are shown when their probability clears `quote_bar` and their score
is within `quote_margin` of the first. The pair chosen maximizes the share of questions with
an exact answer in some shown quote minus `QUOTE_COST` per shown quote (more quotes always
find more; a clinician reads each). The first-quote rate does not depend on the pair.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from eval.answer_metrics import contains_answer
from eval.answers_corpus import BenchQuestion

BARS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
MARGINS = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
QUOTE_COST = 0.02
MAX_QUOTES = 5


def collect_rows(questions: list[BenchQuestion], signals: Callable[[str], list[dict]]) -> list:
    """Per tune-split factoid/list question: its candidates (answer, score) and answer hits."""
    rows = []
    for q in questions:
        if q.split != "tune" or q.kind not in ("factoid", "list") or not q.exact:
            continue
        cands = [c for c in signals(q.body) if not c.get("restates")]
        for c in cands:
            c["hit"] = contains_answer(c["text"], q.exact)
        rows.append(sorted(cands, key=lambda c: -c["score"]))
    return rows


def shown(ranked: list[dict], bar: float, margin: float) -> list[dict]:
    if not ranked:
        return []
    top = ranked[0]["score"]
    rest = [c for c in ranked[1:] if c["answer"] >= bar and c["score"] >= top - margin]
    return [ranked[0]] + rest[: MAX_QUOTES - 1]


def tune(rows: list) -> dict:
    """The (quote_bar, quote_margin) pair (see the module docstring) and its rates."""
    n = max(1, len(rows))
    grid = []
    for bar, margin in itertools.product(BARS, MARGINS):
        picks = [shown(r, bar, margin) for r in rows]
        any_hit = sum(any(c["hit"] for c in p) for p in picks) / n
        mean_quotes = sum(len(p) for p in picks) / n
        grid.append((any_hit - QUOTE_COST * mean_quotes, bar, margin, any_hit, mean_quotes))
    _, bar, margin, any_hit, mean_quotes = max(grid, key=lambda g: (round(g[0], 6), g[1]))
    first = sum(1 for r in rows if r and r[0]["hit"]) / n
    return {
        "questions": len(rows),
        "first_hit": round(first, 4),
        "quote_bar": bar,
        "quote_margin": margin,
        "any_hit": round(any_hit, 4),
        "mean_quotes": round(mean_quotes, 2),
    }
