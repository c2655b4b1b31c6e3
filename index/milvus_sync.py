"""`bala ingest` with engine=milvus: the local build path, then the same build into Milvus.

The local path (plan, chunking, embedding with its cache, the SQLite catalogue) runs as
always; its published build's chunks and vectors are then written to a Milvus collection of
the same build id and the Milvus pointer switched (index/milvus_build.py). An ingest
interrupted while writing to Milvus leaves the Milvus pointer on the previous build, which
keeps serving; the next `bala ingest` (even with nothing new to read) finds the local build
ahead of Milvus and resumes the write where it stopped.
"""

from __future__ import annotations

import numpy as np

from core.settings import Settings
from index import dense, layout
from index.embed import EmbeddingCache, embed_cached, load_embedder, model_key
from index.manifest import read_manifest
from index.milvus_build import connect, live_build_id, write_milvus_build
from index.store import Store


def build_vectors(build, manifest, store: Store, settings: Settings) -> np.ndarray:
    """Row-aligned vectors of a local build: read back from a flat index (exact), else from
    the embedding cache (an approximate index keeps lossy codes)."""
    if manifest.faiss_type == "flat":
        index = dense.load_faiss(build / "dense.faiss")
        return index.reconstruct_n(0, index.ntotal)
    cache = EmbeddingCache(layout.cache_path(settings.index_dir))
    try:
        key = model_key(settings.index.model_id, settings.index.backend)
        texts = [c.text for c in store.chunks]
        return embed_cached(texts, key, cache, lambda: load_embedder(settings.index))[0]
    finally:
        cache.close()


def sync_live_build(settings: Settings, client=None) -> str | None:
    """Write the local live build to Milvus and publish it there, unless Milvus already
    serves it. Returns the build id published (None when nothing was to do)."""
    build = layout.current_build(settings.index_dir)
    if build is None:
        return None
    client = client or connect(settings.index.milvus_uri, settings.index.milvus_timeout_s)
    manifest = read_manifest(build / "manifest.json")
    if live_build_id(client) == manifest.build_id:
        return None
    store = Store(build / "store.sqlite")
    try:
        chunks = list(store.chunks)
        vectors = build_vectors(build, manifest, store, settings)
        write_milvus_build(chunks, vectors, store.sources, manifest, client)
    finally:
        store.close()
    return manifest.build_id
