"""PDF text extraction behind one small interface: `PDFParserFn = Callable[[Path], ParsedPdf]`.

`parse_pdf` runs `parse_pdf_inprocess` (pypdf, text per page with positions, cleaned by
`ingest.pdf_layout`) in a sandboxed child process under a timeout and a memory cap; every
failure becomes `IngestError(path, reason)`. pypdf is imported only where it is used, so
importing this module stays cheap.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.ids import dois_in
from ingest.errors import IngestError
from ingest.pdf_layout import Fragment, PageLayout, clean_document
from ingest.sandbox import MEMORY_REASON, SandboxError, run_sandboxed

NO_TEXT = "no text layer (image-only/scanned PDF); OCR it first"
ENCRYPTED = "encrypted PDF; decrypt it first"
_UNKNOWN_META = {"", "(unspecified)", "unspecified", "unknown", "untitled", "none", "anonymous"}


@dataclass(frozen=True)
class ParsedPdf:
    """Cleaned text per page (page 1 first, '' for a page without text) and info-dict
    metadata: 'title', 'author', 'subject', 'creation_date' (ISO 8601), present only when
    known; plus 'doi' (bare, lower case) when the info dict or the first page's removed
    header/footer names exactly one DOI, since cleaning takes it out of the page text.
    `furniture`: the first page's removed header/footer lines (where journals print the
    citation); `page_labels`: the PDF's page labels (pypdf; "1".."n" when it has none)."""

    pages: tuple[str, ...]
    metadata: dict[str, str]
    furniture: tuple[str, ...] = ()
    page_labels: tuple[str, ...] = ()


PDFParserFn = Callable[[Path], ParsedPdf]


def parse_pdf(path: Path, *, timeout_s: float = 60.0, max_memory_mb: int = 1536) -> ParsedPdf:
    """Parse in a child process under a timeout and memory cap; raises IngestError(path, reason)."""
    path = Path(path)
    check_pdf_file(path)
    try:
        data = run_sandboxed(
            parse_pdf_data, str(path), timeout_s=timeout_s, max_memory_mb=max_memory_mb
        )
    except SandboxError as exc:
        raise IngestError(str(path), exc.reason) from None
    return ParsedPdf(
        tuple(data["pages"]),
        dict(data["metadata"]),
        tuple(data.get("furniture", ())),
        tuple(data.get("page_labels", ())),
    )


def parse_pdf_data(path: str) -> dict:
    """`parse_pdf_inprocess` as plain JSON data: the sandbox's wire format."""
    parsed = parse_pdf_inprocess(Path(path))
    return {
        "pages": list(parsed.pages),
        "metadata": parsed.metadata,
        "furniture": list(parsed.furniture),
        "page_labels": list(parsed.page_labels),
    }


def check_pdf_file(path: Path) -> None:
    """Cheap checks before parsing: present, non-empty, a %PDF header, an %%EOF trailer."""
    try:
        size = path.stat().st_size
        if size == 0:
            raise IngestError(str(path), "empty file")
        with path.open("rb") as handle:
            head = handle.read(1024)
            handle.seek(max(0, size - 65536))
            tail = handle.read()
    except OSError as exc:
        raise IngestError(str(path), f"cannot read file ({exc.strerror or exc})") from exc
    if b"%PDF-" not in head:
        raise IngestError(str(path), "not a PDF (no %PDF header)")
    if b"%%EOF" not in tail:
        raise IngestError(str(path), "truncated or damaged PDF (no %%EOF marker at the end)")


def parse_pdf_inprocess(path: Path) -> ParsedPdf:
    """The unsandboxed parser: text per page via pypdf, cleaned; raises IngestError."""
    path = Path(path)
    check_pdf_file(path)
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = _open_reader(path)
        layouts = _page_layouts(path, reader)
        metadata = _metadata(reader)
    except IngestError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure becomes a reason
        raise IngestError(str(path), describe_error(exc)) from exc
    try:
        cleaned = clean_document(layouts)
    except Exception as exc:  # noqa: BLE001 - a layout surprise must still name the file
        raise IngestError(str(path), f"text cleaning failed ({type(exc).__name__}: {exc})") from exc
    if not any(page.strip() for page in cleaned.pages):
        raise IngestError(str(path), NO_TEXT)
    first_furniture = tuple(cleaned.furniture[0]) if cleaned.furniture else ()
    doi = metadata.get("doi") or _single_doi(first_furniture)
    meta = {**metadata, **({"doi": doi} if doi else {})}
    return ParsedPdf(cleaned.pages, meta, first_furniture, _page_labels(reader))


