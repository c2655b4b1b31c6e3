"""Turn one input file into Documents: PDF, text/markdown, or JSONL passage records.

Each loader raises IngestError(file, reason) for input it cannot use; recoverable problems
(malformed JSONL lines) come back as warnings beside the documents that did load.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

from core.settings import IngestSettings
from core.types import Document, Source
from ingest.errors import IngestError
from ingest.labels import label_source
from ingest.metadata import (
    read_sidecar,
    source_from_meta,
)
from ingest.pdf_document import load_pdf

PDF_EXT = {".pdf"}
TEXT_EXT = {".txt", ".md", ".markdown"}
JSONL_EXT = {".jsonl"}
XML_EXT = {".xml", ".nxml", ".xml.gz", ".nxml.gz"}  # PubMed/MEDLINE or PMC JATS (by root)
# Reference-manager exports (ingest/refmanager.py); .json only when it looks like CSL-JSON
# (index/inputs.py decides, since sidecars are .json too).
MANIFEST_EXT = {".bib", ".bibtex", ".ris", ".json"}
SUPPORTED = PDF_EXT | TEXT_EXT | JSONL_EXT | XML_EXT | (MANIFEST_EXT - {".json"})
RECORD_SEP = "\n\n"


@dataclass(frozen=True)
class LoadResult:
    documents: tuple[Document, ...]
    warnings: tuple[str, ...] = ()
    deleted_pmids: tuple[str, ...] = ()  # MEDLINE <DeleteCitation>: sources to remove


def extension(path: Path) -> str:
    """The extension that decides the loader: ".xml.gz" counts as one."""
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    if len(suffixes) == 2 and suffixes[1] == ".gz" and suffixes[0] + ".gz" in XML_EXT:
        return suffixes[0] + ".gz"
    return path.suffix.lower()


def is_supported(path: Path) -> bool:
    return extension(path) in SUPPORTED


def load_file(path: Path, sha256: str, settings: IngestSettings) -> LoadResult:
    """Documents of one file, dispatched on its extension, each source with evidence labels
    (ingest/labels.py; MEDLINE and JATS loaders label their own)."""
    result = _load_by_type(path, sha256, settings)
    docs = tuple(
        d if d.source.labels_from else replace(d, source=label_source(d.source, d.text))
        for d in result.documents
    )
    return replace(result, documents=docs)


def _load_by_type(path: Path, sha256: str, settings: IngestSettings) -> LoadResult:
    ext = extension(path)
    if path.stat().st_size == 0:
        raise IngestError(str(path), "empty file")
    if ext in PDF_EXT:
        return LoadResult((load_pdf(path, sha256, settings),))
    if ext in TEXT_EXT:
        return LoadResult((load_text(path, sha256),))
    if ext in JSONL_EXT:
        return load_jsonl(path, sha256)
    if ext in XML_EXT:
        return load_xml(path, sha256, settings)
    if ext in MANIFEST_EXT:
        from ingest.refmanager import load_export

        documents, warnings = load_export(path, settings)
        return LoadResult(tuple(documents), tuple(warnings))
    raise IngestError(str(path), f"unsupported file type '{ext or '(none)'}'")


def load_xml(path: Path, sha256: str, settings: IngestSettings) -> LoadResult:
    """PubMed/MEDLINE citations or one PMC JATS article, told apart by the root element."""
    from ingest.jats import load_jats
    from ingest.medline import ROOTS, load_medline, xml_root

    root = xml_root(path)
    size, overlap = settings.chunk_size, settings.chunk_overlap
    if root in ROOTS:
        loaded = load_medline(path, sha256, size, overlap)
        return LoadResult(loaded.documents, loaded.warnings, loaded.deleted_pmids)
    if root == "article":
        return LoadResult((load_jats(path, sha256, size, overlap),))
    found = f"<{root}>" if root else "no XML element"
    raise IngestError(
        str(path), f"not PubMed/MEDLINE or JATS XML (found {found} where the root should be)"
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def load_text(path: Path, sha256: str) -> Document:
    """An unpaged document from .txt/.md; title from the sidecar or the first line."""
    text = _read_text(path).replace("\r\n", "\n")
    if not text.strip():
        raise IngestError(str(path), "no text (file holds only whitespace)")
    meta = read_sidecar(path) or {}
    if not meta.get("title"):
        first = next(line for line in text.splitlines() if line.strip())
        meta = {**meta, "title": first.lstrip("# ").strip()[:200]}
    return Document(source_from_meta(meta, text=text, path=str(path), sha256=sha256), text)


def _parse_record(line: str) -> dict:
    record = json.loads(line)
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    missing = [k for k in ("pmid", "text") if not record.get(k)]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}")
    if not isinstance(record["text"], str):
        raise ValueError("'text' is not a string")
    return record


def load_jsonl(path: Path, sha256: str) -> LoadResult:
    """One source per PMID; each record stays verbatim as its own fixed passage."""
    by_pmid: dict[str, list[dict]] = defaultdict(list)
    bad: list[str] = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = _parse_record(line)
        except (json.JSONDecodeError, ValueError) as exc:
            bad.append(f"line {number}: {exc}")
            continue
        by_pmid[str(record["pmid"]).strip()].append(record)
    if not by_pmid:
        detail = f" ({'; '.join(bad[:3])})" if bad else ""
        raise IngestError(str(path), f"no valid passage records{detail}")
    docs = tuple(_pmid_document(pmid, recs, path, sha256) for pmid, recs in by_pmid.items())
    warnings = tuple(f"skipped malformed {b}" for b in bad)
    return LoadResult(docs, warnings)


def _record_order(record: dict) -> tuple:
    return (record.get("section") != "title", int(record.get("begin") or 0), record["text"])


def _pmid_document(pmid: str, records: list[dict], path: Path, sha256: str) -> Document:
    """Stored text = the records in section/offset order, separated by blank lines."""
    seen, ordered = set(), []
    for rec in sorted(records, key=_record_order):
        if rec["text"] not in seen:
            seen.add(rec["text"])
            ordered.append(rec)
    parts, spans, cursor = [], [], 0
    for rec in ordered:
        if parts:
            parts.append(RECORD_SEP)
            cursor += len(RECORD_SEP)
        parts.append(rec["text"])
        spans.append((cursor, cursor + len(rec["text"]), str(rec.get("section") or "")))
        cursor += len(rec["text"])
    title = next((r["text"] for r in ordered if r.get("section") == "title"), "")
    url = next((r.get("url") for r in ordered if r.get("url")), "")
    text = "".join(parts)
    meta = {"pmid": pmid, "title": title, "url": url, "doi": ordered[0].get("doi", "")}
    source: Source = source_from_meta(meta, text=text, path=str(path), sha256=sha256)
    return Document(source, text, (), tuple(spans))
