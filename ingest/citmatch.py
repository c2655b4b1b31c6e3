"""`bala refs --online`'s pure core: the requests that look a reference up (E-utilities
ECitMatch and esearch on the title, esummary to verify; Crossref's bibliographic query) and
what their answers say. No IO: the client is ingest/download.py, the run index/refs_online.py.

Formats (documented by NCBI and Crossref):
- ECitMatch: GET ecitmatch.cgi?db=pubmed&retmode=xml&bdata=journal|year|volume|first_page|
  author|key|, citations separated by %0D; the answer is plain text, one line per citation,
  the same fields and then the PMID, or NOT_FOUND / AMBIGUOUS ... in its place.
- esearch (JSON): esearchresult.idlist; esummary (JSON): result.uids and result[uid] with
  title, sortfirstauthor/authors, source (journal), pubdate, articleids (doi).
- Crossref: GET /works?query.bibliographic=TEXT&rows=N&mailto=..., message.items[] with
  DOI, title[], author[{family, given}], issued.date-parts, container-title[].
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

from core.ids import normalize_doi
from core.settings import FetchSettings
from core.types import Reference, Source
from ingest.fetch import _manners, _url

ECITMATCH_BATCH = 50  # citations per ECitMatch GET (keeps the URL short)
TITLE_CANDIDATES = 3  # PMIDs kept from one title search
CROSSREF_ROWS = 3


def _field(text: str) -> str:
    """One bdata field: lower case, no '|' nor line breaks (they delimit the format)."""
    return " ".join(re.sub(r"[|\r\n]+", " ", text).lower().split())


def first_page(pages: str) -> str:
    match = re.match(r"\s*([A-Za-z]?\d+)", pages or "")
    return match.group(1) if match else ""


def citmatch_line(ref: Reference) -> str:
    """The bdata line of a reference, or '' when it prints too little to match on
    (journal, year, and volume or first page are needed)."""
    page = first_page(ref.pages)
    if not (ref.journal and ref.year and (ref.volume or page)):
        return ""
    author = ref.authors[0] if ref.authors else ""
    fields = [ref.journal, str(ref.year), ref.volume, page, author, f"ref{ref.n}"]
    return "|".join(_field(f) for f in fields) + "|"


def ecitmatch_url(fetch: FetchSettings, lines: list[str]) -> str:
    params = {"db": "pubmed", "retmode": "xml", **_manners(fetch)}
    bdata = quote("\r".join(lines), safe="|")
    return _url(fetch.eutils_url, "ecitmatch.cgi", params) + f"&bdata={bdata}"


def parse_ecitmatch(body: bytes) -> dict[int, str]:
    """Reference number -> PMID, for the citations ECitMatch matched to exactly one record
    (NOT_FOUND, AMBIGUOUS and malformed lines are left out)."""
    found: dict[int, str] = {}
    for line in body.decode("utf-8", "replace").splitlines():
        parts = line.strip().split("|")
        if len(parts) < 7:
            continue
        key, pmid = parts[5].strip(), parts[6].strip()
        if key.startswith("ref") and key[3:].isdigit() and pmid.isdigit():
            found[int(key[3:])] = pmid
    return found


def title_query(ref: Reference) -> str:
    """An esearch term for the reference's title ('' when it has none worth searching)."""
    words = re.sub(r"[^\w\s-]+", " ", ref.title).split()
    if len(" ".join(words)) < 20:
        return ""
    term = f'"{" ".join(words)}"[ti]'
    return term + (f" AND {ref.year}[dp]" if ref.year else "")


def esearch_title_url(fetch: FetchSettings, term: str) -> str:
    params = {"db": "pubmed", "term": term, "retmode": "json", "retmax": str(TITLE_CANDIDATES)}
    return _url(fetch.eutils_url, "esearch.fcgi", {**params, **_manners(fetch)})


def esummary_url(fetch: FetchSettings, pmids: list[str]) -> str:
    params = {"db": "pubmed", "id": ",".join(pmids), "retmode": "json"}
    return _url(fetch.eutils_url, "esummary.fcgi", {**params, **_manners(fetch)})


def _year(text: str) -> int | None:
    match = re.search(r"\b(1[89]\d\d|20\d\d)\b", text or "")
    return int(match.group(1)) if match else None


def parse_esummary(body: bytes) -> dict[str, Source]:
    """PMID -> what PubMed says of that record (title, authors, journal, year, DOI).
    ValueError on a body that is not an esummary JSON answer."""
    data = json.loads(body.decode("utf-8"))
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, dict) or not isinstance(result.get("uids"), list):
        raise ValueError("not an esummary answer (no 'result.uids')")
    found: dict[str, Source] = {}
    for uid in map(str, result["uids"]):
        rec = result.get(uid)
        if not isinstance(rec, dict) or rec.get("error"):
            continue
        authors = tuple(
            a["name"] for a in rec.get("authors") or [] if isinstance(a, dict) and a.get("name")
        )
        doi = next(
            (a.get("value", "") for a in rec.get("articleids") or [] if a.get("idtype") == "doi"),
            "",
        )
        found[uid] = Source(
            source_id=f"pmid:{uid}",
            title=str(rec.get("title") or "").strip(),
            authors=authors,
            journal=str(rec.get("source") or ""),
            year=_year(str(rec.get("pubdate") or "")),
            doi=normalize_doi(doi) if doi else "",
            pmid=uid,
        )
    return found


def crossref_interval(fetch: FetchSettings) -> float:
    """Seconds between Crossref request starts: its own rate, with NCBI's 10% margin."""
    return 1.1 / fetch.crossref_rate


def crossref_url(fetch: FetchSettings, ref: Reference) -> str:
    params = {"query.bibliographic": ref.text[:400], "rows": str(CROSSREF_ROWS)}
    if fetch.ncbi_email:
        params["mailto"] = fetch.ncbi_email  # Crossref's "polite pool"
    return f"{fetch.crossref_url.rstrip('/')}/works?{urlencode(params)}"


def parse_crossref(body: bytes) -> list[Source]:
    """The works of a Crossref /works answer, best first, as Sources keyed by DOI.
    ValueError on a body that is not a work list."""
    data = json.loads(body.decode("utf-8"))
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict) or not isinstance(message.get("items"), list):
        raise ValueError("not a Crossref work list (no 'message.items')")
    works = []
    for item in message["items"]:
        doi = str(item.get("DOI") or "")
        if not doi:
            continue
        title = " ".join(item.get("title") or [])
        authors = tuple(
            f"{a.get('family', '')} {_initials(a.get('given', ''))}".strip()
            for a in item.get("author") or []
            if a.get("family")
        )
        parts = (item.get("issued") or {}).get("date-parts") or [[None]]
        year = parts[0][0] if parts and parts[0] and isinstance(parts[0][0], int) else None
        journal = " ".join((item.get("container-title") or [])[:1])
        doi = normalize_doi(doi)
        works.append(
            Source(f"doi:{doi}", title=title, authors=authors, journal=journal, year=year, doi=doi)
        )
    return works


def _initials(given: str) -> str:
    return "".join(w[0] for w in re.split(r"[\s.-]+", given) if w).upper()
