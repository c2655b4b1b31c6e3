"""Reference formatting and answer exports.

References are AMA, formatted by citeproc-py with the CSL project's AMA style
(app/engine/csl.py) when a source has authors and a title; otherwise (and if citeproc fails)
by `hand_ama_reference`, because citeproc-py does not suppress a substituted variable and
prints an author-less title twice. PMIDs are appended (AMA leaves them out; clinicians use
them). Exports: Markdown, BibTeX, RIS and CSL-JSON; each carries the question, the date it
was asked, the index build and the decision-support disclaimer, abstentions included.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from app.engine.answer_types import Answer, Quote
from app.engine.csl import citeproc_ama, csl_name, source_to_csl
from core.ids import best_link
from core.types import Source

DESIGN_NAMES = {  # ingest/labels.py names -> words
    "systematic-review": "systematic review/meta-analysis",
    "guideline": "guideline",
    "phase-3-trial": "phase 3 trial",
    "randomized-trial": "randomized trial",
    "phase-2-trial": "phase 2 trial",
    "phase-1-trial": "phase 1 trial",
    "clinical-trial": "clinical trial",
    "cohort": "cohort/observational",
    "case-report": "case report",
    "review": "review",
    "other": "",
}

DISCLAIMER = (
    "bala is decision support, not medical advice. Every quote is verbatim from the indexed "
    "literature, with its source; read the sources before acting."
)


def ama_author(name: str) -> str:
    """'Adam J. Lamble' -> 'Lamble AJ'; names already 'Surname AB' are kept."""
    name = name.strip()
    if re.fullmatch(r"[\w'\- ]+ [A-Z]{1,3}", name):
        return name
    parts = name.replace(".", " ").split()
    if len(parts) < 2:
        return name
    initials = "".join(p[0].upper() for p in parts[:-1] if p[0].isalpha())
    return f"{parts[-1]} {initials}"


def ama_authors(authors: tuple[str, ...]) -> str:
    names = [ama_author(a) for a in authors]
    if len(names) > 6:
        names = names[:3] + ["et al"]
    return ", ".join(names)


def source_link(source: Source) -> str:
    """The most stable link we have: DOI, else PubMed, else the recorded URL."""
    return best_link(source.doi, source.pmid, source.url)


def ama_reference(source: Source) -> str:
    """AMA style: Authors. Title. Journal. Year;Vol(Issue):Pages. doi. PMID."""
    if source.authors and source.title:
        text = citeproc_ama(source)
        if text:
            if source.pmid and f"PMID: {source.pmid}" not in text:
                text = f"{text.rstrip()} PMID: {source.pmid}."
            return text
    return hand_ama_reference(source)


def hand_ama_reference(source: Source) -> str:
    """Our own AMA formatter (no citeproc): for sources without authors or title."""
    parts = []
    if source.authors:
        parts.append(ama_authors(source.authors) + ".")
    title = source.title.rstrip(".") if source.title else ""
    parts.append(f"{title}." if title else f"[title not in the library; {source.source_id}].")
    if source.journal:
        parts.append(f"{source.journal}.")
    issue = f"({source.issue})" if source.issue else ""
    volume = f";{source.volume}{issue}" if source.volume else ""
    pages = f":{source.pages}" if source.pages else ""
    if source.year or volume:
        parts.append(f"{source.year or ''}{volume}{pages}.")
    if source.doi:
        parts.append(f"doi:{source.doi}")
    if source.pmid:
        parts.append(f"PMID: {source.pmid}.")
    link = source_link(source)
    if link and not source.doi:
        parts.append(link)
    return " ".join(parts)


def _bib_key(source: Source) -> str:
    surname = re.sub(r"\W", "", ama_author(source.authors[0]).split()[0]) if source.authors else ""
    ident = source.pmid or re.sub(r"\W", "", source.source_id.split(":", 1)[-1])[-8:]
    return f"{surname or 'source'}{source.year or ''}{ident if not surname else ''}".lower()


def _bib_escape(value: str) -> str:
    return re.sub(r"([{}\\&%$#_])", r"\\\1", value)


def bibtex_entry(source: Source, note: str = "", key: str = "") -> str:
    fields = {
        "title": source.title,
        "author": " and ".join(source.authors),
        "journal": source.journal,
        "year": str(source.year or ""),
        "volume": source.volume,
        "number": source.issue,
        "pages": source.pages.replace("-", "--"),
        "doi": source.doi,
        "pmid": source.pmid,
        "url": source_link(source),
        "keywords": "; ".join(label_keywords(source)),
        "note": note,
    }
    body = ",\n".join(f"  {k} = {{{_bib_escape(v)}}}" for k, v in fields.items() if v)
    return f"@article{{{key or _bib_key(source)},\n{body}\n}}"


def asked_stamp(asked_at: datetime | None) -> str:
    return (asked_at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def export_header(answer: Answer, asked_at: datetime | None = None) -> dict:
    """What every export carries about the answer itself."""
    return {
        "question": answer.question,
        "asked_at": asked_stamp(asked_at),
        "build_id": answer.build_id,
        "outcome": answer.message,
        "abstained": answer.abstained,
        "disclaimer": DISCLAIMER,
    }


def _header_line(head: dict) -> str:
    return (
        f"bala answer to: {head['question']} | asked {head['asked_at']} | "
        f"index build {head['build_id']} | {head['outcome']} | {head['disclaimer']}"
    )


def _quotes_of(answer: Answer) -> dict[int, list[Quote]]:
    found: dict[int, list[Quote]] = {}
    for q in answer.quotes:
        found.setdefault(q.citation, []).append(q)
    return found


def _page_text(source: Source, quote: Quote) -> str:
    return f", p. {source.page_label(quote.page)}" if quote.page else ""


def _use_note(answer: Answer, cited, head: dict) -> str:
    """Why this source is in the export: its [n] and its quotes, verbatim."""
    role = f"[{cited.citation}]" if cited.supporting else "closest source, not supporting"
    quotes = " ".join(
        f"\u201c{quote_text(q)}\u201d{_page_text(cited.source, q)}"
        for q in _quotes_of(answer).get(cited.citation, [])
    )
    return f"{role} in the {_header_line(head)}" + (f" Quotes: {quotes}" if quotes else "")


def answer_bibtex(answer: Answer, asked_at: datetime | None = None) -> str:
    """Cited sources as BibTeX (closest sources for an abstention), after an @comment that
    holds the question, date, build and disclaimer; each entry's note says why it is here."""
    head = export_header(answer, asked_at)
    parts = [f"@comment{{{_bib_escape(_header_line(head))}}}"]
    used: set[str] = set()
    for cited in answer.sources:
        key = base = _bib_key(cited.source)
        for suffix in "bcdefghijklmnopqrstuvwxyz":
            if key not in used:
                break
            key = base + suffix
        used.add(key)
        parts.append(bibtex_entry(cited.source, note=_use_note(answer, cited, head), key=key))
    return "\n\n".join(parts) + "\n"


