"""Chunking keeps exact offsets, respects sentences, and fixed passages stay whole."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.types import Document, Source
from ingest.chunking import chunk_document, split_spans
from ingest.pdf_document import join_pages

SENTENCES = [
    "Relapse after CD19 CAR T cells is common.",
    "CD19-negative relapse occurs through antigen escape.",
    "Blinatumomab is a bispecific T-cell engager.",
    "Lineage switch to AML has been reported.",
]


def test_chunks_are_exact_slices_and_end_on_sentences():
    text = " ".join(SENTENCES * 6)
    spans = split_spans(text, chunk_size=120, chunk_overlap=40)
    assert len(spans) > 3
    for start, end in spans:
        piece = text[start:end]
        assert len(piece) <= 120
        assert piece.endswith(".") and piece[0].isupper()


def test_overlap_repeats_whole_sentences():
    text = " ".join(SENTENCES * 3)
    spans = split_spans(text, chunk_size=100, chunk_overlap=50)
    assert any(b[0] < a[1] for a, b in zip(spans, spans[1:]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(SENTENCES + ["\n\n", "Short.", "e.g. x", "\n"]), max_size=40),
    st.integers(min_value=40, max_value=400),
)
def test_provenance_property(parts, size):
    text = " ".join(parts)
    doc = Document(Source("sha256:t"), text)
    for chunk in chunk_document(doc, size, size // 4):
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip() == chunk.text and chunk.text


def test_pages_are_tracked_across_page_boundaries():
    text, spans = join_pages(["Page one text. " * 10, "Page two text. " * 10])
    doc = Document(Source("sha256:p"), text, spans)
    chunks = chunk_document(doc, 100, 20)
    assert chunks[0].pages == (1,) and chunks[-1].pages == (2,)
    page_two_starts = spans[1].start
    for c in chunks:
        expected = tuple(
            p for p, hit in ((1, c.start < spans[0].end), (2, c.end > page_two_starts)) if hit
        )
        assert c.pages == expected


def test_chunk_ids_are_stable_content_hashes():
    doc = Document(Source("sha256:s"), " ".join(SENTENCES * 4))
    first = [c.chunk_id for c in chunk_document(doc, 100, 20)]
    again = [c.chunk_id for c in chunk_document(doc, 100, 20)]
    other = Document(Source("sha256:other"), doc.text)
    assert first == again
    assert set(first).isdisjoint(c.chunk_id for c in chunk_document(other, 100, 20))


def test_fixed_spans_are_kept_whole():
    text = "Title here\n\n" + "A long record. " * 100
    doc = Document(Source("pmid:1"), text, (), ((0, 10, "title"), (12, len(text), "abstract")))
    chunks = chunk_document(doc, 50, 10)
    assert [c.text for c in chunks] == [text[0:10], text[12:]]
    assert [c.section for c in chunks] == ["title", "abstract"]
