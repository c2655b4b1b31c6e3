"""Inline text of JATS paragraphs: whitespace collapsed, with the offsets of each in-text
bibliographic <xref>, and citation groups ("[1]-[9]", "(Hites 2004; Law et al. 2003)")
turned into core.types.Citation on the sentence that holds them (pure functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.types import Citation

# Elements that are blocks of their own even when nested inside a <p>.
BLOCKS = {"fig", "table-wrap", "list", "boxed-text", "disp-quote", "def-list", "fig-group"}
SKIP = {"table-wrap-foot", "alternatives", "graphic", "media", "object-id", "label"}
_WS = re.compile(r"\s+")
_RANGE_TEXT = re.compile(r"^\W*(\d+)\s*[-\u2013\u2014]\s*(\d+)\W*$")
_DASHES = {"-", "\u2013", "\u2014"}
_BETWEEN = re.compile(r"^[\s,;\u2013\u2014\-]*$")
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d)\]]*\s+(?=[A-Z\u201c\"(\[])")


def local(tag) -> str:
    """An element's name without namespace ("" for comments and processing instructions)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


@dataclass
class Mark:
    """One bibliographic <xref> in a block's text: [start, end) and the ref ids it names."""

    start: int
    end: int
    rids: tuple[str, ...]
    text: str


@dataclass
class InlineText:
    """Text of one block being built; `deferred` holds nested blocks to emit after it."""

    parts: list[str] = field(default_factory=list)
    length: int = 0
    marks: list[Mark] = field(default_factory=list)
    deferred: list = field(default_factory=list)
    _space: bool = True  # the text so far ends in whitespace (or is empty)

    def add(self, text: str | None) -> None:
        if not text:
            return
        text = _WS.sub(" ", text)
        if self._space and text.startswith(" "):
            text = text[1:]
        if text:
            self.parts.append(text)
            self.length += len(text)
            self._space = text.endswith(" ")

    def add_raw(self, text: str) -> None:
        """A separator kept as is (a newline between table rows)."""
        if self.parts and self.parts[-1].endswith(" "):
            self.parts[-1] = self.parts[-1][:-1]
            self.length -= 1
        self.parts.append(text)
        self.length += len(text)
        self._space = True

    def walk(self, elem) -> None:
        """Append an element's text; nested blocks are deferred, not inlined."""
        name = local(elem.tag)
        if name in BLOCKS:
            self.deferred.append(elem)
            self.add(elem.tail)
            return
        if name in SKIP or not name:
            self.add(elem.tail)
            return
        if name == "xref" and elem.get("ref-type") == "bibr":
            begin = self.length
            self.add(elem.text)
            for child in elem:
                self.walk(child)
            self.marks.append(Mark(begin, self.length, tuple(elem.get("rid", "").split()), ""))
            self.add(elem.tail)
            return
        self.add(elem.text)
        for child in elem:
            self.walk(child)
        self.add(elem.tail)

    def finish(self) -> str:
        """The block's text (trailing space dropped), marks clamped to it."""
        text = "".join(self.parts).rstrip()
        for mark in self.marks:
            mark.start, mark.end = min(mark.start, len(text)), min(mark.end, len(text))
            mark.text = text[mark.start : mark.end]
        return text


def _numbers(group: list[Mark], text: str, n_of: dict[str, int]) -> tuple[int, ...]:
    """Reference numbers a group of adjacent xrefs names: rid lists, "3-5" inside one xref,
    and "<xref>3</xref>-<xref>5</xref>" ranges expanded."""
    numbers: list[int] = []
    for i, mark in enumerate(group):
        ns = [n_of[r] for r in mark.rids if r in n_of]
        found = _RANGE_TEXT.match(mark.text)
        if len(ns) == 1 and found and 0 < int(found[2]) - int(found[1]) < 200:
            ns = list(range(ns[0], ns[0] + int(found[2]) - int(found[1]) + 1))
        between = text[group[i - 1].end : mark.start].strip() if i else ""
        if between in _DASHES and numbers and ns and 0 < ns[0] - numbers[-1] < 200:
            numbers.extend(range(numbers[-1] + 1, ns[0]))
        numbers.extend(ns)
    return tuple(dict.fromkeys(numbers))


def _groups(marks: list[Mark], text: str) -> list[list[Mark]]:
    groups: list[list[Mark]] = []
    for mark in marks:
        if groups and _BETWEEN.match(text[groups[-1][-1].end : mark.start]):
            groups[-1].append(mark)
        else:
            groups.append([mark])
    return groups


def sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """[s, e) of the sentence of `text` that holds [start, end)."""
    s = 0
    for match in _SENTENCE_END.finditer(text, 0, start):
        s = match.end()
    found = _SENTENCE_END.search(text, end)
    e = found.start() + 1 if found else len(text)
    while e < len(text) and text[e] in "\"'\u201d)]" and not found:
        e += 1
    return s, max(e, end)


def block_citations(
    text: str, marks: list[Mark], n_of: dict[str, int], offset: int
) -> list[Citation]:
    """One Citation per group of adjacent xrefs, on its sentence, offsets into stored text."""
    out = []
    for group in _groups(marks, text):
        m_start, m_end = group[0].start, group[-1].end
        if m_start > 0 and m_end < len(text) and text[m_start - 1] in "[(" and text[m_end] in "])":
            m_start, m_end = m_start - 1, m_end + 1
        s, e = sentence_bounds(text, m_start, m_end)
        numbers = _numbers(group, text, n_of)
        out.append(Citation(offset + s, offset + e, numbers, offset + m_start, offset + m_end))
    return out
