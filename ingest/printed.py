"""Citation metadata printed on a paper's first page: the citation line ("Blood. 2025;145(1):
64-74", "PLoS ONE 2012; 7(9): e46493"), the running header ("Blood 2 January 2025 | Volume
145, Number 1"), the byline under the title, and the journal page each PDF page carries.

Pure functions over the cleaned first-page text and its removed header/footer lines; what
the page prints is preferred over the PDF's info dictionary (whose creation date is when the
file was made, not when the paper was published).
"""

from __future__ import annotations

import re

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_YEAR = r"(?:19|20)\d{2}"
# "Journal 2008; 116(12): 1694–1699" / "Blood. 2025;145(1):64-74" / "J X. 2019 Mar 1;37(7):5-9"
_CITATION = re.compile(
    rf"^(?P<journal>[A-Z][^\n|;:\d]{{1,90}}?)\.?\s+(?P<year>{_YEAR})"
    rf"(?:\s+{_MONTH}(?:\s+\d{{1,2}})?)?\s*;\s*(?P<volume>\d{{1,5}})\s*"
    r"(?:\((?P<issue>[^)\n]{1,12})\))?\s*:\s*(?P<pages>[eE]?\d+(?:\s*[-–]\s*[eE]?\d+)?)",
    re.MULTILINE,
)
_DATE_TAIL = re.compile(rf"\s+(?:\d{{1,2}}\s+)?(?:{_MONTH}\s+)?(?:\d{{1,2}},\s+)?{_YEAR}$")
_VOLUME = re.compile(r"^Vol(?:ume)?\.?\s*(\d+)(?:\s*,\s*(?:No\.?|Number|Issue)\s*(\w+))?$", re.I)
_ISSUE = re.compile(r"^(?:Issue|Number|No\.?)\s*(\w+)$", re.I)
_PAGES = re.compile(r"^(?:pp?\.?\s*)?([eE]?\d+(?:\s*[-–]\s*\d+)?)$")
_MARKS = re.compile(r"(?<=[^\W\d_])[\d*†‡§¶]+(?:,[\d*†‡§¶]+)*(?=[\s,;]|$)")
_PARTICLES = {"van", "von", "de", "der", "den", "da", "del", "di", "du", "la", "le", "dos", "bin"}
_SPLIT = re.compile(r"\s*(?:,|;|&|\band\b)\s*")


def citation_line(lines: list[str]) -> dict:
    """Journal, year, volume, issue, pages from the first inline citation among `lines`."""
    for line in lines:
        m = _CITATION.search(line)
        if m:
            found = {k: (v or "").strip() for k, v in m.groupdict().items()}
            found["pages"] = re.sub(r"\s*[-–]\s*", "-", found["pages"])
            return {k: v for k, v in found.items() if v}
    return {}


def running_header(lines: list[str]) -> dict:
    """Journal, year, volume, issue, pages from a pipe-separated header or footer line."""
    for line in lines:
        parts = [p.strip() for p in line.split("|") if p.strip()]
        if len(parts) < 2:
            continue
        found: dict[str, str] = {}
        for part in parts[1:]:
            _header_part(part, found)
        year = re.search(rf"\b({_YEAR})\b", parts[0])
        if year and _DATE_TAIL.search(parts[0]):
            found.setdefault("year", year.group(1))
        if not ("volume" in found or "year" in found):
            continue
        journal = _DATE_TAIL.sub("", parts[0]).strip(" .,")
        if journal and not re.search(r"\d|doi", journal, re.I):
            found["journal"] = journal
        return found
    return {}


def _header_part(part: str, found: dict[str, str]) -> None:
    if m := _VOLUME.match(part):
        found["volume"] = m.group(1)
        if m.group(2):
            found["issue"] = m.group(2)
    elif m := _ISSUE.match(part):
        found["issue"] = m.group(1)
    elif re.fullmatch(_YEAR, part) or _DATE_TAIL.fullmatch(" " + part):
        found["year"] = re.search(_YEAR, part).group()
    elif (m := _PAGES.match(part)) and "pages" not in found:
        found["pages"] = re.sub(r"\s*[-–]\s*", "-", m.group(1))


