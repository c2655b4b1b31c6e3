"""Query normalization: add clinical abbreviations / long forms the question did not spell out.

"blina after CAR T relapse" also searches for "blinatumomab" and "chimeric antigen receptor
T cell"; "cytokine release syndrome grading" also for "CRS". Expansions only ever add text:
the original question is kept verbatim in both the lexical (BM25) and the dense query, and the
lexical query weighs it at least as much as all expansions together (see `lexical_text`).
Pure functions over `index.vocabulary`; no IO.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from index.vocabulary import VOCABULARY, Entry

_WORD = re.compile(r"\w+")  # the word rule of index.lexical's tokenizer
_SEP = r"[\s\-]+"
_LOWER_RUN = re.compile(r"[a-z]{3}")
# bm25s's English stop words, which index.lexical drops; tests check it covers them all.
_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their "
    "then there these they this to was will with".split()
)


@dataclass(frozen=True)
class NormalizedQuery:
    """A question plus the vocabulary phrases it implies, rendered for each retriever."""

    original: str
    expansions: tuple[str, ...]  # added phrases, deduplicated, not already present in the query

    @property
    def original_repeats(self) -> int:
        """How many times `lexical_text` repeats the original so that expansions cannot drown it.

        BM25 sums one term score per query token, so a token's weight is its count. Let O be the
        original's content tokens (words that are not BM25 stop words, counted low) and E all
        word tokens of the expansions (stop words included, counted high). The original is
        repeated max(2, ceil(E / O)) times, so O x repeats >= E always holds. Without expansions
        it is used once; when it has no content token at all (e.g. "ALL", itself a stop word
        to BM25) there is nothing to drown and it is used once too.
        """
        if not self.expansions:
            return 1
        original = len(content_tokens(self.original))
        added = sum(len(_WORD.findall(e)) for e in self.expansions)
        if original == 0:
            return 1
        return max(2, math.ceil(added / original))

    @property
    def lexical_text(self) -> str:
        """For BM25: the original `original_repeats` times, then the expansions once each."""
        return " ".join([self.original] * self.original_repeats + list(self.expansions))

    @property
    def dense_text(self) -> str:
        """For the embedding model: the original, then a short parenthetical of expansions."""
        if not self.expansions:
            return self.original
        return f"{self.original} ({'; '.join(self.expansions)})"


def content_tokens(text: str) -> list[str]:
    """Lowercased word tokens that BM25 keeps (stop words dropped), before stemming."""
    return [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]


def case_sensitive(form: str) -> bool:
    """Acronyms and symbols ("ALL", "CR", "Ph+", "InO") match case-sensitively; words do not.

    A form with three lowercase letters in a row ("blinatumomab", "tisa-cel") is a word.
    """
    return _LOWER_RUN.search(form) is None


@dataclass(frozen=True)
class _Form:
    pattern: re.Pattern[str]
    entry: int  # index into the vocabulary
    side: str  # "short" or "long"
    spelling: bool


@dataclass(frozen=True)
class _Match:
    start: int
    end: int
    form: _Form


def _word_regex(word: str, spellings: dict[str, tuple[str, ...]]) -> str:
    variants = spellings.get(word.lower(), (word,))
    return "(?:" + "|".join(re.escape(v) for v in variants) + ")"


@lru_cache(maxsize=4096)
def _form_regex(form: str, spellings: tuple[tuple[str, tuple[str, ...]], ...]) -> re.Pattern:
    """Whole-token pattern: flexible space/hyphen, British spellings, optional plural "s"."""
    table = dict(spellings)
    words = re.split(_SEP, form.strip())
    body = _SEP.join(_word_regex(w, table) for w in words)
    if form[-1].isalnum():
        body += "(?:s)?(?!\\w)"
    if form[0].isalnum():
        body = "(?<!\\w)" + body
    flags = 0 if case_sensitive(form) else re.IGNORECASE
    return re.compile(body, flags)


def _spelling_table(vocabulary: tuple[Entry, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """American word -> (American, British...) from the vocabulary's spelling entries."""
    return tuple(
        (e.long[0].lower(), (e.long[0], *e.short)) for e in vocabulary if e.spelling and e.long
    )


