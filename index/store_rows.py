"""The store's JSON columns: a Source as flat JSON (sources.meta) and a document's reference
list and in-text citations (doc_refs), written and read back the same way; and a whole
Document as plain JSON values, for moving parsed files between processes without pickle."""

from __future__ import annotations

import json
from dataclasses import fields

from core.types import Citation, Document, PageSpan, Reference, Source

_SOURCE_FIELDS = tuple(f.name for f in fields(Source))


def source_to_dict(source: Source) -> dict:
    """A Source's fields as a flat dict (shallow: `asdict` deep-copies, slow at 10^4 rows)."""
    return {name: getattr(source, name) for name in _SOURCE_FIELDS}


def source_to_json(source: Source) -> str:
    return json.dumps(source_to_dict(source), ensure_ascii=False)


_TUPLE_FIELDS = tuple(f.name for f in fields(Source) if str(f.type).startswith("tuple"))


def source_from_json(raw: str) -> Source:
    """A Source from its flat JSON; fields a store predates take their defaults, and fields
    this bala does not know (a newer store) are ignored."""
    return source_from_dict(json.loads(raw))


def source_from_dict(data: dict) -> Source:
    """A Source from its flat dict (as `source_from_json`)."""
    data = {k: v for k, v in data.items() if k in _SOURCE_FIELDS}
    for name in _TUPLE_FIELDS:
        if name in data:
            data[name] = tuple(data[name] or ())
    return Source(**data)


_REFERENCE_FIELDS = tuple(f.name for f in fields(Reference))


def refs_to_json(document: Document) -> tuple[str, str]:
    """A document's reference list and citations as two JSON arrays (the doc_refs row)."""
    refs = [{name: getattr(r, name) for name in _REFERENCE_FIELDS} for r in document.references]
    cits = [
        [c.start, c.end, list(c.numbers), c.marker_start, c.marker_end] for c in document.citations
    ]
    return json.dumps(refs, ensure_ascii=False), json.dumps(cits)


def refs_from_json(refs: str, cits: str) -> tuple[tuple[Reference, ...], tuple[Citation, ...]]:
    references = tuple(
        Reference(**{**r, "authors": tuple(r.get("authors") or ())}) for r in json.loads(refs)
    )
    citations = tuple(Citation(s, e, tuple(ns), ms, me) for s, e, ns, ms, me in json.loads(cits))
    return references, citations


def document_to_dict(document: Document) -> dict:
    """A whole Document as plain JSON values (what crosses a process boundary, e.g. Ray)."""
    refs, cits = refs_to_json(document)
    return {
        "source": source_to_dict(document.source),
        "text": document.text,
        "page_spans": [[p.page, p.start, p.end] for p in document.page_spans],
        "fixed_spans": [list(s) for s in document.fixed_spans],
        "references": refs,
        "citations": cits,
    }


def document_from_dict(data: dict) -> Document:
    """The Document `document_to_dict` describes, equal to the original."""
    references, citations = refs_from_json(data["references"], data["citations"])
    return Document(
        source=source_from_dict(data["source"]),
        text=data["text"],
        page_spans=tuple(PageSpan(*p) for p in data["page_spans"]),
        fixed_spans=tuple((s, e, section) for s, e, section in data["fixed_spans"]),
        references=references,
        citations=citations,
    )
