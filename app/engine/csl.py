"""Sources as CSL-JSON items, and AMA references formatted by citeproc-py with the CSL
project's AMA style (shipped in app/engine/styles/, never downloaded)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from core.types import Source

AMA_STYLE = Path(__file__).with_name("styles") / "american-medical-association.csl"
_SURNAME_INITIALS = re.compile(r"([\w'\- ]+) ([A-Z]{1,3})")
_GROUP = re.compile(r"\b(group|consortium|committee|network|society|investigators)\b", re.I)


def csl_name(name: str) -> dict:
    """'Adam J. Lamble' / 'Lamble AJ' / 'Lamble, Adam J.' -> {'family', 'given'};
    collaborative groups -> {'literal'}."""
    name = " ".join(name.split())
    if _GROUP.search(name) or " " not in name.strip(" ,"):
        return {"literal": name}
    if "," in name:
        family, _, given = name.partition(",")
        return {"family": family.strip(), "given": given.strip()}
    if m := _SURNAME_INITIALS.fullmatch(name):
        return {"family": m.group(1), "given": " ".join(f"{c}." for c in m.group(2))}
    *given, family = name.split()
    return {"family": family, "given": " ".join(given)}


def source_to_csl(source: Source, item_id: str | None = None) -> dict:
    """A CSL-JSON item with every field the source has (empty ones left out)."""
    item: dict = {
        "id": item_id or source.source_id,
        "type": "article-journal",
        "title": source.title,
        "author": [csl_name(a) for a in source.authors],
        "container-title": source.journal,
        "volume": source.volume,
        "issue": source.issue,
        "page": source.pages,
        "DOI": source.doi,
        "PMID": source.pmid,
        "URL": source.url,
    }
    if source.year:
        item["issued"] = {"date-parts": [[source.year]]}
    return {k: v for k, v in item.items() if v}


@lru_cache(maxsize=1)
def _ama_style():
    from citeproc import CitationStylesStyle

    return CitationStylesStyle(str(AMA_STYLE), validate=False)


def citeproc_ama(source: Source) -> str:
    """One AMA reference by citeproc-py, without its leading number; '' when citeproc fails."""
    from citeproc import Citation, CitationItem, CitationStylesBibliography, formatter
    from citeproc.source.json import CiteProcJSON

    item = source_to_csl(source, "ref")
    try:
        bibliography = CitationStylesBibliography(
            _ama_style(), CiteProcJSON([item]), formatter.plain
        )
        bibliography.register(Citation([CitationItem("ref")]))
        text = str(bibliography.bibliography()[0])
    except Exception:  # noqa: BLE001 - citeproc-py is incomplete; our formatter takes over
        return ""
    return re.sub(r"^\d+\.\s*", "", " ".join(text.split()))
