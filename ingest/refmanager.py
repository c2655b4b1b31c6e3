"""Reference-manager exports (Zotero, EndNote, Mendeley): BibTeX (bibtexparser), RIS (rispy)
and CSL-JSON give each entry's citation metadata and its attached files.

An entry with an attached PDF becomes that PDF's document, with the entry's metadata over
what the PDF prints (as a sidecar would). An entry without one (or whose file is missing)
is kept as a metadata-only source: listed by `bala status`, never quoted, until a later
PDF, fetch or MEDLINE record with the same DOI/PMID brings its text (index/build.py lets a
source with text win over a metadata-only one).

Problems with one entry (a missing file, unknown fields, a block that does not parse) are
warnings naming the entry; only an unreadable export (not UTF-8, not the format at all) is
an error for the file.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from ingest.errors import IngestError

BIB_EXT, RIS_EXT, CSL_EXT = {".bib", ".bibtex"}, {".ris"}, {".json"}
MANIFEST_EXT = BIB_EXT | RIS_EXT | CSL_EXT

_BIB_FIELDS = set(
    "title author journal journaltitle booktitle year date volume number issue pages doi pmid "
    "pmcid url urldate eprint eprinttype file abstract keywords month issn isbn publisher "
    "address note language shorttitle series edition editor institution school organization "
    "annotation annote copyright howpublished type chapter langid keyword mendeley-tags "
    "mendeley-groups timestamp owner pubstate day location subtitle".split()
)
_CSL_FIELDS = set(
    "id type title author editor container-title container-title-short journalAbbreviation "
    "issued accessed volume issue page DOI PMID PMCID URL ISSN ISBN abstract language "
    "publisher publisher-place source note keyword number genre event citation-key "
    "title-short collection-title shortTitle edition chapter-number number-of-pages file "
    "medium archive archive_location call-number dimensions status version".split()
)


@dataclass(frozen=True)
class RefEntry:
    """One exported reference: metadata in sidecar field names, attachments as written."""

    key: str
    meta: dict
    files: tuple[str, ...] = ()


@dataclass
class ParsedExport:
    entries: list[RefEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_text(path: Path) -> str:
    """The export's text; IngestError naming the byte when it is not UTF-8."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(
            str(path),
            f"not UTF-8 text ({exc.reason} at byte {exc.start}); re-export it as UTF-8 "
            "(Zotero/Mendeley: character encoding 'Unicode (UTF-8)')",
        ) from exc
    except OSError as exc:
        raise IngestError(str(path), f"cannot read file ({exc.strerror or exc})") from exc


def read_export(path: Path) -> ParsedExport:
    """Parse an export by its extension; IngestError when it holds no usable entry."""
    text = read_text(path)
    ext = path.suffix.lower()
    if ext in BIB_EXT:
        parsed = parse_bibtex(text)
    elif ext in RIS_EXT:
        parsed = parse_ris(text)
    else:
        parsed = parse_csl_json(text, str(path))
    if not parsed.entries:
        detail = f" ({'; '.join(parsed.warnings[:3])})" if parsed.warnings else ""
        raise IngestError(str(path), f"no reference entries found{detail}")
    return parsed


def _latex(value: str) -> str:
    from pylatexenc.latex2text import LatexNodes2Text

    try:
        value = LatexNodes2Text(strict_latex_spaces=True).latex_to_text(value)
    except Exception:  # noqa: BLE001 - odd TeX: keep the raw text without braces
        value = value.replace("{", "").replace("}", "")
    return " ".join(value.split())


def _bib_name(name: str) -> str:
    """'Lamble, Adam J.' -> 'Adam J. Lamble'; '{Children's Oncology Group}' kept whole."""
    name = _latex(name)
    if "," in name:
        last, _, first = name.partition(",")
        return f"{first.strip()} {last.strip()}".strip()
    return name


def bibtex_files(value: str) -> list[str]:
    """Attachment paths of a `file` field: Zotero 'Desc:files/12/x.pdf:application/pdf',
    Mendeley ':C\\:/x.pdf:pdf', Better BibTeX plain paths; ';' separates files."""
    out = []
    for item in re.split(r"(?<!\\);", value):
        parts = [p.replace("\\:", ":") for p in re.split(r"(?<!\\):", item.strip())]
        if len(parts) >= 3:
            path = ":".join(parts[1:-1])
        else:
            path = item.strip().replace("\\:", ":")
        if path.strip():
            out.append(path.strip())
    return out


