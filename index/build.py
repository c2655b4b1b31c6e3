"""`bala ingest`: load inputs, reuse what is unchanged, embed the rest, publish a new build.

A build is written beside the live one and published by one atomic rename, so a crash at any
moment leaves the previous build intact and loadable.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.settings import Settings
from core.types import Chunk, Document, IngestReport
from index import dense, layout
from index.embed import EmbeddingCache, embed_cached, model_key
from index.enrich import carry_metadata, drop_deleted_pmids
from index.ingest_runner import LOCAL, NewRows, Runner, Writer
from index.inputs import discover, file_sha256
from index.lexical import TOKENIZER_VERSION, Bm25Index, bm25_rows, tokenize
from index.manifest import (
    SCHEMA_VERSION,
    IndexDamagedError,
    IndexMismatchError,
    Manifest,
    ModelInfo,
    bm25_params,
    check_sizes,
    file_records,
    read_manifest,
    write_manifest,
)
from index.plan import Contents, LiveBuild, Plan, orphaned_duplicates, source_ids, unique_contents
from index.row_terms import RowTerms
from index.store import Store, read_chunk_texts, read_reused_rows, read_rows_of, write_store
from ingest.chunking import chunk_document, chunker_params


def stage_reached(stage: str) -> None:
    """Called at the named points of a build (after_embed, after_store, before_switch).

    Does nothing; the crash tests replace it (monkeypatch) to kill a build at that point."""


def _previous(index_dir: Path, report: IngestReport) -> LiveBuild:
    """The build to add to: the live one, or when it is damaged the newest intact older one
    (said in a warning); empty when there is none yet. Documents are read only when needed."""
    build = layout.current_build(index_dir)
    if build is None:
        return LiveBuild()
    try:
        return _read_live(build)
    except IndexDamagedError as damage:
        for older in layout.finished_builds(index_dir):
            try:
                live = _read_live(older)
            except IndexDamagedError:
                continue
            report.warnings.append(
                (str(index_dir), f"the live build is damaged ({damage}); adding to {older.name}")
            )
            return live
        raise IndexDamagedError(
            f"{damage}; no intact build is left to add to: remove {index_dir} and ingest the "
            "whole library again"
        ) from damage


def _read_live(build: Path) -> LiveBuild:
    manifest = read_manifest(build / "manifest.json")
    check_sizes(build, manifest)
    try:
        store = Store(build / "store.sqlite")
        try:
            files = store.files()
        finally:
            store.close()
    except sqlite3.DatabaseError as exc:
        raise IndexDamagedError(f"{build / 'store.sqlite'}: unreadable ({exc})") from exc
    return LiveBuild(build, manifest, files, dict(manifest.duplicates))


def _load_changed(paths, settings, live, report, plan=None, runner: Runner = LOCAL) -> Plan:
    """Parse new or changed files (all of `paths` when a plan is given: files read again);
    keep the previous version of any file that now fails. The runner reads them."""
    forced = plan is not None
    if plan is None:
        plan = Plan(files={path: (sha, None) for path, (sha, _) in live.files.items()})
    todo: list[tuple[Path, str]] = []
    for path in paths:
        key = str(path)
        try:
            sha = file_sha256(path)
        except OSError as exc:
            report.failed.append((key, f"unreadable: {exc.strerror or exc}"))
            continue
        if not forced and key in live.files and live.files[key][0] == sha:
            report.unchanged.append(key)
            continue
        if key in report.unchanged:
            report.unchanged.remove(key)
        todo.append((path, sha))
    loaded = runner.load_files(todo, settings.ingest) if todo else []
    for (path, sha), (result, reason) in zip(todo, loaded):
        key = str(path)
        if result is None:
            report.failed.append((key, reason))
            continue
        report.warnings.extend((key, w) for w in result.warnings)
        plan.deleted_pmids.update(result.deleted_pmids)
        plan.files[key] = (sha, list(result.documents))
        report.ok.append(key)
        plan.changed = True
    return plan


def _prune(plan: Plan, live: LiveBuild, report: IngestReport) -> None:
    for key in [k for k in plan.files if not Path(k).exists()]:
        report.removed.extend(source_ids(plan.files.pop(key), live, key))
        plan.changed = True


def _read_all(plan: Plan, live: LiveBuild) -> None:
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
            kept = [_with_references(docs[s]) for s in live.files[key][1] if s in docs]
            plan.files[key] = (sha, kept)


def _with_references(document: Document) -> Document:
    """A PDF document read back from an older build gains the reference list and citations
    that `ingest.loaders.load_pdf` now extracts (both are pure functions of stored text)."""
    if document.references or not document.source.path.lower().endswith(".pdf"):
        return document
    from ingest.references import with_references

    return with_references(document)


def _chunk_all(documents: list[Document], settings: Settings) -> list[Chunk]:
    size, overlap = settings.ingest.chunk_size, settings.ingest.chunk_overlap
    return [c for doc in documents for c in chunk_document(doc, size, overlap)]


def _settings_changed(manifest: Manifest | None, settings: Settings) -> bool:
    return manifest is not None and not manifest.same_recipe(settings)


def ingest_paths(
    paths: list[Path],
    settings: Settings,
    prune: bool = False,
    progress: bool = False,
    runner: Runner = LOCAL,
    writer: Writer | None = None,
) -> IngestReport:
    """Ingest files/folders into the index at `settings.index_dir` (incremental, atomic).

    `runner` reads and embeds (in this process by default, or on Ray); `writer` stores the
    result (the local build by default). With engine=milvus, Milvus is checked first and the
    live build then written and published there too (index/milvus_sync.py)."""
    if settings.index.engine != "milvus":
        return _ingest_local(paths, settings, prune, progress, runner, writer)
    from index.milvus_build import connect
    from index.milvus_sync import sync_live_build

    client = connect(settings.index.milvus_uri, settings.index.milvus_timeout_s)
    try:
        report = _ingest_local(paths, settings, prune, progress, runner, writer)
        if report.build_id:
            sync_live_build(settings, client)
        return report
    finally:
        client.close()


def _ingest_local(
    paths: list[Path],
    settings: Settings,
    prune: bool,
    progress: bool,
    runner: Runner,
    writer: Writer | None,
) -> IngestReport:
    report = IngestReport()
    index_dir = settings.index_dir
    with layout.writer_lock(index_dir):
        files, skipped, missing = discover(paths)
        report.skipped.extend(skipped)
        report.failed.extend(missing)
        live = _previous(index_dir, report)
        manifest = live.manifest
        plan = _load_changed(files, settings, live, report, runner=runner)
        if prune:
            _prune(plan, live, report)
        settings_changed = _settings_changed(manifest, settings)
        if not plan.changed and not settings_changed and manifest:
            report.build_id = manifest.build_id
            return report
        if settings_changed:
            _read_all(plan, live)  # chunker, model or schema changed: re-chunk everything
        contents = unique_contents(plan, live, report)
        orphaned = orphaned_duplicates(contents, plan, live)
        if orphaned:  # e.g. the file that provided them was pruned: read the others again
            _load_changed([Path(k) for k in orphaned], settings, live, report, plan, runner)
            report.duplicates.clear()
            contents = unique_contents(plan, live, report)
        drop_deleted_pmids(contents, plan.deleted_pmids, live.store_path, report)
        contents.documents = carry_metadata(contents.documents, live.store_path)
        report.removed = [sid for sid in report.removed if sid not in contents.held()]
        if not contents.documents and not contents.reused and not manifest:
            return report  # nothing usable yet: no empty build
        context = WriteContext(index_dir, live, contents, settings, report)
        rows = embed_new_rows(contents, settings, context.cache_embed(runner), progress)
        report.build_id = (writer or write_local_build)(rows, context)
        report.changed, report.embedded_chunks = True, rows.embedded
        layout.prune_old_builds(index_dir)
    return report


def _live_terms(live: LiveBuild) -> RowTerms | None:
    """The live build's row terms, when its schema and tokenizer are the current ones."""
    manifest = live.manifest
    if (
        live.build is None
        or manifest.schema_version != SCHEMA_VERSION
        or manifest.bm25.get("tokenizer") != TOKENIZER_VERSION
    ):
        return None
    where, fix = live.build / "bm25", "remove the index folder and run `bala ingest` again"
    try:
        terms = RowTerms.load(where)
    except (OSError, ValueError) as exc:
        raise IndexMismatchError(f"{where}: unreadable BM25 row terms ({exc}); {fix}") from exc
    chunks = manifest.chunk_count
    if terms.n_rows != chunks:
        raise IndexMismatchError(
            f"{where}: {terms.n_rows} rows of terms for {chunks} chunks; {fix}"
        )
    return terms


