"""A PDF becomes a paged Document: sandboxed parsing, printed and given metadata, references.

Apart from `ingest/loaders.py` (the dispatch by file type) so that reference-manager exports
(`ingest/refmanager.py`), which attach PDFs, load them without importing the dispatcher back.
"""

from __future__ import annotations

from pathlib import Path

from core.settings import IngestSettings
from core.types import Document, PageSpan
from ingest.errors import IngestError
from ingest.metadata import (
    finish_pdf_metadata,
    merge_metadata,
    pdf_metadata,
    read_sidecar,
    source_from_meta,
)

PAGE_SEP = "\n\n"


def load_pdf(
    path: Path, sha256: str, settings: IngestSettings, given: dict | None = None
) -> Document:
    """A paged document from a PDF. Metadata: what the PDF prints on page 1 and its info
    dictionary, under what the maintainer gave (`given`, e.g. a reference-manager entry,
    else the sidecar JSON), field by field."""
    from ingest.pdf import parse_pdf  # sandboxed parser; imported lazily

    parsed = parse_pdf(
        path, timeout_s=settings.pdf_timeout_s, max_memory_mb=settings.pdf_max_memory_mb
    )
    text, spans = join_pages(parsed.pages)
    if not text.strip():
        raise IngestError(str(path), "no text layer (image-only/scanned PDF); OCR it first")
    found = pdf_metadata(parsed.pages, parsed.metadata, parsed.furniture, parsed.page_labels)
    meta = finish_pdf_metadata(merge_metadata(found, given or read_sidecar(path)))
    if not meta.get("title"):
        meta["title"] = path.stem
    source = source_from_meta(meta, text=text, path=str(path), sha256=sha256)
    from ingest.references import with_references  # reference list + in-text citations

    return with_references(Document(source, text, spans))


def join_pages(pages: tuple[str, ...] | list[str]) -> tuple[str, tuple[PageSpan, ...]]:
    """Stored text of a paged document and the span each page occupies in it."""
    parts, spans, cursor = [], [], 0
    for number, page in enumerate(pages, start=1):
        if parts:
            parts.append(PAGE_SEP)
            cursor += len(PAGE_SEP)
        parts.append(page)
        spans.append(PageSpan(number, cursor, cursor + len(page)))
        cursor += len(page)
    return "".join(parts), tuple(spans)
