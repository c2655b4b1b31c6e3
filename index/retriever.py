"""The retriever interface every search engine implements, and the one way to open it.

An engine answers the primitive questions only: nearest passages to a vector, best BM25
passages for a query, BM25 scores and vectors of given rows, passages by row, under source
`Filters`; how many passages, which build. Fusion, pseudo-relevance feedback (index/retrieve.py),
quoting and verification (app/engine/) are ours and identical for every engine. Rows are the
build's row numbers (0..count-1), the same in every engine for the same build.

Implementations: `index.loaded.LoadedIndex` (FAISS + bm25s + SQLite, the embedded default)
and `index.milvus_index.MilvusIndex` (a Milvus collection per build). The catalogue (source
metadata, full texts for verbatim checks, reference lists) is the build's SQLite store in
both; tests/test_engines.py runs one contract against both.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from core.settings import Settings
from core.types import Chunk, Source
from index.filters import Filters
from index.manifest import Manifest
from index.store import Store


@runtime_checkable
class Retriever(Protocol):
    engine: str  # "local" | "milvus"
    warning: str  # set when an older build serves because the live one is damaged

    @property
    def build_id(self) -> str: ...

    @property
    def manifest(self) -> Manifest: ...

    @property
    def catalogue(self) -> Store: ...

    @property
    def sources(self) -> dict[str, Source]: ...

    def count(self) -> int:
        """Passages (rows) in the build."""

    def dense_search(self, query_vec: np.ndarray, n: int, filters: Filters) -> list[tuple]:
        """Top-n (row, cosine), best first."""

    def lexical_search(self, query: str, n: int, filters: Filters) -> list[tuple]:
        """Top-n (row, BM25 score) with score > 0, best first, ties by row."""

    def lexical_scores(self, query: str, rows: list[int]) -> dict[int, float]:
        """BM25 score of each given row (0.0 where no query term occurs)."""

    def vectors(self, rows: list[int]) -> np.ndarray:
        """The stored unit vectors of these rows, in this order."""

    def chunks(self, rows: list[int]) -> list[Chunk]:
        """The passages of these rows, in this order."""

    def idf(self) -> dict[str, float]:
        """log((N + 1) / (df + 0.5)) per BM25 term of the library."""

    def close(self) -> None: ...


def describe_engine(retriever) -> str:
    """One line naming the engine that serves (status, app sidebar)."""
    if retriever.engine == "milvus":
        return f"Milvus at {retriever.uri}"
    return "local (FAISS + BM25 + SQLite)"


def open_retriever(settings: Settings, fallback: bool = True) -> Retriever:
    """The engine the settings select (`BALA_ENGINE`), its live build checked and opened."""
    if settings.index.engine == "milvus":
        from index.milvus_index import open_milvus

        return open_milvus(settings)
    from index.loaded import open_index

    return open_index(settings, fallback=fallback)
