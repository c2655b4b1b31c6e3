"""The local build, written as it is made.

New sources go through in blocks of about a thousand chunks: a block's documents and chunks
are written to the new store, its chunk texts embedded (through the embedding cache) and its
BM25 terms added, and then the block is let go. The vectors wait in a scratch file in the new
build's folder and are copied into a FAISS index whose storage is allocated once. So the
library's documents, chunks and vectors are never all held at once (`bala bench medline
--full` measures the peak; docs/literature.md has the figures).

The build is written beside the live one and published by one atomic rename, so a crash at
any moment leaves the previous build intact and loadable.
"""

from __future__ import annotations

import ctypes
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.settings import Settings
from core.types import Chunk, Document, IngestReport
from index import dense, layout
from index.embed import (
    EmbeddingCache,
    embed_cached,
    loaded_embedders,
    model_key,
    release_embedders,
)
from index.ingest_runner import LOCAL, Runner
from index.lexical import TOKENIZER_VERSION, Bm25Index, bm25_rows, tokenize
from index.manifest import (
    SCHEMA_VERSION,
    IndexMismatchError,
    Manifest,
    ModelInfo,
    bm25_params,
    file_records,
    write_manifest,
)
from index.model import MODEL_DIM
from index.plan import Contents, LiveBuild
from index.row_terms import RowTerms
from index.store import StoreWriter, read_chunk_texts, read_reused_rows, read_rows_of
from ingest.chunking import chunk_document, chunker_params

SPILL_FILE = "vectors.f32.partial"  # the new rows' vectors, float32 row after row
TOKENIZE_BLOCK = 20_000  # chunks whose token lists are held at once: ~1 KB a chunk


def stage_reached(stage: str) -> None:
    """Called at the named points of a build (after_embed, after_store, before_switch).

    Does nothing; the crash tests replace it (monkeypatch) to kill a build at that point."""


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


