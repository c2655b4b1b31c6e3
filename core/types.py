"""Core plain types shared by every layer: sources, stored documents and chunks.

Every chunk points back into its document's stored text with character offsets, so
`document.text[chunk.start:chunk.end] == chunk.text` always holds (provenance).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of raw bytes (an attached file's content)."""
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    """Hex sha256 of a string (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Source:
    """Citation metadata of one indexed work."""

    source_id: str  # doi:<doi> | pmid:<n> | sha256:<hex16>
    kind: str = "article"  # review | article | other
    title: str = ""
    authors: tuple[str, ...] = ()
    journal: str = ""
    year: int | None = None
    volume: str = ""
    issue: str = ""
    pages: str = ""
    doi: str = ""
    pmid: str = ""
    url: str = ""
    path: str = ""
    sha256: str = ""
    # MEDLINE indexing, where known (PubMed/MEDLINE XML, `bala enrich`).
    publication_types: tuple[str, ...] = ()  # e.g. "Randomized Controlled Trial"
    mesh: tuple[str, ...] = ()  # MeSH descriptor names
    # Evidence labels (ingest/labels.py documents the names): "" / () when unknown.
    design: str = ""  # randomized-trial | phase-1-trial | ... | guideline | other
    population: str = ""  # pediatric | adult | both
    diseases: tuple[str, ...] = ()  # B-ALL, AML, DLBCL, CLL, ...
    labels_from: str = ""  # medline | text: what the labels were derived from
    # The journal page printed on each PDF page (index 0 = PDF page 1); () when the PDF's
    # own numbering is the citable one. Quotes keep PDF page numbers; citations print these.
    page_labels: tuple[str, ...] = ()

    def page_label(self, page: int | None) -> str:
        """The citable page of PDF page `page` ('' for none)."""
        if page is None:
            return ""
        if 1 <= page <= len(self.page_labels):
            return self.page_labels[page - 1]
        return str(page)


@dataclass(frozen=True)
class PageSpan:
    """Where one page (1-based) lies in a document's stored text."""

    page: int
    start: int
    end: int


@dataclass(frozen=True)
class Reference:
    """One numbered entry of a work's reference list: the printed text and the fields parsed
    from it (empty where the entry does not print them)."""

    n: int  # the printed number (1-based)
    text: str  # the entry as printed
    key: str = ""  # JATS <ref id="...">, when the source is JATS
    title: str = ""
    authors: tuple[str, ...] = ()
    journal: str = ""
    year: int | None = None
    volume: str = ""
    pages: str = ""
    doi: str = ""
    pmid: str = ""


@dataclass(frozen=True)
class Citation:
    """An in-text citation: the sentence at [start, end) of the stored text cites `numbers`.

    `marker_start`/`marker_end` locate the printed marks ("12,13", "[4-7]") in the stored text,
    or are -1 where the marks are not part of it (JATS <xref> elements dropped from the text)."""

    start: int
    end: int
    numbers: tuple[int, ...]
    marker_start: int = -1
    marker_end: int = -1


@dataclass(frozen=True)
class Document:
    """A source plus the text we store for it and, for paged sources, its page spans."""

    source: Source
    text: str
    page_spans: tuple[PageSpan, ...] = ()
    # Pre-cut passages [(start, end, section)] that must stay whole (JSONL records).
    fixed_spans: tuple[tuple[int, int, str], ...] = ()
    # The work's own reference list and its in-text citations (reviews, JATS articles).
    references: tuple[Reference, ...] = ()
    citations: tuple[Citation, ...] = ()

    @property
    def source_id(self) -> str:
        return self.source.source_id

    def pages_for(self, start: int, end: int) -> tuple[int, ...]:
        """Pages that the span [start, end) touches; empty for unpaged text."""
        return tuple(
            p.page for p in self.page_spans if p.start < max(end, start + 1) and p.end > start
        )


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: an exact slice of its document's stored text."""

    chunk_id: str
    source_id: str
    start: int
    end: int
    text: str
    pages: tuple[int, ...] = ()
    section: str = ""

    @property
    def page(self) -> int | None:
        return self.pages[0] if self.pages else None


def make_chunk(source_id: str, text: str, start: int, end: int, pages=(), section="") -> Chunk:
    """Build a chunk whose id is a content hash of (source, offsets, text): stable on re-ingest."""
    digest = sha256_text(f"{source_id}\x1f{start}\x1f{end}\x1f{text}")[:24]
    return Chunk(digest, source_id, start, end, text, tuple(pages), section)


@dataclass
class IngestReport:
    """What one ingest run did, per file; mutable while the run fills it in."""

    ok: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (file, message)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (file, what and where)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # source ids pruned
    added_chunks: int = 0
    embedded_chunks: int = 0
    build_id: str = ""
    changed: bool = False
