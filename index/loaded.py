"""Open the live build for reading, refusing one that does not fit the settings or itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from core.settings import Settings
from core.types import Chunk, Source
from index import dense, layout
from index.filters import Filters
from index.lexical import Bm25Index, idf_table, top_k
from index.manifest import (
    IndexDamagedError,
    IndexMismatchError,
    Manifest,
    check_compatible,
    check_counts,
    check_sizes,
    read_manifest,
)
from index.store import Store


@dataclass
class LoadedIndex:
    """Everything a query needs, row-aligned: FAISS row i = BM25 doc i = chunk row i.

    `warning` is set when the live build was damaged and this older intact build serves
    instead; every UI shows it. The build is held (shared lock) while this object is open,
    so an ingest does not prune it from under a running app."""

    build_dir: Path
    manifest: Manifest
    store: Store
    faiss_index: faiss.Index
    bm25: Bm25Index
    warning: str = ""
    hold: object | None = None
    engine: str = "local"
    _last_scores: tuple[str, np.ndarray] | None = None  # one query's BM25 scores, reused

    @property
    def build_id(self) -> str:
        return self.manifest.build_id

    @property
    def catalogue(self) -> Store:
        return self.store

    @property
    def sources(self) -> dict[str, Source]:
        return self.store.sources

    def count(self) -> int:
        return int(self.faiss_index.ntotal)

    def allowed_rows(self, filters: Filters) -> np.ndarray | None:
        """Rows whose source passes the filters, or None when nothing is filtered."""
        if filters.is_empty():
            return None
        keep = {sid for sid, s in self.store.sources.items() if filters.source_passes(s)}
        return self.store.rows_of_sources(keep)

    def dense_search(self, query_vec, n: int, filters: Filters) -> list[tuple[int, float]]:
        return dense.search_faiss(self.faiss_index, query_vec, n, self.allowed_rows(filters))

    def _scores(self, query: str) -> np.ndarray:
        last = self._last_scores
        if last is not None and last[0] == query:
            return last[1]
        scores = self.bm25.scores(query)
        self._last_scores = (query, scores)
        return scores

    def lexical_search(self, query: str, n: int, filters: Filters) -> list[tuple[int, float]]:
        scores = self._scores(query)
        rows = self.allowed_rows(filters)
        if rows is not None:
            mask = np.zeros(len(scores), dtype=bool)
            mask[rows] = True
            scores = np.where(mask, scores, 0.0)
        return top_k(scores, n)

    def lexical_scores(self, query: str, rows: list[int]) -> dict[int, float]:
        scores = self._scores(query)
        return {int(r): float(scores[r]) for r in rows}

    def vectors(self, rows: list[int]) -> np.ndarray:
        if not rows:
            return np.zeros((0, self.faiss_index.d), dtype=np.float32)
        return np.stack([self.faiss_index.reconstruct(int(r)) for r in rows])

    def chunks(self, rows: list[int]) -> list[Chunk]:
        return [self.store.chunks[int(r)] for r in rows]

    def idf(self) -> dict[str, float]:
        return idf_table(self.bm25)

    def close(self) -> None:
        self.store.close()
        layout.release_build(self.hold)


def _reading(path: Path, load):
    """Run a loader; any failure becomes an IndexDamagedError naming the file."""
    try:
        return load()
    except IndexMismatchError:
        raise
    except Exception as exc:  # FAISS RuntimeError, sqlite3.DatabaseError, OSError, JSON...
        raise IndexDamagedError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from exc


def open_build(build: Path, settings: Settings) -> LoadedIndex:
    """Load one build, checking the manifest, file sizes and row counts."""
    manifest = read_manifest(build / "manifest.json")
    check_compatible(manifest, settings)
    check_sizes(build, manifest)
    faiss_index = _reading(build / "dense.faiss", lambda: dense.load_faiss(build / "dense.faiss"))
    check_compatible(manifest, settings, faiss_index.d)
    store = _reading(build / "store.sqlite", lambda: _open_store(build / "store.sqlite"))
    try:
        bm25 = _reading(build / "bm25", lambda: Bm25Index.load(build / "bm25"))
        check_counts(manifest, faiss_index.ntotal, len(store.chunks), bm25.num_docs)
    except IndexMismatchError:
        store.close()
        raise
    return LoadedIndex(build, manifest, store, faiss_index, bm25, hold=layout.hold_build(build))


def _open_store(path: Path) -> Store:
    store = Store(path)
    try:
        store.sources  # noqa: B018 - read now, so a damaged file fails here, not mid-answer
    except Exception:
        store.close()
        raise
    return store


def open_index(settings: Settings, fallback: bool = True) -> LoadedIndex:
    """Load the live build; when it is damaged and `fallback`, the newest intact older build
    (with `warning` set). Raises IndexMissingError or IndexMismatchError with a clear message."""
    build = layout.require_current_build(settings.index_dir)
    try:
        return open_build(build, settings)
    except IndexDamagedError as damage:
        if not fallback:
            raise
        for older in layout.finished_builds(settings.index_dir):
            if older.resolve() == build.resolve():
                continue
            try:
                loaded = open_build(older, settings)
            except IndexMismatchError:
                continue
            loaded.warning = (
                f"the live build {build.name} is damaged ({damage}); serving the newest intact "
                f"build {older.name} instead: run `bala ingest` to rebuild"
            )
            return loaded
        raise
