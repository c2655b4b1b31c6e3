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
from ingest.labels import label_source

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


def _year(pub_date, article) -> int | None:
    for raw in (
        pub_date.findtext("Year") if pub_date is not None else None,
        pub_date.findtext("MedlineDate") if pub_date is not None else None,
        article.findtext("ArticleDate/Year"),
    ):
        match = re.search(r"\b(1[89]|20)\d\d\b", raw or "")
        if match:
            return int(match.group())
    return None


def _authors(article) -> tuple[str, ...]:
    names = []
    for author in article.iterfind("AuthorList/Author"):
        if author.get("ValidYN", "Y") != "Y":
            continue
        last = author.findtext("LastName")
        if last:
            parts = (last, author.findtext("Initials"), author.findtext("Suffix"))
            names.append(" ".join(" ".join(p.split()) for p in parts if p))
        elif author.find("CollectiveName") is not None:
            names.append(_text(author.find("CollectiveName")))
    return tuple(names)


def _pages(article) -> str:
    pages = _text(article.find("Pagination/MedlinePgn"))
    if pages:
        return pages
    start, end = (
        _text(article.find("Pagination/StartPage")),
        _text(article.find("Pagination/EndPage")),
    )
    return f"{start}-{end}" if start and end else start


def _doi(article, pubmed_data) -> str:
    for loc in article.iterfind("ELocationID"):
        if loc.get("EIdType") == "doi" and loc.get("ValidYN", "Y") == "Y" and _text(loc):
            return normalize_doi(_text(loc))
    if pubmed_data is not None:
        for aid in pubmed_data.iterfind("ArticleIdList/ArticleId"):
            if aid.get("IdType") == "doi" and _text(aid):
                return normalize_doi(_text(aid))
    return ""


def parse_citation(citation, pubmed_data=None) -> MedlineRecord:
    """A MedlineRecord from a `<MedlineCitation>` element (and its `<PubmedData>`, if any)."""
    article = citation.find("Article")
    if article is None:
        raise ValueError("citation without <Article>")
    journal = article.find("Journal")
    issue = journal.find("JournalIssue") if journal is not None else None
    title = _text(article.find("ArticleTitle")) or _text(article.find("VernacularTitle"))
    abstract = tuple(
        (part.get("Label", "").strip(), _text(part))
        for part in article.iterfind("Abstract/AbstractText")
        if _text(part)
    )
    journal_name = ""
    if journal is not None:
        journal_name = _text(journal.find("ISOAbbreviation")) or _text(journal.find("Title"))
    journal_name = journal_name or _text(citation.find("MedlineJournalInfo/MedlineTA"))
    return MedlineRecord(
        pmid=_text(citation.find("PMID")),
        title=title,
        abstract=abstract,
        authors=_authors(article),
        journal=journal_name,
        year=_year(issue.find("PubDate") if issue is not None else None, article),
        volume=_text(issue.find("Volume")) if issue is not None else "",
        issue=_text(issue.find("Issue")) if issue is not None else "",
        pages=_pages(article),
        doi=_doi(article, pubmed_data),
        publication_types=tuple(
            _text(p) for p in article.iterfind("PublicationTypeList/PublicationType")
        ),
        mesh=tuple(
            _text(d) for d in citation.iterfind("MeshHeadingList/MeshHeading/DescriptorName")
        ),
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
    """The Source of one MEDLINE record, with its evidence labels."""
    types = {t.lower() for t in record.publication_types}
    source = Source(
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
    )
    return label_source(source, text)


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
