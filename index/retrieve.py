"""Hybrid retrieval: dense (FAISS) and BM25 rankings fused by weighted reciprocal rank.

Fusion: score(row) = sum over retrievers r of  w_r / (rrf_k + rank_r(row)),  ranks from 1.
Defaults w_dense = w_bm25 = 1 and rrf_k = 60 (Cormack et al. 2009); both are settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from index.dense import search_faiss
from index.loaded import LoadedIndex
from index.normalize import normalize_query
from ingest.settings import RetrieveSettings
from ingest.types import Chunk


@dataclass(frozen=True)
class Filters:
    """Optional restrictions; None means no restriction."""

    source_ids: frozenset[str] | None = None
    year_min: int | None = None
    year_max: int | None = None
    kinds: frozenset[str] | None = None  # review | article | other

    def is_empty(self) -> bool:
        return all(v is None for v in (self.source_ids, self.year_min, self.year_max, self.kinds))


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    row: int
    score: float  # fused
    dense_score: float | None = None  # cosine
    bm25_score: float | None = None
    ranks: dict = field(default_factory=dict)  # retriever -> 1-based rank


def rrf_fuse(
    rankings: dict[str, list[int]], weights: dict[str, float], rrf_k: int = 60
) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion of ranked row lists; best first, ties by row."""
    fused: dict[int, float] = {}
    for name, rows in rankings.items():
        weight = weights.get(name, 1.0)
        for rank, row in enumerate(rows, start=1):
            fused[row] = fused.get(row, 0.0) + weight / (rrf_k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def allowed_rows(loaded: LoadedIndex, filters: Filters) -> np.ndarray | None:
    """Rows whose source passes the filters, or None when nothing is filtered."""
    if filters.is_empty():
        return None
    keep = set()
    for sid, source in loaded.store.sources.items():
        if filters.source_ids is not None and sid not in filters.source_ids:
            continue
        if filters.kinds is not None and source.kind not in filters.kinds:
            continue
        year = source.year
        if filters.year_min is not None and (year is None or year < filters.year_min):
            continue
        if filters.year_max is not None and (year is None or year > filters.year_max):
            continue
        keep.add(sid)
    rows = [i for i, c in enumerate(loaded.store.chunks) if c.source_id in keep]
    return np.asarray(rows, dtype=np.int64)


def dense_search(loaded, query_vec, n, rows=None) -> list[tuple[int, float]]:
    return search_faiss(loaded.faiss_index, query_vec, n, rows)


def bm25_search(loaded, lexical_query, n, rows=None) -> list[tuple[int, float]]:
    mask = None
    if rows is not None:
        mask = np.zeros(len(loaded.store.chunks), dtype=bool)
        mask[rows] = True
    return loaded.bm25.search(lexical_query, n, mask)


def hybrid_search(
    loaded: LoadedIndex,
    query_vec: np.ndarray,
    lexical_query: str,
    settings: RetrieveSettings,
    k: int | None = None,
    filters: Filters = Filters(),
) -> list[Hit]:
    """Top-k hits of the fused dense and BM25 rankings, each hit explaining its parts."""
    k = k or settings.k
    rows = allowed_rows(loaded, filters)
    n = max(settings.candidates, k)
    dense = dense_search(loaded, query_vec, n, rows)
    lexical = bm25_search(loaded, lexical_query, n, rows)
    fused = rrf_fuse(
        {"dense": [r for r, _ in dense], "bm25": [r for r, _ in lexical]},
        {"dense": settings.dense_weight, "bm25": settings.bm25_weight},
        settings.rrf_k,
    )
    return _hits(loaded, fused[:k], dense, lexical)


def _hits(loaded, fused, dense, lexical) -> list[Hit]:
    dense_by_row = {r: (rank, s) for rank, (r, s) in enumerate(dense, start=1)}
    bm25_by_row = {r: (rank, s) for rank, (r, s) in enumerate(lexical, start=1)}
    hits = []
    for row, score in fused:
        ranks = {}
        if row in dense_by_row:
            ranks["dense"] = dense_by_row[row][0]
        if row in bm25_by_row:
            ranks["bm25"] = bm25_by_row[row][0]
        hits.append(
            Hit(
                chunk=loaded.store.chunks[row],
                row=row,
                score=score,
                dense_score=dense_by_row.get(row, (None, None))[1],
                bm25_score=bm25_by_row.get(row, (None, None))[1],
                ranks=ranks,
            )
        )
    return hits


def search(
    loaded,
    embed: Callable[[list[str]], np.ndarray],
    question: str,
    settings: RetrieveSettings,
    k: int | None = None,
    filters: Filters = Filters(),
) -> tuple[list[Hit], np.ndarray]:
    """The production retriever: normalize the question, embed it once, fuse dense and BM25.

    Returns the hits and the query vector (reused to score quote candidates).
    """
    query = normalize_query(question)
    query_vec = embed([query.dense_text])[0]
    hits = hybrid_search(loaded, query_vec, query.lexical_text, settings, k, filters)
    return hits, query_vec
