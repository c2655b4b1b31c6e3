"""Our ranking metrics agree with trec_eval (through ir-measures) on random runs.

trec_eval and ours break score ties differently, so the runs here have distinct scores; and
trec_eval averages over the queries of the run, ours over the qrels' queries with a relevant
doc, so every query here has both.
"""

from __future__ import annotations

import random

import pytest

from eval.metrics import mrr_at_k, ndcg_at_k, recall_at_k

ir_measures = pytest.importorskip("ir_measures", reason="ir-measures is a test dependency")


def _random_case(seed: int):
    rng = random.Random(seed)
    qrels, run = {}, {}
    for q in range(30):
        docs = [f"d{i}" for i in range(40)]
        rng.shuffle(docs)
        grades = {d: rng.choice([1, 1, 2, 3]) for d in docs[: rng.randint(1, 8)]}
        grades.update({d: 0 for d in docs[8:12]})
        qrels[f"q{q}"] = grades
        scores = rng.sample(range(10_000), 25)
        run[f"q{q}"] = {d: s / 100 for d, s in zip(rng.sample(docs, 25), scores)}
    return qrels, run


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("k", [3, 10])
def test_ndcg_recall_and_mrr_match_trec_eval(seed, k):
    from ir_measures import RR, R, nDCG

    qrels, run = _random_case(seed)
    reference = ir_measures.calc_aggregate([nDCG @ k, R @ k, RR @ k], qrels, run)
    assert ndcg_at_k(qrels, run, k) == pytest.approx(reference[nDCG @ k], abs=1e-9)
    assert recall_at_k(qrels, run, k) == pytest.approx(reference[R @ k], abs=1e-9)
    assert mrr_at_k(qrels, run, k) == pytest.approx(reference[RR @ k], abs=1e-9)
