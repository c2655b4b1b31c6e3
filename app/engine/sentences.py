"""Sentence boundaries with offsets, tolerant of the abbreviations of clinical writing."""

from __future__ import annotations

import re

# A boundary: end punctuation, optional closing quote/bracket, whitespace, then a capital,
# digit or opening bracket. Exceptions are checked on the word before the full stop. Some
# PubMed excerpts glue a title or a section to the next sentence with no space
# ("...refractory AML.In patients", "(VEGF-A).Objective: To"): a full stop after two letters,
# digits or a bracket and before a capitalized word ends a sentence too.
_BOUNDARY = re.compile(
    r"[.!?][\"')\]]*\s+(?=[A-Z0-9(\[\"'])|(?<=[A-Za-z0-9)]{2})[.!?](?=[A-Z][a-z])"
)
_NO_BREAK_AFTER = re.compile(
    r"(?:\b(?:e\.g|i\.e|et al|vs|approx|incl|Fig|Figs|Ref|No|Dr|Drs|Mr|Ms|Prof|St|ca|cf|"
    r"resp|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Inc|Ltd|Co|Eq|Vol|pp|min|max)"
    r"|\b[A-Z])\.$"
)


# Markup kept verbatim in some PubMed abstracts: a line break ends a sentence, and a bold
# section label ("<b>METHODS</b>: ") is not part of the sentence that follows it.
_LINE_BREAK = re.compile(r"(?:<br\s*/?>\s*)+", re.IGNORECASE)
_LABEL = re.compile(r"<b>[^<>]{1,40}</b>\s*:?\s*", re.IGNORECASE)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """[(start, end)] of sentences in `text`, whitespace trimmed; never cuts mid-sentence.
    Line-break markup separates sentences and belongs to none."""
    spans, start = [], 0
    for match in _LINE_BREAK.finditer(text):
        spans.extend(_prose_spans(text, start, match.start()))
        start = match.end()
    spans.extend(_prose_spans(text, start, len(text)))
    return spans


def _prose_spans(text: str, begin: int, stop: int) -> list[tuple[int, int]]:
    out = []
    for s, e in _sentences(text[begin:stop]):
        label = _LABEL.match(text, begin + s, begin + e)
        s = label.end() - begin if label else s
        if s < e:
            out.append((begin + s, begin + e))
    return out


def _sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for match in _BOUNDARY.finditer(text):
        stop = match.start() + 1
        head = text[max(0, stop - 12) : stop]
        if _NO_BREAK_AFTER.search(head):
            continue
        end = match.start() + len(match.group().rstrip())
        spans.append((start, end))
        start = match.end()
    spans.append((start, len(text)))
    return [_trim(text, s, e) for s, e in spans if text[s:e].strip()]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def starts_mid(text: str) -> bool:
    """The stored excerpt begins inside a sentence ("heless, ...")."""
    head = text.lstrip()[:1]
    return bool(head) and (head.islower() or head in ",;:)")


def ends_mid(text: str) -> bool:
    """The stored excerpt stops inside a sentence (no closing stop, bracket or quote)."""
    tail = text.rstrip()[-1:]
    return bool(tail) and tail not in ".!?)]\"'\u201d"
