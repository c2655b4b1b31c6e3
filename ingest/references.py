"""A work's numbered reference list, read from its stored text (pure functions).

Journal PDFs (AMA/Vancouver, e.g. Blood) end with a "References" heading followed by
numbered entries ("12. Maude SL, Laetsch TW, ... N Engl J Med. 2018;378(5):439-448.").
Extraction from the stored text of `ingest.pdf` gives one line per column line, entries that
start mid-line, page joins ("\\n\\n") inside the list and words hyphenated at line ends, so
entries are found by their numbers in sequence (1, 2, 3, ...) rather than by line starts,
then dehyphenated, whitespace-normalized and parsed into fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from core.ids import DOI_IN_TEXT, normalize_doi
from core.types import Document, Reference

_HEADING = re.compile(
    r"^[ \t]*(?:\d+\.?\s+)?(?:references(?: and notes)?|bibliography|literature cited|"
    r"works cited)[ \t]*:?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_PMID = re.compile(r"\bPMID:?\s*(\d{5,9})\b", re.IGNORECASE)
_YEAR = re.compile(r"\b(1[89]\d{2}|20\d{2})[a-z]?\b")
# "2018;378(5):439-448" / "2011;19:131-137" / "2008;116(12):1694" / "2011;6:e25078"
_AMA_TAIL = re.compile(
    r"\b(1[89]\d{2}|20\d{2})[a-z]?(?:\s+[A-Z][a-z]{2,8}\.?(?:\s+\d{1,2})?)?\s*;\s*"
    r"(?P<volume>[^:;()\s]+(?:\s*\(suppl[^)]*\))?)?\s*(?:\((?P<issue>[^)]*)\))?\s*:\s*"
    r"(?P<pages>[A-Za-z]?\d+[A-Za-z]?(?:\s*[-–]\s*[A-Za-z]?\d+[A-Za-z]?)?)"
)
_PAREN_YEAR = re.compile(r"\s\((1[89]\d{2}|20\d{2})[a-z]?\)\s")
MAX_LAST_ENTRY = 700  # characters: the last entry has no following number to end it


@dataclass(frozen=True)
class EntrySpan:
    """Where numbered entry `n` lies in the stored text: [start, end), number included."""

    n: int
    start: int
    end: int


def reference_section(text: str) -> tuple[int, int] | None:
    """[start, end) of the reference list: from the last "References" heading to the end.

    The last heading wins, because a table of contents or a sentence may name the section
    earlier; None when the text has no such heading."""
    found = list(_HEADING.finditer(text))
    if not found:
        return None
    heading = found[-1]
    return heading.end(), len(text)


_ENTRY_START = re.compile(
    r"(?:(?<=^)|(?<=\s))(?:\[(\d{1,4})\]|(\d{1,4})\.)\s+(?=[A-Z\u00C0-\u024F\"“'(\[])"
)


def entry_spans(text: str, start: int, end: int) -> list[EntrySpan]:
    """Numbered entries in text[start:end] (an entry number after whitespace, then a capital:
    "12. Maude SL", "[12] Maude SL"), taken in sequence 1, 2, 3, ...; a number that is not
    found is skipped (the next one is looked for), so one bad entry does not end the list."""
    marks: dict[int, list[int]] = {}
    for m in _ENTRY_START.finditer(text, start, end):
        marks.setdefault(int(m.group(1) or m.group(2)), []).append(m.start())

    def first_after(n: int, pos: int) -> int | None:
        return next((p for p in marks.get(n, ()) if p >= pos), None)

    spans: list[tuple[int, int]] = []  # (n, marker start)
    cursor, n, misses = start, 1, 0
    while misses < 3:
        found = first_after(n, cursor)
        if found is None:
            misses += 1
            n += 1
            continue
        if misses and spans and first_after(n + 1, found + 1) is None and n > 3:
            break
        spans.append((n, found))
        cursor, n, misses = found + 1, n + 1, 0
    out = []
    for i, (number, s) in enumerate(spans):
        stop = spans[i + 1][1] if i + 1 < len(spans) else _last_entry_end(text, s, end)
        out.append(EntrySpan(number, s, stop))
    return out


def _last_entry_end(text: str, start: int, end: int) -> int:
    """The last entry ends at a blank line followed by something that is not a continuation
    (a capital after a sentence end), or after MAX_LAST_ENTRY characters."""
    limit = min(end, start + MAX_LAST_ENTRY)
    for match in re.finditer(r"\n\s*\n", text[start:limit]):
        before = text[start : start + match.start()].rstrip()
        if before.endswith((".", "]")):
            return start + match.start()
    return limit


def clean_entry_text(raw: str, known_words: frozenset[str] = frozenset()) -> str:
    """The printed entry on one line: number removed, words hyphenated at line ends rejoined
    ("My-\\ncobacterium" -> "Mycobacterium", but "Serveau-\\nAvesque" and any hyphenated word
    in `known_words` keep the hyphen), whitespace collapsed."""
    body = re.sub(r"^\s*(?:\[\d+\]|\d+\.)\s*", "", raw)

    def join(match: re.Match) -> str:
        left, right = match.group(1), match.group(2)
        if right[0].islower() and f"{left}-{right}".lower() not in known_words:
            return left + right
        return f"{left}-{right}"

    body = re.sub(r"(\w+)-\s*\n\s*(\w+)", join, body)
    return " ".join(body.split())


def hyphenated_words(text: str) -> frozenset[str]:
    """Hyphenated words printed within a line somewhere in the text ("long-term")."""
    return frozenset(m.lower() for m in re.findall(r"\b\w+-\w+\b", text))


def parse_reference(n: int, text: str) -> Reference:
    """Fields of one AMA/Vancouver (or "Authors (Year) Title. Journal") entry; a field the
    entry does not print, or that cannot be told apart, stays empty."""
    doi = DOI_IN_TEXT.search(text)
    pmid = _PMID.search(text)
    tail = _AMA_TAIL.search(text)
    paren = _PAREN_YEAR.search(text)
    year_match = tail or paren or _YEAR.search(text)
    authors_end, authors = _authors(text, paren)
    rest = text[authors_end:].strip()
    if paren and paren.start() >= authors_end - len(paren.group()) - 1:
        rest = text[paren.end() :].strip()
    title, journal = _title_journal(rest, tail.start() - (len(text) - len(rest)) if tail else -1)
    return Reference(
        n=n,
        text=text,
        title=title,
        authors=authors,
        journal=journal,
        year=int(year_match.group(1)) if year_match else None,
        volume=(tail.group("volume") or "").strip() if tail else "",
        pages=(tail.group("pages") or "").replace(" ", "") if tail else "",
        doi=normalize_doi(doi.group(1)) if doi else "",
        pmid=pmid.group(1) if pmid else "",
    )


_AUTHOR = r"[^\s,.;:()][^,.;:()]{0,40}?\s[A-Z]{1,4}(?:-[A-Z])?"
_AUTHORS = re.compile(rf"^((?:{_AUTHOR},\s+)*{_AUTHOR})(?:,?\s+et\s+al)?\.\s")


def _authors(text: str, paren: re.Match | None) -> tuple[int, tuple[str, ...]]:
    """(end of the author list, the authors) — "Surname AB, Surname C, et al. " or, in
    PLoS style, the names before "(2012)"."""
    match = _AUTHORS.match(text)
    if match:
        names = tuple(a.strip() for a in match.group(1).split(","))
        return match.end(), tuple(a for a in names if a)
    if paren and paren.start() < 300:
        names = tuple(a.strip() for a in text[: paren.start()].split(",") if a.strip())
        return paren.end(), names
    return 0, ()


def _title_journal(rest: str, tail_at: int) -> tuple[str, str]:
    """Title = up to the first sentence end ('.', '?', '!'); journal = what follows, up to
    the year-volume-pages tail."""
    stop = re.search(r"[.?!](?=\s+[A-Z0-9\[(])", rest)
    if stop is None:
        return rest.rstrip(". "), ""
    title = rest[: stop.end()].rstrip(".").strip()
    after = rest[stop.end() :].strip()
    if tail_at > stop.end():
        after = rest[stop.end() : tail_at].strip()
    else:
        after = re.split(r"\.\s", after, maxsplit=1)[0]
    return title, after.rstrip(". ;").strip()


def extract_references(text: str) -> tuple[Reference, ...]:
    """The numbered reference list of a work's stored text (empty when it has none)."""
    section = reference_section(text)
    if section is None:
        return ()
    known = hyphenated_words(text)
    refs = []
    for span in entry_spans(text, *section):
        cleaned = clean_entry_text(text[span.start : span.end], known)
        if cleaned:
            refs.append(parse_reference(span.n, cleaned))
    return tuple(refs)


def with_references(document: Document) -> Document:
    """The document with its reference list and in-text citations filled in from its stored
    text, unless it carries them already (a JATS loader fills them from the XML)."""
    if document.references:
        return document
    from ingest.citation_marks import find_citations

    references = extract_references(document.text)
    if not references:
        return document
    section = reference_section(document.text)
    body_end = document.text.rfind("\n", 0, section[0]) + 1 if section else len(document.text)
    citations = find_citations(document.text, len(references), body_end)
    return replace(document, references=references, citations=citations)