TOKENIZE_BLOCK = 20_000  # chunks tokenized at once: Python token lists cost ~1 KB a chunk


def _row_terms(reused_rows: list[int], chunks: list[Chunk], live: LiveBuild) -> RowTerms:
    """BM25 terms of the new build's rows: reused rows sliced from the live build's, then the
    new chunks' tokens (reusing the live tokens of an unchanged chunk id: same id = same text,
    e.g. when one record of a large JSONL file changed)."""
    live_terms = _live_terms(live)
    known: dict[str, int] = {}
    if chunks and live_terms is not None:
        known = read_rows_of(live.store_path, [c.chunk_id for c in chunks])
    if not reused_rows:
        terms = RowTerms.empty()
    elif live_terms is None:
        raise RuntimeError("rows reused from a build whose BM25 terms are stale")
    else:
        terms = live_terms.take(reused_rows)
    for start in range(0, len(chunks), TOKENIZE_BLOCK):  # token lists of one block at a time
        new_tokens = [
            live_terms.tokens(known[c.chunk_id]) if c.chunk_id in known else tokenize(c.text)
            for c in chunks[start : start + TOKENIZE_BLOCK]
        ]
        terms = terms.extend(bm25_rows(new_tokens))
    return terms


@dataclass(frozen=True)
class WriteContext:
    """What a writer needs beside the new rows: where, what the live build holds, which
    sources are kept, the settings, and the report to fill in."""

    index_dir: Path
    live: LiveBuild
    contents: Contents
    settings: Settings
    report: IngestReport

    def cache_embed(self, runner: Runner) -> Callable[[list[str], bool], tuple[np.ndarray, int]]:
        """Texts -> (vectors, how many computed) through the embedding cache, computing the
        missing ones with the runner's embedder (loaded only when something is missing)."""
        key = model_key(self.settings.index.model_id, self.settings.index.backend)
        index_settings = self.settings.index

        def embed(texts: list[str], progress: bool = False) -> tuple[np.ndarray, int]:
            cache = EmbeddingCache(layout.cache_path(self.index_dir))
            try:
                return embed_cached(
                    texts, key, cache, lambda: runner.embedder(index_settings), progress
                )
            finally:
                cache.close()

        return embed


