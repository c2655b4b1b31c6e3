"""Pure text-layout cleaning for PDF pages: positioned fragments -> lines -> reading order
-> paragraphs, dropping running headers/footers and page numbers and joining words split
by an end-of-line hyphen.

Coordinates are PDF user space: x grows rightwards, y grows upwards (top of page = high y).
Nothing here does IO; `ingest.pdf` feeds it what pypdf reports, tests feed it tiny inputs.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PARAGRAPH_SEP = "\n"
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬆ": "st"})
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_HYPHENS, _DASHES, _SOFT_HYPHEN = "-\u2010", "\u2013\u2014", "\u00ad"
_ROMAN = r"(?=[ivx])x{0,3}(?:ix|iv|v?i{0,3})"  # i .. xxxix
_PAGE_NUMBER = re.compile(
    rf"^(?:page\s*)?(?:\d{{1,4}}|{_ROMAN})(?:\s*(?:of|/)\s*\d{{1,4}})?$", re.I
)
_SHORT_NUMBER = re.compile(r"(?<!\d)\d{1,4}(?!\d)")
_WORD_EDGE = re.compile(r"^[^\w]+|[^\w]+$")


@dataclass(frozen=True)
class Fragment:
    """A run of text as the parser reports it: start point, font size, advance width."""

    text: str
    x: float
    y: float
    size: float = 10.0
    font: str = ""
    width: float = 0.0  # user-space advance width; 0 when unknown


@dataclass(frozen=True)
class Line:
    """One visual line of text with its horizontal extent and baseline."""

    text: str
    x0: float = 0.0
    x1: float = 0.0
    y: float = 0.0
    size: float = 10.0
    font: str = ""


@dataclass(frozen=True)
class PageLayout:
    """The fragments of one page and its box (left, bottom, right, top)."""

    fragments: tuple[Fragment, ...]
    box: tuple[float, float, float, float] = (0.0, 0.0, 612.0, 792.0)


def normalize_text(text: str) -> str:
    """Ligatures spelled out, odd spaces made plain and collapsed, control characters
    dropped, stray surrogates (undecodable glyphs) made U+FFFD so the text encodes."""
    if _SURROGATE.search(text):
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _SPACES.sub(" ", _CONTROL.sub("", text.translate(_LIGATURES)))


def _estimated_width(frag: Fragment) -> float:
    return frag.width if frag.width > 0 else 0.5 * frag.size * len(frag.text)


def fragments_to_lines(fragments: Iterable[Fragment]) -> list[Line]:
    """Merge fragments that follow each other on one baseline (in stream order) into lines.

    A fragment starts a new line when the baseline moves by more than half its size or
    when it starts more than one em right of the previous text's end (another column).
    """
    lines: list[Line] = []
    for frag in fragments:
        text = normalize_text(frag.text.replace("\n", " "))
        if not text.strip():
            continue
        last = lines[-1] if lines else None
        size = max(frag.size, last.size if last else 0.0, 1.0)
        if (
            last is None
            or abs(frag.y - last.y) >= 0.5 * size
            or not last.x0 - 0.5 * size <= frag.x <= last.x1 + 1.0 * size
        ):
            end = frag.x + _estimated_width(frag)
            lines.append(Line(text, frag.x, end, frag.y, frag.size, frag.font))
            continue
        # A run after a font switch is reported at the line's start (behind the running
        # end): it continues the text directly, as does a run that touches the previous.
        behind = frag.x < last.x1 - 0.25 * size or abs(frag.x - last.x0) < 0.01
        glue = "" if behind or abs(frag.x - last.x1) <= 0.15 * size else " "
        if last.text.endswith(" ") or text.startswith(" "):
            glue = ""
        major = last if len(last.text) >= len(text) else Line(text, size=frag.size, font=frag.font)
        x1 = max(frag.x, last.x1) + _estimated_width(frag)
        lines[-1] = Line(last.text + glue + text, last.x0, x1, last.y, major.size, major.font)
    return [Line(ln.text.strip(), ln.x0, ln.x1, ln.y, ln.size, ln.font) for ln in lines]


def sort_top_down(lines: Iterable[Line]) -> list[Line]:
    """Lines from the top of the page down, left to right on one baseline."""
    return sorted(lines, key=lambda ln: (-round(ln.y, 1), ln.x0))


def is_page_number(text: str) -> bool:
    """True for a bare page number: '12', '- 12 -', 'Page 3 of 9', 'iv'."""
    core = text.strip().strip("-\u2013\u2014|.[]() ").strip()
    return bool(core) and bool(_PAGE_NUMBER.match(core))


def furniture_key(text: str) -> str:
    """A line's identity for running-header detection: case, spacing and short numbers
    (page numbers) ignored, so 'Blood | 64' and 'Blood | 65' match but PMIDs do not."""
    text = _SHORT_NUMBER.sub("#", " ".join(text.lower().split()))
    return text if text.strip("# ") else ""


def _zone(count: int, depth: int) -> list[int]:
    """Indexes of the first and last `depth` lines of a page (top-down order)."""
    return sorted(set(range(min(depth, count))) | set(range(max(0, count - depth), count)))


def _runs_with_pages(hits: Sequence[tuple[int, str]]) -> bool:
    """True when one of the lines' short numbers advances with the page (a page number)."""
    numbers = [[int(n) for n in _SHORT_NUMBER.findall(text)] for _, text in hits]
    for j in range(min(map(len, numbers), default=0)):
        if len({nums[j] - page for (page, _), nums in zip(hits, numbers)}) == 1:
            return True
    return False


