"""`bala fetch`'s pure core: which ids were asked for, the NCBI URLs that fetch them, and
what the answers say. No IO here: the HTTP client is `ingest/download.py`, the orchestration
(download, then ingest) is `index/fetch.py`.

Endpoints (base URLs are settings, so tests replay recorded answers from a loopback server):
E-utilities efetch (MEDLINE XML, PMC JATS) and esearch (DOI -> PMID for articles outside PMC),
the PMC ID converter (DOI/PMCID/PMID -> ids), and the PMC open-access web service (licence).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from core.ids import normalize_doi, parse_identifier
from core.settings import FetchSettings

MAX_BATCH = 200  # NCBI: at most 200 ids per GET request
RATE_PLAIN, RATE_WITH_KEY = 3.0, 10.0  # requests per second allowed by NCBI


@dataclass(frozen=True)
class WantedId:
    """One id as the user gave it, and what kind of id it is."""

    raw: str
    kind: str  # pmid | doi | pmcid
    value: str  # normalized: digits, bare lowercase DOI, or PMC<digits>


def classify_id(raw: str) -> WantedId:
    """PMID (digits, `pmid:`), PMCID (`PMC123`), or DOI (`10.x/...`, `doi:`, doi.org URL);
    ValueError names the id otherwise."""
    parsed = parse_identifier(raw)
    if parsed:
        return WantedId(raw, *parsed)
    raise ValueError(f"'{raw}' is not a PMID, PMCID (PMC123) or DOI (10.xxxx/...)")


def ids_from_text(text: str) -> list[str]:
    """Ids from a `--from` file: one or more per line (comma, tab or space separated);
    `#` starts a comment."""
    found: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        found += [t for t in re.split(r"[,\s;]+", line) if t]
    return found


def batches(items: list[str], size: int) -> list[list[str]]:
    size = max(1, min(size, MAX_BATCH))
    return [items[i : i + size] for i in range(0, len(items), size)]


def min_interval(fetch: FetchSettings) -> float:
    """Seconds between request starts: NCBI allows 3/s, or 10/s with an API key; 10% more,
    so that network jitter never puts 4 (or 11) requests into one second at NCBI's end."""
    return 1.1 / (RATE_WITH_KEY if fetch.ncbi_api_key else RATE_PLAIN)


def _manners(fetch: FetchSettings) -> dict[str, str]:
    """tool/email (NCBI asks every client to identify itself) and the API key, when set."""
    params = {"tool": fetch.ncbi_tool}
    if fetch.ncbi_email:
        params["email"] = fetch.ncbi_email
    if fetch.ncbi_api_key:
        params["api_key"] = fetch.ncbi_api_key
    return params


def _url(base: str, path: str, params: dict[str, str]) -> str:
    base = base.rstrip("/") + "/" + path if path else base
    return f"{base}?{urlencode(params, safe=',')}"


def efetch_pubmed_url(fetch: FetchSettings, pmids: list[str]) -> str:
    params = {"db": "pubmed", "id": ",".join(pmids), "retmode": "xml"}
    return _url(fetch.eutils_url, "efetch.fcgi", {**params, **_manners(fetch)})


def efetch_pmc_url(fetch: FetchSettings, pmcid: str) -> str:
    params = {"db": "pmc", "id": pmcid.removeprefix("PMC"), "retmode": "xml"}
    return _url(fetch.eutils_url, "efetch.fcgi", {**params, **_manners(fetch)})


def esearch_doi_url(fetch: FetchSettings, doi: str) -> str:
    params = {"db": "pubmed", "term": f"{doi}[doi]", "retmode": "json"}
    return _url(fetch.eutils_url, "esearch.fcgi", {**params, **_manners(fetch)})


def idconv_url(fetch: FetchSettings, ids: list[str]) -> str:
    params = {"ids": ",".join(ids), "format": "json"}
    return _url(fetch.idconv_url, "", {**params, **_manners(fetch)})


def oa_url(fetch: FetchSettings, pmcid: str) -> str:
    return _url(fetch.pmc_oa_url, "", {"id": pmcid, **_manners(fetch)})


