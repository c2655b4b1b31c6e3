"""The question, analysed once: made at the start of `ask` and passed down.

Content terms (BM25 token form, English function words removed) drive term overlap and the
echo signal; named terms (drugs, antigens, genes, diseases, toxicities) drive coverage; the
disease/population check reads the text. Retrieval normalizes the question itself
(index/normalize.py) because the index layer cannot depend on this one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.engine.coverage import NamedTerm, named_terms
from index.lexical import tokenize


def _stop_stems() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = set(ENGLISH_STOP_WORDS) | {"does", "did", "doing", "can", "should", "would", "may"}
    return frozenset(t for word in words for t in tokenize(word))


QUESTION_STOPWORDS = _stop_stems()  # "what", "which", "does"... carry no evidence


@dataclass(frozen=True)
class Query:
    text: str  # stripped question as asked
    tokens: tuple[str, ...]  # BM25 tokens
    terms: frozenset[str]  # content terms: tokens without function words
    named: tuple[NamedTerm, ...]
    process: tuple[str, ...] = ()  # "How is CRS graded?": ("graded",) (`asked_process`)


# "How is/are/was/were X Ved …?" and "How can/should … X be Ved …?": the question asks about a
# process ("graded", "categorized", "inherited"), which an answer must speak of in some form.
_HOW_PASSIVE = re.compile(
    r"^\s*how\s+(?:is|are|was|were|(?:can|could|should|would|will|may|might|must)\s.*?\bbe)\s",
    re.I,
)
# Participles that say little about what the answer holds ("How is MRD used with…?").
GENERIC_PARTICIPLES = frozenset(
    "used related based linked connected involved compared associated called named".split()
)


def asked_process(question: str) -> tuple[str, ...]:
    """The participles a "How is X Ved?" question asks about (hyphenated adjectives such as
    "CD19-directed" and generic ones such as "used" left out)."""
    m = _HOW_PASSIVE.match(question)
    if not m:
        return ()
    words = [w.strip(".,;:!?()[]\"'") for w in question[m.end() :].split()]
    return tuple(
        w.lower()
        for w in words
        if w.isalpha() and len(w) >= 5 and w.lower().endswith("ed")
        and w.lower() not in GENERIC_PARTICIPLES
    )  # fmt: skip


def speaks_of(process: tuple[str, ...], texts: list[str]) -> bool:
    """Whether some text speaks of one of the asked processes in any form ("graded",
    "grade", "grading"; "categorized", "categories"): a BM25 token of the text starting with
    the participle's stem."""
    stems = [s for word in process for s in tokenize(word)]
    if not stems:
        return True
    return any(tok.startswith(stem) for text in texts for tok in tokenize(text) for stem in stems)


def analyse(question: str) -> Query:
    text = question.strip()
    tokens = tuple(tokenize(text))
    terms = frozenset(tokens) - QUESTION_STOPWORDS
    return Query(text, tokens, terms, tuple(named_terms(text)), asked_process(text))
