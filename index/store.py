"""The SQLite store of a build: sources, full stored texts, chunks (row = vector id), files."""

from __future__ import annotations

import json
import operator
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from core.types import Chunk, Citation, Document, PageSpan, Reference, Source
from index.store_rows import refs_from_json, refs_to_json, source_from_json, source_to_json

SCHEMA = """
CREATE TABLE sources (source_id TEXT PRIMARY KEY, meta TEXT NOT NULL);
CREATE TABLE documents (source_id TEXT PRIMARY KEY, text TEXT NOT NULL,
                        page_spans TEXT NOT NULL, fixed_spans TEXT NOT NULL);
CREATE TABLE chunks (row INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL, source_id TEXT NOT NULL,
                     start INTEGER NOT NULL, "end" INTEGER NOT NULL, pages TEXT NOT NULL,
                     section TEXT NOT NULL, text TEXT NOT NULL);
CREATE TABLE files (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, source_ids TEXT NOT NULL);
CREATE TABLE doc_refs (source_id TEXT PRIMARY KEY, refs TEXT NOT NULL, citations TEXT NOT NULL);
CREATE INDEX chunks_source ON chunks(source_id);
"""


def write_store(
    path: Path,
    documents: list[Document],
    chunks: list[Chunk],
    files: dict[str, tuple[str, list[str]]],
    copy_from: tuple[Path, list[str]] | None = None,
) -> None:
    """Write a new store file in one go (see StoreWriter); chunk i gets row i."""
    writer = StoreWriter(path, copy_from)
    writer.add(documents, chunks)
    writer.finish(files)


class StoreWriter:
    """A new store file written block by block; the chunks of each `add` get the next rows
    (the FAISS and BM25 rows).

    `copy_from` = (live store, source ids): those sources' rows come first, their chunks
    renumbered from row 0 in their old order. When every live source is kept (a paper was
    added), the live file is copied whole and appended to. The file is new and unpublished
    until the build directory is switched in, so SQLite's journal is off; the file is
    fsynced once, by `finish`.
    """

    def __init__(self, path: Path, copy_from: tuple[Path, list[str]] | None = None):
        self.path = path
        self.db, self.next_row = _open_new_store(path, copy_from)

    def add(self, documents: list[Document], chunks: list[Chunk]) -> None:
        _insert_rows(self.db, documents, chunks, self.next_row)
        self.next_row += len(chunks)

    def finish(self, files: dict[str, tuple[str, list[str]]]) -> None:
        """The file table, one commit, close, fsync."""
        try:
            self.db.executemany(
                "INSERT INTO files VALUES (?, ?, ?)",
                [(p, sha, json.dumps(ids)) for p, (sha, ids) in sorted(files.items())],
            )
            self.db.commit()
        finally:
            self.db.close()
        with open(self.path, "rb") as handle:
            os.fsync(handle.fileno())

    def abandon(self) -> None:
        self.db.close()


def _open_new_store(path: Path, copy_from) -> tuple[sqlite3.Connection, int]:
    """The new store, open without a journal, and the row its first new chunk gets."""
    if copy_from and _keeps_every_source(*copy_from):
        shutil.copyfile(copy_from[0], path)
        db = sqlite3.connect(str(path))
        _unjournaled(db)
        db.execute("DELETE FROM files")
        return db, db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    db = sqlite3.connect(str(path))
    _unjournaled(db)
    db.executescript(SCHEMA)
    return db, (_copy_sources(db, *copy_from) if copy_from else 0)


def _insert_rows(db, documents: list[Document], chunks: list[Chunk], offset: int) -> None:
    """Sources, texts, references and chunks (from row `offset`)."""
    db.executemany(
        "INSERT INTO sources VALUES (?, ?)",
        [(d.source_id, source_to_json(d.source)) for d in documents],
    )
    db.executemany(
        "INSERT INTO documents VALUES (?, ?, ?, ?)",
        [
            (
                d.source_id,
                d.text,
                json.dumps([[p.page, p.start, p.end] for p in d.page_spans]),
                json.dumps([list(s) for s in d.fixed_spans]),
            )
            for d in documents
        ],
    )
    db.executemany(
        "INSERT INTO doc_refs VALUES (?, ?, ?)",
        [(d.source_id, *refs_to_json(d)) for d in documents if d.references or d.citations],
    )
    db.executemany(
        "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (i, c.chunk_id, c.source_id, c.start, c.end, json.dumps(c.pages), c.section, c.text)
            for i, c in enumerate(chunks, start=offset)
        ],
    )


CHUNK_COLUMNS = 'row, chunk_id, source_id, start, "end", pages, section, text'