def _page_labels(reader) -> tuple[str, ...]:
    """The PDF's page labels ('i', 'ii', '64', ...); () when they cannot be read."""
    try:
        return tuple(str(label) for label in reader.page_labels)
    except Exception:  # noqa: BLE001 - a broken /PageLabels tree only loses the labels
        return ()


def _single_doi(texts) -> str:
    """The DOI in these texts (e.g. a removed first-page footer) when exactly one appears."""
    found = {doi for text in texts for doi in dois_in(text)}
    return found.pop() if len(found) == 1 else ""


def describe_error(exc: BaseException) -> str:
    """A short reason for a pypdf (or Python) failure."""
    from pypdf.errors import (
        DependencyError,
        FileNotDecryptedError,
        LimitReachedError,
        PdfReadError,
    )

    detail = f"{exc}".strip() or type(exc).__name__
    if isinstance(exc, (MemoryError, LimitReachedError)):
        return f"{MEMORY_REASON} ({detail})"
    if isinstance(exc, FileNotDecryptedError):
        return ENCRYPTED
    if isinstance(exc, DependencyError):
        return f"{ENCRYPTED} ({detail})"
    if isinstance(exc, RecursionError):
        return "malformed PDF (objects nested too deeply)"
    if isinstance(exc, PdfReadError):
        return f"truncated or damaged PDF ({detail})"
    return f"unreadable PDF ({type(exc).__name__}: {detail})"