def parse_bibtex(text: str) -> ParsedExport:
    import bibtexparser

    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)
    library = bibtexparser.parse_string(text)
    out = ParsedExport()
    for block in library.failed_blocks:
        line = getattr(block, "start_line", -1) + 1
        out.warnings.append(f"BibTeX block at line {line} does not parse; skipped")
    for entry in library.entries:
        fields = {k.lower(): str(f.value) for k, f in entry.fields_dict.items()}
        unknown = sorted(set(fields) - _BIB_FIELDS)
        if unknown:
            out.warnings.append(f"entry {entry.key}: unknown field(s) {', '.join(unknown)} ignored")
        pmid = fields.get("pmid", "")
        if not pmid and fields.get("eprinttype", "").lower() == "pubmed":
            pmid = fields.get("eprint", "")
        meta = {
            "title": _latex(fields.get("title", "")),
            "authors": [
                _bib_name(a) for a in re.split(r"\s+and\s+", fields.get("author", "")) if a.strip()
            ],
            "journal": _latex(
                fields.get("journal") or fields.get("journaltitle") or fields.get("booktitle") or ""
            ),
            "year": fields.get("year") or fields.get("date", "")[:4],
            "volume": fields.get("volume", ""),
            "issue": fields.get("number") or fields.get("issue", ""),
            "pages": re.sub(r"\s*-+\s*", "-", fields.get("pages", "")),
            "doi": fields.get("doi", ""),
            "pmid": pmid.strip(),
            "url": fields.get("url", ""),
            "type": fields.get("type", ""),
        }
        out.entries.append(RefEntry(entry.key, meta, tuple(bibtex_files(fields.get("file", "")))))
    return out


def _first(record: dict, *keys: str) -> str:
    for key in keys:
        value = record.get(key)
        if isinstance(value, list):
            value = value[0] if value else ""
        if value:
            return str(value).strip()
    return ""


def _ris_name(name: str) -> str:
    last, _, first = name.partition(",")
    return f"{first.strip()} {last.strip()}".strip() if first else name.strip()


def _as_list(value) -> list[str]:
    items = value if isinstance(value, list) else [value] if value else []
    return [p.strip() for v in items for p in str(v).split(";") if p.strip()]


def parse_ris(text: str) -> ParsedExport:
    import rispy

    out = ParsedExport()
    try:
        records = rispy.loads(text)
    except Exception as exc:  # noqa: BLE001 - rispy raises plain IOError/ValueError
        out.warnings.append(f"not RIS ({exc})")
        return out
    for number, rec in enumerate(records, start=1):
        key = _first(rec, "id", "label") or f"#{number}"
        unknown = sorted(rec.get("unknown_tag", {}) or {})
        if unknown:
            out.warnings.append(f"entry {key}: unknown RIS tag(s) {', '.join(unknown)} ignored")
        first, last = _first(rec, "start_page"), _first(rec, "end_page")
        accession = _first(rec, "accession_number")
        meta = {
            "title": _first(rec, "title", "primary_title", "translated_title"),
            "authors": [_ris_name(a) for a in rec.get("authors") or rec.get("first_authors") or []],
            "journal": _first(
                rec,
                "journal_name",
                "alternate_title2",
                "alternate_title1",
                "alternate_title3",
                "secondary_title",
            ),
            "year": _first(rec, "year", "publication_year", "date")[:4],
            "volume": _first(rec, "volume"),
            "issue": _first(rec, "number"),
            "pages": f"{first}-{last}" if first and last else first,
            "doi": _first(rec, "doi"),
            "pmid": accession if accession.isdigit() else "",
            "url": _first(rec, "urls"),
            "type": _first(rec, "type_of_reference"),
        }
        files = _as_list(rec.get("file_attachments1")) + _as_list(rec.get("file_attachments2"))
        out.entries.append(RefEntry(key, meta, tuple(files)))
    return out


def _csl_name(person) -> str:
    if not isinstance(person, dict):
        return str(person)
    if person.get("literal"):
        return str(person["literal"])
    return f"{person.get('given', '')} {person.get('family', '')}".strip()


def _csl_year(issued) -> str:
    if isinstance(issued, dict):
        parts = issued.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            return str(parts[0][0])
        return str(issued.get("raw") or issued.get("literal") or "")[:4]
    return str(issued or "")[:4]


