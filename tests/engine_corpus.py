"""A tiny inline library served by both engines: 4 sources, 8 passages, seeded vectors.

`build_engines(tmp_path, client)` returns (local LoadedIndex, MilvusIndex) over the same
chunks, vectors and SQLite catalogue, the way `bala ingest` makes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.types import Document, Source, make_chunk
from index.dense import build_faiss
from index.lexical import Bm25Index
from index.loaded import LoadedIndex
from index.manifest import Manifest, ModelInfo
from index.milvus_build import write_milvus_build
from index.milvus_index import open_collection
from index.store import Store, write_store

MODEL = ModelInfo("sentence-transformers/all-MiniLM-L6-v2", "onnx-int8", 16)
SOURCES = (
    Source("pmid:1", "article", "Blinatumomab in children", year=2016,
           design="randomized-trial", population="pediatric", diseases=("B-ALL",)),
    Source("pmid:2", "review", "CAR T after blinatumomab", year=2019, population="adult",
           diseases=("B-ALL",)),
    Source("pmid:3", "article", "Relapse patterns", year=2021, population="both",
           diseases=("AML",)),
    Source("pmid:4", "other", "Transplant notes"),
)  # fmt: skip
PASSAGES = (
    ("pmid:1", "Blinatumomab produced complete remission in children with relapsed B-ALL."),
    ("pmid:1", "Cytokine release syndrome was mild after blinatumomab."),
    ("pmid:2", "CAR T cells induce remission after blinatumomab failure in relapsed disease."),
    ("pmid:2", "Inotuzumab ozogamicin targets CD22 on leukemic blasts."),
    ("pmid:3", "Relapse after CAR T cells: CD19 negative relapse relapse is common."),
    ("pmid:3", "Azacitidine and venetoclax are used in AML."),
    ("pmid:4", "Transplant consolidation after remission improves survival."),
    ("pmid:4", "Nothing here concerns leukemia treatment."),
)


def corpus():
    """(documents, chunks row-aligned, seeded unit vectors)."""
    documents, chunks = [], []
    for source in SOURCES:
        texts = [t for sid, t in PASSAGES if sid == source.source_id]
        text = " ".join(texts)
        documents.append(Document(source, text))
        start = 0
        for t in texts:
            chunks.append(make_chunk(source.source_id, t, start, start + len(t)))
            start += len(t) + 1
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(len(chunks), MODEL.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return documents, chunks, vectors


def manifest(build_id: str = "20260101T000000Z-contract", model: ModelInfo = MODEL) -> Manifest:
    return Manifest(
        build_id=build_id,
        created_at="2026-01-01T00:00:00+00:00",
        model=model,
        chunker={},
        bm25={"k1": 0.5, "b": 0.5, "tokenizer": 1},
        counts={"sources": len(SOURCES), "chunks": len(PASSAGES), "files": 0},
    )


def build_engines(tmp_path: Path, client, uri: str = ""):
    documents, chunks, vectors = corpus()
    write_store(tmp_path / "store.sqlite", documents, chunks, {})
    m = manifest()
    bm25 = Bm25Index.build([c.text for c in chunks], 0.5, 0.5)
    local = LoadedIndex(tmp_path, m, Store(tmp_path / "store.sqlite"), build_faiss(vectors), bm25)
    write_milvus_build(chunks, vectors, {s.source_id: s for s in SOURCES}, m, client)
    milvus = open_collection(client, uri, m.build_id, None)
    milvus.catalogue = Store(tmp_path / "store.sqlite")
    return local, milvus
