"""`bala ingest`: load inputs, reuse what is unchanged, embed the rest, publish a new build.

A build is written beside the live one and published by one atomic rename, so a crash at any
moment leaves the previous build intact and loadable.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.settings import Settings
from core.types import Chunk, Document, IngestReport
from index import dense, layout
from index.embed import EmbeddingCache, embed_cached, load_embedder, model_key
from index.inputs import discover, file_sha256
from index.lexical import TOKENIZER_VERSION, Bm25Index, bm25_rows, tokenize
from index.manifest import SCHEMA_VERSION, IndexMismatchError, read_manifest, write_manifest
from index.owners import choose_owners, filled
from index.row_terms import RowTerms
from index.store import Store, read_chunk_texts, read_reused_rows, read_rows_of, write_store
from ingest.chunking import chunk_document, chunker_params
from ingest.errors import IngestError
from ingest.loaders import load_file

CRASH_ENV = "BALA_TEST_CRASH_AT"  # test hook: exit abruptly at a named stage


def _maybe_crash(stage: str) -> None:
    if os.environ.get(CRASH_ENV) == stage:
        os._exit(137)


@dataclass
class _Plan:
    """The next build's files: new documents, or None where the live build's rows are reused."""

    files: dict[str, tuple[str, list[Document] | None]] = field(default_factory=dict)
    changed: bool = False


@dataclass
class _Live:
    """What the live build holds: its directory, manifest and files."""

    build: Path | None = None
    manifest: dict = field(default_factory=dict)
    files: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # path -> sha, ids

    @property
    def store_path(self) -> Path | None:
        return self.build / "store.sqlite" if self.build else None


def _previous(index_dir: Path) -> _Live:
    """The live build (empty when there is none); documents are read only when needed."""
    build = layout.current_build(index_dir)
    if build is None:
        return _Live()
    store = Store(build / "store.sqlite")
    try:
        files = store.files()
    finally:
        store.close()
    return _Live(build, read_manifest(build / "manifest.json"), files)


def _load_changed(paths, settings, live: _Live, report) -> _Plan:
    """Parse new or changed files; keep the previous version of any file that now fails."""
    plan = _Plan(files={path: (sha, None) for path, (sha, _) in live.files.items()})
    for path in paths:
        key = str(path)
        try:
            sha = file_sha256(path)
        except OSError as exc:
            report.failed.append((key, f"unreadable: {exc.strerror or exc}"))
            continue
        if key in live.files and live.files[key][0] == sha:
            report.unchanged.append(key)
            continue
        try:
            result = load_file(path, sha, settings.ingest)
        except IngestError as exc:
            report.failed.append((key, exc.reason))
            continue
        except Exception as exc:  # a parser bug must not stop the batch
            report.failed.append((key, f"could not be read ({type(exc).__name__}: {exc})"))
            continue
        report.warnings.extend((key, w) for w in result.warnings)
        plan.files[key] = (sha, list(result.documents))
        report.ok.append(key)
        plan.changed = True
    return plan


def _source_ids(entry: tuple[str, list[Document] | None], live: _Live, key: str) -> list[str]:
    docs = entry[1]
    return [d.source_id for d in docs] if docs is not None else live.files[key][1]


def _prune(plan: _Plan, live: _Live, report: IngestReport) -> None:
    for key in [k for k in plan.files if not Path(k).exists()]:
        report.removed.extend(_source_ids(plan.files.pop(key), live, key))
        plan.changed = True


def _read_all(plan: _Plan, live: _Live) -> None:
    """Replace reused entries with the live build's documents (a full rebuild re-chunks all)."""
    if live.store_path is None or all(docs is not None for _, docs in plan.files.values()):
        return
    store = Store(live.store_path)
    try:
        docs = {d.source_id: d for d in store.documents()}
    finally:
        store.close()
    for key, (sha, entry) in list(plan.files.items()):
        if entry is None:
            plan.files[key] = (sha, [docs[s] for s in live.files[key][1] if s in docs])


@dataclass
class _Contents:
    """One source per id (the first file in path order wins): reused ids and new documents."""

    reused: list[str] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    files: dict[str, tuple[str, list[str]]] = field(default_factory=dict)