def remove_repeated_lines(
    pages: Sequence[Sequence[Line]], depth: int = 4, min_share: float = 0.4
) -> list[list[Line]]:
    """Drop running headers/footers: lines near the top or bottom of a page whose text
    (short numbers aside) recurs at about the same height on at least `min_share` of the
    pages and on two or more, or on three or more pages with a number that counts the
    pages (a chapter's running head). Pages are given top-down."""
    if len(pages) < 2:
        return [list(p) for p in pages]
    seen: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
    for page_no, lines in enumerate(pages):
        for idx in _zone(len(lines), depth):
            key = furniture_key(lines[idx].text)
            if key:
                seen[key].append((page_no, idx, lines[idx].y))
    need = max(2, math.ceil(min_share * len(pages)))
    drop: set[tuple[int, int]] = set()
    for hits in seen.values():
        middle = statistics.median(y for _, _, y in hits)
        near = [(p, i) for p, i, y in hits if abs(y - middle) <= 3.0]
        count = len({p for p, _ in near})
        if count >= need or (
            count >= 3 and _runs_with_pages([(p, pages[p][i].text) for p, i in near])
        ):
            drop.update(near)
    return [
        [ln for idx, ln in enumerate(lines) if (page_no, idx) not in drop]
        for page_no, lines in enumerate(pages)
    ]


def body_size(lines: Sequence[Line]) -> float:
    """The font size most of the page's characters are set in."""
    weights: dict[float, int] = defaultdict(int)
    for ln in lines:
        weights[round(ln.size, 1)] += len(ln.text)
    return max(weights, key=weights.__getitem__) if weights else 10.0


def remove_margin_lines(
    lines: Sequence[Line], box: tuple[float, float, float, float], depth: int = 4
) -> list[Line]:
    """Drop bare page numbers near the top/bottom, and header/footer lines recognised by
    position: in the outer 8% of the page, set smaller than the body text, and standing
    apart (two body sizes or more) from every line outside that margin. Lines top-down."""
    _, bottom, _, top = box
    band = 0.08 * (top - bottom)

    def in_margin(ln: Line) -> bool:
        return ln.y > top - band or ln.y < bottom + band

    inner = [ln.y for ln in lines if not in_margin(ln)]
    size = body_size([ln for ln in lines if not in_margin(ln)] or lines)
    zone = set(_zone(len(lines), depth))
    kept = []
    for idx, ln in enumerate(lines):
        if idx in zone and is_page_number(ln.text):
            continue
        if (
            inner
            and in_margin(ln)
            and ln.size < 0.92 * size
            and min(abs(ln.y - y) for y in inner) >= 2.0 * size
        ):
            continue
        kept.append(ln)
    return kept


