"""Metrics against hand-computed values, plus purity and range properties."""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eval.metrics import (
    abstention_scores,
    best_gold_rank,
    citation_precision,
    list_to_run,
    mrr_at_k,
    ndcg_at_k,
    per_query,
    percentiles,
    quote_faithfulness,
    rank_docs,
    recall_at_k,
    source_mrr_at_k,
    source_ndcg_at_k,
    source_recall_at_k,
)

# q1: graded; q2: tie broken by doc id; q3: no relevant doc (ignored); q4: not in run.
QRELS = {
    "q1": {"a": 2, "b": 1, "c": 0},
    "q2": {"x": 1},
    "q3": {"z": 0},
    "q4": {"y": 1},
}
RUN = {
    "q1": {"a": 0.5, "b": 0.9, "d": 0.7},  # ranked b, d, a
    "q2": {"x": 1.0, "w": 1.0},  # tie -> w, x
    "q3": {"z": 1.0},
}
# q1 @10: DCG = 1/log2(2) + 0 + 2/log2(4) = 2; IDCG = 2/log2(2) + 1/log2(3)
NDCG_Q1 = 2.0 / (2.0 + 1.0 / math.log2(3))
NDCG_Q2 = 1.0 / math.log2(3)  # relevant at rank 2, IDCG = 1


def test_rank_docs_breaks_ties_by_doc_id() -> None:
    assert rank_docs({"b": 1.0, "a": 1.0, "c": 2.0}) == ["c", "a", "b"]
    assert rank_docs({"a": 1.0, "b": 1.0}) == rank_docs({"b": 1.0, "a": 1.0})


def test_per_query_hand_computed() -> None:
    assert per_query("ndcg", QRELS, RUN, 10) == pytest.approx(
        {"q1": NDCG_Q1, "q2": NDCG_Q2, "q4": 0.0}
    )
    assert per_query("recall", QRELS, RUN, 10) == {"q1": 1.0, "q2": 1.0, "q4": 0.0}
    assert per_query("mrr", QRELS, RUN, 10) == {"q1": 1.0, "q2": 0.5, "q4": 0.0}
    assert per_query("recall", QRELS, RUN, 1) == {"q1": 0.5, "q2": 0.0, "q4": 0.0}
    assert per_query("ndcg", QRELS, RUN, 1) == {"q1": 0.5, "q2": 0.0, "q4": 0.0}


def test_aggregates_hand_computed() -> None:
    assert ndcg_at_k(QRELS, RUN, 10) == pytest.approx((NDCG_Q1 + NDCG_Q2) / 3)
    assert recall_at_k(QRELS, RUN, 10) == pytest.approx(2 / 3)
    assert mrr_at_k(QRELS, RUN, 10) == pytest.approx(0.5)
    assert recall_at_k(QRELS, RUN, 1) == pytest.approx(1 / 6)
    assert ndcg_at_k(QRELS, RUN, 1) == pytest.approx(1 / 6)
    assert mrr_at_k(QRELS, RUN, 1) == pytest.approx(1 / 3)


def test_empty_and_invalid_inputs() -> None:
    assert ndcg_at_k({}, {}) == 0.0
    assert recall_at_k({"q": {"a": 0}}, {"q": {"a": 1.0}}) == 0.0
    with pytest.raises(ValueError):
        per_query("ndcg", QRELS, RUN, 0)


def test_per_query_accepts_callable() -> None:
    def first_is_rel(ranked, rels, k):  # type: ignore[no-untyped-def]
        return float(bool(ranked) and rels.get(ranked[0], 0) > 0)

    assert per_query(first_is_rel, QRELS, RUN, 10) == {"q1": 1.0, "q2": 0.0, "q4": 0.0}


def test_metrics_do_not_mutate_inputs() -> None:
    qrels, run = copy.deepcopy(QRELS), copy.deepcopy(RUN)
    for fn in (ndcg_at_k, recall_at_k, mrr_at_k):
        fn(qrels, run, 3)
    per_query("ndcg", qrels, run, 3)
    assert qrels == QRELS and run == RUN


def test_best_gold_rank() -> None:
    assert best_gold_rank(["a", "b", "c"], {"c", "b"}) == 2
    assert best_gold_rank(["a", "b", "c"], {"z"}) is None
    assert best_gold_rank([], {"a"}) is None
    assert best_gold_rank(["a", "b", "c"], {"c"}, k=2) is None
    assert best_gold_rank(["a", "b", "c"], {"c"}, k=3) == 3


