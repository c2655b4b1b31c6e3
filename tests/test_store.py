"""The store reads chunk rows on demand and answers row and count questions in SQL."""

from __future__ import annotations

import pytest

from core.types import Document, PageSpan, Source
from index.store import ChunkRows, Store, write_store
from ingest.chunking import chunk_document

TEXTS = {
    "pmid:1": "CD19-negative relapse followed tisagenlecleucel. Antigen loss was confirmed.",
    "pmid:2": "Blinatumomab gave MRD-negative remission. Relapse occurred later.",
    "pmid:3": "Lineage switch to AML was seen after CAR T cells.",
}


@pytest.fixture
def store(tmp_path):
    docs = [
        Document(Source(sid), text, (PageSpan(1, 0, len(text)),)) for sid, text in TEXTS.items()
    ]
    chunks = [c for d in docs for c in chunk_document(d, 40, 0)]
    write_store(tmp_path / "store.sqlite", docs, chunks, {"lib": ("sha", list(TEXTS))})
    opened = Store(tmp_path / "store.sqlite")
    yield opened, chunks
    opened.close()


def test_chunk_rows_behave_like_the_written_list(store):
    opened, chunks = store
    rows = opened.chunks
    assert isinstance(rows, ChunkRows) and len(rows) == len(chunks) > 3
    assert list(rows) == chunks
    assert rows[0] == chunks[0] and rows[-1] == chunks[-1] and rows[1:3] == chunks[1:3]
    assert [rows[i] for i in range(len(chunks))] == chunks
    with pytest.raises(IndexError):
        rows[len(chunks)]


def test_iteration_crosses_block_boundaries(store, monkeypatch):
    opened, chunks = store
    monkeypatch.setattr(ChunkRows, "BLOCK", 2)
    assert list(opened.chunks) == chunks


def test_rows_of_sources_and_chunk_counts(store):
    opened, chunks = store
    wanted = {"pmid:1", "pmid:3"}
    expected = [i for i, c in enumerate(chunks) if c.source_id in wanted]
    assert opened.rows_of_sources(wanted).tolist() == expected
    assert opened.rows_of_sources(set()).tolist() == []
    counts = opened.chunk_counts()
    assert counts == {sid: sum(c.source_id == sid for c in chunks) for sid in TEXTS}


def test_mentions_searches_stored_texts_as_written(store):
    opened, _ = store
    assert opened.mentions("lineage switch to aml")  # case-folded
    assert opened.mentions("MRD-negative")
    assert not opened.mentions("x^2") and not opened.mentions("inotuzumab")
