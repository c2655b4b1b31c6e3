"""Match a work's references to library sources: by DOI or PMID, else by title, first
author and year (fuzzy, scored). Below the threshold, or when two sources score alike, a
reference stays unresolved: it is listed as missing, never guessed.

The score of a (reference, source) pair, in [0, 1]:
  0.7 * title similarity + 0.15 * first author + 0.15 * year,
with the title similarity = the best of the source title against the parsed reference title
(ratio) and against the whole printed entry (partial ratio, for entries whose title could not
be cut out), the first author 1 when the source's first surname is among the entry's first
words (0.5 when the source lists no authors), the year 1 when equal, 0.5 when off by one or
unknown. THRESHOLD and MARGIN were measured with `bala bench refs` (docs/refs.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from core.types import Reference, Source

THRESHOLD = 0.8
MARGIN = 0.05  # the best source must beat the second by this much
CANDIDATES = 5
MIN_TITLE = 20  # characters: shorter titles are matched by ratio only


@dataclass(frozen=True)
class Resolution:
    """Where one reference points in the library: `source_id` None when missing."""

    n: int
    source_id: str | None
    score: float
    method: str  # doi | pmid | title | "" (unresolved)
    best_candidate: str | None = None  # closest source below the threshold (for review)


def normalize(text: str) -> str:
    """Lower case ASCII letters and digits separated by single spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


def normalize_doi(doi: str) -> str:
    doi = doi.strip().lower()
    doi = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", doi)
    return doi.rstrip(".,;)]")


def _surname(author: str) -> str:
    """ "Maude SL" / "Maude, Shannon L." / "Shannon L. Maude" -> "maude" (best effort)."""
    author = author.strip()
    if "," in author:
        return normalize(author.split(",")[0])
    parts = author.split()
    if len(parts) > 1 and re.fullmatch(r"[A-Z]{1,4}\.?", parts[-1]):
        return normalize(" ".join(parts[:-1]))
    return normalize(parts[-1]) if parts else ""


@dataclass(frozen=True)
class _Entry:
    source: Source
    title: str
    surname: str


class Library:
    """Library sources indexed for resolution: by DOI, by PMID, and normalized titles."""

    def __init__(self, sources: Iterable[Source]):
        self.by_doi: dict[str, str] = {}
        self.by_pmid: dict[str, str] = {}
        self.entries: list[_Entry] = []
        for s in sources:
            if s.doi:
                self.by_doi.setdefault(normalize_doi(s.doi), s.source_id)
            if s.pmid:
                self.by_pmid.setdefault(str(s.pmid).strip(), s.source_id)
            title = normalize(s.title)
            if len(title) >= 8:
                surname = _surname(s.authors[0]) if s.authors else ""
                self.entries.append(_Entry(s, title, surname))
        self._titles = [e.title for e in self.entries]

    def candidates(self, ref: Reference) -> list[_Entry]:
        """The sources whose titles are closest to the entry (rapidfuzz, else difflib)."""
        query = normalize(ref.title) or normalize(ref.text)
        if not query or not self.entries:
            return []
        try:
            from rapidfuzz import fuzz, process
        except ImportError:  # pragma: no cover - rapidfuzz is a declared dependency
            import difflib

            close = difflib.get_close_matches(query, self._titles, n=CANDIDATES, cutoff=0.5)
            return [e for e in self.entries if e.title in close]
        found = process.extract(
            normalize(ref.text), self._titles, scorer=fuzz.token_set_ratio, limit=CANDIDATES
        )
        if ref.title:
            found += process.extract(query, self._titles, scorer=fuzz.ratio, limit=CANDIDATES)
        return [self.entries[i] for i in dict.fromkeys(idx for _, _, idx in found)]


def _similarity(a: str, b: str, partial: bool = False) -> float:
    try:
        from rapidfuzz import fuzz

        return (fuzz.partial_ratio(a, b) if partial else fuzz.ratio(a, b)) / 100.0
    except ImportError:  # pragma: no cover
        import difflib

        if partial and len(a) < len(b):
            matcher = difflib.SequenceMatcher(None, a, b)
            block = max(matcher.get_matching_blocks(), key=lambda m: m.size)
            start = max(0, block.b - block.a)
            return difflib.SequenceMatcher(None, a, b[start : start + len(a)]).ratio()
        return difflib.SequenceMatcher(None, a, b).ratio()


def pair_score(ref: Reference, entry: _Entry) -> float:
    """How well a library source matches a reference entry (see the module docstring)."""
    title = _similarity(normalize(ref.title), entry.title) if ref.title else 0.0
    if len(entry.title) >= MIN_TITLE:
        title = max(title, _similarity(entry.title, normalize(ref.text), partial=True))
    head = normalize(ref.text)[:80].split()
    if not entry.surname:
        author = 0.5
    else:
        author = 1.0 if all(w in head[:30] for w in entry.surname.split()) else 0.0
    year_of = entry.source.year
    if ref.year is None or year_of is None:
        year = 0.5
    else:
        year = 1.0 if ref.year == year_of else 0.5 if abs(ref.year - year_of) == 1 else 0.0
    return round(0.7 * title + 0.15 * author + 0.15 * year, 4)


def resolve_reference(ref: Reference, library: Library, threshold: float = THRESHOLD) -> Resolution:
    """One reference: DOI, then PMID, then the best-scoring title match."""
    if ref.doi and normalize_doi(ref.doi) in library.by_doi:
        return Resolution(ref.n, library.by_doi[normalize_doi(ref.doi)], 1.0, "doi")
    if ref.pmid and ref.pmid in library.by_pmid:
        return Resolution(ref.n, library.by_pmid[ref.pmid], 1.0, "pmid")
    scored = sorted(
        ((pair_score(ref, e), e.source.source_id) for e in library.candidates(ref)), reverse=True
    )
    if not scored:
        return Resolution(ref.n, None, 0.0, "")
    best, best_id = scored[0]
    second = next((s for s, sid in scored[1:] if sid != best_id), 0.0)
    if best >= threshold and best - second >= MARGIN:
        return Resolution(ref.n, best_id, best, "title")
    return Resolution(ref.n, None, best, "", best_candidate=best_id)


def resolve_references(
    references: Iterable[Reference],
    sources: Iterable[Source],
    threshold: float = THRESHOLD,
    exclude: str = "",
) -> list[Resolution]:
    """Every reference resolved against the library (the citing work itself excluded)."""
    library = Library(s for s in sources if s.source_id != exclude)
    return [resolve_reference(r, library, threshold) for r in references]
