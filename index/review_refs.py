"""A work's references checked against the library: `bala refs`, coverage in `bala status`,
and the missing ones exported for `bala fetch` (RIS, CSV or a PMID list)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from core.types import Chunk, Citation, Document, Reference, Source
from index.resolve import Resolution, resolve_references
from index.store import Store


@dataclass(frozen=True)
class ReviewRefs:
    """A work's references, each resolved against the library, and its citations."""

    document: Document
    resolutions: tuple[Resolution, ...]

    def resolution(self, n: int) -> Resolution | None:
        return next((r for r in self.resolutions if r.n == n), None)

    @property
    def missing(self) -> list[Reference]:
        found = {r.n for r in self.resolutions if r.source_id}
        return [ref for ref in self.document.references if ref.n not in found]


def review_refs(document: Document, sources: Iterable[Source]) -> ReviewRefs:
    res = resolve_references(document.references, sources, exclude=document.source_id)
    return ReviewRefs(document, tuple(res))


def _chunk_of(chunks: list[Chunk], citation: Citation) -> str | None:
    """The chunk that holds the citing sentence (its start; the whole sentence if one does)."""
    holding = [c for c in chunks if c.start <= citation.start < c.end]
    whole = [c for c in holding if citation.end <= c.end]
    best = (whole or holding)[:1]
    return best[0].chunk_id if best else None


def source_chunks(store: Store, source_id: str) -> list[Chunk]:
    return [store.chunks[int(r)] for r in store.rows_of_sources({source_id})]


def report_json(refs: ReviewRefs, chunks: list[Chunk], online=None) -> dict:
    """The `bala refs --json` contract (keys may be added, never removed). With `online`
    (an index.refs_online.OnlineReport), each reference's lookup and the requests sent."""
    doc = refs.document
    references = []
    for ref in doc.references:
        res = refs.resolution(ref.n)
        match = online.matches.get(ref.n) if online is not None else None
        references.append(
            {
                "n": ref.n,
                "text": ref.text,
                "title": ref.title,
                "authors": list(ref.authors),
                "journal": ref.journal,
                "year": ref.year,
                "volume": ref.volume,
                "pages": ref.pages,
                "doi": ref.doi or None,
                "pmid": ref.pmid or None,
                "library_source_id": res.source_id if res else None,
                "match_score": res.score if res else 0.0,
                "match_method": (res.method or None) if res else None,
                "online": _online_json(match),
            }
        )
    citations = [
        {
            "chunk_id": _chunk_of(chunks, c),
            "start": c.start,
            "end": c.end,
            "sentence": doc.text[c.start : c.end],
            "numbers": list(c.numbers),
            "marker_start": c.marker_start,
            "marker_end": c.marker_end,
        }
        for c in doc.citations
    ]
    out = {
        "source_id": doc.source_id,
        "title": doc.source.title,
        "references": references,
        "citations": citations,
        "summary": summary(refs),
    }
    if online is not None:
        out["online"] = {
            "requests": online.requests,
            "failed": [{"n": n, "reason": reason} for n, reason in online.failed],
        }
    return out


def _online_json(match) -> dict | None:
    if match is None:
        return None
    return {
        "method": match.method,
        "pmid": match.pmid or None,
        "doi": match.doi or None,
        "score": match.score,
        "candidate_title": match.title,
        "accepted": match.accepted,
    }


def summary(refs: ReviewRefs) -> dict:
    total = len(refs.document.references)
    found = sum(1 for r in refs.resolutions if r.source_id)
    cited = len({n for c in refs.document.citations for n in c.numbers})
    return {"references": total, "cited": cited, "in_library": found, "missing": total - found}


def reference_coverage(store: Store) -> list[dict]:
    """For each indexed work with a reference list: references, cited, in library, missing."""
    sources = list(store.sources.values())
    out = []
    for source_id in store.sources_with_references():
        refs = review_refs(store.document(source_id), sources)
        out.append(
            {"source_id": source_id, "title": store.sources[source_id].title, **summary(refs)}
        )
    return out


def missing_as(refs: ReviewRefs, fmt: str) -> str:
    """The references not in the library as RIS, CSV or PMIDs (one per line; entries that
    print no PMID are left out of that list and counted on stderr by the CLI)."""
    missing = refs.missing
    if fmt == "pmids":
        return "".join(f"{r.pmid}\n" for r in missing if r.pmid)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(
            ["n", "authors", "title", "journal", "year", "volume", "pages", "doi", "pmid", "text"]
        )
        for r in missing:
            writer.writerow(
                [
                    r.n,
                    "; ".join(r.authors),
                    r.title,
                    r.journal,
                    r.year or "",
                    r.volume,
                    r.pages,
                    r.doi,
                    r.pmid,
                    r.text,
                ]
            )
        return buffer.getvalue()
    if fmt == "ris":
        return "".join(_ris(r) for r in missing)
    raise ValueError(f"unknown format '{fmt}' (ris, csv or pmids)")


def _ris(ref: Reference) -> str:
    lines = ["TY  - JOUR"]
    lines += [f"AU  - {a}" for a in ref.authors]
    for tag, value in (
        ("TI", ref.title),
        ("JO", ref.journal),
        ("PY", str(ref.year or "")),
        ("VL", ref.volume),
        ("SP", ref.pages),
        ("DO", ref.doi),
        ("AN", f"PMID:{ref.pmid}" if ref.pmid else ""),
        ("N1", f"[{ref.n}] {ref.text}"),
    ):
        if value:
            lines.append(f"{tag}  - {value}")
    lines.append("ER  - ")
    return "\n".join(lines) + "\n"


class ReviewNotFound(LookupError):
    """The argument of `bala refs` is neither an indexed source id nor a readable file."""


def load_review(settings, target: str, online=None) -> tuple[ReviewRefs, list[Chunk]]:
    """The references of an indexed source (by id) or of a file (parsed, not indexed),
    resolved against the live index (an empty library when there is none yet).

    `online`, when given, is called with the references the library lacks and returns them
    with the ids it found (index/refs_online.py); they are then resolved again, so a found
    PMID that the library holds counts as in the library."""
    from dataclasses import replace
    from pathlib import Path

    from index import layout

    build = layout.current_build(settings.index_dir)
    store = Store(build / "store.sqlite") if build else None
    try:
        sources = list(store.sources.values()) if store else []
        path = Path(target)
        if path.is_file():
            document = _load_path(path, settings)
            chunks: list[Chunk] = []
        elif store is not None and target in store.sources:
            document = store.document(target)
            chunks = source_chunks(store, target)
        else:
            where = f"the index at {settings.index_dir}" if store else "any index (none built yet)"
            raise ReviewNotFound(f"{target}: not a file, nor a source id in {where}")
        refs = review_refs(document, sources)
        if online is not None and refs.missing:
            found = {r.n: r for r in online(refs.missing)}
            updated = tuple(found.get(r.n, r) for r in document.references)
            refs = review_refs(replace(document, references=updated), sources)
        return refs, chunks
    finally:
        if store is not None:
            store.close()


def _load_path(path, settings) -> Document:
    from index.inputs import file_sha256
    from ingest.loaders import load_file
    from ingest.references import with_references

    result = load_file(path, file_sha256(path), settings.ingest)
    if not result.documents:
        raise ReviewNotFound(f"{path}: no document could be read from it")
    return with_references(result.documents[0])