def parse_idconv(body: bytes) -> dict[str, dict[str, str]]:
    """{requested id (as sent, normalized) -> {pmid, pmcid, doi}} for the records found; ids
    the converter does not know are absent. ValueError on a body that is not its JSON."""
    data = json.loads(body.decode("utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise ValueError("not an ID converter answer (no 'records' list)")
    found: dict[str, dict[str, str]] = {}
    for rec in data["records"]:
        if not isinstance(rec, dict) or rec.get("status") == "error":
            continue
        ids = {k: str(rec.get(k) or "") for k in ("pmid", "pmcid", "doi")}
        ids["doi"] = normalize_doi(ids["doi"]) if ids["doi"] else ""
        requested = str(rec.get("requested-id") or "")
        if requested and (ids["pmid"] or ids["pmcid"]):
            found[_id_key(requested)] = ids
    return found


def _id_key(raw: str) -> str:
    try:
        return classify_id(raw).value
    except ValueError:
        return raw.strip().lower()


def parse_esearch(body: bytes) -> list[str]:
    """PMIDs of an esearch JSON answer."""
    data = json.loads(body.decode("utf-8"))
    result = data.get("esearchresult") if isinstance(data, dict) else None
    if not isinstance(result, dict):
        raise ValueError("not an esearch answer (no 'esearchresult')")
    if result.get("ERROR"):
        raise ValueError(f"esearch error: {result['ERROR']}")
    return [str(i) for i in result.get("idlist") or []]


@dataclass(frozen=True)
class OpenAccess:
    """The OA web service's word on one PMCID: its licence, or why it may not be fetched."""

    allowed: bool
    licence: str = ""
    reason: str = ""


def parse_oa(body: bytes, pmcid: str) -> OpenAccess:
    """Licence of `pmcid` from an oa.fcgi answer; not allowed when the service reports an
    error (e.g. idIsNotOpenAccess), no licence, or a retracted article."""
    root = ET.fromstring(body)
    error = root.find("error")
    if error is not None:
        return OpenAccess(False, reason=f"{error.get('code', 'error')}: {error.text or ''}".strip())
    for record in root.iter("record"):
        if record.get("id", "").upper() != pmcid.upper():
            continue
        if record.get("retracted", "no").lower() == "yes":
            return OpenAccess(False, reason="retracted")
        licence = record.get("license", "")
        if not licence:
            return OpenAccess(False, reason="no licence stated")
        return OpenAccess(True, licence=licence)
    return OpenAccess(False, reason="not in the PMC open-access subset")


_DOCTYPE = re.compile(rb"<!DOCTYPE[^>]*>")
_RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle")


def split_pubmed_set(body: bytes) -> dict[str, bytes]:
    """Each record of an efetch PubmedArticleSet as its own one-record file, keyed by PMID.
    ValueError when the body is not a PubmedArticleSet."""
    root = ET.fromstring(body)
    if root.tag != "PubmedArticleSet":
        raise ValueError(f"expected a PubmedArticleSet, got <{root.tag}>")
    doctype = _DOCTYPE.search(body)
    head = b'<?xml version="1.0" encoding="utf-8"?>\n' + (
        doctype.group() + b"\n" if doctype else b""
    )
    records: dict[str, bytes] = {}
    for record in root:
        if record.tag not in _RECORD_TAGS:
            continue
        pmid = record.findtext(".//PMID")
        if not pmid:
            continue
        xml = ET.tostring(record, encoding="utf-8", xml_declaration=False)
        records[pmid.strip()] = head + b"<PubmedArticleSet>\n" + xml + b"\n</PubmedArticleSet>\n"
    return records


def jats_article(body: bytes) -> bytes:
    """The <article> of an efetch db=pmc answer (<pmc-articleset><article>…), as a standalone
    JATS file; ValueError when there is none (PMC withholds the text of some articles)."""
    start = re.search(rb"<article[\s>]", body)
    end = body.rfind(b"</article>")
    if start is None or end < 0:
        raise ValueError("no <article> in the PMC answer")
    if re.search(rb"<body[\s>]", body) is None:
        raise ValueError("PMC returned the article without its body (full text withheld)")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body[start.start() : end + 10] + b"\n"


def medline_path(library: Path, pmid: str) -> Path:
    return library / "medline" / f"{pmid}.xml"


def jats_path(library: Path, pmcid: str) -> Path:
    return library / "jats" / f"{pmcid}.nxml"


def retry_delay(attempt: int, backoff_s: float, retry_after: str | None, cap_s: float = 60.0):
    """Wait before retry `attempt` (0-based): Retry-After seconds when the server sends them,
    else backoff doubling each time; never more than `cap_s`."""
    if retry_after and retry_after.strip().isdigit():
        return min(float(retry_after.strip()), cap_s)
    return min(backoff_s * (2**attempt), cap_s)
