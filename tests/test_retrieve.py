"""Retrieval on a tiny inline corpus: exact ranks for BM25, dense and fused, one contract for all.

Dense vectors are written by hand (4 dimensions) so every cosine, and so every rank, can be
checked on paper; BM25 runs the production tokenizer and bm25s over five short passages.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from core.settings import RetrieveSettings
from core.types import Source, make_chunk
from index.dense import build_faiss
from index.lexical import Bm25Index
from index.loaded import LoadedIndex
from index.retrieve import Filters, convex_fuse, feedback_vector, hybrid_search, rrf_fuse

TEXTS = [
    "Blinatumomab induces remission in relapsed ALL.",  # 0
    "CAR T cells cause cytokine release syndrome.",  # 1
    "CD19-negative relapse after CAR T cells.",  # 2
    "Gout diet and ankle sprain care.",  # 3
    "Relapse of ALL after transplant.",  # 4
]
SOURCES = ["pmid:1", "pmid:2", "pmid:3", "pmid:4", "pmid:5"]
YEARS = [2015, 2018, 2021, 2019, 2012]


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


# Query direction e0. Cosines to it: 0.0, 0.6, 0.8, 0.0, 0.28 (ranks 2, 1, 4 first).
VECTORS = np.stack(
    [
        _unit([0, 1, 0, 0]),
        _unit([0.6, 0.8, 0, 0]),
        _unit([0.8, 0, 0.6, 0]),
        _unit([0, 0, 0, 1]),
        _unit([0.28, 0, 0, 0.96]),
    ]
)
QUERY_VEC = _unit([1, 0, 0, 0])
NO_PRF = RetrieveSettings(prf_docs=0)


@pytest.fixture(scope="module")
def tiny():
    chunks = [make_chunk(s, t, 0, len(t)) for s, t in zip(SOURCES, TEXTS)]
    sources = {s: Source(s, year=y) for s, y in zip(SOURCES, YEARS)}
    store = SimpleNamespace(
        chunks=chunks,
        sources=sources,
        rows_of_sources=lambda keep: np.asarray(
            [i for i, c in enumerate(chunks) if c.source_id in keep], dtype=np.int64
        ),
    )
    return LoadedIndex(Path("."), None, store, build_faiss(VECTORS, "flat"), Bm25Index.build(TEXTS))


def _rows(hits):
    return [h.row for h in hits]


def test_bm25_ranks(tiny):
    # Query terms: relaps (rows 0, 2, 4), after (rows 2, 4), car (rows 1, 2). Row 2 has all
    # three, row 4 two; of the one-term rows, "car" (in 2 rows) is rarer than "relaps" (in 3),
    # so row 1 ranks above row 0.
    scores = tiny.bm25.scores("relapse after CAR")
    order = [int(r) for r in np.argsort(-scores, kind="stable") if scores[r] > 0]
    assert order == [2, 4, 1, 0]
    assert scores[3] == 0.0


def test_dense_ranks(tiny):
    settings = NO_PRF.replace(bm25_weight=0.0, dense_weight=1.0)
    hits = hybrid_search(tiny, QUERY_VEC, "", settings, k=3)
    assert _rows(hits) == [2, 1, 4]
    assert [round(h.score, 4) for h in hits] == [0.8, 0.6, 0.28]


def test_fused_ranks(tiny):
    # convex 0.75 * cosine + 0.25 * bm25 / max: row 2 leads both; row 4 (cos 0.28, two BM25
    # terms) passes row 1 (cos 0.6, one term) only when BM25 weighs enough.
    bm25 = tiny.bm25.scores("relapse after CAR")
    fused = hybrid_search(tiny, QUERY_VEC, "relapse after CAR", NO_PRF, k=5)
    expected = 0.75 * VECTORS @ QUERY_VEC + 0.25 * bm25 / bm25.max()
    assert _rows(fused) == [int(r) for r in np.argsort(-expected, kind="stable")]
    assert _rows(fused) == [2, 1, 4, 0, 3]  # row 3: cosine 0 and no BM25 term, last
    assert [h.score for h in fused] == pytest.approx(sorted(expected, reverse=True))
    heavy = NO_PRF.replace(dense_weight=0.3, bm25_weight=0.7)
    assert _rows(hybrid_search(tiny, QUERY_VEC, "relapse after CAR", heavy, k=3)) == [2, 4, 1]


def test_convex_fuse_exact():
    fused = convex_fuse({1: 0.5, 2: 0.9}, {1: 4.0, 3: 2.0}, 4.0, 0.5, 0.5)
    assert fused == [(1, 0.75), (2, 0.45), (3, 0.25)]


def test_rrf_fuse_exact_and_weighted():
    fused = rrf_fuse({"dense": [7, 8], "bm25": [8, 9]}, {"dense": 1.0, "bm25": 1.0}, rrf_k=1)
    assert [r for r, _ in fused] == [8, 7, 9]
    assert fused[0][1] == pytest.approx(1 / 3 + 1 / 2)
    weighted = rrf_fuse({"dense": [7], "bm25": [9]}, {"dense": 1.0, "bm25": 3.0}, rrf_k=1)
    assert [r for r, _ in weighted] == [9, 7]


def test_feedback_vector_moves_toward_the_best_passage():
    passages = np.stack([_unit([0, 1, 0, 0]), _unit([0, 0, 1, 0])])
    moved = feedback_vector(QUERY_VEC, passages, np.array([0.9, 0.5]), beta=1.0, temperature=0.03)
    assert np.linalg.norm(moved) == pytest.approx(1.0, abs=1e-6)
    assert moved[1] > 0.7 and moved[2] < 1e-4  # softmax at T=0.03 is all but one-hot
    even = feedback_vector(QUERY_VEC, passages, np.array([0.5, 0.5]), beta=2.0, temperature=1.0)
    assert even[1] == pytest.approx(even[2]) and even[0] == pytest.approx(even[1])
    unmoved = feedback_vector(QUERY_VEC, passages, np.array([0.9, 0.5]), 0.0, 0.03)
    assert np.allclose(unmoved, QUERY_VEC)


def test_feedback_reorders_toward_the_first_pass_leader(tiny):
    # Row 2 leads the first pass; its direction (e0, e2) pulls nothing new in, so the order
    # of the leaders holds and the scores stay within [-1, 1] + BM25 share.
    hits = hybrid_search(tiny, QUERY_VEC, "relapse after CAR", RetrieveSettings(), k=5)
    assert _rows(hits)[0] == 2
    assert all(h.score <= 1.0 + 1e-6 for h in hits)


RETRIEVERS = {
    "bm25": NO_PRF.replace(dense_weight=0.0, bm25_weight=1.0),
    "dense": NO_PRF.replace(dense_weight=1.0, bm25_weight=0.0),
    "hybrid": RetrieveSettings(),
    "hybrid-no-feedback": NO_PRF,
    "rrf": RetrieveSettings(fusion="rrf"),
}


@pytest.mark.parametrize("name", sorted(RETRIEVERS))
@pytest.mark.parametrize("k", [1, 3, 10])
def test_retriever_contract(tiny, name, k):
    """Every retriever: at most k hits, unique rows, best first, hit = store row, filters kept."""
    settings = RETRIEVERS[name]
    hits = hybrid_search(tiny, QUERY_VEC, "relapse after CAR T", settings, k=k)
    assert 0 < len(hits) <= k
    assert len(set(_rows(hits))) == len(hits)
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    assert all(tiny.store.chunks[h.row] == h.chunk for h in hits)
    recent = Filters(year_min=2018)
    kept = hybrid_search(tiny, QUERY_VEC, "relapse after CAR T", settings, k=k, filters=recent)
    assert {h.chunk.source_id for h in kept} <= {"pmid:2", "pmid:3", "pmid:4"}
    only = Filters(source_ids=frozenset({"pmid:5"}))
    single = hybrid_search(tiny, QUERY_VEC, "relapse after CAR T", settings, k=k, filters=only)
    assert _rows(single) in ([4], [])
