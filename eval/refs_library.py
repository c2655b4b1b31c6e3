"""The test library of `bala bench refs` resolution: metadata-only sources for some of the
truth references (two in three, from the articles' own JATS <ref> elements, so the library
metadata does not come from the PDF text being resolved), the rest left out, plus every
MEDLINE citation of the shared fixtures as distractors."""

from __future__ import annotations

import gzip
from pathlib import Path

from core.types import Source

KEEP_EVERY = 3  # references with n % 3 == 0 are left out of the library


def _text(node) -> str:
    return " ".join("".join(node.itertext()).split()) if node is not None else ""


def jats_ref_sources(jats: Path) -> dict[str, Source]:
    """{jats ref id: metadata-only Source} for the JATS <ref>s that carry a title."""
    from lxml import etree

    tree = etree.parse(str(jats))
    out = {}
    for ref in tree.iter("ref"):
        title = _text(ref.find(".//article-title"))
        if not title:
            continue
        names = ref.findall(".//name")
        authors = tuple(
            f"{_text(n.find('surname'))} {_text(n.find('given-names'))}".strip() for n in names
        )
        year = _text(ref.find(".//year"))[:4]
        pmid = _text(ref.find(".//pub-id[@pub-id-type='pmid']"))
        rid = ref.get("id")
        out[rid] = Source(
            source_id=f"test:{rid}",
            title=title,
            authors=authors,
            journal=_text(ref.find(".//source")),
            year=int(year) if year.isdigit() else None,
            pmid=pmid,
        )
    return out


def medline_sources(path: Path) -> list[Source]:
    """Distractor sources from a MEDLINE/PubMed XML file (.xml or .xml.gz)."""
    from lxml import etree

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        tree = etree.parse(handle)
    out = []
    for cit in tree.iter("MedlineCitation"):
        pmid = _text(cit.find("PMID"))
        title = _text(cit.find(".//ArticleTitle"))
        year = _text(cit.find(".//PubDate/Year"))
        authors = tuple(
            f"{_text(a.find('LastName'))} {_text(a.find('Initials'))}".strip()
            for a in cit.findall(".//AuthorList/Author")
        )
        if pmid and title:
            out.append(
                Source(
                    source_id=f"pmid:{pmid}",
                    title=title,
                    authors=authors,
                    journal=_text(cit.find(".//Journal/ISOAbbreviation")),
                    year=int(year) if year.isdigit() else None,
                    pmid=pmid,
                )
            )
    return out


def build_library(truth: dict, jats_dir: Path, pubmed_dir: Path) -> tuple[list[Source], dict]:
    """(library sources, expected: {(pdf name, n): source id or None})."""
    library: list[Source] = []
    expected: dict[tuple[str, int], str | None] = {}
    for name, t in sorted(truth.items()):
        jats = jats_dir / Path(t["source_jats"]).name
        by_rid = jats_ref_sources(jats) if jats.exists() else {}
        for ref in t["references"]:
            source = by_rid.get(ref["jats_ref_id"])
            keep = source is not None and ref["n"] % KEEP_EVERY != 0
            if keep:
                library.append(source)
            expected[(name, ref["n"])] = source.source_id if keep else None
    for path in sorted(pubmed_dir.glob("*.xml*")):
        try:
            library.extend(medline_sources(path))
        except Exception:  # noqa: BLE001 - a fixture that is not MEDLINE XML is skipped
            continue
    return library, expected