def answer_markdown(answer: Answer, asked_at: datetime | None = None) -> str:
    """The answer as Markdown: the question, quotes with [n], then numbered references."""
    head = export_header(answer, asked_at)
    lines = [
        f"## {answer.question}",
        "",
        f"_Asked {head['asked_at']} \u00b7 bala index build {answer.build_id}_",
        "",
        f"> {DISCLAIMER}",
        "",
    ]
    sources = {c.citation: c.source for c in answer.sources}
    if answer.abstained:
        lines += [f"**{answer.message}.**", ""]
        if answer.missing_terms:
            lines += [f"No retrieved passage mentions: {', '.join(answer.missing_terms)}.", ""]
        if answer.sources:
            lines.append("Closest sources (not supporting):")
            lines += [f"- {ama_reference(c.source)}" for c in answer.sources]
    else:
        for q in answer.quotes:
            lines.append(f"> {format_quote(q, sources.get(q.citation))}")
            lines.append("")
        lines.append("### References")
        lines += [f"{c.citation}. {ama_reference(c.source)}" for c in answer.sources]
    lines += ["", f"_bala build {answer.build_id}_"]
    return "\n".join(lines) + "\n"


def _ris_pages(pages: str) -> dict:
    first, _, last = pages.partition("-")
    return {k: v for k, v in (("start_page", first), ("end_page", last)) if v}


def _ris_author(name: str) -> str:
    parts = csl_name(name)
    if "literal" in parts:
        return parts["literal"]
    return f"{parts['family']}, {parts['given']}".strip(", ")


def answer_ris(answer: Answer, asked_at: datetime | None = None) -> str:
    """RIS: a GEN record for the answer itself (question, date, build, outcome, disclaimer,
    the quotes), then one JOUR record per source with its use in the answer as a note."""
    import rispy

    head = export_header(answer, asked_at)
    quotes = [f"[{q.citation}] \u201c{quote_text(q)}\u201d" for q in answer.quotes]
    records = [
        {
            "type_of_reference": "GEN",
            "title": f"bala answer: {answer.question}",
            "date": head["asked_at"][:10].replace("-", "/"),
            "year": head["asked_at"][:4],
            "abstract": " ".join(quotes) or f"{answer.message}.",
            "notes": [_header_line(head)],
        }
    ]
    for cited in answer.sources:
        s = cited.source
        record = {
            "type_of_reference": "JOUR",
            "title": s.title or f"[title not in the library; {s.source_id}]",
            "authors": [_ris_author(a) for a in s.authors],
            "journal_name": s.journal,
            "year": str(s.year or ""),
            "volume": s.volume,
            "number": s.issue,
            "doi": s.doi,
            "accession_number": s.pmid,
            "urls": [source_link(s)] if source_link(s) else [],
            "notes": [_use_note(answer, cited, head)],
            "keywords": label_keywords(s),
            **_ris_pages(s.pages),
        }
        records.append({k: v for k, v in record.items() if v})
    return rispy.dumps(records)


