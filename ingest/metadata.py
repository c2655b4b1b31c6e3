"""Citation metadata: sidecar JSON files, PDF info dicts, and the source-id rule."""

from __future__ import annotations

import json
import re
from pathlib import Path

from core.ids import best_link, dois_in, make_source_id, normalize_doi
from core.types import Source
from ingest.errors import IngestError
from ingest.printed import journal_page_labels, printed_metadata


def read_sidecar(path: Path) -> dict | None:
    """Metadata from `X.json` beside `X.pdf`/`X.txt`/`X.md`, if present."""
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        return None
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IngestError(str(sidecar), f"unreadable sidecar metadata: {exc}") from exc
    if not isinstance(data, dict):
        raise IngestError(str(sidecar), "sidecar metadata must be a JSON object")
    return data


def is_sidecar(path: Path) -> bool:
    """A `.json` file that sits beside a document of the same stem."""
    if path.suffix.lower() != ".json":
        return False
    return any(path.with_suffix(ext).is_file() for ext in (".pdf", ".txt", ".md", ".PDF"))


def _kind(meta: dict) -> str:
    if meta.get("kind") in ("review", "article", "other"):
        return meta["kind"]
    label = " ".join(str(meta.get(k, "")) for k in ("series", "type", "publication_type"))
    if re.search(r"review|how i treat", label, re.IGNORECASE):
        return "review"
    return "article"


def _year(value) -> int | None:
    match = re.search(r"\d{4}", str(value or ""))
    return int(match.group()) if match else None


def _authors(value) -> tuple[str, ...]:
    if isinstance(value, str):
        parts = re.split(r";|, (?=[A-Z][a-z])| and ", value)
        return tuple(p.strip() for p in parts if p.strip())
    if isinstance(value, (list, tuple)):
        return tuple(str(a).strip() for a in value if str(a).strip())
    return ()


def source_from_meta(meta: dict, *, text: str, path: str, sha256: str) -> Source:
    """A Source from a metadata dict (sidecar fields), with the source-id rule applied."""
    doi = normalize_doi(str(meta.get("doi") or "")) if meta.get("doi") else ""
    pmid = str(meta.get("pmid") or "").strip()
    url = str(meta.get("url") or "") or best_link(doi, pmid)
    return Source(
        source_id=make_source_id(doi, pmid, text),
        kind=_kind(meta),
        title=str(meta.get("title") or "").strip(),
        authors=_authors(meta.get("authors") or meta.get("author")),
        journal=str(meta.get("journal") or "").strip(),
        year=_year(meta.get("year") or meta.get("creation_date")),
        volume=str(meta.get("volume") or ""),
        issue=str(meta.get("issue") or ""),
        pages=str(meta.get("pages") or ""),
        doi=doi,
        pmid=pmid,
        url=url,
        path=path,
        sha256=sha256,
        page_labels=tuple(str(p) for p in meta.get("page_labels") or ()),
    )


def doi_from_first_page(first_page: str) -> str:
    """The DOI printed on a paper's first page when exactly one distinct DOI appears there."""
    found = dois_in(first_page)
    return found.pop() if len(found) == 1 else ""


def _given(value) -> bool:
    return value not in (None, "", [], (), {})


def merge_metadata(found: dict, given: dict | None) -> dict:
    """Metadata the maintainer gave (a sidecar, a reference-manager entry) over what the file
    itself says, field by field: a given field without a value keeps the found one (a
    sidecar without `doi` keeps the printed DOI)."""
    merged = dict(found)
    merged.update({k: v for k, v in (given or {}).items() if _given(v)})
    return merged


def pdf_metadata(pages: tuple[str, ...], info: dict, furniture=(), pdf_labels=()) -> dict:
    """What a PDF says about itself: its info dictionary, overridden by what page 1 prints
    (citation line, running header, byline), and the DOI printed on page 1."""
    first = pages[0] if pages else ""
    found = {k: v for k, v in info.items() if k in ("title", "doi", "creation_date", "subject")}
    if info.get("author"):
        found["authors"] = info["author"]
    found.setdefault("doi", doi_from_first_page(first) or doi_from_first_page(" ".join(furniture)))
    found.update(printed_metadata(first, tuple(furniture), str(info.get("title") or "")))
    found["pdf_page_labels"] = tuple(pdf_labels)
    found["n_pages"] = len(pages)
    return found


def finish_pdf_metadata(meta: dict) -> dict:
    """The page labels, from the final (merged) page range."""
    labels = journal_page_labels(
        int(meta.get("n_pages") or 0),
        tuple(meta.get("pdf_page_labels") or ()),
        str(meta.get("pages") or ""),
    )
    return {**meta, "page_labels": labels}
