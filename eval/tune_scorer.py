"""`bala train bars`: choose the prior weight, quote bar and margin on BioASQ 10B only.

The engine reports each candidate's answer probability and signals for every 10B
factoid/list question (the shipped answer model, app/engine/scorer.py). A candidate's score
is its probability plus `prior_weight` x its retrieval prior (1 / passage rank); the weight
maximizing the share of questions whose best non-echo candidate holds an exact answer is
chosen first. Further quotes are shown when their probability clears `quote_bar` and their
score is within `answer_margin` of the first; that pair maximizes the share of questions with
an exact answer in some shown quote minus `QUOTE_COST` per shown quote (more quotes always
find more; a clinician reads each). 11B is never used here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from core.text import near_duplicate
from eval.answer_metrics import contains_answer
from eval.answers_corpus import BenchQuestion

PRIOR_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5)
BARS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
MARGINS = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
QUOTE_COST = 0.05  # 0.02 chose 4.6 quotes a question (padding); 0.05: 3.8, bar 0.2, margin 0.3
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
        rows.append(cands)
    return rows


def _ranked(cands: list[dict], w: float) -> list[dict]:
    scored = [{**c, "score": c["answer"] - c.get("penalty", 0.0) + w * c["prior"]} for c in cands]
    return sorted(scored, key=lambda c: -c["score"])


def shown(ranked: list[dict], bar: float, margin: float) -> list[dict]:
    """The quotes the engine would show: the best candidate, then those clearing the bar and
    the margin, a sentence already shown (or nearly: core/text.near_duplicate) skipped."""
    if not ranked:
        return []
    top = ranked[0]["score"]
    out = [ranked[0]]
    for c in ranked[1:]:
        if len(out) == MAX_QUOTES:
            break
        if c["answer"] < bar or c["score"] < top - margin:
            continue
        if not any(near_duplicate(c["text"], o["text"]) for o in out):
            out.append(c)
    return out


def first_hit(ranked: list[list[dict]]) -> float:
    return sum(1 for r in ranked if r and r[0]["hit"]) / max(1, len(ranked))


def tune(raw: list) -> dict:
    """Prior weight, then (quote_bar, answer_margin) (see the module docstring), with rates."""
    n = max(1, len(raw))
    by_weight = {w: first_hit([_ranked(c, w) for c in raw]) for w in PRIOR_WEIGHTS}
    weight = max(PRIOR_WEIGHTS, key=lambda w: (round(by_weight[w], 6), -w))
    rows = [_ranked(c, weight) for c in raw]
    grid = []
    for bar, margin in itertools.product(BARS, MARGINS):
        picks = [shown(r, bar, margin) for r in rows]
        any_hit = sum(any(c["hit"] for c in p) for p in picks) / n
        mean_quotes = sum(len(p) for p in picks) / n
        grid.append((any_hit - QUOTE_COST * mean_quotes, bar, margin, any_hit, mean_quotes))
    _, bar, margin, any_hit, mean_quotes = max(grid, key=lambda g: (round(g[0], 6), g[1]))
    return {
        "questions": len(rows),
        "prior_weight": weight,
        "first_hit_by_prior_weight": {str(w): round(v, 4) for w, v in by_weight.items()},
        "first_hit": round(by_weight[weight], 4),
        "quote_bar": bar,
        "answer_margin": margin,
        "any_hit": round(any_hit, 4),
        "mean_quotes": round(mean_quotes, 2),
    }
