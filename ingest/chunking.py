"""Sentence-aware chunking that keeps exact character offsets into the stored text."""

from __future__ import annotations

from langchain_text_splitters import RecursiveCharacterTextSplitter

from core.types import Chunk, Document, make_chunk

CHUNKER_NAME = "recursive-sentence"
CHUNKER_VERSION = 1
# Paragraphs, then lines, then sentence ends, then clauses and words: cut at the largest unit.
SEPARATORS = ["\n\n", "\n", r"(?<=[.!?])\s+", r"(?<=[;:])\s+", r"(?<=,)\s+", r"\s+", ""]


def chunker_params(chunk_size: int, chunk_overlap: int) -> dict:
    """What the manifest records so a changed chunker forces re-chunking."""
    return {
        "name": CHUNKER_NAME,
        "version": CHUNKER_VERSION,
        "chunk_size": chunk_size,
        "chunk_overlap": chunk_overlap,
    }


def _splitter(chunk_size: int, chunk_overlap: int) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        is_separator_regex=True,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        strip_whitespace=True,
    )


def split_spans(text: str, chunk_size: int, chunk_overlap: int) -> list[tuple[int, int]]:
    """[(start, end)] of sentence-aware chunks; each `text[start:end]` is a chunk verbatim."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in _splitter(chunk_size, chunk_overlap).split_text(text):
        start = text.find(piece, max(0, cursor - chunk_overlap - len(piece)))
        if start < 0:
            start = text.find(piece)
        if start < 0:  # the splitter altered the text: never store such a chunk
            raise ValueError("chunk is not a substring of its document")
        spans.append((start, start + len(piece)))
        cursor = start + 1
    return spans


def chunk_document(doc: Document, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Chunks of one document: fixed passages kept whole, free text split by sentences."""
    if doc.fixed_spans:
        return [
            make_chunk(doc.source_id, doc.text[s:e], s, e, doc.pages_for(s, e), section)
            for s, e, section in doc.fixed_spans
        ]
    return [
        make_chunk(doc.source_id, doc.text[s:e], s, e, doc.pages_for(s, e))
        for s, e in split_spans(doc.text, chunk_size, chunk_overlap)
    ]
