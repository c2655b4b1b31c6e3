"""The question, analysed once: made at the start of `ask` and passed down.

Content terms (BM25 token form, English function words removed) drive term overlap and the
echo signal; named terms (drugs, antigens, genes, diseases, toxicities) drive coverage; the
disease/population check reads the text. Retrieval normalizes the question itself
(index/normalize.py) because the index layer cannot depend on this one.
"""

from __future__ import annotations

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


def analyse(question: str) -> Query:
    text = question.strip()
    tokens = tuple(tokenize(text))
    return Query(text, tokens, frozenset(tokens) - QUESTION_STOPWORDS, tuple(named_terms(text)))
