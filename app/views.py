"""Pure text for the app's screen: source labels, where a passage is, what a filter did.

No Streamlit here; app/streamlit_app.py renders these strings (escaped where they hold
library text), and tests check them directly.
"""

from __future__ import annotations

from dataclasses import fields

from app.engine.answer_types import Answer, CitedSource, Quote
from app.engine.citations import DESIGN_NAMES
from core.types import Source
from index.retrieve import Filters

KIND_NAMES = {
    frozenset({"review"}): "Reviews only",
    frozenset({"article", "other"}): "Primary articles only",
}
SECTION_NAMES = {"abstract": "Abstract", "title": "Title", "": ""}


def describe_filters(filters: Filters) -> str:
    """The filter in words ("Reviews only · published 2018–2024"); '' when there is none."""
    if filters is None or filters.is_empty():
        return ""
    parts = []
    if filters.kinds:
        parts.append(KIND_NAMES.get(frozenset(filters.kinds), "Types: " + ", ".join(filters.kinds)))
    if filters.year_min is not None or filters.year_max is not None:
        lo, hi = filters.year_min, filters.year_max
        if lo is not None and hi is not None:
            parts.append(f"published {lo}\u2013{hi}")
        elif lo is not None:
            parts.append(f"published {lo} or later")
        else:
            parts.append(f"published {hi} or earlier")
    if filters.source_ids:
        parts.append(f"{len(filters.source_ids)} chosen source(s)")
    for name, chosen in (
        ("design", filters.designs),
        ("population", filters.populations),
        ("disease", filters.diseases),
    ):
        if chosen:
            words = sorted(DESIGN_NAMES.get(c, c) if name == "design" else c for c in chosen)
            parts.append(f"{name}: " + " or ".join(words))
    return " \u00b7 ".join(parts)


def label_options(sources) -> dict[str, list[str]]:
    """The evidence labels the library's sources carry, per filter, in the stable order of
    ingest/labels.py (a filter offers only what some source has)."""
    from ingest.labels import DESIGNS, DISEASES, POPULATIONS

    sources = list(sources)
    designs = {s.design for s in sources}
    populations = {s.population for s in sources}
    if "both" in populations:
        populations |= {"pediatric", "adult"}  # "both" passes either filter
    diseases = {d for s in sources for d in s.diseases}
    return {
        "design": [d for d in DESIGNS if d in designs],
        "population": [p for p in POPULATIONS if p in populations and p != "both"],
        "disease": [d for d in DISEASES if d in diseases],
    }


def short_source_label(source: Source) -> str:
    """The label beside a quote: first author, journal, year ("Lamble et al · Blood · 2025")."""
    author = ""
    if source.authors:
        first = source.authors[0].replace(".", " ").split()
        surname = first[0] if _surname_first(source.authors[0]) else first[-1]
        author = surname + (" et al" if len(source.authors) > 1 else "")
    parts = [p for p in (author, source.journal, str(source.year or "")) if p]
    if parts:
        return " \u00b7 ".join(parts)
    if source.title:
        return _clip_words(source.title, 60)
    return f"PMID {source.pmid}" if source.pmid else source.source_id


def _clip_words(text: str, limit: int) -> str:
    """`text` cut at the last whole word within `limit` characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "\u2026"


def _surname_first(name: str) -> bool:
    """'Lamble AJ' (AMA/MEDLINE order) rather than 'Adam J. Lamble'."""
    words = name.replace(".", " ").split()
    return len(words) >= 2 and words[-1].isupper() and len(words[-1]) <= 3


def passage_location(pages: tuple[int, ...], section: str) -> str:
    """Where a passage is, in words: "page 64, Discussion", "pages 3–4", "Abstract"."""
    parts = []
    if pages:
        lo, hi = min(pages), max(pages)
        parts.append(f"page {lo}" if lo == hi else f"pages {lo}\u2013{hi}")
    section = (section or "").strip()
    name = SECTION_NAMES.get(section.lower(), section[:1].upper() + section[1:])
    if name:
        parts.append(name)
    return ", ".join(parts)


QUOTE_FLAG_FIELDS = {
    # field names the answer scorer may add to Quote -> how the app names them
    "note": "{}; indirect evidence",
    "mismatch": "{}",
    "mismatch_label": "{}",
    "population_mismatch": "{}",
    "elided": "shortened with \u2026",
    "ellipsis": "shortened with \u2026",
    "has_ellipsis": "shortened with \u2026",
}


def quote_flags(quote: Quote) -> list[str]:
    """Warnings to show beside a quote (population/disease mismatch, shortened), if any."""
    flags = []
    for name, template in QUOTE_FLAG_FIELDS.items():
        value = getattr(quote, name, None)
        if value is True:
            flags.append(template.format(name.replace("_", " ")))
        elif isinstance(value, str) and value.strip():
            flags.append(template.format(value.strip()))
    return list(dict.fromkeys(flags))


def _build(cls, data: dict):
    """A dataclass from JSON, ignoring keys it does not have (the JSON may be newer)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def answer_from_json(data: dict, question: str = "") -> Answer:
    """Rebuild an Answer from `Answer.to_json()` (as stored for a permalink)."""
    quotes = tuple(_build(Quote, q) for q in data.get("quotes", []))
    sources = []
    for s in data.get("sources", []):
        src = {**s, "authors": tuple(s.get("authors", ()))}
        sources.append(CitedSource(s["citation"], _build(Source, src), s.get("supporting", True)))
    return Answer(
        question=question,
        abstained=bool(data.get("abstained")),
        message=str(data.get("message", "")),
        quotes=quotes,
        sources=tuple(sources),
        build_id=str(data.get("build_id", "")),
        dropped_quotes=int(data.get("dropped_quotes", 0)),
    )


def permalink_query(build_id: str, answer_id: str) -> str:
    """The query string that re-opens a stored answer (no question text in it)."""
    return f"?build={build_id}&answer={answer_id}"


def cited_pages(answer: Answer, cited: CitedSource) -> list[int]:
    return sorted({q.page for q in answer.quotes if q.citation == cited.citation and q.page})
