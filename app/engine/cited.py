"""Answers that follow the citation: a quote from a sentence that cites references lists
them, and for each cited work in the library adds its own best passage for the question.

For every quote of an answer, the citations of its source (stored with the document) that
fall inside the quoted span give reference numbers; each is resolved against the library
(index.resolve; cached per build). A cited work in the library is asked the same question
through the engine restricted to that one source, so its passage passes the same
relevance bars and verification as any quote; when the engine abstains there, the work is
"cited, not supporting". A work not in the library is listed with its PMID/DOI for
`bala fetch`.
"""

from __future__ import annotations

import contextvars
import threading
from dataclasses import dataclass, replace

from core.types import Reference

MAX_CITED = 12  # cited works followed per quote
SUPPORTING, NOT_SUPPORTING, NOT_IN_LIBRARY = "supporting", "cited, not supporting", "not in library"
CITED_MARK = "cited by the review"

_inside = contextvars.ContextVar("bala_cited_inside", default=False)
_cache: dict[tuple[str, str], dict[int, tuple[Reference, object]]] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class CitedWork:
    """One reference a quoted sentence cites, and what the library holds for it."""

    n: int
    label: str  # "Maude 2018"
    reference_text: str
    pmid: str
    doi: str
    status: str  # SUPPORTING | NOT_SUPPORTING | NOT_IN_LIBRARY
    library_source_id: str | None = None
    match_score: float = 0.0
    quote: object | None = None  # answer_types.Quote, verified against stored text
    source: object | None = None  # core.types.Source of the cited work

    def to_json(self) -> dict:
        quote = None
        if self.quote is not None:
            q = self.quote
            quote = {
                "text": q.text,
                "display_text": getattr(q, "display_text", "") or q.text,
                "source_id": q.source_id,
                "start": q.start,
                "end": q.end,
                "page": q.page,
                "chunk_id": q.chunk_id,
                "score": round(q.score, 4),
                "marked": CITED_MARK,
            }
        return {
            "n": self.n,
            "label": self.label,
            "reference": self.reference_text,
            "pmid": self.pmid or None,
            "doi": self.doi or None,
            "status": self.status,
            "in_library": self.library_source_id is not None,
            "library_source_id": self.library_source_id,
            "match_score": self.match_score,
            "quote": quote,
            "title": getattr(self.source, "title", None),
        }


@dataclass(frozen=True)
class CitedEvidence:
    """The works cited by the sentence(s) of one quote of the answer."""

    quote_index: int  # 0-based, into Answer.quotes
    citation: int  # the quote's [n]
    source_id: str  # the citing work (the review)
    works: tuple[CitedWork, ...]

    def to_json(self) -> dict:
        return {
            "quote_index": self.quote_index,
            "citation": self.citation,
            "source_id": self.source_id,
            "cites": [w.to_json() for w in self.works],
        }


def label_of(ref: Reference) -> str:
    """ "Maude 2018": the first author's surname and the year, as printed."""
    surname = ref.authors[0].split()[0] if ref.authors and ref.authors[0].split() else ""
    label = " ".join(x for x in (surname, str(ref.year or "")) if x)
    return label or ref.text[:40]


def _resolved(engine, source_id: str) -> dict[int, tuple[Reference, object]]:
    """{n: (reference, resolution)} of a citing work, resolved once per build."""
    from index.resolve import resolve_references

    key = (engine.retriever.build_id, source_id)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    store = engine.retriever.catalogue
    refs, _ = store.references_of(source_id)
    found = resolve_references(refs, store.sources.values(), exclude=source_id)
    table = {r.n: (r, res) for r, res in zip(refs, found)}
    with _cache_lock:
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = table
    return table


def _numbers_in(citations, start: int, end: int) -> tuple[int, ...]:
    """Reference numbers of the citations whose sentence overlaps the quoted span."""
    inside = (c for c in citations if c.start < end and c.end > start)
    return tuple(dict.fromkeys(n for c in inside for n in c.numbers))


def _follow(engine, question: str, ref: Reference, res) -> CitedWork:
    """The cited work's best verified passage for the question, or why there is none."""
    from index.retrieve import Filters

    base = dict(n=ref.n, label=label_of(ref), reference_text=ref.text, pmid=ref.pmid, doi=ref.doi)
    if res is None or res.source_id is None:
        return CitedWork(**base, status=NOT_IN_LIBRARY)
    sid, store = res.source_id, engine.retriever.catalogue
    base.update(library_source_id=sid, match_score=res.score, source=store.sources.get(sid))
    token = _inside.set(True)
    try:
        answer = engine.ask(question, filters=Filters(source_ids=frozenset({sid})))
    finally:
        _inside.reset(token)
    quotes = [q for q in answer.quotes if q.source_id == sid] if not answer.abstained else []
    for q in quotes:
        if store.stored_slice(sid, q.start, q.end) == q.text:  # verified like every quote
            return CitedWork(**base, status=SUPPORTING, quote=q)
    return CitedWork(**base, status=NOT_SUPPORTING)


def display_text(quote, citations) -> str:
    """The quote with the printed citation marks inside it hidden ("relapse.12,13" ->
    "relapse.", "humans [4\u20137]." -> "humans."); the quote itself stays the exact slice."""
    from ingest.citation_marks import strip_marks

    marks = [
        (c.marker_start - quote.start, c.marker_end - quote.start)
        for c in citations
        if c.marker_start >= quote.start and 0 <= c.marker_end <= quote.end
    ]
    return strip_marks(quote.text, 0, len(quote.text), marks) if marks else quote.text


def with_display_texts(store, quotes) -> tuple:
    """Quotes with `display_text` set where their source records citation marks in them."""
    out = []
    for q in quotes:
        _, citations = store.references_of(q.source_id)
        shown = display_text(q, citations) if citations else q.text
        out.append(replace(q, display_text=shown) if shown != q.text else q)
    return tuple(out)


def attach_cited_evidence(engine, question: str, answer):
    """The answer with citation marks hidden in its quotes' display text and `cited_evidence`
    filled for quotes from sentences that cite works."""
    if not answer.quotes:
        return answer
    store = engine.retriever.catalogue
    answer = replace(answer, quotes=with_display_texts(store, answer.quotes))
    if answer.abstained or _inside.get():
        return answer
    out = []
    for i, q in enumerate(answer.quotes):
        _, citations = store.references_of(q.source_id)
        numbers = _numbers_in(citations, q.start, q.end)[:MAX_CITED]
        if not numbers:
            continue
        table = _resolved(engine, q.source_id)
        works = [
            _follow(engine, question, table[n][0], table[n][1])
            if n in table
            else CitedWork(n, f"[{n}]", "", "", "", NOT_IN_LIBRARY)
            for n in numbers
        ]
        out.append(CitedEvidence(i, q.citation, q.source_id, tuple(works)))
    return replace(answer, cited_evidence=tuple(out)) if out else answer
