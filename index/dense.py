"""Dense vector search with FAISS (inner product on normalized vectors = cosine)."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np


def choose_index_type(n_vectors: int, approx_from: int) -> str:
    """Exact flat search for small libraries, HNSW graphs once a library is large."""
    return "hnsw" if n_vectors >= approx_from else "flat"


def build_faiss(vectors: np.ndarray, index_type: str = "flat") -> faiss.Index:
    """An index over row-aligned normalized vectors; row i is chunk row i."""
    dim = vectors.shape[1]
    if index_type == "flat":
        index = faiss.IndexFlatIP(dim)
    elif index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    else:
        raise ValueError(f"unknown FAISS index type '{index_type}' (flat|hnsw)")
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def save_faiss(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_faiss(path: Path) -> faiss.Index:
    return faiss.read_index(str(path))


def search_faiss(
    index: faiss.Index, query: np.ndarray, k: int, allowed_rows: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """Top-k (row, cosine) for one normalized query vector; optionally only `allowed_rows`."""
    if index.ntotal == 0 or k <= 0:
        return []
    k = min(k, index.ntotal)
    q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    params = None
    if allowed_rows is not None:
        if len(allowed_rows) == 0:
            return []
        selector = faiss.IDSelectorBatch(np.asarray(allowed_rows, dtype=np.int64))
        params_cls = faiss.SearchParametersHNSW if "HNSW" in type(index).__name__ else None
        params = (params_cls or faiss.SearchParameters)(sel=selector)
    scores, rows = index.search(q, k, params=params)
    return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]
