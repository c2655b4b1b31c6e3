"""Open the live build for reading, refusing one that does not fit the settings or itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss

from core.settings import Settings
from index import dense, layout
from index.lexical import Bm25Index
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

    @property
    def build_id(self) -> str:
        return self.manifest.build_id

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
