"""PubMed/MEDLINE XML (.xml, .xml.gz): efetch `PubmedArticleSet` and baseline/update
`MedlineCitationSet` files, streamed with lxml iterparse (each record cleared once read).

Each citation becomes a Source (PMID, DOI, title, authors as "Lastname Initials", ISO journal
abbreviation, year, volume, issue, pages, publication types, MeSH descriptors, evidence labels)
and a Document whose stored text is the title and the abstract; each structured abstract part
(BACKGROUND, METHODS, ...) is its own fixed passage whose section names the label. A
`<DeleteCitation>` in an update file lists PMIDs whose sources are removed from the index.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from core.ids import make_source_id, normalize_doi, pubmed_url
from core.types import Document, Source
from ingest.chunking import split_spans
from ingest.errors import IngestError
from ingest.labels import label_fields

ROOTS = ("PubmedArticleSet", "MedlineCitationSet")
PASSAGE_SEP = "\n\n"


@dataclass(frozen=True)
class MedlineRecord:
    """The fields of one citation that bala keeps."""

    pmid: str
    title: str
    abstract: tuple[tuple[str, str], ...]  # (label, text); label "" when unstructured
    authors: tuple[str, ...]
    journal: str
    year: int | None
    volume: str
    issue: str
    pages: str
    doi: str
    publication_types: tuple[str, ...]
    mesh: tuple[str, ...]


@dataclass(frozen=True)
class Deletion:
    """A `<DeleteCitation>` entry: these PMIDs leave the index."""

    pmids: tuple[str, ...]


def _open(path: Path):
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def _text(elem) -> str:
    """All text inside an element (markup such as <i>, <sub> dropped), whitespace collapsed."""
    if elem is None:
        return ""
    if len(elem) == 0:  # no child markup: the common case
        return " ".join((elem.text or "").split())
    return " ".join("".join(elem.itertext()).split())


_YEAR = re.compile(r"\b(1[89]|20)\d\d\b")


def _first_year(*raws: str) -> int | None:
    for raw in raws:
        match = _YEAR.search(raw) if raw else None
        if match:
            return int(match.group())
    return None


def _children(elem) -> dict[str, object]:
    """The first child of each tag (one pass over the children, no path lookups)."""
    found: dict[str, object] = {}
    if elem is not None:
        for child in elem:
            found.setdefault(child.tag, child)
    return found


def _author(author) -> str:
    """ "Lastname Initials Suffix", else the collective name; "" for neither."""
    parts = _children(author)
    last = parts.get("LastName")
    if last is not None and last.text:
        names = (last, parts.get("Initials"), parts.get("Suffix"))
        return " ".join(t for t in (_text(n) for n in names if n is not None) if t)
    collective = parts.get("CollectiveName")
    return _text(collective) if collective is not None else ""


def _authors(author_list) -> tuple[str, ...]:
    if author_list is None:
        return ()
    names = (_author(a) for a in author_list if a.tag == "Author" and a.get("ValidYN", "Y") == "Y")
    return tuple(n for n in names if n)


def _pages(pagination) -> str:
    parts = _children(pagination)
    pages = _text(parts.get("MedlinePgn"))
    if pages:
        return pages
    start, end = _text(parts.get("StartPage")), _text(parts.get("EndPage"))
    return f"{start}-{end}" if start and end else start


def _doi(locations: list, pubmed_data) -> str:
    for loc in locations:
        if loc.get("EIdType") == "doi" and loc.get("ValidYN", "Y") == "Y" and _text(loc):
            return normalize_doi(_text(loc))
    if pubmed_data is not None:
        for aid in pubmed_data.iterfind("ArticleIdList/ArticleId"):
            if aid.get("IdType") == "doi" and _text(aid):
                return normalize_doi(_text(aid))
    return ""


def _abstract(abstract) -> tuple[tuple[str, str], ...]:
    if abstract is None:
        return ()
    parts = ((p.get("Label", "").strip(), _text(p)) for p in abstract if p.tag == "AbstractText")
    return tuple((label, text) for label, text in parts if text)


def _journal(journal, citation: dict) -> tuple[str, object]:
    """(ISO abbreviation, else title, else MedlineTA; the <JournalIssue> element)."""
    parts = _children(journal)
    name = _text(parts.get("ISOAbbreviation")) or _text(parts.get("Title"))
    if not name:
        name = _text(_children(citation.get("MedlineJournalInfo")).get("MedlineTA"))
    return name, parts.get("JournalIssue")


def parse_citation(citation, pubmed_data=None) -> MedlineRecord:
    """A MedlineRecord from a `<MedlineCitation>` element (and its `<PubmedData>`, if any).

    Each element's children are read in one pass (`_children`): a record is walked once,
    without a path lookup per field."""
    top = _children(citation)
    article = top.get("Article")
    if article is None:
        raise ValueError("citation without <Article>")
    art = _children(article)
    journal, issue_elem = _journal(art.get("Journal"), top)
    issue = _children(issue_elem)
    pub_date = _children(issue.get("PubDate"))
    article_date = _children(art.get("ArticleDate"))
    mesh = top.get("MeshHeadingList")
    types = art.get("PublicationTypeList")
    return MedlineRecord(
        pmid=_text(top.get("PMID")),
        title=_text(art.get("ArticleTitle")) or _text(art.get("VernacularTitle")),
        abstract=_abstract(art.get("Abstract")),
        authors=_authors(art.get("AuthorList")),
        journal=journal,
        year=_first_year(
            _text(pub_date.get("Year")),
            _text(pub_date.get("MedlineDate")),
            _text(article_date.get("Year")),
        ),
        volume=_text(issue.get("Volume")),
        issue=_text(issue.get("Issue")),
        pages=_pages(art.get("Pagination")),
        doi=_doi([c for c in article if c.tag == "ELocationID"], pubmed_data),
        publication_types=tuple(_text(p) for p in types if p.tag == "PublicationType")
        if types is not None
        else (),
        mesh=tuple(_text(d) for h in mesh for d in h if d.tag == "DescriptorName")
        if mesh is not None
        else (),
    )


def _release(elem) -> None:
    """Free a handled element and the already-handled siblings before it."""
    elem.clear(keep_tail=False)
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


_ROOT_RE = re.compile(rb"<(?![?!])([A-Za-z_][\w.:-]*)")


def xml_root(path: Path) -> str:
    """The root element's name, read from the file's first 64 KiB (gzip or plain); ""
    when none is found there."""
    try:
        with _open(path) as handle:
            head = handle.read(1 << 16)
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(str(path), f"unreadable or damaged file ({exc})") from exc
    head = re.sub(rb"<!--.*?-->|<!DOCTYPE[^>\[]*(\[.*?\])?\s*>", b"", head, flags=re.S)
    match = _ROOT_RE.search(head)
    return match.group(1).decode("ascii", "replace").split(":")[-1] if match else ""


def iter_medline(path: Path) -> Iterator[MedlineRecord | Deletion]:
    """Records and deletions of a MEDLINE/PubMed XML file, in file order, in bounded memory.

    Raises IngestError for a file that is not MEDLINE XML, malformed XML or a damaged gzip.
    """
    root = xml_root(path)
    if root not in ROOTS:
        raise IngestError(str(path), f"not PubMed/MEDLINE XML (root element <{root or '?'}>)")
    tags = ("PubmedArticle", "MedlineCitation", "DeleteCitation", "PubmedBookArticle")
    try:
        with _open(path) as handle:
            events = etree.iterparse(
                handle,
                events=("end",),
                tag=tags,
                resolve_entities=False,
                no_network=True,
                load_dtd=False,
            )
            yield from _records(events)
    except etree.XMLSyntaxError as exc:
        raise IngestError(str(path), f"malformed XML (line {exc.lineno}: {exc.msg})") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(str(path), f"unreadable or damaged file ({exc})") from exc


def _records(events) -> Iterator[MedlineRecord | Deletion]:
    for _, elem in events:
        parent = elem.getparent()
        if elem.tag == "MedlineCitation" and parent is not None and parent.tag == "PubmedArticle":
            continue  # read with its PubmedArticle (which holds the DOI in PubmedData)
        if elem.tag == "DeleteCitation":
            yield Deletion(tuple(_text(p) for p in elem.iterfind("PMID") if _text(p)))
        elif elem.tag == "PubmedArticle":
            yield parse_citation(elem.find("MedlineCitation"), elem.find("PubmedData"))
        elif elem.tag == "MedlineCitation":
            yield parse_citation(elem)
        _release(elem)  # PubmedBookArticle (NCBI Bookshelf) records are skipped


def record_source(
    record: MedlineRecord, path: str = "", sha256: str = "", text: str = ""
) -> Source:
    """The Source of one MEDLINE record, with its evidence labels (built once)."""
    types = {t.lower() for t in record.publication_types}
    return Source(
        source_id=make_source_id(record.doi, record.pmid),
        kind="review" if types & {"review", "systematic review", "meta-analysis"} else "article",
        title=record.title,
        authors=record.authors,
        journal=record.journal,
        year=record.year,
        volume=record.volume,
        issue=record.issue,
        pages=record.pages,
        doi=record.doi,
        pmid=record.pmid,
        url=pubmed_url(record.pmid) or "",
        path=path,
        sha256=sha256,
        publication_types=record.publication_types,
        mesh=record.mesh,
        **label_fields(record.title, text, record.publication_types, record.mesh),
    )


def passage_spans(text: str, chunk_size: int, chunk_overlap: int) -> list[tuple[int, int]]:
    """[(start, end)] of the passages one block of text is cut into: whole when it fits in a
    chunk, else split by sentences (ingest/chunking.py)."""
    if len(text) <= chunk_size:
        return [(0, len(text))]
    return split_spans(text, chunk_size, chunk_overlap) or [(0, len(text))]


def record_document(
    record: MedlineRecord, path: str, sha256: str, chunk_size: int, chunk_overlap: int
) -> Document:
    """Stored text = title, then each abstract part; a long part is split by sentences and
    every piece keeps its part's label as its section ("abstract: METHODS")."""
    parts = [("title", record.title)] if record.title else []
    parts += [(f"abstract: {label}" if label else "abstract", t) for label, t in record.abstract]
    pieces, spans, cursor = [], [], 0
    for section, body in parts:
        if pieces:
            pieces.append(PASSAGE_SEP)
            cursor += len(PASSAGE_SEP)
        for s, e in passage_spans(body, chunk_size, chunk_overlap):
            spans.append((cursor + s, cursor + e, section))
        pieces.append(body)
        cursor += len(body)
    text = "".join(pieces)
    return Document(record_source(record, path, sha256, text), text, (), tuple(spans))


@dataclass(frozen=True)
class MedlineLoad:
    documents: tuple[Document, ...]
    deleted_pmids: tuple[str, ...]
    warnings: tuple[str, ...]


def load_medline(path: Path, sha256: str, chunk_size: int, chunk_overlap: int) -> MedlineLoad:
    """Documents of every citation with a PMID and a title or abstract; later versions of a
    PMID replace earlier ones, and a PMID deleted later in the file is dropped."""
    by_pmid: dict[str, Document] = {}
    deleted: dict[str, None] = {}
    warnings: list[str] = []
    for item in iter_medline(path):
        if isinstance(item, Deletion):
            for pmid in item.pmids:
                by_pmid.pop(pmid, None)
                deleted[pmid] = None
            continue
        if not item.pmid or not (item.title or item.abstract):
            warnings.append(f"skipped citation {item.pmid or '(no PMID)'}: no title or abstract")
            continue
        deleted.pop(item.pmid, None)
        by_pmid[item.pmid] = record_document(item, str(path), sha256, chunk_size, chunk_overlap)
    if not by_pmid and not deleted:
        raise IngestError(str(path), "no MEDLINE citations in the file")
    return MedlineLoad(tuple(by_pmid.values()), tuple(deleted), tuple(warnings))