def parse_csl_json(text: str, name: str = "") -> ParsedExport:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(name, f"not JSON ({exc.msg} at line {exc.lineno})") from exc
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, list):
        raise IngestError(name, "not a CSL-JSON export (expected a JSON array of items)")
    out = ParsedExport()
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            out.warnings.append(f"item {number}: not a JSON object; skipped")
            continue
        key = str(item.get("id") or item.get("citation-key") or f"#{number}")
        unknown = sorted(set(item) - _CSL_FIELDS)
        if unknown:
            out.warnings.append(f"entry {key}: unknown field(s) {', '.join(unknown)} ignored")
        authors = item.get("author") if isinstance(item.get("author"), list) else []
        meta = {
            "title": str(item.get("title") or ""),
            "authors": [n for n in map(_csl_name, authors) if n],
            "journal": str(
                item.get("container-title-short")
                or item.get("journalAbbreviation")
                or item.get("container-title")
                or ""
            ),
            "year": _csl_year(item.get("issued")),
            "volume": str(item.get("volume") or ""),
            "issue": str(item.get("issue") or ""),
            "pages": str(item.get("page") or "").replace("–", "-"),
            "doi": str(item.get("DOI") or ""),
            "pmid": str(item.get("PMID") or ""),
            "url": str(item.get("URL") or ""),
            "type": str(item.get("genre") or item.get("type") or ""),
        }
        out.entries.append(RefEntry(key, meta, tuple(_as_list(item.get("file")))))
    return out


def resolve_attachment(raw: str, manifest: Path) -> Path:
    """Where an attachment path points: absolute as given; EndNote `internal-pdf://ID/x.pdf`
    in `<export>.Data/PDF/ID/`; `file://` URLs; else relative to the export's folder
    (Zotero's `files/<n>/x.pdf` layout)."""
    raw = raw.strip()
    if raw.startswith("internal-pdf://"):
        return manifest.with_suffix(".Data") / "PDF" / raw.removeprefix("internal-pdf://")
    if raw.startswith("file://"):
        from urllib.parse import unquote, urlparse

        raw = unquote(urlparse(raw).path)
    path = Path(raw).expanduser()
    return path if path.is_absolute() else manifest.parent / path


def attached_pdfs(entry: RefEntry, manifest: Path) -> tuple[list[Path], list[str]]:
    """(existing attached PDFs, attachment paths that are missing) of one entry."""
    found, missing = [], []
    for raw in entry.files:
        path = resolve_attachment(raw, manifest)
        if path.suffix.lower() != ".pdf":
            continue
        (found if path.is_file() else missing).append(path if path.is_file() else raw)
    return found, missing


def all_attachments(manifest: Path) -> list[Path]:
    """Every existing PDF an export attaches ([] when it cannot be read): these are ingested
    through the export, not on their own."""
    try:
        parsed = read_export(manifest)
    except IngestError:
        return []
    return [p.resolve() for e in parsed.entries for p in attached_pdfs(e, manifest)[0]]


def looks_like_csl_json(path: Path) -> bool:
    """A .json file that starts like a CSL-JSON export (an array, or {"items": [...]})."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return head.startswith(b"[") or (head.startswith(b"{") and b'"items"' in head)


def load_export(path: Path, settings) -> tuple[list, list[str]]:
    """(documents, warnings) of one export: each entry's attached PDF with the entry's
    metadata over what the PDF prints; a metadata-only document (no text) otherwise."""
    from core.types import Document, sha256_bytes
    from ingest.metadata import source_from_meta
    from ingest.pdf_document import load_pdf

    parsed = read_export(path)
    docs, warnings = [], list(parsed.warnings)
    for entry in parsed.entries:
        pdfs, missing = attached_pdfs(entry, path)
        for raw in missing:
            warnings.append(
                f"entry {entry.key}: attached file {raw} not found; kept as metadata only"
            )
        doc = None
        if pdfs:
            try:
                sha = sha256_bytes(pdfs[0].read_bytes())
                doc = load_pdf(pdfs[0], sha, settings, given=entry.meta)
            except IngestError as exc:
                warnings.append(
                    f"entry {entry.key}: {exc.path}: {exc.reason}; kept as metadata only"
                )
        if doc is None:
            if not (entry.meta.get("title") or entry.meta.get("doi") or entry.meta.get("pmid")):
                warnings.append(f"entry {entry.key}: no title, DOI or PMID; skipped")
                continue
            seed = f"{path}#{entry.key}"
            doc = Document(source_from_meta(entry.meta, text=seed, path=str(path), sha256=""), "")
        docs.append(doc)
    return _one_per_source(docs, warnings, path), warnings


def _one_per_source(docs: list, warnings: list[str], path: Path) -> list:
    """Entries of one export that name the same work: the first with text, else the first."""
    chosen: dict[str, object] = {}
    for doc in docs:
        held = chosen.get(doc.source_id)
        if held is None or (not held.text and doc.text):
            chosen[doc.source_id] = doc
        if held is not None:
            warnings.append(f"{doc.source_id} appears twice in {path.name}; one entry kept")
    return list(chosen.values())
