"""The retriever contract, run against both engines on the same tiny inline library.

The local index (FAISS + bm25s + SQLite) and the Milvus index (a milvus-lite server on
loopback, Milvus's C++ engine) must give the same rows in the same order with the same
scores for dense search, BM25 search, BM25 scores of given rows, source filters, row and
vector fetches, and so the same fused hits (fusion and feedback are ours, engine-neutral).
The expected ranks below are written out; BM25 scores are also checked against bm25s's own
scoring, and dense ones against a brute-force cosine."""

from __future__ import annotations

import numpy as np
import pytest

from core.settings import RetrieveSettings
from index.filters import Filters
from index.lexical import Bm25Index
from index.retrieve import hybrid_search
from index.retriever import Retriever
from tests.engine_corpus import PASSAGES, SOURCES, build_engines, corpus

QUERY_TERMS = "blinatumomab relapse after CAR T"


@pytest.fixture(scope="module")
def engines(tmp_path_factory, milvus_uri):
    """Both engines over one library, built once for this module (one Milvus write)."""
    from index.milvus_build import connect

    client = connect(milvus_uri)
    for name in client.list_collections():
        client.drop_collection(name)
    local, milvus = build_engines(tmp_path_factory.mktemp("contract"), client, milvus_uri)
    yield {"local": local, "milvus": milvus}
    local.close()
    milvus.close()


def _query_vector() -> np.ndarray:
    vectors = corpus()[2]
    q = vectors[2] + 0.5 * vectors[4]
    return q / np.linalg.norm(q)


@pytest.mark.parametrize("name", ["local", "milvus"])
def test_dense_search_ranks_rows_by_cosine(engines, name):
    engine = engines[name]
    assert isinstance(engine, Retriever)
    found = engine.dense_search(_query_vector(), 4, Filters())
    assert [r for r, _ in found] == [2, 4, 1, 0]
    brute = corpus()[2] @ _query_vector()
    assert [s for _, s in found] == pytest.approx([brute[r] for r, _ in found], abs=1e-5)


@pytest.mark.parametrize("name", ["local", "milvus"])
def test_lexical_search_is_our_bm25(engines, name):
    found = engines[name].lexical_search(QUERY_TERMS, 8, Filters())
    assert [r for r, _ in found] == [2, 4, 0, 1, 6]  # rows without a query term are left out
    reference = Bm25Index.build([t for _, t in PASSAGES], 0.5, 0.5).scores(QUERY_TERMS)
    assert [s for _, s in found] == pytest.approx([reference[r] for r, _ in found], rel=1e-5)
    assert engines[name].lexical_search("zzzunknownterm", 8, Filters()) == []


@pytest.mark.parametrize("name", ["local", "milvus"])
def test_lexical_scores_of_given_rows(engines, name):
    scores = engines[name].lexical_scores("blinatumomab relapse", [0, 3, 4])
    assert scores == pytest.approx({0: 1.22585, 3: 0.0, 4: 0.78408}, abs=1e-4)


FILTER_CASES = [
    (Filters(year_min=2018), [2, 4, 5, 3], [2, 4]),
    (Filters(year_max=2019), [2, 1, 0, 3], [2, 0, 1]),  # undated pmid:4 never passes a year
    (Filters(kinds=frozenset({"review", "other"})), [2, 3, 6, 7], [2, 6]),
    (Filters(populations=frozenset({"pediatric"})), [4, 1, 0, 5], [0, 4, 1]),  # "both" too
    (Filters(diseases=frozenset({"B-ALL"})), [2, 1, 0, 3], [2, 0, 1]),
    (Filters(designs=frozenset({"randomized-trial"})), [1, 0], [0, 1]),
    (Filters(source_ids=frozenset({"pmid:3", "pmid:4"})), [4, 5, 6, 7], [4, 6]),
]


@pytest.mark.parametrize("name", ["local", "milvus"])
@pytest.mark.parametrize("filters, dense_rows, lexical_rows", FILTER_CASES)
def test_source_filters(engines, name, filters, dense_rows, lexical_rows):
    engine = engines[name]
    assert [r for r, _ in engine.dense_search(_query_vector(), 8, filters)] == dense_rows
    assert [r for r, _ in engine.lexical_search("remission relapse after", 8, filters)] == (
        lexical_rows
    )
    sources = {s.source_id: s for s in SOURCES}
    passing = {r for r, (sid, _) in enumerate(PASSAGES) if filters.source_passes(sources[sid])}
    assert set(dense_rows) == passing  # the rule Filters states, applied by the engine


@pytest.mark.parametrize("name", ["local", "milvus"])
def test_rows_vectors_counts_and_idf(engines, name):
    engine = engines[name]
    _, chunks, vectors = corpus()
    assert engine.count() == 8
    assert engine.build_id == "20260101T000000Z-contract"
    assert engine.chunks([5, 0]) == [chunks[5], chunks[0]]
    np.testing.assert_allclose(engine.vectors([3, 1]), vectors[[3, 1]], atol=1e-6)
    assert engine.vectors([]).shape == (0, 16)
    idf = engine.idf()
    assert len(idf) == 41 and idf["blinatumomab"] == pytest.approx(np.log(9 / 3.5))
    assert engine.sources["pmid:2"].title == "CAR T after blinatumomab"
    assert engine.catalogue.stored_slice("pmid:1", 0, 12) == "Blinatumomab"


@pytest.mark.parametrize("name", ["local", "milvus"])
@pytest.mark.parametrize("fusion", ["convex", "rrf"])
def test_fused_hits_are_the_same(engines, name, fusion):
    cfg = RetrieveSettings(k=5, candidates=3, fusion=fusion)
    hits = hybrid_search(engines[name], _query_vector(), QUERY_TERMS, cfg)
    reference = hybrid_search(engines["local"], _query_vector(), QUERY_TERMS, cfg)
    assert [h.row for h in hits] == [h.row for h in reference]
    assert [h.score for h in hits] == pytest.approx([h.score for h in reference], abs=1e-5)
    if fusion == "convex":
        assert [(h.row, h.ranks) for h in hits] == [
            (2, {"dense": 1, "bm25": 1}),
            (4, {"dense": 2, "bm25": 2}),
            (1, {"dense": 3, "bm25": 4}),
            (0, {"dense": 4, "bm25": 3}),
            (3, {"dense": 5}),
        ]
