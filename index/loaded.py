"""Open the live build for reading, refusing one that does not fit the settings or itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss

from core.settings import Settings
from index import dense, layout
from index.lexical import Bm25Index
from index.manifest import check_compatible, check_counts, read_manifest
from index.store import Store


@dataclass
class LoadedIndex:
    """Everything a query needs, row-aligned: FAISS row i = BM25 doc i = chunk row i."""

    build_dir: Path
    manifest: dict
    store: Store
    faiss_index: faiss.Index
    bm25: Bm25Index

    @property
    def build_id(self) -> str:
        return self.manifest["build_id"]


def open_index(settings: Settings) -> LoadedIndex:
    """Load the live build; raises IndexMissingError or IndexMismatchError with a clear message."""
    build = layout.require_current_build(settings.index_dir)
    manifest = read_manifest(build / "manifest.json")
    check_compatible(manifest, settings.index.model_id, settings.index.backend, None)
    faiss_index = dense.load_faiss(build / "dense.faiss")
    if faiss_index.d != manifest["model"]["dim"]:
        check_compatible(manifest, settings.index.model_id, settings.index.backend, faiss_index.d)
    store = Store(build / "store.sqlite")
    bm25 = Bm25Index.load(build / "bm25")
    check_counts(manifest, faiss_index.ntotal, len(store.chunks), bm25.num_docs)
    return LoadedIndex(build, manifest, store, faiss_index, bm25)


def index_status(settings: Settings) -> dict:
    """What the index holds: sources with chunk counts, totals, model, build id and time."""
    loaded = open_index(settings)
    per_source = loaded.store.chunk_counts()
    sources = [
        {
            "source_id": s.source_id,
            "kind": s.kind,
            "title": s.title,
            "year": s.year,
            "chunks": per_source.get(s.source_id, 0),
        }
        for s in sorted(loaded.store.sources.values(), key=lambda s: s.source_id)
    ]
    m = loaded.manifest
    return {
        "index_dir": str(settings.index_dir),
        "build_id": m["build_id"],
        "created_at": m["created_at"],
        "model": m["model"],
        "faiss": m.get("faiss", {}),
        "chunker": m["chunker"],
        "totals": {
            "sources": len(sources),
            "chunks": len(loaded.store.chunks),
            "files": m["counts"].get("files", 0),
            "by_kind": _count_kinds(sources),
        },
        "sources": sources,
        "references": _reference_coverage(loaded.store),
    }


def _reference_coverage(store: Store) -> list[dict]:
    """Per indexed work with a reference list: cited / in library / missing."""
    from index.review_refs import reference_coverage

    return reference_coverage(store)


def _count_kinds(sources: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in sources:
        counts[s["kind"]] = counts.get(s["kind"], 0) + 1
    return counts