def write_streamed(ctx: WriteContext, runner: Runner, progress: bool) -> tuple[str, int]:
    """The local writer: a new build beside the live one, then the switch. Returns the
    build id and how many chunks were embedded afresh.

    Reused sources keep their chunks (copied row for row from the live store, first and in
    their old order, with their vectors and BM25 terms); the new chunks follow. The new
    documents are taken out of `ctx.contents.documents` block by block as they are written.
    """
    live, contents, settings = ctx.live, ctx.contents, ctx.settings
    reused = read_reused_rows(live.store_path, contents.reused) if contents.reused else []
    n_sources = len(contents.reused) + len(contents.documents)
    stamp = datetime.now(UTC)
    build_id = f"{stamp:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:6]}"
    final = layout.builds_dir(ctx.index_dir) / build_id
    partial = final.with_name(build_id + ".partial")
    partial.mkdir(parents=True)
    copy = (live.store_path, contents.reused) if contents.reused else None
    store = StoreWriter(partial / "store.sqlite", copy)
    models_before = loaded_embedders()
    try:  # any failure before the store is finished closes it; the .partial folder is swept
        terms, n_new, embedded, dim = _stream_new_rows(ctx, store, reused, runner, progress)
        release_embedders(models_before)  # the FAISS and BM25 builds need the memory more
        _trim_heap()
        stage_reached("after_embed")
        started = time.perf_counter()
        index_type = _write_dense(ctx, reused, partial, n_new, dim)
        bm25 = bm25_params(settings)
        Bm25Index.from_rows(terms, bm25["k1"], bm25["b"]).save(partial / "bm25")
        del terms
        store.finish(contents.files)
    except BaseException:
        store.abandon()
        raise
    stage_reached("after_store")
    manifest = Manifest(
        build_id=build_id,
        created_at=stamp.isoformat(timespec="seconds"),
        model=ModelInfo(settings.index.model_id, settings.index.backend, dim),
        chunker=chunker_params(settings.ingest.chunk_size, settings.ingest.chunk_overlap),
        bm25=bm25,
        counts={"sources": n_sources, "chunks": len(reused) + n_new, "files": len(contents.files)},
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
    ctx.report.added_chunks = len(reused) + n_new
    return build_id, embedded


def _stream_new_rows(
    ctx: WriteContext, store: StoreWriter, reused: list[int], runner: Runner, progress: bool
):
    """Write, embed and tokenize the new documents block by block: (BM25 row terms of the
    whole build, new rows, rows embedded afresh, vector width). Vectors go to the scratch
    file in row order."""
    live, documents, embed = ctx.live, ctx.contents.documents, ctx.cache_embed(runner)
    terms = _TermsBuilder(live, reused)
    dim = live.manifest.model.dim if live.manifest else MODEL_DIM
    n_new = embedded = 0
    bar = _bar(len(documents), progress)
    with open(store.path.parent / SPILL_FILE, "wb") as spill:
        for docs, chunks in _blocks(documents, ctx.settings, runner.block_chunks):
            store.add(docs, chunks)
            vectors, computed = embed([c.text for c in chunks], False)
            if len(chunks):
                spill.write(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
                dim = vectors.shape[1]
            terms.add(chunks)
            n_new, embedded = n_new + len(chunks), embedded + computed
            if bar is not None:
                bar.update(len(docs))
    if bar is not None:
        bar.close()
    return terms.done(), n_new, embedded, dim


def _trim_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc's malloc_trim): the documents
    and chunks just written leave ~60 MB of them at 118,592 passages. Elsewhere, nothing."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _bar(total: int, progress: bool):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="embedding", unit="source", leave=False)


def _blocks(
    documents: list[Document], settings: Settings, size: int
) -> Iterator[tuple[list[Document], list[Chunk]]]:
    """(documents, their chunks) about `size` chunks at a time, in order, taken out of
    `documents` (emptied as it goes, so that what was written can be let go)."""
    chunk_size, overlap = settings.ingest.chunk_size, settings.ingest.chunk_overlap
    documents.reverse()
    docs: list[Document] = []
    chunks: list[Chunk] = []
    while documents:
        document = documents.pop()
        docs.append(document)
        chunks.extend(chunk_document(document, chunk_size, overlap))
        if len(chunks) >= size:
            yield docs, chunks
            docs, chunks = [], []
    if docs:
        yield docs, chunks


def _spilled(path: Path, dim: int, rows: int = 4096) -> Iterator[np.ndarray]:
    """The scratch file's vectors, `rows` at a time (plain reads: no mapping held)."""
    with open(path, "rb") as handle:
        while True:
            block = np.fromfile(handle, dtype=np.float32, count=rows * dim)
            if not block.size:
                return
            yield block.reshape(-1, dim)


def _write_dense(ctx: WriteContext, reused: list[int], partial: Path, n_new: int, dim: int):
    """Save the new build's FAISS index (reused rows first, in their old order) and return
    its type. A flat index gets the new vectors copied in from the scratch file; an
    approximate one (past `index.approx_from` rows) is trained on all of them."""
    live, spill = ctx.live, partial / SPILL_FILE
    index_type = dense.choose_index_type(len(reused) + n_new, ctx.settings.index.approx_from)
    if index_type == "flat" and (not reused or live.manifest.faiss_type == "flat"):
        if reused:  # the live flat file, without the rows of dropped sources (order kept)
            index = dense.load_faiss(live.build / "dense.faiss")
            dense.keep_rows(index, reused)
        else:
            index = dense.build_faiss(np.zeros((0, dim), dtype=np.float32), "flat")
        dense.append_blocks(index, n_new, _spilled(spill, dim))
    else:
        fresh = np.fromfile(spill, dtype=np.float32).reshape(-1, dim)
        old = _reused_vectors(ctx, reused) if reused else None
        vectors = fresh if old is None else np.concatenate([old, fresh])
        index = dense.build_faiss(vectors, index_type)
        del vectors, fresh
    spill.unlink()
    dense.save_faiss(index, partial / "dense.faiss")
    return index_type


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


def live_terms(live: LiveBuild) -> RowTerms | None:
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


class _TermsBuilder:
    """BM25 terms of the new build's rows: the reused rows' terms sliced from the live
    build's, then each block's chunks (a chunk id the live build holds keeps its live tokens:
    same id, same text, e.g. when one record of a large JSONL file changed). Token lists
    become term ids TOKENIZE_BLOCK rows at a time."""

    def __init__(self, live: LiveBuild, reused_rows: list[int]):
        self.live_terms = live_terms(live)
        self.live_store = live.store_path
        if not reused_rows:
            self.terms = RowTerms.empty()
        elif self.live_terms is None:
            raise RuntimeError("rows reused from a build whose BM25 terms are stale")
        else:
            self.terms = self.live_terms.take(reused_rows)
        self.pending: list[list[str]] = []

    def add(self, chunks: list[Chunk]) -> None:
        known: dict[str, int] = {}
        if chunks and self.live_terms is not None:
            known = read_rows_of(self.live_store, [c.chunk_id for c in chunks])
        self.pending.extend(
            self.live_terms.tokens(known[c.chunk_id]) if c.chunk_id in known else tokenize(c.text)
            for c in chunks
        )
        if len(self.pending) >= TOKENIZE_BLOCK:
            self._flush()

    def done(self) -> RowTerms:
        if self.pending:
            self._flush()
        return self.terms

    def _flush(self) -> None:
        self.terms, self.pending = self.terms.extend(bm25_rows(self.pending)), []