def embed_new_rows(contents: Contents, settings: Settings, embed, progress: bool) -> NewRows:
    """Chunk the new documents and embed their chunks (cached vectors are reused)."""
    chunks = _chunk_all(contents.documents, settings)
    vectors, embedded = embed([c.text for c in chunks], progress)
    rows = NewRows(list(contents.documents), chunks, vectors, embedded)
    stage_reached("after_embed")
    return rows


def _reused_vectors(ctx: WriteContext, rows: list[int]) -> np.ndarray:
    """Vectors of reused live rows, for a new index of another type: read back from a flat
    live index (exact), else from the embedding cache (an approximate index stores lossy
    codes)."""
    live = ctx.live
    if live.manifest.faiss_type == "flat":
        index = dense.load_faiss(live.build / "dense.faiss")
        return index.reconstruct_n(0, index.ntotal)[rows]
    texts = read_chunk_texts(live.store_path, rows)
    return ctx.cache_embed(LOCAL)(texts, False)[0]


def _dense_index(ctx: WriteContext, rows: list[int], fresh: np.ndarray):
    """The new build's FAISS index (reused rows first, in their old order) and its type. A
    flat live index stays flat: its file is loaded, the rows of dropped sources removed
    (order kept) and the new vectors appended."""
    live, settings = ctx.live, ctx.settings
    index_type = dense.choose_index_type(len(rows) + len(fresh), settings.index.approx_from)
    if rows and index_type == "flat" and live.manifest.faiss_type == "flat":
        index = dense.load_faiss(live.build / "dense.faiss")
        dense.keep_rows(index, rows)
        dense.add_vectors(index, fresh)
        return index, index_type
    old = _reused_vectors(ctx, rows) if rows else None
    vectors = fresh if old is None else np.concatenate([old, fresh.reshape(-1, old.shape[1])])
    return dense.build_faiss(vectors, index_type), index_type


def write_local_build(new: NewRows, ctx: WriteContext) -> str:
    """The local writer: every file of a new build beside the live one, then the switch.

    Reused sources keep their chunks (copied row for row from the live store, first and in
    their old order, with their vectors and BM25 terms); the new chunks are appended after
    them. Returns the build id.
    """
    live, contents, settings, report = ctx.live, ctx.contents, ctx.settings, ctx.report
    reused = read_reused_rows(live.store_path, contents.reused) if contents.reused else []
    chunks = new.chunks
    faiss_index, index_type = _dense_index(ctx, reused, new.vectors)
    stamp = datetime.now(UTC)
    build_id = f"{stamp:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:6]}"
    final = layout.builds_dir(ctx.index_dir) / build_id
    partial = final.with_name(build_id + ".partial")
    partial.mkdir(parents=True)
    n_rows = len(reused) + len(chunks)
    started = time.perf_counter()
    dense.save_faiss(faiss_index, partial / "dense.faiss")
    dim = int(faiss_index.d)
    del faiss_index  # saved; not held while BM25 is built (4 bytes x 384 a row)
    bm25 = bm25_params(settings)
    row_terms = _row_terms(reused, chunks, live)
    Bm25Index.from_rows(row_terms, bm25["k1"], bm25["b"]).save(partial / "bm25")
    copy = (live.store_path, contents.reused) if contents.reused else None
    write_store(partial / "store.sqlite", new.documents, chunks, contents.files, copy)
    stage_reached("after_store")
    n_sources = len(contents.reused) + len(new.documents)
    manifest = Manifest(
        build_id=build_id,
        created_at=stamp.isoformat(timespec="seconds"),
        model=ModelInfo(settings.index.model_id, settings.index.backend, dim),
        chunker=chunker_params(settings.ingest.chunk_size, settings.ingest.chunk_overlap),
        bm25=bm25,
        counts={"sources": n_sources, "chunks": n_rows, "files": len(contents.files)},
        faiss_type=index_type,
        files={path: sha for path, (sha, _) in sorted(contents.files.items())},
        duplicates=dict(sorted(contents.duplicates.items())),
        build_files=file_records(partial),
        write_seconds=round(time.perf_counter() - started, 3),
    )
    write_manifest(partial / "manifest.json", manifest)
    os.replace(partial, final)
    stage_reached("before_switch")
    layout.switch_current(ctx.index_dir, final)
    report.added_chunks = n_rows
    return build_id
