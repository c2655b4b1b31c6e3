"""In-text citation marks in a work's stored text, each tied to its sentence (pure functions).

Two printed styles:
- brackets: "humans [4–7].", "[3,12]" — unambiguous;
- superscripts, which PDF text extraction returns glued to what precedes them:
  "infection process2,3,4,5 and", "relapse.12,13 Next", "LipY (Rv3097c)16,17".
  A superscript glued to a token that holds digits of its own ("T49," = T4 + 9,
  "mc2603027" = mc26030 + 27, "CD19." = no citation) is split where the document itself
  shows the token standing alone ("T4" printed elsewhere), or, failing that, where the split
  gives the next reference number in order of first citation (AMA/Vancouver numbering).
Ranges ("4–7", "1-3", "4,7-9") are expanded. Every number must lie in 1..n_references.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.types import Citation

_LIST = r"\d{1,3}(?:\s?[,–-]\s?\d{1,3})*"
_BRACKET = re.compile(rf"\[({_LIST})\]")
# a digit run with its list, not inside a longer alphanumeric run on its right
_GLUED = re.compile(r"(\d+)((?:[,–-]\d{1,3})*)(?![A-Za-z0-9%°])(?![.,]\d)(?![–-][A-Za-z])")
# words after which a number is a quantity, not a citation ("day28" is rare, but costly)
_UNIT_WORDS = frozenset(
    "day days week weeks month months year years exon exons intron chromosome grade stage "
    "phase cycle cycles dose doses arm cohort type class group lane figure fig table version "
    "codon patient patients".split()
)
_TOKEN_LEFT = re.compile(r"(?:[^\W_]+-)?[^\W_]*$")
MAX_RANGE = 60


@dataclass(frozen=True)
class Mark:
    """A printed citation mark at [start, end) of the text citing `numbers`."""

    start: int
    end: int
    numbers: tuple[int, ...]


def expand(printed: str, n_refs: int) -> tuple[int, ...] | None:
    """Numbers of a printed list ("4,7-9" -> 4, 7, 8, 9); None when any number or range is
    impossible (0, above n_refs, reversed or too long a range, a leading zero)."""
    out: list[int] = []
    for part in re.split(r"\s?,\s?", printed):
        bounds = re.split(r"\s?[–-]\s?", part)
        if any(not b or (len(b) > 1 and b[0] == "0") for b in bounds) or len(bounds) > 2:
            return None
        lo, hi = int(bounds[0]), int(bounds[-1])
        if not 1 <= lo <= hi <= n_refs or hi - lo > MAX_RANGE:
            return None
        out.extend(range(lo, hi + 1))
    return tuple(out)


def bracket_marks(text: str, n_refs: int, end: int) -> list[Mark]:
    out = []
    for match in _BRACKET.finditer(text, 0, end):
        numbers = expand(match.group(1), n_refs)
        if numbers:
            out.append(Mark(match.start(), match.end(), numbers))
    return out


def token_index(text: str) -> dict[str, list[int]]:
    """Start positions of every whole token ("T4", "CD19") and hyphenated pair ("PBDE-99")."""
    index: dict[str, list[int]] = {}
    previous = None
    for match in re.finditer(r"[^\W_]+", text):
        index.setdefault(match.group(), []).append(match.start())
        if (
            previous is not None
            and previous.end() + 1 == match.start()
            and text[previous.end()] == "-"
        ):
            index.setdefault(f"{previous.group()}-{match.group()}", []).append(previous.start())
        previous = match
    return index


def _standalone(text: str, token: str, tokens: dict[str, list[int]], here: int) -> bool:
    """Whether `token` is printed as a whole token somewhere other than at `here`."""
    return any(p != here for p in tokens.get(token, ()))


@dataclass
class _State:
    """What has been cited so far, for order-of-first-citation checks."""

    seen: set[int]
    top: int = 0

    def fits_order(self, numbers: tuple[int, ...]) -> bool:
        """Each number is a repeat or the next new one (AMA numbering)."""
        top = self.top
        for n in numbers:
            if n > top + 1:
                return False
            top = max(top, n)
        return True

    def is_next(self, numbers: tuple[int, ...]) -> bool:
        return numbers[0] == self.top + 1 and self.fits_order(numbers)

    def add(self, numbers: tuple[int, ...]) -> None:
        self.seen.update(numbers)
        self.top = max(self.top, *numbers)


def _is_word(stem: str) -> bool:
    """A lower-case or capitalized word ("process", "Europe"), not a symbol ("pNPC", "TH")."""
    return (
        len(stem) >= 2
        and stem.isalpha()
        and (stem.islower() or stem[1:].islower())
        and stem.lower() not in _UNIT_WORDS
    )


def _glued_split(stem, digits, rest, text, n_refs, state, cache, here):  # noqa: PLR0913
    """How many leading digits belong to the token (the citation is the remainder), or None
    for no citation. `stem` = the letters/digits before the digit run."""
    options = []
    for k in range(len(digits)):
        numbers = expand(digits[k:] + rest, n_refs)
        if numbers:
            options.append((k, numbers))
    if not options:
        return None
    if _is_word(stem) and options[0][0] == 0:
        if stem.islower() or not _standalone(text, stem + digits, cache, here):
            return options[0]  # "process2,3,4,5": a word, then the mark ("Cut6": a name)
    if stem and _standalone(text, stem + digits, cache, here) and not rest:
        return None  # "CD19." where CD19 is printed alone elsewhere
    for k, numbers in reversed(options):  # longest token first: "T4" + "9"
        token = stem + digits[:k]
        if len(token) >= (3 if not stem else 2) and _standalone(text, token, cache, here):
            if state.fits_order(numbers):
                return k, numbers
    if not stem:
        return None  # "in 2010": only with the token printed alone elsewhere
    if stem.endswith("-") and not re.match(r"[.,;:)\]]", text[here + len(stem) + len(digits) :]):
        return None  # "DE-79 at": a name mid-clause; "PBDE-9910." a name, then a mark
    nexts = [(k, ns) for k, ns in options if state.is_next(ns)]
    return nexts[0] if nexts else None


def superscript_marks(text: str, n_refs: int, end: int, taken: list[Mark]) -> list[Mark]:
    """Marks glued to the preceding word, closing bracket or sentence end."""
    blocked = [(m.start, m.end) for m in taken]
    state, cache, out = _State(set()), token_index(text), []
    for match in _GLUED.finditer(text, 0, end):
        s = match.start()
        if any(a <= s < b for a, b in blocked) or s == 0:
            continue
        before = text[s - 1]
        digits, rest = match.group(1), match.group(2)
        if before in ")]" or (before in ".,;" and s >= 2 and text[s - 2].isalpha()):
            numbers = expand(digits + rest, n_refs)  # "(Rv3097c)16,17", "relapse.12,13"
            if not numbers:
                continue
            mark_start = s
        elif before.isalnum() or before.isspace() or (before == "-" and text[s - 2].isalnum()):
            stem = (
                _TOKEN_LEFT.search(text, max(0, s - 80), s).group() if not before.isspace() else ""
            )
            split = _glued_split(stem, digits, rest, text, n_refs, state, cache, s - len(stem))
            if split is None:
                continue
            mark_start, numbers = s + split[0], split[1]
        else:
            continue
        out.append(Mark(mark_start, match.end(), numbers))
        state.add(numbers)
    return out


_CAP = r"(?=[A-Z0-9(\[\"'“\u00C0-\u024F])"
_BOUNDARY = re.compile(
    rf"[.!?][\"')\]”]*\s+{_CAP}"  # "needed1. It"
    rf"|(?<!\d)[.!?][\"')\]”]*\d{{1,3}}(?:[,–-]\d{{1,3}})*\s+{_CAP}"  # "relapse.12,13 Next"
    r"|(?<!\s)[ \t]*\n\s*(?![a-z\s])"  # a line break ends a paragraph (not a page join)
)
_NO_BREAK = re.compile(
    r"(?:\b(?:e\.g|i\.e|et al|vs|approx|Fig|Figs|Ref|No|no|Dr|St|ca|cf|resp|Eq|Vol|pp|sp|spp)"
    r"|\b[A-Z])\.$"
)


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences of text[start:end], whitespace trimmed. A superscript mark after the full
    stop ("relapse.12,13 Next") stays with its sentence; a line break ends a sentence (a
    paragraph or heading), except a page join followed by lower case."""
    spans, cursor = [], start
    for match in _BOUNDARY.finditer(text, start, end):
        dot = match.start() + 1
        if text[match.start()] in ".!?" and _NO_BREAK.search(text[max(0, dot - 8) : dot]):
            continue
        stop = match.start() + len(match.group().rstrip())
        if stop > cursor:
            spans.append((cursor, stop))
        cursor = match.end()
    spans.append((cursor, end))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            out.append((s, e))
    return out