def answer_csl_json(answer: Answer, asked_at: datetime | None = None) -> str:
    """CSL-JSON (Zotero, Mendeley, citeproc): a `document` item for the answer, then the
    sources, each with its use in the answer as `note`."""
    head = export_header(answer, asked_at)
    stamp = head["asked_at"]
    answer_item = {
        "id": "bala-answer",
        "type": "document",
        "title": f"bala answer: {answer.question}",
        "issued": {"date-parts": [[int(stamp[:4]), int(stamp[5:7]), int(stamp[8:10])]]},
        "abstract": " ".join(f"[{q.citation}] \u201c{quote_text(q)}\u201d" for q in answer.quotes)
        or f"{answer.message}.",
        "note": _header_line(head),
        "publisher": f"bala index build {answer.build_id}",
    }
    items = [answer_item]
    for cited in answer.sources:
        item = source_to_csl(cited.source, f"ref{cited.citation}")
        item["note"] = _use_note(answer, cited, head)
        if keywords := label_keywords(cited.source):
            item["keyword"] = ", ".join(keywords)
        items.append(item)
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"


def export_answer(answer: Answer, suffix: str, asked_at: datetime | None = None) -> str:
    """The export for a file suffix: .md, .bib, .ris or .json (CSL-JSON)."""
    writers = {".md": answer_markdown, ".bib": answer_bibtex, ".ris": answer_ris}
    return writers.get(suffix.lower(), answer_csl_json)(answer, asked_at)


def quote_label(quote, source=None) -> str:
    """A quote's source label: its reference number and citable page, "[2, p. 64]" (the
    journal's page where the source maps its PDF pages, else the PDF page)."""
    if not quote.page:
        return f"[{quote.citation}]"
    page = source.page_label(quote.page) if source is not None else str(quote.page)
    return f"[{quote.citation}, p. {page}]"


def evidence_label_parts(source) -> list[str]:
    """A source's evidence labels in words: design, population, diseases (unknown ones left
    out), e.g. ["phase 2 trial", "pediatric", "B-ALL"]."""
    if source is None:
        return []
    design = getattr(source, "design", "")
    population = getattr(source, "population", "")
    parts = [
        DESIGN_NAMES.get(design, design),
        "pediatric and adult" if population == "both" else population,
        ", ".join(getattr(source, "diseases", ()) or ()),
    ]
    return [p for p in parts if p]


def evidence_labels_text(source) -> str:
    """The labels as shown beside every quote and carried by the exports
    ("phase 2 trial \u00b7 pediatric \u00b7 B-ALL"); '' when the source has none."""
    return " \u00b7 ".join(evidence_label_parts(source))


def label_keywords(source) -> list[str]:
    """The labels as export keywords, with stable names ("design: phase-2-trial")."""
    words = []
    if getattr(source, "design", ""):
        words.append(f"design: {source.design}")
    if getattr(source, "population", ""):
        words.append(f"population: {source.population}")
    words += [f"disease: {d}" for d in getattr(source, "diseases", ()) or ()]
    return words


def quote_text(quote) -> str:
    """What a quote shows: its display text (the exact slice with citation marks hidden,
    see app/engine/cited.py) when there is one, else the exact slice itself."""
    return getattr(quote, "display_text", "") or quote.text


def format_quote(quote, source=None, with_note: bool = True, with_labels: bool = True) -> str:
    """The one plain-text rendering of a quote with its source label, used by the CLI, the
    Markdown export and the app: \u201cverbatim text\u201d [n, p. x]; "\u2026" where the stored
    excerpt starts or ends mid-sentence (the text itself stays an exact slice), citation marks
    ("relapse.12,13", "[4\u20137]") hidden, the source's evidence labels ("\u2014 cohort \u00b7
    adult \u00b7 B-ALL") unless the caller shows them otherwise, and the note of a demoted quote
    ("about DLBCL, not B-ALL") likewise."""
    lead = "\u2026" if getattr(quote, "leading_ellipsis", False) else ""
    trail = "\u2026" if getattr(quote, "trailing_ellipsis", False) else ""
    note = getattr(quote, "note", "") if with_note else ""
    tail = f" ({note}; indirect evidence)" if note else ""
    labels = evidence_labels_text(source) if with_labels else ""
    beside = f" \u2014 {labels}" if labels else ""
    body = quote_text(quote)
    return f"\u201c{lead}{body}{trail}\u201d {quote_label(quote, source)}{beside}{tail}"
