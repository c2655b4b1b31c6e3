"""Build small fixture PDFs by hand (raw PDF syntax, base-14 fonts) in a tmp folder:
text pages at chosen positions, journal pages with running header/footer and hyphenated
lines, two-column pages, and hostile files (encrypted, image-only, truncated, a
decompression bomb, a stream that keeps the parser busy)."""

from __future__ import annotations

import io
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

WIDTH, HEIGHT = 612, 792
FONTS = {"F1": "Helvetica", "F2": "Times-Roman", "F3": "Helvetica-Bold"}


@dataclass(frozen=True)
class Text:
    """One line of text drawn at (x, y) with a base-14 font."""

    x: float
    y: float
    text: str
    size: float = 10.0
    font: str = "F2"


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def text_ops(items: Iterable[Text]) -> bytes:
    """A content stream drawing each item in its own BT/ET block, in the given order."""
    ops = [
        b"BT /%s %g Tf 1 0 0 1 %g %g Tm (%s) Tj ET"
        % (t.font.encode(), t.size, t.x, t.y, _escape(t.text))
        for t in items
    ]
    return b"\n".join(ops) + b"\n"


def build_pdf(
    contents: Sequence[bytes],
    *,
    flate: bool = False,
    info: dict[str, str] | None = None,
    image: bool = False,
    precompressed: bool = False,
) -> bytes:
    """A complete PDF with one page per content stream (xref offsets computed)."""
    fonts = " ".join(f"/{k} {3 + i} 0 R" for i, k in enumerate(FONTS))
    objs: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    objs += [
        b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>" % n.encode()
        for n in FONTS.values()
    ]
    xobject = b""
    if image:  # a 2x2 grey image XObject
        objs.append(
            b"<< /Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace "
            b"/DeviceGray /BitsPerComponent 8 /Length 4 >>\nstream\n\x10\x80\x80\x10\nendstream"
        )
        xobject = b" /XObject << /Im1 %d 0 R >>" % len(objs)
    kids = []
    for content in contents:
        data = content if precompressed or not flate else zlib.compress(content)
        filt = b" /Filter /FlateDecode" if (flate or precompressed) else b""
        objs.append(b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(data), filt, data))
        objs.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << %s >>%s >>"
            b" /Contents %d 0 R >>" % (WIDTH, HEIGHT, fonts.encode(), xobject, len(objs))
        )
        kids.append(b"%d 0 R" % len(objs))
    objs[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    trailer_info = b""
    if info:
        entries = b" ".join(b"/%s (%s)" % (k.encode(), _escape(v)) for k, v in info.items())
        objs.append(b"<< %s >>" % entries)
        trailer_info = b" /Info %d 0 R" % len(objs)
    return _serialise(objs, trailer_info)


def _serialise(objs: list[bytes], trailer_extra: bytes) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objs, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % off for off in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R%s >>\n" % (len(objs) + 1, trailer_extra))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def text_pdf(path: Path, pages: Sequence[Sequence[Text]], **kwargs) -> Path:
    """A PDF whose pages draw the given text items."""
    return write(path, build_pdf([text_ops(p) for p in pages], **kwargs))


# -------------------------------------------------------------- realistic layouts

HEADER = "Journal of Fixture Studies 2025 | Volume 7"
FOOTER = "https://doi.org/10.9999/fixture.2025.001"
BODY = [
    # (line, ...) per paragraph, already wrapped; hyphens at line ends are deliberate
    ["Patients experi-", "encing relapse after CD19-", "negative escape were treated", "again."],
    ["The B-", "cell marker was lost in most", "cases, and the out-", "come was poor."],
    [
        "Long-term follow-",
        "up was complete; the follow-up visits",
        "were monthly for all pa-",
        "tients.",
    ],
]
BODY_TRUTH = [
    "Patients experiencing relapse after CD19-negative escape were treated again.",
    "The B-cell marker was lost in most cases, and the outcome was poor.",
    "Long-term follow-up was complete; the follow-up visits were monthly for all patients.",
]


def journal_page(number: int, body: Sequence[Sequence[str]] = BODY) -> list[Text]:
    """A single-column page: running header + page number, body paragraphs, footer."""
    items = [Text(54, 756, HEADER, 7.5, "F1"), Text(553, 756, str(number), 7.5, "F1")]
    y = 700.0
    for paragraph in body:
        for line in paragraph:
            items.append(Text(72, y, line, 10, "F2"))
            y -= 12
        y -= 10
    items.append(Text(54, 30, FOOTER, 7.5, "F1"))
    return items


def _rotated(items: Sequence, by: int) -> list:
    return list(items[by % len(items) :]) + list(items[: by % len(items)])


def journal_pdf(path: Path, pages: int = 3, info: dict[str, str] | None = None) -> Path:
    """Journal pages; page n holds the BODY paragraphs rotated by n - 1."""
    body = [journal_page(n, _rotated(BODY, n - 1)) for n in range(1, pages + 1)]
    return text_pdf(path, body, info=info)


def journal_truth(pages: int = 3) -> list[str]:
    """The expected cleaned text of each page of `journal_pdf`."""
    return ["\n".join(_rotated(BODY_TRUTH, n)) for n in range(pages)]


TITLE = "A Two Column Fixture Title That Spans the Full Page Width of the Sheet"
LEFT = [f"left column line {i} reads first and fills the column width" for i in range(1, 13)]
RIGHT = [f"right column line {i} follows the left column entirely" for i in range(1, 13)]


def two_column_items() -> list[Text]:
    """Title block on top, then two columns; drawn row by row (left, right, left, ...)
    so that only positions, not stream order, give the reading order."""
    items = [Text(60, 720, TITLE, 16, "F3")]
    for i, (left, right) in enumerate(zip(LEFT, RIGHT)):
        y = 660 - 12 * i
        items += [Text(60, y, left, 9, "F2"), Text(320, y, right, 9, "F2")]
    return items


# ------------------------------------------------------------------------ hostile


def truncated_pdf(path: Path) -> Path:
    data = build_pdf([text_ops(journal_page(1))])
    return write(path, data[: len(data) // 2])


def image_only_pdf(path: Path) -> Path:
    """Pages that paint an image and a rectangle but carry no text."""
    content = b"q 200 0 0 200 100 400 cm /Im1 Do Q\n0 0 m 300 300 l S\n"
    return write(path, build_pdf([content, content], image=True))


def encrypted_pdf(path: Path, user_password: str = "secret", owner: str = "owner") -> Path:
    """A text PDF encrypted with pypdf (AES-128); user_password='' opens without a password."""
    from pypdf import PdfReader, PdfWriter

    plain = path.with_name(path.stem + "-plain.pdf")
    journal_pdf(plain, pages=1)
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password=user_password, owner_password=owner, algorithm="AES-128")
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def deflate_bomb(inflated_mb: int) -> bytes:
    """A valid zlib stream of `inflated_mb` MB of spaces, about 1 KB per MB, built fast:
    after a full flush the compressor emits the same block for the same 1 MB input."""
    chunk = b" " * (1024 * 1024)
    packer = zlib.compressobj(9)
    first = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    checksum = 1
    for _ in range(inflated_mb):
        checksum = zlib.adler32(chunk, checksum)
    final = b"\x03\x00"  # an empty final fixed-Huffman block
    return first + block * (inflated_mb - 1) + final + checksum.to_bytes(4, "big")


def bomb_pdf(path: Path, inflated_mb: int = 1024) -> Path:
    """A page whose FlateDecode content stream inflates from ~1 MB to `inflated_mb` MB."""
    return write(path, build_pdf([deflate_bomb(inflated_mb)], precompressed=True))


def busy_pdf(path: Path, operations: int = 200_000) -> Path:
    """A small file whose content stream holds so many text operations that pypdf
    needs many seconds for it (a stand-in for a parser hang)."""
    content = b"BT /F1 10 Tf\n" + b"1 0 0 1 10 10 Tm (x) Tj\n" * operations + b"ET\n"
    return write(path, build_pdf([content], flate=True))


# ------------------------------------------------------------- sandbox targets


def sleep_forever(_arg: object) -> None:
    """A sandbox target that never returns."""
    while True:
        time.sleep(1)


def allocate_too_much(_arg: object) -> int:
    """A sandbox target that tries to hold 8 GB."""
    return len(bytearray(8 * 1024 * 1024 * 1024))


def crash_hard(_arg: object) -> None:
    """A sandbox target that dies from a signal, without a Python exception."""
    import os
    import signal

    os.kill(os.getpid(), signal.SIGSEGV)


def echo(arg: object) -> object:
    return arg