def find_citations(text: str, n_refs: int, body_end: int) -> tuple[Citation, ...]:
    """One Citation per printed mark, in text order: the sentence that carries it, the
    numbers it cites and where the mark itself sits."""
    if n_refs <= 0:
        return ()
    marks = bracket_marks(text, n_refs, body_end)
    if len(marks) < 3:  # a superscript document (a few bracketed numbers may be other things)
        marks = superscript_marks(text, n_refs, body_end, marks)
    marks.sort(key=lambda m: m.start)
    out, i = [], 0
    for s, e in sentence_spans(text, 0, body_end):
        while i < len(marks) and marks[i].start < e:
            mark = marks[i]
            if mark.start >= s:
                out.append(Citation(s, e, mark.numbers, mark.start, mark.end))
            i += 1
    return tuple(out)


def strip_marks(text: str, start: int, end: int, marks: list[tuple[int, int]]) -> str:
    """text[start:end] without the marks inside it (for display; quotes stay exact slices)."""
    parts, cursor = [], start
    for a, b in sorted(marks):
        if a < cursor or b > end:
            continue
        a2 = a - 1 if a > cursor and text[a - 1] == " " and text[a] == "[" else a
        parts.append(text[cursor:a2])
        cursor = b
    parts.append(text[cursor:end])
    return "".join(parts)