def _is_name(part: str) -> bool:
    tokens = part.split()
    if not 2 <= len(tokens) <= 6:
        return False
    for tok in tokens:
        if tok.lower() in _PARTICLES:
            continue
        if not tok[0].isupper() or any(ch.isdigit() for ch in tok):
            return False
        if not re.fullmatch(r"[^\W\d_](?:[^\W\d_'’\-.]|['’\-.](?=[^\W\d_]))*\.?", tok):
            return False
    return tokens[-1].lower() not in _PARTICLES and not tokens[-1].endswith(".")


def byline(line: str) -> tuple[str, ...]:
    """The authors of a byline ('Adam J. Lamble1, Alexandra E. Kovach2,3 and Nirali N. Shah'),
    or () when the line is not a list of personal names."""
    cleaned = _MARKS.sub("", line).strip()
    if not cleaned or len(cleaned) > 600:
        return ()
    parts = [p for p in _SPLIT.split(cleaned) if p]
    return tuple(parts) if parts and all(map(_is_name, parts)) else ()


def _flat(text: str) -> str:
    return " ".join(text.split()).lower()


def title_and_byline(first_page: str, title_hint: str = "") -> tuple[str, tuple[str, ...]]:
    """The title (the hint from the info dictionary when page 1 starts with it, else the
    first line) and the authors printed on the line under it."""
    lines = [ln.strip() for ln in first_page.splitlines() if ln.strip()][:12]
    if not lines:
        return title_hint, ()
    start = 0
    if title_hint:
        want, seen = _flat(title_hint), ""
        for i, ln in enumerate(lines):
            seen = f"{seen} {_flat(ln)}".strip()
            if seen == want:
                start = i + 1
                break
            if not want.startswith(seen):
                break
    title = title_hint or lines[0]
    for ln in lines[start or 1 : (start or 1) + 2]:
        authors = byline(ln)
        if authors:
            return title, authors
    return title, ()


def printed_metadata(
    first_page: str, furniture: tuple[str, ...] = (), title_hint: str = ""
) -> dict:
    """What page 1 prints: title, authors, journal, year, volume, issue, pages (only keys found)."""
    lines = [ln.strip() for ln in first_page.splitlines()[:60] if ln.strip()]
    found = citation_line(lines + list(furniture))
    for key, value in running_header(list(furniture) + lines).items():
        found.setdefault(key, value)
    title, authors = title_and_byline(first_page, title_hint)
    if title:
        found["title"] = title
    if authors:
        found["authors"] = list(authors)
    return found


def expand_page_range(pages: str) -> tuple[int, int] | None:
    """(first, last) of a numeric range '64-74' / '1865-76' (abbreviated last page)."""
    m = re.fullmatch(r"\s*(\d+)\s*[-–]\s*(\d+)\s*", pages or "")
    if not m:
        return None
    first, last = m.group(1), m.group(2)
    if int(last) < int(first) and len(last) < len(first):
        last = first[: len(first) - len(last)] + last
    return (int(first), int(last)) if int(last) >= int(first) else None


def journal_page_labels(n_pages: int, pdf_labels: tuple[str, ...], pages: str) -> tuple[str, ...]:
    """The journal page each PDF page prints: the PDF's own page labels when they differ from
    1..n, else first page + offset when the citation's page range holds every PDF page (an
    abstract-only or partial PDF is fine; a PDF longer than its range is not mapped), else ()
    (pages are cited as the PDF numbers them)."""
    plain = tuple(str(i) for i in range(1, n_pages + 1))
    if len(pdf_labels) == n_pages and tuple(pdf_labels) != plain and all(pdf_labels):
        return tuple(pdf_labels)
    span = expand_page_range(pages)
    if span and n_pages <= span[1] - span[0] + 1:
        return tuple(str(span[0] + i) for i in range(n_pages))
    return ()