def test_source_level_metrics() -> None:
    ranked = ["s3", "s1", "s3", "s2"]  # repeated s3 keeps its first position
    assert list_to_run(ranked) == {"s3": 3.0, "s1": 2.0, "s2": 1.0}
    assert source_recall_at_k(ranked, {"s1", "s2"}, 2) == 0.5
    assert source_recall_at_k(ranked, {"s1", "s2"}, 3) == 1.0
    assert source_mrr_at_k(ranked, {"s1", "s2"}, 10) == 0.5
    idcg = 1.0 + 1.0 / math.log2(3)
    expected = (1.0 / math.log2(3) + 1.0 / math.log2(4)) / idcg
    assert source_ndcg_at_k(ranked, {"s1", "s2"}, 10) == pytest.approx(expected)
    assert source_recall_at_k(ranked, set(), 10) is None
    assert source_recall_at_k([], {"s1"}, 10) == 0.0
    original = list(ranked)
    source_ndcg_at_k(ranked, {"s1"}, 2)
    assert ranked == original


def test_abstention_scores() -> None:
    pairs = [(True, True), (True, False), (False, True), (False, False), (False, False)]
    s = abstention_scores(pairs)
    assert (s["tp"], s["fp"], s["fn"], s["tn"]) == (1, 1, 1, 2)
    assert s["precision"] == 0.5 and s["recall"] == 0.5 and s["f1"] == 0.5
    empty = abstention_scores([])
    assert (empty["precision"], empty["recall"], empty["f1"]) == (1.0, 1.0, 1.0)
    none_needed = abstention_scores([(False, False)])
    assert none_needed["precision"] == 1.0 and none_needed["recall"] == 1.0
    missed = abstention_scores([(True, False)])
    assert (missed["precision"], missed["recall"], missed["f1"]) == (1.0, 0.0, 0.0)
    eager = abstention_scores([(False, True)])
    assert (eager["precision"], eager["recall"], eager["f1"]) == (0.0, 1.0, 0.0)


def test_quote_faithfulness_and_citation_precision() -> None:
    assert quote_faithfulness([]) == 1.0
    assert quote_faithfulness([("a b", "a b"), ("x", "y"), ("q", "q "), ("", "")]) == 0.5
    assert citation_precision([], {"a"}) is None
    assert citation_precision(["a", "b", "a"], {"a"}) == 0.5
    assert citation_precision(["a"], set()) == 0.0


def test_percentiles() -> None:
    assert percentiles([10, 20, 30, 40]) == {"p50": 25.0, "p95": pytest.approx(38.5)}
    assert percentiles([5.0], ps=(50, 99.5)) == {"p50": 5.0, "p99.5": 5.0}
    assert percentiles([]) == {"p50": None, "p95": None}
    values = [3.0, 1.0, 2.0]
    percentiles(values)
    assert values == [3.0, 1.0, 2.0]


_ids = st.sampled_from(list("abcdefgh"))
_qrels = st.dictionaries(
    st.sampled_from(["q1", "q2", "q3"]), st.dictionaries(_ids, st.integers(0, 3)), max_size=3
)
_runs = st.dictionaries(
    st.sampled_from(["q1", "q2", "q4"]),
    st.dictionaries(_ids, st.floats(-5, 5, allow_nan=False)),
    max_size=3,
)


@settings(max_examples=200, deadline=None)
@given(qrels=_qrels, run=_runs, k=st.integers(1, 10))
def test_properties(qrels: dict, run: dict, k: int) -> None:
    q0, r0 = copy.deepcopy(qrels), copy.deepcopy(run)
    for name, fn in (("ndcg", ndcg_at_k), ("recall", recall_at_k), ("mrr", mrr_at_k)):
        value = fn(qrels, run, k)
        assert 0.0 <= value <= 1.0 + 1e-12
        scores = per_query(name, qrels, run, k)
        judged = {q for q, rels in qrels.items() if any(g > 0 for g in rels.values())}
        assert set(scores) == judged
    assert qrels == q0 and run == r0


@settings(max_examples=100, deadline=None)
@given(qrels=_qrels, k=st.integers(1, 10))
def test_ideal_run_is_perfect(qrels: dict, k: int) -> None:
    ideal = {q: {d: float(g) for d, g in rels.items()} for q, rels in qrels.items()}
    if any(g > 0 for rels in qrels.values() for g in rels.values()):
        assert ndcg_at_k(qrels, ideal, k) == pytest.approx(1.0)
        assert mrr_at_k(qrels, ideal, k) == pytest.approx(1.0)
