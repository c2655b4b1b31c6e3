"""Dense vector search with FAISS (inner product on normalized vectors = cosine)."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np


def choose_index_type(n_vectors: int, approx_from: int) -> str:
    """Exact flat search for small libraries; an inverted file with 8-bit codes once large.

    IVF-SQ8 keeps 384 bytes a vector (a quarter of flat) and scans a few dozen lists per
    query; `bala bench scale` measures its recall against exact search at 1M vectors.
    """
    return "ivf-sq8" if n_vectors >= approx_from else "flat"


IVF_NPROBE = 48


def _ivf_sq8(vectors: np.ndarray) -> faiss.Index:
    dim, n = vectors.shape[1], len(vectors)
    nlist = max(64, int(4 * np.sqrt(n)))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    rng = np.random.default_rng(0)
    sample = vectors[rng.choice(n, size=min(n, 32 * nlist), replace=False)]
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    index.nprobe = IVF_NPROBE
    return index


def build_faiss(vectors: np.ndarray, index_type: str = "flat") -> faiss.Index:
    """An index over row-aligned normalized vectors; row i is chunk row i."""
    dim = vectors.shape[1]
    if index_type == "flat":
        index = faiss.IndexFlatIP(dim)
    elif index_type == "ivf-sq8":
        index = _ivf_sq8(vectors)
    elif index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    else:
        raise ValueError(f"unknown FAISS index type '{index_type}' (flat|ivf-sq8|hnsw)")
    add_vectors(index, vectors)
    if index_type == "ivf-sq8":
        index.make_direct_map()  # the answer engine reconstructs passage vectors by row
    return index


def add_vectors(index: faiss.Index, vectors: np.ndarray) -> None:
    """Append rows: in one call when they are contiguous float32 already (no copy, and the
    index's storage grows once: adding in blocks re-allocated it, holding old and new, 146 MB
    more at 118,000 vectors), else converted in blocks so there is no second full copy."""
    if vectors.dtype == np.float32 and vectors.flags.c_contiguous:
        index.add(vectors)
        return
    for start in range(0, len(vectors), 100_000):
        index.add(np.ascontiguousarray(vectors[start : start + 100_000], dtype=np.float32))


def append_blocks(index: faiss.IndexFlat, n_rows: int, blocks) -> None:
    """Append `n_rows` rows to a flat index from an iterable of row blocks, in order. The
    storage is resized once and the blocks are copied into it (index.add per block would
    re-allocate it as it grows, holding old and new at once)."""
    dim, start = index.d, index.ntotal
    index.codes.resize((start + n_rows) * dim * 4)
    index.ntotal = start + n_rows
    rows = faiss.rev_swig_ptr(index.get_xb(), (start + n_rows) * dim).reshape(-1, dim)
    filled = start
    for block in blocks:
        if filled + len(block) > start + n_rows:
            raise ValueError(f"more than the {n_rows} rows announced")
        rows[filled : filled + len(block)] = block
        filled += len(block)
    if filled != start + n_rows:
        raise ValueError(f"{filled - start} rows given, {n_rows} announced")


def keep_rows(index: faiss.IndexFlat, rows: list[int]) -> None:
    """Keep only `rows` (ascending) of a flat index; the kept rows stay in their order."""
    if len(rows) == index.ntotal:
        return
    dropped = np.setdiff1d(np.arange(index.ntotal, dtype=np.int64), np.asarray(rows))
    index.remove_ids(faiss.IDSelectorBatch(dropped))


def save_faiss(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_faiss(path: Path) -> faiss.Index:
    index = faiss.read_index(str(path))
    if hasattr(index, "nprobe"):
        index.nprobe = IVF_NPROBE
    return index


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
        name = type(index).__name__
        if "IVF" in name:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
        elif "HNSW" in name:
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch)
        else:
            params = faiss.SearchParameters(sel=selector)
    scores, rows = index.search(q, k, params=params)
    return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]