def _unjournaled(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")


def _holds_exactly(db: sqlite3.Connection, source_ids: list[str]) -> bool:
    """Whether the store's sources are exactly `source_ids` (a subset of them)."""
    return db.execute("SELECT COUNT(*) FROM sources").fetchone()[0] == len(set(source_ids))


def _keeps_every_source(live: Path, source_ids: list[str]) -> bool:
    with _read_only(live) as db:
        return _holds_exactly(db, source_ids)


def _keep_table(db: sqlite3.Connection, source_ids: list[str]) -> None:
    db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (id TEXT PRIMARY KEY)")
    db.execute("DELETE FROM keep")
    db.executemany("INSERT OR IGNORE INTO keep VALUES (?)", [(s,) for s in source_ids])


def _copy_sources(db: sqlite3.Connection, live: Path, source_ids: list[str]) -> int:
    """Copy the live store's rows of `source_ids`; returns how many chunk rows were copied."""
    db.execute("ATTACH DATABASE ? AS live", (str(live),))  # read from only, never written
    _keep_table(db, source_ids)
    for table in ("sources", "documents", "doc_refs"):
        db.execute(
            f"INSERT INTO main.{table} SELECT * FROM live.{table} "
            "WHERE source_id IN (SELECT id FROM keep)"
        )
    db.execute(
        "INSERT INTO main.chunks SELECT ROW_NUMBER() OVER (ORDER BY row) - 1, chunk_id, "
        'source_id, start, "end", pages, section, text FROM live.chunks '
        "WHERE source_id IN (SELECT id FROM keep) ORDER BY row"
    )
    copied = db.execute("SELECT COUNT(*) FROM main.chunks").fetchone()[0]
    db.commit()
    db.execute("DETACH DATABASE live")
    return copied


@contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a store file, closed on exit."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        yield db
    finally:
        db.close()


def read_reused_rows(path: Path, source_ids: list[str]) -> list[int]:
    """Live rows of those sources' chunks in row order: the rows `copy_from` will copy, so
    their vectors and BM25 terms can be taken from the live build's rows."""
    with _read_only(path) as db:
        if _holds_exactly(db, source_ids):  # a paper added: every live row is kept
            return list(range(db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]))
        _keep_table(db, source_ids)
        rows = db.execute(
            "SELECT row FROM chunks WHERE source_id IN (SELECT id FROM keep) ORDER BY row"
        ).fetchall()
    return [row for (row,) in rows]


def read_chunk_texts(path: Path, rows: list[int]) -> list[str]:
    """Texts of those live chunk rows, in the order given."""
    with _read_only(path) as db:
        db.execute("CREATE TEMP TABLE want (pos INTEGER PRIMARY KEY, row INTEGER)")
        db.executemany("INSERT INTO want VALUES (?, ?)", enumerate(rows))
        found = db.execute(
            "SELECT chunks.text FROM want JOIN chunks ON chunks.row = want.row ORDER BY want.pos"
        ).fetchall()
    return [text for (text,) in found]


def read_rows_of(path: Path, chunk_ids: list[str]) -> dict[str, int]:
    """Live row of each of those chunk ids that the live build holds."""
    with _read_only(path) as db:
        db.execute("CREATE TEMP TABLE want_ids (id TEXT PRIMARY KEY)")
        db.executemany("INSERT OR IGNORE INTO want_ids VALUES (?)", [(c,) for c in chunk_ids])
        found = db.execute(
            "SELECT chunk_id, row FROM chunks WHERE chunk_id IN (SELECT id FROM want_ids)"
        ).fetchall()
    return dict(found)


def _chunk_from_row(row) -> Chunk:
    _, chunk_id, source_id, start, end, pages, section, text = row
    return Chunk(chunk_id, source_id, start, end, text, tuple(json.loads(pages)), section)


class ChunkRows(Sequence[Chunk]):
    """The chunk table as a read-only sequence by row, read from SQLite on demand, so a large
    library is not held in memory; recently read rows are cached."""

    BLOCK = 10_000  # rows per query when iterating

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock, cached_rows: int = 8192):
        self._db, self._lock = db, lock
        with lock:
            self._n = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        self._cached = lru_cache(maxsize=cached_rows)(self._read)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self._cached(i) for i in range(*row.indices(self._n))]
        row = operator.index(row)
        if row < 0:
            row += self._n
        if not 0 <= row < self._n:
            raise IndexError(f"chunk row {row} out of range ({self._n} rows)")
        return self._cached(row)

    def __iter__(self) -> Iterator[Chunk]:
        for start in range(0, self._n, self.BLOCK):
            with self._lock:
                rows = self._db.execute(
                    f"SELECT {CHUNK_COLUMNS} FROM chunks WHERE row >= ? AND row < ? ORDER BY row",
                    (start, start + self.BLOCK),
                ).fetchall()
            yield from map(_chunk_from_row, rows)

    def _read(self, row: int) -> Chunk:
        with self._lock:
            found = self._db.execute(
                f"SELECT {CHUNK_COLUMNS} FROM chunks WHERE row = ?", (row,)
            ).fetchone()
        return _chunk_from_row(found)