@lru_cache(maxsize=16)
def _compile(vocabulary: tuple[Entry, ...]) -> tuple[_Form, ...]:
    spellings = _spelling_table(vocabulary)
    forms = []
    for index, entry in enumerate(vocabulary):
        for side, texts in (("short", entry.short), ("long", entry.long)):
            for text in texts:
                if text.strip():
                    pattern = _form_regex(text, () if entry.spelling else spellings)
                    forms.append(_Form(pattern, index, side, entry.spelling))
    return tuple(forms)


def _find_matches(q: str, forms: tuple[_Form, ...]) -> list[_Match]:
    """Every match, then the longest non-overlapping ones ("B-ALL" beats "ALL" inside it).

    Spelling matches are single words kept alongside concept matches, never competing.
    """
    found = [_Match(m.start(), m.end(), f) for f in forms for m in f.pattern.finditer(q)]
    found = [m for m in found if m.end > m.start]
    found.sort(key=lambda m: (m.start - m.end, m.start))
    kept: list[_Match] = []
    taken: list[tuple[int, int]] = []
    for m in found:
        if m.form.spelling:
            kept.append(m)
        elif all(m.end <= s or m.start >= e for s, e in taken):
            kept.append(m)
            taken.append((m.start, m.end))
    return sorted(kept, key=lambda m: (m.form.spelling, m.start))


def _candidates(matches: list[_Match], vocabulary: tuple[Entry, ...]) -> list[tuple[str, bool]]:
    """(phrase, is_spelling): the other side's first form for each entry found on one side only.

    In query order, spelling variants last (as `_find_matches` sorts them).
    """
    sides: dict[int, set[str]] = {}
    order: list[int] = []
    for m in matches:
        if m.form.entry not in sides:
            order.append(m.form.entry)
        sides.setdefault(m.form.entry, set()).add(m.form.side)
    out = []
    for index in order:
        entry, found = vocabulary[index], sides[index]
        if found == {"short"} and entry.long:
            out.append((entry.long[0], entry.spelling))
        elif found == {"long"} and entry.short:
            out.append((entry.short[0], entry.spelling))
    return out


def _contains(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    n = len(inner)
    return any(outer[i : i + n] == inner for i in range(len(outer) - n + 1))


def _dedupe(q: str, candidates: list[tuple[str, bool]], spellings) -> list[str]:
    """Drop phrases already in the query, repeated, or contained in another added phrase.

    "In the query" tolerates British spellings, except for a spelling variant itself.
    """
    tokens = [tuple(w.lower() for w in _WORD.findall(c)) for c, _ in candidates]
    kept = []
    for i, (text, spelling) in enumerate(candidates):
        if not tokens[i] or _form_regex(text, () if spelling else spellings).search(q):
            continue
        if tokens[i] in tokens[:i]:
            continue
        if any(
            tokens[j] != tokens[i] and _contains(tokens[j], tokens[i]) for j in range(len(tokens))
        ):
            continue
        kept.append(text)
    return kept


def normalize_query(
    q: str, vocabulary: tuple[Entry, ...] = VOCABULARY, max_expansions: int = 6
) -> NormalizedQuery:
    """Expand abbreviations to long forms and long forms to abbreviations, both ways.

    Matching is on whole tokens; acronyms are case-sensitive ("all patients" is not ALL),
    words and nicknames are not ("Tisa-cel"). Overlapping matches keep the longest ("B-ALL",
    not "ALL"). An entry found on both sides adds nothing. At most `max_expansions` phrases
    are added, concepts in query order first, then British/American spelling variants.
    """
    vocabulary = tuple(vocabulary)
    matches = _find_matches(q, _compile(vocabulary))
    spellings = _spelling_table(vocabulary)
    added = _dedupe(q, _candidates(matches, vocabulary), spellings)
    return NormalizedQuery(original=q, expansions=tuple(added[: max(0, max_expansions)]))


def concepts_in(text: str, vocabulary: tuple[Entry, ...] = VOCABULARY) -> list[int]:
    """Indexes of the vocabulary concepts (not spelling pairs) that `text` names, in order."""
    found = _find_matches(text, _compile(vocabulary))
    return list(dict.fromkeys(m.form.entry for m in found if not m.form.spelling))


def mentions_concept(text: str, entry: int, vocabulary: tuple[Entry, ...] = VOCABULARY) -> bool:
    """Whether `text` names vocabulary concept `entry` by any of its forms."""
    return any(f.entry == entry and f.pattern.search(text) for f in _compile(vocabulary))
