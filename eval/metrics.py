"""Pure evaluation metrics over BEIR/TREC-shaped data.

Shapes:
    qrels: dict[qid, dict[doc_id, int]]   relevance grade; grade > 0 means relevant
    run:   dict[qid, dict[doc_id, float]] retrieval score; higher is better

Conventions (shared by every ranking metric here):
    * A run is ranked by descending score; ties are broken by ascending doc_id so
      results are deterministic whatever the dict order.
    * Aggregates are the mean over the queries of `qrels` that have at least one
      relevant doc (grade > 0). Queries without relevant docs are ignored; a query
      missing from `run` scores 0. If no query qualifies the mean is 0.0.
    * nDCG uses linear gain (gain = grade, negative grades count as 0), a log2(rank+1)
      discount and the ideal DCG of the qrels' grades (as trec_eval / BEIR do).

No function mutates its inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]
# A per-query scorer: (ranked doc ids, that query's qrels, cutoff k) -> score.
QueryMetric = Callable[[Sequence[str], Mapping[str, int], int], float]


def rank_docs(scores: Mapping[str, float]) -> list[str]:
    """Doc ids ordered by descending score, ties broken by ascending doc id."""
    return [d for d, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]


def _relevant(rels: Mapping[str, int]) -> set[str]:
    return {d for d, g in rels.items() if g > 0}


def query_ndcg(ranked: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """nDCG@k of one ranked list (linear gain, log2 discount)."""
    dcg = sum(max(rels.get(d, 0), 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((g for g in rels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def query_recall(ranked: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """Share of the query's relevant docs found in the top k."""
    relevant = _relevant(rels)
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def query_mrr(ranked: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant doc within the top k, else 0."""
    rank = best_gold_rank(list(ranked), _relevant(rels), k)
    return 1.0 / rank if rank is not None else 0.0


METRICS: dict[str, QueryMetric] = {
    "ndcg": query_ndcg,
    "recall": query_recall,
    "mrr": query_mrr,
}


def per_query(metric: str | QueryMetric, qrels: Qrels, run: Run, k: int = 10) -> dict[str, float]:
    """Score of each query of `qrels` with >= 1 relevant doc (metric name or scorer)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    scorer = METRICS[metric] if isinstance(metric, str) else metric
    out: dict[str, float] = {}
    for qid in sorted(qrels):
        rels = qrels[qid]
        if not _relevant(rels):
            continue
        ranked = rank_docs(run.get(qid, {}))
        out[qid] = float(scorer(ranked, rels, k))
    return out


def _mean(values: Iterable[float]) -> float:
    vals = list(values)
    return sum(vals) / len(vals) if vals else 0.0


def ndcg_at_k(qrels: Qrels, run: Run, k: int = 10) -> float:
    """Mean nDCG@k (see module conventions)."""
    return _mean(per_query("ndcg", qrels, run, k).values())


def recall_at_k(qrels: Qrels, run: Run, k: int = 10) -> float:
    """Mean Recall@k (see module conventions)."""
    return _mean(per_query("recall", qrels, run, k).values())


def mrr_at_k(qrels: Qrels, run: Run, k: int = 10) -> float:
    """Mean reciprocal rank cut at k (see module conventions)."""
    return _mean(per_query("mrr", qrels, run, k).values())


def best_gold_rank(
    ranked_ids: Sequence[str], gold: set[str] | frozenset[str], k: int | None = None
) -> int | None:
    """1-based rank of the first gold id in `ranked_ids` (within k if given), else None."""
    limit = len(ranked_ids) if k is None else min(k, len(ranked_ids))
    for i in range(limit):
        if ranked_ids[i] in gold:
            return i + 1
    return None


# ---- source level (curated set): ranked lists converted to one-query runs ----

_Q = "q"


def list_to_run(ranked_ids: Sequence[str]) -> dict[str, float]:
    """Scores reproducing the list order; repeated ids keep their first position."""
    unique = list(dict.fromkeys(ranked_ids))
    return {d: float(len(unique) - i) for i, d in enumerate(unique)}


def _source_metric(
    name: str, ranked_source_ids: Sequence[str], gold: Iterable[str], k: int
) -> float | None:
    gold_set = set(gold)
    if not gold_set:
        return None
    qrels = {_Q: {g: 1 for g in gold_set}}
    run = {_Q: list_to_run(ranked_source_ids)}
    return per_query(name, qrels, run, k)[_Q]


def source_recall_at_k(
    ranked_source_ids: Sequence[str], gold: Iterable[str], k: int = 10
) -> float | None:
    """Recall@k of one ranked source list against gold ids; None if gold is empty."""
    return _source_metric("recall", ranked_source_ids, gold, k)


def source_ndcg_at_k(
    ranked_source_ids: Sequence[str], gold: Iterable[str], k: int = 10
) -> float | None:
    """Binary nDCG@k of one ranked source list; None if gold is empty."""
    return _source_metric("ndcg", ranked_source_ids, gold, k)


def source_mrr_at_k(
    ranked_source_ids: Sequence[str], gold: Iterable[str], k: int = 10
) -> float | None:
    """Reciprocal rank@k of one ranked source list; None if gold is empty."""
    return _source_metric("mrr", ranked_source_ids, gold, k)


# ---- answer-level metrics ----


def abstention_scores(pairs: Iterable[tuple[bool, bool]]) -> dict[str, float | int]:
    """Precision/recall/F1 of abstaining, from (should_abstain, did_abstain) pairs.

    Positive class = abstain. Empty denominators are vacuously perfect:
    precision = 1.0 when nothing was abstained on, recall = 1.0 when nothing should
    have been; F1 = 0.0 when precision + recall == 0.
    """
    tp = fp = fn = tn = 0
    for should, did in pairs:
        if should and did:
            tp += 1
        elif did:
            fp += 1
        elif should:
            fn += 1
        else:
            tn += 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    denom = precision + recall
    f1 = 2 * precision * recall / denom if denom else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def quote_faithfulness(quotes: Sequence[tuple[str, str]]) -> float:
    """Share of (quote_text, source_slice) pairs that are exactly equal; 1.0 if empty.

    Equality is strict: any normalisation is the caller's job.
    """
    if not quotes:
        return 1.0
    return sum(1 for q, s in quotes if q == s) / len(quotes)


def citation_precision(cited_source_ids: Sequence[str], gold: Iterable[str]) -> float | None:
    """Share of distinct cited ids that are gold; None if nothing was cited."""
    cited = set(cited_source_ids)
    if not cited:
        return None
    return len(cited & set(gold)) / len(cited)


def percentiles(
    values_ms: Sequence[float], ps: Sequence[float] = (50, 95)
) -> dict[str, float | None]:
    """Linear-interpolated percentiles keyed 'p50', 'p95', ...; None if no values."""
    arr = np.asarray(list(values_ms), dtype=float)
    out: dict[str, float | None] = {}
    for p in ps:
        key = f"p{p:g}"
        out[key] = float(np.percentile(arr, p, method="linear")) if arr.size else None
    return out
