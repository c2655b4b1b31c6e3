"""Identifiers and links, in one place: DOIs, PMIDs, PMCIDs, source ids and their URLs.

Everything that recognises, normalizes or links an identifier goes through here, so a DOI
found in a PDF footer, a sidecar or a MEDLINE record is written and linked the same way.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from core.types import sha256_text

# A DOI inside running text ("doi:10.1182/blood.2024024517."): trailing punctuation is cut
# by normalize_doi.
DOI_IN_TEXT = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)
_DOI_ALONE = re.compile(r"10\.\d{4,9}/\S+")
_DOI_PREFIX = re.compile(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_PMID = re.compile(r"\d{1,10}")
_PMCID = re.compile(r"(?:PMC)?(\d{1,10})", re.IGNORECASE)
# An id as a user types it (`bala fetch`, `--from` files): a PMID ("29768149", "pmid:29768149"),
# a PMCID ("PMC3460867", "pmcid:PMC3460867") or a DOI ("10.1182/…", "doi:…", a doi.org URL).
_TYPED_PMID = re.compile(r"(?:pmid:\s*)?(\d{1,9})", re.IGNORECASE)
_TYPED_PMCID = re.compile(r"(?:pmcid:\s*)?(?:PMC)(\d{1,9})", re.IGNORECASE)
_TYPED_DOI = re.compile(r"(?:doi:\s*|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/\S+)", re.I)

DOI_BASE = "https://doi.org/"
PUBMED_BASE = "https://pubmed.ncbi.nlm.nih.gov/"
PMC_BASE = "https://pmc.ncbi.nlm.nih.gov/articles/"


def normalize_doi(doi: str) -> str:
    """Bare lowercase DOI, without URL prefix or trailing punctuation."""
    return _DOI_PREFIX.sub("", doi.strip()).rstrip(".,;)]").lower()


def dois_in(text: str) -> set[str]:
    """Every DOI printed in `text`, normalized."""
    return {normalize_doi(m) for m in DOI_IN_TEXT.findall(text)}


def is_pmid(value: str) -> bool:
    return bool(_PMID.fullmatch((value or "").strip()))


def normalize_pmcid(value: str) -> str:
    """'PMC1234567' from 'pmc1234567' or '1234567'; '' when it is not a PMCID."""
    match = _PMCID.fullmatch((value or "").strip())
    return f"PMC{match.group(1)}" if match else ""


def parse_identifier(raw: str) -> tuple[str, str] | None:
    """("pmid", digits without leading zeros) | ("pmcid", "PMC<digits>") | ("doi", bare
    lowercase DOI) for an id as typed; None when it is none of the three."""
    text = (raw or "").strip()
    if m := _TYPED_PMID.fullmatch(text):
        return "pmid", m.group(1).lstrip("0") or "0"
    if m := _TYPED_PMCID.fullmatch(text):
        return "pmcid", f"PMC{m.group(1)}"
    if m := _TYPED_DOI.fullmatch(text):
        return "doi", normalize_doi(m.group(1))
    return None


def make_source_id(doi: str = "", pmid: str = "", text: str = "") -> str:
    """`doi:<doi>` when a DOI is known, else `pmid:<n>`, else a stable content hash."""
    if doi:
        return f"doi:{normalize_doi(doi)}"
    if pmid:
        return f"pmid:{str(pmid).strip()}"
    return f"sha256:{sha256_text(text)[:16]}"


def doi_url(doi: str) -> str | None:
    """A doi.org link built from a well-formed DOI (percent-encoded), else None."""
    doi = (doi or "").strip()
    if not _DOI_ALONE.fullmatch(doi):
        return None
    return DOI_BASE + quote(doi, safe="/.-_;()")


def pubmed_url(pmid: str) -> str | None:
    """A PubMed link built from a bare numeric PMID, else None."""
    pmid = (pmid or "").strip()
    return f"{PUBMED_BASE}{pmid}/" if is_pmid(pmid) else None


def pmc_url(pmcid: str) -> str | None:
    pmcid = normalize_pmcid(pmcid)
    return f"{PMC_BASE}{pmcid}/" if pmcid else None


def best_link(doi: str, pmid: str, url: str = "") -> str:
    """The most stable link we have: DOI, else PubMed, else the recorded URL."""
    return doi_url(doi) or pubmed_url(pmid) or url