def _unique_contents(plan: _Plan, live: _Live, report: IngestReport) -> _Contents:
    live_ids = {key: ids for key, (_, ids) in live.files.items()}
    owner, extra = choose_owners(plan.files, live_ids, live.store_path, report)
    out = _Contents()
    for key in sorted(plan.files):
        sha, docs = plan.files[key]
        kept = [
            s for s in dict.fromkeys(_source_ids(plan.files[key], live, key)) if owner.get(s) == key
        ]
        if docs is None:
            out.reused.extend(kept)
        else:
            out.documents.extend(
                replace(d, source=filled(d.source, extra[d.source_id]))
                if d.source_id in extra
                else d
                for d in docs
                if d.source_id in kept
            )
        out.files[key] = (sha, kept)
    return out


def _chunk_all(documents: list[Document], settings: Settings) -> list[Chunk]:
    size, overlap = settings.ingest.chunk_size, settings.ingest.chunk_overlap
    return [c for doc in documents for c in chunk_document(doc, size, overlap)]


def bm25_params(settings: Settings) -> dict:
    """BM25 parameters as the manifest records them (a change forces a rebuild)."""
    return {
        "k1": settings.index.bm25_k1,
        "b": settings.index.bm25_b,
        "tokenizer": TOKENIZER_VERSION,
    }


def _settings_changed(manifest: dict, settings: Settings) -> bool:
    if not manifest:
        return False
    params = chunker_params(settings.ingest.chunk_size, settings.ingest.chunk_overlap)
    model = manifest.get("model", {})
    return (
        manifest.get("chunker") != params
        or manifest.get("bm25") != bm25_params(settings)
        or model.get("id") != settings.index.model_id
        or model.get("backend") != settings.index.backend
        or manifest.get("schema_version") != SCHEMA_VERSION
    )


def ingest_paths(
    paths: list[Path], settings: Settings, prune: bool = False, progress: bool = False
) -> IngestReport:
    """Ingest files/folders into the index at `settings.index_dir` (incremental, atomic)."""
    report = IngestReport()
    index_dir = settings.index_dir
    with layout.writer_lock(index_dir):
        files, skipped, missing = discover(paths)
        report.skipped.extend(skipped)
        report.failed.extend(missing)
        live = _previous(index_dir)
        manifest = live.manifest
        plan = _load_changed(files, settings, live, report)
        if prune:
            _prune(plan, live, report)
        settings_changed = _settings_changed(manifest, settings)
        if not plan.changed and not settings_changed and manifest:
            report.build_id = manifest.get("build_id", "")
            return report
        if settings_changed:
            _read_all(plan, live)  # chunker, model or schema changed: re-chunk everything
        contents = _unique_contents(plan, live, report)
        if not contents.documents and not contents.reused and not manifest:
            return report  # nothing usable yet: no empty build
        _publish(index_dir, live, contents, settings, report, progress)
        layout.prune_old_builds(index_dir)
    return report


def _live_terms(live: _Live) -> RowTerms | None:
    """The live build's row terms, when its schema and tokenizer are the current ones."""
    manifest = live.manifest
    if (
        live.build is None
        or manifest.get("schema_version") != SCHEMA_VERSION
        or manifest.get("bm25", {}).get("tokenizer") != TOKENIZER_VERSION
    ):
        return None
    where, fix = live.build / "bm25", "remove the index folder and run `bala ingest` again"
    try:
        terms = RowTerms.load(where)
    except (OSError, ValueError) as exc:
        raise IndexMismatchError(f"{where}: unreadable BM25 row terms ({exc}); {fix}") from exc
    chunks = manifest.get("counts", {}).get("chunks")
    if terms.n_rows != chunks:
        raise IndexMismatchError(
            f"{where}: {terms.n_rows} rows of terms for {chunks} chunks; {fix}"
        )
    return terms


def _row_terms(reused_rows: list[int], chunks: list[Chunk], live: _Live) -> RowTerms:
    """BM25 terms of the new build's rows: reused rows sliced from the live build's, then the
    new chunks' tokens (reusing the live tokens of an unchanged chunk id: same id = same text,
    e.g. when one record of a large JSONL file changed)."""
    live_terms = _live_terms(live)
    known: dict[str, int] = {}
    if chunks and live_terms is not None:
        known = read_rows_of(live.store_path, [c.chunk_id for c in chunks])
    new_tokens = [
        live_terms.tokens(known[c.chunk_id]) if c.chunk_id in known else tokenize(c.text)
        for c in chunks
    ]
    if not reused_rows:
        return RowTerms.from_tokens(bm25_rows(new_tokens))
    if live_terms is None:
        raise RuntimeError("rows reused from a build whose BM25 terms are stale")
    return live_terms.take(reused_rows).extend(bm25_rows(new_tokens))