class Store:
    """Read access to one build's store (chunks, sources and documents read on demand)."""

    def __init__(self, path: Path):
        self.path = path
        uri = f"file:{path}?mode=ro"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self.chunks = ChunkRows(self._db, self._lock)

    @cached_property
    def sources(self) -> dict[str, Source]:
        """Citation metadata by source id (read on first use)."""
        with self._lock:
            rows = self._db.execute("SELECT source_id, meta FROM sources").fetchall()
        return {sid: source_from_json(meta) for sid, meta in rows}

    def close(self) -> None:
        self._db.close()

    def document(self, source_id: str) -> Document:
        """The full stored document (text and page spans) of one source."""
        with self._lock:
            row = self._db.execute(
                "SELECT source_id, text, page_spans, fixed_spans FROM documents WHERE source_id=?",
                (source_id,),
            ).fetchone()
        if row is None:
            raise KeyError(source_id)
        return self._document_from_row(row)

    def _document_from_row(self, row) -> Document:
        source_id, text, spans, fixed = row
        pages = tuple(PageSpan(*p) for p in json.loads(spans))
        fixed_spans = tuple((s, e, sec) for s, e, sec in json.loads(fixed))
        refs, cits = self.references_of(source_id)
        return Document(self.sources[source_id], text, pages, fixed_spans, refs, cits)

    @cached_property
    def _has_refs_table(self) -> bool:
        """Stores written before schema 4 have no doc_refs table (read during a rebuild)."""
        with self._lock:
            found = self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='doc_refs'"
            ).fetchone()
        return found is not None

    def references_of(self, source_id: str) -> tuple[tuple[Reference, ...], tuple[Citation, ...]]:
        """A source's own reference list and in-text citations (empty when it has none)."""
        if not self._has_refs_table:
            return (), ()
        with self._lock:
            row = self._db.execute(
                "SELECT refs, citations FROM doc_refs WHERE source_id=?", (source_id,)
            ).fetchone()
        return refs_from_json(*row) if row else ((), ())

    def sources_with_references(self) -> list[str]:
        """Ids of the sources that carry a reference list (reviews and articles)."""
        if not self._has_refs_table:
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT source_id FROM doc_refs WHERE refs != '[]' ORDER BY source_id"
            ).fetchall()
        return [sid for (sid,) in rows]

    def documents(self) -> list[Document]:
        """Every stored document, read in one query."""
        with self._lock:
            rows = self._db.execute(
                "SELECT source_id, text, page_spans, fixed_spans FROM documents"
            ).fetchall()
        return [self._document_from_row(r) for r in rows]

    def stored_slice(self, source_id: str, start: int, end: int) -> str:
        """`stored_text[start:end]` of a source, read from the store (for verification)."""
        with self._lock:
            row = self._db.execute(
                "SELECT substr(text, ?, ?) FROM documents WHERE source_id=?",
                (start + 1, max(0, end - start), source_id),
            ).fetchone()
        return row[0] if row else ""

    def mentions(self, literal: str) -> bool:
        """Whether any stored text contains `literal` as written (case-folded); a full scan,
        for what word lookups cannot find (a formula such as "x^2")."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM documents WHERE instr(lower(text), lower(?)) > 0 LIMIT 1",
                (literal,),
            ).fetchone()
        return row is not None

    def metadata_only_ids(self) -> set[str]:
        """Sources stored without text (reference-manager entries with no file yet)."""
        with self._lock:
            rows = self._db.execute("SELECT source_id FROM documents WHERE text = ''").fetchall()
        return {sid for (sid,) in rows}

    def files(self) -> dict[str, tuple[str, list[str]]]:
        with self._lock:
            rows = self._db.execute("SELECT path, sha256, source_ids FROM files").fetchall()
        return {p: (sha, json.loads(ids)) for p, sha, ids in rows}

    def rows_of_sources(self, source_ids: set[str] | list[str]) -> np.ndarray:
        """Chunk rows of those sources, ascending."""
        with self._lock:
            _keep_table(self._db, list(source_ids))
            rows = self._db.execute(
                "SELECT row FROM chunks WHERE source_id IN (SELECT id FROM keep) ORDER BY row"
            ).fetchall()
        return np.asarray([r for (r,) in rows], dtype=np.int64)

    def chunk_counts(self) -> dict[str, int]:
        """Number of chunks per source id."""
        with self._lock:
            rows = self._db.execute(
                "SELECT source_id, COUNT(*) FROM chunks GROUP BY source_id"
            ).fetchall()
        return dict(rows)