def column_starts(lines: Sequence[Line]) -> list[float]:
    """Left edges of text columns: x positions where several full text lines start, each
    at least a quarter of the text width right of the previous one (so paragraph indents,
    equation numbers and short table cells do not count)."""
    ends = sorted(ln.x1 for ln in lines)
    lo = min(ln.x0 for ln in lines)
    span = max(ends[int(0.9 * (len(ends) - 1))] - lo, 1.0)  # a wide title must not skew it
    groups: list[list[Line]] = []
    for ln in sorted(lines, key=lambda ln: ln.x0):
        if groups and ln.x0 - groups[-1][-1].x0 <= 2.0:
            groups[-1].append(ln)
        else:
            groups.append([ln])
    need = max(3, 0.05 * len(lines))
    starts: list[float] = []
    for group in groups:
        wide = statistics.median(ln.x1 - ln.x0 for ln in group) >= 0.15 * span
        if len(group) >= need and wide and (not starts or group[0].x0 - starts[-1] >= span / 4):
            starts.append(group[0].x0)
    return starts


def column_blocks(lines: Sequence[Line]) -> list[list[Line]]:
    """Split a page into reading-order blocks: the whole page when it has one column, else
    the full-width block above the columns (title, byline) and then each column in turn."""
    lines = sort_top_down(lines)
    starts = column_starts(lines) if len(lines) >= 6 else []
    if len(starts) < 2:
        return [lines] if lines else []
    columns: list[list[Line]] = [[] for _ in starts]
    for ln in lines:
        columns[max(i for i, x in enumerate(starts) if x <= ln.x0 + 2.0 or i == 0)].append(ln)
    region_top = max(ln.y for col in columns[1:] for ln in col) + 1.5 * body_size(lines)
    head = [ln for ln in lines if ln.y > region_top]
    body = [[ln for ln in col if ln.y <= region_top] for col in columns]
    return [block for block in (head, *body) if block]


def _base_font(font: str) -> str:
    return font.split("+", 1)[-1].lower()


def line_pitch(blocks: Sequence[Sequence[Line]]) -> dict[float, float]:
    """Typical baseline-to-baseline distance per font size, from consecutive lines."""
    gaps: dict[float, list[float]] = defaultdict(list)
    for block in blocks:
        for a, b in zip(block, block[1:]):
            if round(a.size, 1) == round(b.size, 1) and 0 < a.y - b.y < 3 * a.size:
                gaps[round(a.size, 1)].append(a.y - b.y)
    return {size: statistics.median(found) for size, found in gaps.items()}


def starts_paragraph(
    prev: Line, line: Line, pitch: dict[float, float], column_left: float, same_block: bool
) -> bool:
    """Whether `line` opens a new paragraph after `prev`: a change of font or size, a
    vertical gap wider than the usual line pitch, or a first-line indent."""
    size = max(prev.size, line.size)
    if abs(prev.size - line.size) > 0.06 * size or _base_font(prev.font) != _base_font(line.font):
        return True
    step = pitch.get(round(line.size, 1), 1.2 * line.size)
    if same_block and prev.y - line.y > 1.4 * step:
        return True
    indent, prev_indent = line.x0 - column_left, prev.x0 - column_left
    return 0.8 * line.size < indent < 6 * line.size and prev_indent < 0.5 * line.size


def _word_core(word: str) -> str:
    return _WORD_EDGE.sub("", word).lower()


def hyphen_vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """Lower-cased words of a document (inner hyphens kept), to settle split hyphens."""
    return frozenset(filter(None, (_word_core(w) for t in texts for w in t.split())))


def keeps_hyphen(head: str, tail: str, vocabulary: frozenset[str] = frozenset()) -> bool:
    """Whether 'head-' at a line end followed by 'tail' is a real hyphen ('CD19-negative',
    'B-cell', 'anti-PD-1') rather than a word broken across lines ('experi-encing').

    Kept when a digit or symbol touches the hyphen; else the document's own spelling
    decides when it writes exactly one of 'head-tail' and 'headtail' elsewhere; else kept
    when the tail starts with a capital, or the part before the hyphen is one letter or
    holds a digit or a capital after its first letter ('IL-', 'mAb-'), or the tail is one
    letter. Otherwise (lowercase on both sides) the hyphen is taken as a line break.
    """
    segment = re.split(r"[-\u2010/]", head)[-1]
    tail_word = re.match(r"[^\W\d_]*", tail).group()
    if not segment or not tail_word or not segment[-1].isalpha():
        return True
    left, right = _word_core(head), tail_word.lower()
    hyphenated, joined = f"{left}-{right}" in vocabulary, f"{left}{right}" in vocabulary
    if hyphenated != joined:
        return hyphenated
    if not tail[0].islower() or len(segment) == 1 or len(tail_word) < 2:
        return True
    return segment[0].isdigit() or any(c.isdigit() or c.isupper() for c in segment[1:])