def _open_reader(path: Path):
    """A PdfReader, decrypted with the empty password when the file is encrypted."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    reader = PdfReader(path, strict=False)
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except DependencyError as exc:
            raise IngestError(str(path), f"{ENCRYPTED} ({exc})") from exc
        except Exception:  # noqa: BLE001 - a broken security handler is still "encrypted"
            opened = 0
        if not opened:
            raise IngestError(str(path), ENCRYPTED)
    return reader


def _page_layouts(path: Path, reader) -> list[PageLayout]:
    """Positioned fragments of every page; a page that fails alone counts as empty, but
    size/memory limits and a document whose every page fails stop the parse."""
    from pypdf.errors import LimitReachedError

    layouts, first_error = [], None
    for page in reader.pages:
        try:
            layouts.append(page_layout(page))
        except (LimitReachedError, MemoryError, RecursionError):
            raise
        except Exception as exc:  # noqa: BLE001 - one bad page should not sink the file
            first_error = first_error or exc
            layouts.append(PageLayout(()))
    if first_error is not None and not any(layout.fragments for layout in layouts):
        raise IngestError(str(path), describe_error(first_error))
    return layouts


def _mult(a: list[float], b: list[float]) -> list[float]:
    return [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]


class _Widths:
    """Advance widths of text runs: glyph widths from the font's metrics (cached per font
    resource) plus char/word spacing and TJ position adjustments seen since the last run."""

    def __init__(self) -> None:
        self.fonts: dict[int, tuple[Any, Any]] = {}
        self.state = {"Tw": 0.0, "Tc": 0.0, "Tz": 100.0, "Tf": 0.0}
        self.shift, self.gaps = 0.0, 0  # TJ adjustments (text space) and word-sized ones

    def track(self, operator: bytes, operands: list, *_: Any) -> None:
        """visitor_operand_before: follow spacing, scaling, font size and TJ adjustments."""
        name = operator.decode("latin-1", "replace")
        numbers = [float(v) for v in operands if isinstance(v, (int, float))]
        if name in ("Tw", "Tc", "Tz") and numbers:
            self.state[name] = numbers[0]
        elif name == "Tf" and numbers:
            self.state["Tf"] = numbers[-1]
        elif name == "TJ" and operands and isinstance(operands[0], list):
            for item in operands[0]:
                if isinstance(item, (int, float)) and not isinstance(item, bool):
                    self.shift -= float(item) / 1000.0 * self.state["Tf"]
                    self.gaps += float(item) <= -150  # pypdf shows these as a space

    def metrics(self, font_dict) -> tuple[dict, dict] | None:
        """(glyph widths by code, code by unicode text) of a font resource, or None."""
        if font_dict is None:
            return None
        key = id(font_dict)
        if key not in self.fonts:
            try:
                from pypdf.generic._font import Font  # private, so guarded

                font = Font.from_font_resource(font_dict)
                codes = {u: c for c, u in font.character_map.items() if isinstance(u, str)}
                self.fonts[key] = (font_dict, (dict(font.character_widths), codes))
            except Exception:  # noqa: BLE001 - fall back to the layout module's estimate
                self.fonts[key] = (font_dict, None)
        return self.fonts[key][1]

    def width(self, text: str, font_dict, size: float) -> float:
        """Width of a run in text space (0 when unknown); consumes pending TJ adjustments."""
        shift, gaps = self.shift, self.gaps
        self.shift, self.gaps = 0.0, 0
        metrics = self.metrics(font_dict)
        if metrics is None or not text:
            return 0.0
        widths, codes = metrics
        default = widths.get("default", 500)

        def glyph(ch: str) -> float:
            return widths.get(codes.get(ch, ch), widths.get(ch, default))

        glyphs = (sum(glyph(ch) for ch in text) - gaps * glyph(" ")) / 1000.0 * size
        spacing = self.state["Tc"] * len(text) + self.state["Tw"] * text.count(" ")
        return max(0.0, (glyphs + spacing + shift) * self.state["Tz"] / 100.0)


def _font_name(font_dict) -> str:
    try:
        return str(font_dict.get("/BaseFont", "")).lstrip("/") if font_dict is not None else ""
    except Exception:  # noqa: BLE001
        return ""


def page_layout(page) -> PageLayout:
    """Upright text fragments of one pypdf page with start point, size and width."""
    fragments: list[Fragment] = []
    widths = _Widths()
    skipped = [0]

    def visit(text: str, cm: list, tm: list, font_dict, font_size: float) -> None:
        m = _mult(tm, cm)
        if not text or not text.strip():
            widths.width("", None, 0.0)  # drop the adjustments of an empty run
            return
        if m[0] <= 0 or m[3] <= 0 or abs(m[1]) > 0.1 * m[0] or abs(m[2]) > 0.1 * m[3]:
            widths.width("", None, 0.0)
            skipped[0] += len(text.strip())  # rotated or mirrored text
            return
        size, scale_x = (font_size or 1.0) * math.hypot(m[2], m[3]), math.hypot(m[0], m[1])
        font = _font_name(font_dict)
        for n, part in enumerate(text.split("\n")):
            if part.strip():
                width = widths.width(part, font_dict, font_size or 1.0) * scale_x
                fragments.append(Fragment(part, m[4], m[5] - 1.2 * size * n, size, font, width))

    page.extract_text(visitor_text=visit, visitor_operand_before=widths.track)
    box = tuple(float(v) for v in page.mediabox)
    upright = sum(len(f.text.strip()) for f in fragments)
    if skipped[0] > upright:
        return _plain_layout(page.extract_text(), box)
    return PageLayout(tuple(fragments), box)


def _plain_layout(text: str, box: tuple[float, ...]) -> PageLayout:
    """Fallback for pages set mostly sideways: pypdf's plain lines, spread evenly down
    the page with one size, so no position-based rule fires on made-up coordinates."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    left, bottom, _, top = box
    step = (top - bottom) / (len(lines) + 1) if lines else 0.0
    fragments = tuple(Fragment(ln, left, top - step * (i + 1), 10.0) for i, ln in enumerate(lines))
    return PageLayout(fragments, box)


def _clean_meta(value: Any) -> str:
    text = " ".join(str(value).replace("\x00", " ").split()) if value is not None else ""
    return "" if text.lower() in _UNKNOWN_META else text


def _metadata(reader) -> dict[str, str]:
    """Title, author, subject and creation date (ISO 8601) from the info dictionary."""
    try:
        info = reader.metadata
    except Exception:  # noqa: BLE001 - a broken info dict only loses metadata
        return {}
    if not info:
        return {}
    found: dict[str, str] = {}
    for key in ("title", "author", "subject"):
        try:
            value = _clean_meta(getattr(info, key))
        except Exception:  # noqa: BLE001
            value = ""
        if value:
            found[key] = value
    try:
        created = info.creation_date
        value = created.isoformat() if created is not None else ""
    except Exception:  # noqa: BLE001 - an unparsable date: keep the raw string
        value = _clean_meta(info.get("/CreationDate"))
    if value:
        found["creation_date"] = value
    doi = _single_doi(_clean_meta(info.get(k)) for k in ("/doi", "/DOI", "/Subject", "/Keywords"))
    if doi:
        found["doi"] = doi
    return found