def _reused_vectors(live: _Live, rows: list[int], settings: Settings, cache) -> np.ndarray:
    """Vectors of reused live rows, for a new index of another type: read back from a flat
    live index (exact), else from the embedding cache (an approximate index stores lossy
    codes)."""
    if live.manifest.get("faiss", {}).get("type") == "flat":
        index = dense.load_faiss(live.build / "dense.faiss")
        return index.reconstruct_n(0, index.ntotal)[rows]
    texts = read_chunk_texts(live.store_path, rows)
    return _embed(texts, settings, cache, progress=False)[0]


def _embed(texts, settings: Settings, cache, progress: bool) -> tuple[np.ndarray, int]:
    key = model_key(settings.index.model_id, settings.index.backend)
    return embed_cached(texts, key, cache, lambda: load_embedder(settings.index), progress)


def _dense_index(live, rows, chunks, settings, index_dir, progress):
    """The new build's FAISS index (reused rows first, in their old order), its type, and
    how many chunks were embedded. A flat live index stays flat: its file is loaded, the
    rows of dropped sources removed (order kept) and the new vectors appended."""
    index_type = dense.choose_index_type(len(rows) + len(chunks), settings.index.approx_from)
    cache = EmbeddingCache(layout.cache_path(index_dir))
    try:
        fresh, embedded = _embed([c.text for c in chunks], settings, cache, progress)
        if rows and index_type == "flat" and live.manifest.get("faiss", {}).get("type") == "flat":
            index = dense.load_faiss(live.build / "dense.faiss")
            dense.keep_rows(index, rows)
            dense.add_vectors(index, fresh)
            return index, index_type, embedded
        old = _reused_vectors(live, rows, settings, cache) if rows else None
    finally:
        cache.close()
    vectors = fresh if old is None else np.concatenate([old, fresh.reshape(-1, old.shape[1])])
    return dense.build_faiss(vectors, index_type), index_type, embedded


def _publish(index_dir, live, contents, settings, report, progress) -> None:
    """Embed, write every file of the new build beside the live one, then switch.

    Reused sources keep their chunks (copied row for row from the live store, first and in
    their old order, with their vectors and BM25 terms); new documents are chunked, embedded and
    appended after them.
    """
    reused = read_reused_rows(live.store_path, contents.reused) if contents.reused else []
    chunks = _chunk_all(contents.documents, settings)
    faiss_index, index_type, embedded = _dense_index(
        live, reused, chunks, settings, index_dir, progress
    )
    _maybe_crash("after_embed")
    stamp = datetime.now(UTC)
    build_id = f"{stamp:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:6]}"
    final = layout.builds_dir(index_dir) / build_id
    partial = final.with_name(build_id + ".partial")
    partial.mkdir(parents=True)
    n_rows = len(reused) + len(chunks)
    started = time.perf_counter()
    dense.save_faiss(faiss_index, partial / "dense.faiss")
    bm25 = bm25_params(settings)
    row_terms = _row_terms(reused, chunks, live)
    Bm25Index.from_rows(row_terms, bm25["k1"], bm25["b"]).save(partial / "bm25")
    copy = (live.store_path, contents.reused) if contents.reused else None
    write_store(partial / "store.sqlite", contents.documents, chunks, contents.files, copy)
    _maybe_crash("after_store")
    n_sources = len(contents.reused) + len(contents.documents)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "build_id": build_id,
        "created_at": stamp.isoformat(timespec="seconds"),
        "model": {
            "id": settings.index.model_id,
            "backend": settings.index.backend,
            "dim": int(faiss_index.d),
        },
        "chunker": chunker_params(settings.ingest.chunk_size, settings.ingest.chunk_overlap),
        "faiss": {"type": index_type},
        "bm25": bm25,
        "counts": {"sources": n_sources, "chunks": n_rows, "files": len(contents.files)},
        "files": {path: sha for path, (sha, _) in sorted(contents.files.items())},
        "write_seconds": round(time.perf_counter() - started, 3),
    }
    write_manifest(partial / "manifest.json", manifest)
    os.replace(partial, final)
    _maybe_crash("before_switch")
    layout.switch_current(index_dir, final)
    report.build_id, report.changed = build_id, True
    report.added_chunks, report.embedded_chunks = n_rows, embedded


def remove_index(index_dir: Path) -> None:
    """Delete an index directory entirely (tests and `--rebuild`)."""
    shutil.rmtree(index_dir, ignore_errors=True)