def _glue(prev: str, nxt: str, vocabulary: frozenset[str], width: int = 0) -> tuple[str, str]:
    """How a wrapped line joins the next: (text kept of prev, separator). `width` is the
    paragraph's longest line in characters (0: these two lines only)."""
    if prev.endswith(_SOFT_HYPHEN):
        return prev[:-1], ""
    if prev[-1] in _DASHES and len(prev) > 1 and prev[-2].isalnum():
        return prev, ""
    head, tail = prev.split()[-1], nxt.split()[0]
    if prev[-1] in _HYPHENS and len(prev) > 1 and prev[-2].isalnum():
        return (prev, "") if keeps_hyphen(head[:-1], tail, vocabulary) else (prev[:-1], "")
    width = width or max(len(prev), len(nxt))
    joined = len(head) + len(tail)
    if width >= 40 and len(head) >= 12 and joined > width and len(prev) >= 0.9 * width:
        return prev, ""  # a full line ending in a token too long for any line: broken
    return prev, " "


def join_wrapped_lines(lines: Sequence[str], vocabulary: frozenset[str] = frozenset()) -> str:
    """The lines of one paragraph as one line: spaces between lines, line-end hyphens of
    split words removed ("experi-", "encing" -> "experiencing"), real hyphens kept."""
    parts: list[str] = []
    width = max((len(line.strip()) for line in lines), default=0)
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if parts:
            parts[-1], sep = _glue(parts[-1], line, vocabulary, width)
            if sep:
                parts.append(sep)
        parts.append(line)
    return "".join(parts).replace(_SOFT_HYPHEN, "")


def page_paragraphs(blocks: Sequence[Sequence[Line]], vocabulary: frozenset[str]) -> list[str]:
    """Paragraph texts of one page from its reading-order blocks."""
    pitch = line_pitch(blocks)
    groups: list[list[str]] = []
    prev: Line | None = None
    for block in blocks:
        left = min(ln.x0 for ln in block)
        for idx, line in enumerate(block):
            if prev is None or starts_paragraph(prev, line, pitch, left, same_block=idx > 0):
                groups.append([])
            groups[-1].append(line.text)
            prev = line
    return [text for text in (join_wrapped_lines(g, vocabulary) for g in groups) if text]


def join_split_across_pages(
    pages: Sequence[str], vocabulary: frozenset[str] = frozenset()
) -> tuple[str, ...]:
    """Mend a word hyphenated over a page break: the tail moves up to the earlier page."""
    out = list(pages)
    for i in range(len(out) - 1):
        prev, nxt = out[i].rstrip(), out[i + 1].lstrip()
        if not prev or not nxt or prev[-1] not in _HYPHENS + _SOFT_HYPHEN:
            continue
        if not nxt[0].islower() or (len(prev) > 1 and not prev[-2].isalnum()):
            continue
        tail, _, rest = nxt.partition(" ") if " " in nxt.split("\n", 1)[0] else nxt.partition("\n")
        kept, _ = _glue(prev, tail, vocabulary)
        out[i], out[i + 1] = kept + tail, rest.lstrip()
    return tuple(out)


@dataclass(frozen=True)
class CleanedPages:
    """Cleaned text per page, and per page the header/footer lines that were removed."""

    pages: tuple[str, ...]
    furniture: tuple[tuple[str, ...], ...]


def _dropped(before: Sequence[Line], after: Sequence[Line]) -> tuple[str, ...]:
    kept = {id(ln) for ln in after}
    return tuple(ln.text for ln in before if id(ln) not in kept)


def clean_document(layouts: Sequence[PageLayout]) -> CleanedPages:
    """Furniture removed, columns in order, paragraphs one per line (PARAGRAPH_SEP),
    words split over lines and pages mended."""
    found = [sort_top_down(fragments_to_lines(p.fragments)) for p in layouts]
    pages = remove_repeated_lines(found)
    pages = [remove_margin_lines(lines, p.box) for lines, p in zip(pages, layouts)]
    removed = tuple(_dropped(before, after) for before, after in zip(found, pages))
    vocabulary = hyphen_vocabulary(ln.text for lines in pages for ln in lines)
    texts = [
        PARAGRAPH_SEP.join(page_paragraphs(column_blocks(lines), vocabulary)) for lines in pages
    ]
    return CleanedPages(join_split_across_pages(texts, vocabulary), removed)
