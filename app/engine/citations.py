"""Reference formatting: AMA-style lines, BibTeX entries and a Markdown export of an answer."""

from __future__ import annotations

import re

from app.engine.answer_types import Answer
from core.types import Source


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
    if source.doi:
        return f"https://doi.org/{source.doi}"
    if source.pmid:
        return f"https://pubmed.ncbi.nlm.nih.gov/{source.pmid}/"
    return source.url


def ama_reference(source: Source) -> str:
    """AMA style: Authors. Title. Journal. Year;Vol(Issue):Pages. doi/PMID."""
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


def bibtex_entry(source: Source) -> str:
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
    }
    body = ",\n".join(f"  {k} = {{{_bib_escape(v)}}}" for k, v in fields.items() if v)
    return f"@article{{{_bib_key(source)},\n{body}\n}}"


def answer_bibtex(answer: Answer) -> str:
    return "\n\n".join(bibtex_entry(c.source) for c in answer.sources if c.supporting) + "\n"


def answer_markdown(answer: Answer) -> str:
    """The answer as Markdown: the question, quotes with [n], then numbered references."""
    lines = [f"## {answer.question}", ""]
    if answer.abstained:
        lines += [f"**{answer.message}.**", ""]
        if answer.sources:
            lines.append("Closest sources (not supporting):")
            lines += [f"- {ama_reference(c.source)}" for c in answer.sources]
    else:
        for q in answer.quotes:
            lines.append(f"> {format_quote(q)}")
            lines.append("")
        lines.append("### References")
        lines += [f"{c.citation}. {ama_reference(c.source)}" for c in answer.sources]
    lines += ["", f"_bala build {answer.build_id}_"]
    return "\n".join(lines) + "\n"


def quote_label(quote) -> str:
    """A quote's source label: its reference number and page, "[2, p. 64]"."""
    page = f", p. {quote.page}" if quote.page else ""
    return f"[{quote.citation}{page}]"


def format_quote(quote) -> str:
    """The one plain-text rendering of a quote with its source label, used by the CLI, the
    Markdown export and the app: \u201cverbatim text\u201d [n, p. x]."""
    return f"\u201c{quote.text}\u201d {quote_label(quote)}"
