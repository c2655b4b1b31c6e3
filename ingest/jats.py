"""PMC JATS/NXML full text (.nxml, or .xml whose root is <article>).

Stored text = title, abstract, body sections (paragraphs, figure and table captions, table
rows, lists), appendices and acknowledgments, each block a fixed passage whose section names
where it sits ("Results > Lysis time ¶3", "Results > Figure 2", "Abstract > Background ¶1");
JATS has no pages. The reference list becomes Document.references (n = printed label, else
order; key = <ref id>) and every <xref ref-type="bibr"> a Document.citations entry on its
sentence (see ingest/jats_text.py). Citation markers stay in the stored text, as printed.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from core.ids import doi_url, make_source_id, normalize_doi, pmc_url
from core.types import Citation, Document, Reference, Source
from ingest.errors import IngestError
from ingest.jats_text import BLOCKS, InlineText, block_citations, local
from ingest.labels import label_source
from ingest.medline import passage_spans

PASSAGE_SEP = "\n\n"
_WS = re.compile(r"\s+")


def _text(elem) -> str:
    return _WS.sub(" ", "".join(elem.itertext())).strip() if elem is not None else ""


def _find(elem, path: str):
    """First match of a namespace-agnostic path ("a/b") below elem, or None."""
    found = elem.xpath("./" + "/".join(f"*[local-name()='{p}']" for p in path.split("/")))
    return found[0] if found else None


def _all(elem, name: str) -> list:
    return elem.xpath(f".//*[local-name()='{name}']")


def _person(name_elem) -> str:
    """ "Surname GN" (initials of the given names), the form MEDLINE uses."""
    surname = _text(_find(name_elem, "surname"))
    given = _text(_find(name_elem, "given-names"))
    initials = "".join(p[0] for p in re.split(r"[\s.\-]+", given) if p)
    if given.replace(" ", "").isupper() and len(given.replace(" ", "")) <= 3:
        initials = given.replace(" ", "")  # already initials ("JJ")
    return " ".join(p for p in (surname, initials) if p)


def _year(text: str) -> int | None:
    match = re.search(r"\b(1[89]|20)\d\d\b", text or "")
    return int(match.group()) if match else None


def _article_source(root, path: str, sha256: str) -> Source:
    meta = _find(root, "front/article-meta")
    journal = _find(root, "front/journal-meta")
    if meta is None:
        raise ValueError("no <front>/<article-meta>")
    ids = {a.get("pub-id-type"): _text(a) for a in meta.findall("article-id")}
    authors = tuple(
        _person(_find(c, "name")) if _find(c, "name") is not None else _text(_find(c, "collab"))
        for c in meta.xpath("./contrib-group/contrib[@contrib-type='author']")
    )
    journal_name = ""
    if journal is not None:
        by_type = {j.get("journal-id-type"): _text(j) for j in journal.findall("journal-id")}
        journal_name = (
            by_type.get("iso-abbrev")
            or by_type.get("nlm-ta")
            or _text(_find(journal, "journal-title-group/journal-title"))
            or _text(_find(journal, "journal-title"))
        )
    dates = {d.get("pub-type") or d.get("date-type"): d for d in meta.findall("pub-date")}
    date = next((dates[k] for k in ("ppub", "epub", "collection", "pub") if k in dates), None)
    fpage, lpage = _text(meta.find("fpage")), _text(meta.find("lpage"))
    pages = f"{fpage}-{lpage}" if fpage and lpage and lpage != fpage else fpage
    doi = normalize_doi(ids.get("doi", "")) if ids.get("doi") else ""
    pmid, pmc = ids.get("pmid", ""), ids.get("pmc", "") or ids.get("pmcid", "")
    url = (doi_url(doi) if doi else None) or (pmc_url(pmc) if pmc else None) or ""
    return Source(
        source_id=make_source_id(doi, pmid),
        kind="review" if root.get("article-type") == "review-article" else "article",
        title=_text(_find(meta, "title-group/article-title")),
        authors=tuple(a for a in authors if a),
        journal=journal_name,
        year=_year(_text(date.find("year")) if date is not None else ""),
        volume=_text(meta.find("volume")),
        issue=_text(meta.find("issue")),
        pages=pages or _text(meta.find("elocation-id")),
        doi=doi,
        pmid=pmid,
        url=url,
        path=path,
        sha256=sha256,
    )


# Elements whose children are blocks of the same section.
_CONTAINERS = ("list-item", "def-item", "app", "ack", "glossary", "table-wrap-group", "notes")


class _Writer:
    """Accumulates stored text, fixed passages and citations, block by block."""

    def __init__(self, n_of: dict[str, int], chunk_size: int, chunk_overlap: int):
        self.parts: list[str] = []
        self.length = 0
        self.spans: list[tuple[int, int, str]] = []
        self.citations: list[Citation] = []
        self.xrefs = 0
        self.n_of, self.size, self.overlap = n_of, chunk_size, chunk_overlap

    def block(self, inline: InlineText, section: str) -> None:
        text = inline.finish()
        if text:
            if self.parts:
                self.parts.append(PASSAGE_SEP)
                self.length += len(PASSAGE_SEP)
            for s, e in passage_spans(text, self.size, self.overlap):
                self.spans.append((self.length + s, self.length + e, section))
            self.citations.extend(block_citations(text, inline.marks, self.n_of, self.length))
            self.xrefs += len(inline.marks)
            self.parts.append(text)
            self.length += len(text)
        for nested in inline.deferred:
            self.element(nested, section.split(" ¶")[0])

    def paragraph(self, elem, section: str) -> None:
        inline = InlineText()
        inline.add(elem.text)
        for child in elem:
            inline.walk(child)
        self.block(inline, section)

    def element(self, elem, where: str, counter: list[int] | None = None) -> None:
        """A block-level element inside a section titled `where`."""
        name = local(elem.tag)
        counter = counter if counter is not None else [0]
        if name == "p":
            counter[0] += 1
            self.paragraph(elem, f"{where} ¶{counter[0]}")
        elif name == "sec":
            self.section(elem, where)
        elif name in ("fig", "table-wrap"):
            self.figure(elem, where)
        elif name in BLOCKS or name in _CONTAINERS:
            for child in elem:
                self.element(child, where, counter)
        elif name in ("disp-formula", "speech", "statement", "verse-group"):
            self.paragraph(elem, where)

    def section(self, sec, parent: str) -> None:
        title = _text(_find(sec, "title")) or _text(_find(sec, "label"))
        where = f"{parent} > {title}" if parent and title else (title or parent)
        counter = [0]
        for child in sec:
            if local(child.tag) not in ("title", "label"):
                self.element(child, where, counter)

    def figure(self, elem, where: str) -> None:
        label = _text(_find(elem, "label"))
        section = f"{where} > {label}" if where and label else (label or where)
        inline = InlineText()
        inline.add(label + ". " if label else "")
        caption = _find(elem, "caption")
        if caption is not None:
            for child in caption:
                inline.walk(child)
                inline.add(" ")
        for table in _all(elem, "table"):
            for row in _all(table, "tr"):
                inline.add_raw("\n")
                for i, cell in enumerate(c for c in row if local(c.tag) in ("td", "th")):
                    inline.add(" | " if i else "")
                    inline.add(cell.text)
                    for child in cell:
                        inline.walk(child)
        for foot in _all(elem, "table-wrap-foot"):
            inline.add_raw("\n")
            for child in foot:
                if local(child.tag) == "fn":
                    _fn(inline, child)
                else:
                    inline.walk(child)
        self.block(inline, section)


def _fn(inline: InlineText, fn) -> None:
    for child in fn:
        if local(child.tag) == "label":
            inline.add(_text(child) + " ")
        else:
            inline.add(child.text)
            for grand in child:
                inline.walk(grand)
            inline.add(" ")


def _body(root, writer: _Writer) -> None:
    meta = _find(root, "front/article-meta")
    title = InlineText()
    title.add(_text(_find(meta, "title-group/article-title")))
    writer.block(title, "title")
    for abstract in meta.findall("abstract"):
        kind = abstract.get("abstract-type")
        name = "Abstract" if not kind else f"Abstract ({kind})"
        counter = [0]
        for child in abstract:
            if local(child.tag) not in ("title", "label"):
                writer.element(child, name, counter)
    body = _find(root, "body")
    if body is not None:
        counter = [0]
        for child in body:
            writer.element(child, "Body" if local(child.tag) == "p" else "", counter)
    back = _find(root, "back")
    if back is not None:
        for child in back:
            name = local(child.tag)
            if name == "ack":
                writer.section(child, "Acknowledgments" if _find(child, "title") is None else "")
            elif name in ("app-group", "sec", "glossary", "notes"):
                writer.element(child, "")


_CITATION_TAGS = ("mixed-citation", "element-citation", "citation", "nlm-citation")


def _ref_names(cit) -> tuple[str, ...]:
    groups = cit.xpath("./*[local-name()='person-group']")
    authors = [g for g in groups if g.get("person-group-type", "author") == "author"]
    holders = authors or [cit]
    names = []
    for holder in holders:
        for child in holder:
            if local(child.tag) in ("name", "string-name"):
                names.append(_person(child) or _text(child))
            elif local(child.tag) == "collab":
                names.append(_text(child))
    return tuple(n for n in names if n)


_NOT_PRINTED = {"pub-id", "comment", "ext-link", "object-id", "annotation"}


def _pieces(elem):
    """Text pieces of a citation in document order, ids and links left out."""
    yield elem.text or ""
    for child in elem:
        if local(child.tag) not in _NOT_PRINTED:
            yield from _pieces(child)
        yield child.tail or ""


def _glued(pieces) -> str:
    """Pieces joined, with a space where two words would otherwise run together."""
    out = ""
    for piece in pieces:
        piece = _WS.sub(" ", piece)
        if out and piece and re.match(r"\w", piece) and re.search(r"[\w?.,;:]$", out):
            out += " "
        out += piece
    return _WS.sub(" ", out).strip()


def _ref_text(cit, fields: dict) -> str:
    """The entry as printed when its markup carries the punctuation, else composed from its
    fields in the AMA order (authors. title. journal. year;volume:pages)."""
    if (cit.text or "").strip() or any((c.tail or "").strip() for c in cit):
        return _glued(_pieces(cit))
    names = fields["authors"]
    head = ", ".join(names[:6]) + (", et al" if len(names) > 6 else "")
    tail = f"{fields['year'] or ''}"
    tail += f";{fields['volume']}" if fields["volume"] else ""
    tail += f":{fields['pages']}" if fields["pages"] else ""
    parts = [p.rstrip(". ") for p in (head, fields["title"], fields["journal"], tail) if p]
    return ". ".join(p for p in parts if p) + "." if parts else _glued(_pieces(cit))


def parse_reference(ref, order: int) -> Reference:
    """A <ref>: n = its printed label when numeric, else its position (1-based)."""
    label = _text(_find(ref, "label")).strip("[]. ")
    n = int(label) if label.isdigit() else order
    cit = next((c for c in ref if local(c.tag) in _CITATION_TAGS), None)
    if cit is None:
        return Reference(n=n, text=_text(ref), key=ref.get("id", ""))
    ids = {p.get("pub-id-type"): _text(p) for p in cit.xpath(".//*[local-name()='pub-id']")}
    article = _text(_find(cit, "article-title")) or _text(_find(cit, "chapter-title"))
    source = _text(_find(cit, "source"))
    fpage, lpage = _text(_find(cit, "fpage")), _text(_find(cit, "lpage"))
    fields = {
        "authors": _ref_names(cit),
        "title": article or source,
        "journal": source if article else "",
        "year": _year(_text(_find(cit, "year")) or _text(cit)),
        "volume": _text(_find(cit, "volume")),
        "pages": f"{fpage}-{lpage}" if fpage and lpage else fpage,
    }
    return Reference(
        n=n,
        text=_ref_text(cit, fields),
        key=ref.get("id", ""),
        doi=normalize_doi(ids["doi"]) if ids.get("doi") else "",
        pmid=ids.get("pmid", ""),
        **fields,
    )


def parse_references(root) -> tuple[Reference, ...]:
    back = _find(root, "back")
    if back is None:
        return ()
    refs = back.xpath(".//*[local-name()='ref-list']//*[local-name()='ref']")
    return tuple(parse_reference(ref, i) for i, ref in enumerate(refs, start=1))


def parse_jats(root, path: str, sha256: str, chunk_size: int, chunk_overlap: int) -> Document:
    """The Document of one parsed JATS <article> (metadata, text, references, citations)."""
    return build_jats(root, path, sha256, chunk_size, chunk_overlap)[0]


def build_jats(root, path: str, sha256: str, chunk_size: int, chunk_overlap: int):
    """(Document, number of <xref ref-type="bibr"> placed in its citations)."""
    if local(root.tag) != "article":
        raise ValueError(f"root element is <{local(root.tag)}>, not <article>")
    source = _article_source(root, path, sha256)
    references = parse_references(root)
    writer = _Writer({r.key: r.n for r in references if r.key}, chunk_size, chunk_overlap)
    _body(root, writer)
    text = "".join(writer.parts)
    if not text.strip():
        raise ValueError("no article text")
    document = Document(
        label_source(source, text),
        text,
        (),
        tuple(writer.spans),
        references=references,
        citations=tuple(writer.citations),
    )
    return document, writer.xrefs


def load_jats(path: Path, sha256: str, chunk_size: int, chunk_overlap: int) -> Document:
    """One JATS file -> one Document; IngestError names the file and the reason."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=False)
    try:
        root = etree.parse(str(path), parser).getroot()
    except etree.XMLSyntaxError as exc:
        raise IngestError(str(path), f"malformed XML (line {exc.lineno}: {exc.msg})") from exc
    except OSError as exc:
        raise IngestError(str(path), f"unreadable file ({exc})") from exc
    try:
        return parse_jats(root, str(path), sha256, chunk_size, chunk_overlap)
    except ValueError as exc:
        raise IngestError(str(path), f"not usable JATS: {exc}") from exc


def float_spans(document: Document) -> list[tuple[int, int]]:
    """Stored-text spans of the figure and table blocks (caption, rows, footnotes) of a
    document this loader made: the passages named by their label ("Results > Table 2"),
    which, unlike paragraphs ("Results ¶3"), carry no paragraph number."""
    return [
        (s, e)
        for s, e, section in document.fixed_spans
        if "¶" not in section and section != "title"
    ]
