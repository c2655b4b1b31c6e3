"""The question, analysed once: made at the start of `ask` and passed down.

Content terms (BM25 token form, English function words removed) drive term overlap and the
echo signal; named terms (drugs, antigens, genes, diseases, toxicities) drive coverage; the
disease/population check reads the text. Retrieval normalizes the question itself
(index/normalize.py) because the index layer cannot depend on this one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.engine.coverage import NamedTerm, missing_terms, named_terms
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
    defined: str = ""  # "What are humanized CAR constructs?": the term (`asked_term`)


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


# "How often…?", "How many…?", "How long…?", "What proportion…?", "What is the complete
# remission rate…?" (up to three words before the noun; "rate-limiting" is no rate): the
# question asks for a figure, which a quotable answer must give (`speaks_of`); its process is
# the asking phrase ("how often"). Not when it asks for more ("What remission rates and
# durability…?").
_ASKS_FIGURE = re.compile(
    r"^\s*(how\s+(?:often|many|much|long|frequent(?:ly)?|common(?:ly)?|likely)"
    r"|what\s+(?:(?:is|are|was|were)\s+the\s+)?(?:(?!of\b)[a-z][\w-]*\s+){0,3}?"
    r"(?:proportion|percentage|fraction|share|rates?|number|incidence|prevalence|frequency"
    r"|doses?|dosage|dosing))"
    r"(?![\w-])(?!\s+and\b)",
    re.I,
)
# A figure: a number that is not part of a name or a label (CD19, phase 1-2a, "phase 2", "grade
# 3"), a year or a date (2017, "August 30, 2017") or an age ("up to 25 years of age", "aged
# 18"), a percent sign, or a word of number or frequency.
_FIGURE = re.compile(
    r"(?<!phase )(?<!grade )(?<!stage )(?<!type )(?<!aged )(?<![\w.-])(?!(?:19|20)\d\d\b)"
    r"\d+(?:[.,]\d+)?(?![\w-])(?!\s*(?:years?|yrs?)(?:\s+of\s+age|\s+old|-old))"
    r"(?!,?\s+(?:(?:19|20)\d\d\b"
    r"|(?-i:(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s)))|%"
    r"|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|hundred|thousand"
    r"|million|dozen|twice|half|third|quarter|majority|most|few|several|rare|rarely|uncommon"
    r"|common|commonly|frequent|frequently|often|occasional|occasionally|percent)\b",
    re.I,
)


# "How long…?" is answered by a number too, or by a word of duration.
_DURATION = re.compile(
    r"\b(?:long-term|long-lasting|durable|persistent|persisted|transient|prolonged|lifelong"
    r"|permanent|brief|days|weeks|months|years)\b",
    re.I,
)


# "What is the dose…?" is answered by an amount: a number with a unit of dose.
_DOSE = re.compile(
    r"\d\s*(?:mg|µg|μg|mcg|g|ng|IU|U|units?|mL|cells)\b|/\s*(?:m2|m²|kg)\b|per\s+(?:kg|m2|m²)\b",
    re.I,
)


def asks_figure(process: tuple[str, ...]) -> bool:
    return bool(process) and _ASKS_FIGURE.match(process[0]) is not None


def asked_process(question: str) -> tuple[str, ...]:
    """The participles a "How is X Ved?" question asks about (hyphenated adjectives such as
    "CD19-directed" and generic ones such as "used" left out), or the phrase of a question
    that asks for a figure ("how often")."""
    figure = _ASKS_FIGURE.match(question)
    if figure:
        return (" ".join(figure.group(1).lower().split()),)
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


def speaks_of(process: tuple[str, ...], texts: list[str], quotable: list[str] = ()) -> bool:
    """Whether some text speaks of one of the asked processes in any form ("graded",
    "grade", "grading"; "categorized", "categories"): a BM25 token of the text starting with
    the participle's stem. For a question asking for a figure: whether a `quotable` text
    (one the answer would show) gives one - a figure elsewhere among the candidates is most
    often about something else."""
    if asks_figure(process):
        if re.search(r"\bdos(?:e|es|age|ing)$", process[0]):
            return any(_DOSE.search(t) for t in quotable)
        duration = process[0] == "how long"
        return any(_FIGURE.search(t) or (duration and _DURATION.search(t)) for t in quotable)
    stems = [s for word in process for s in tokenize(word)]
    if not stems:
        return True
    said = quotable or texts
    return any(tok.startswith(stem) for text in said for tok in tokenize(text) for stem in stems)


# "What is X?" / "What are X?" asked whole: a definition question, whose answer names X. Not
# "What is the role of…", nor "What is X used for?" (X then holds a verb or a preposition),
# nor "What is gilteritinib's target profile?".
_WHAT_IS = re.compile(
    r"^\s*(?:what|who)\s+(?:is|are)\s+(?!(?:the|a|an)\b)(.{2,60}?)\s*\?\s*$", re.I
)
_NOT_IN_TERM = frozenset(
    "of for in by with to on from at as than used caused associated made related affected known"
    " involved called".split()
)
_POSSESSIVE = re.compile(r"\w['’]s?\b")


def asked_term(question: str) -> str:
    """The term a definition question asks about (at most five words), else ""."""
    m = _WHAT_IS.match(question)
    if m is None:
        return ""
    words = m.group(1).split()
    if len(words) > 5 or {w.lower() for w in words} & _NOT_IN_TERM or _POSSESSIVE.search(m[1]):
        return ""  # "What is gilteritinib's target profile?" asks about the profile
    return m.group(1)


def names_term(term: str, text: str) -> bool:
    """Whether the text names the term: its named terms in any form (coverage), and each of
    its other words by stem ("constructs" in "construct")."""
    if missing_terms(term, [text]):
        return False
    covered = {t for n in named_terms(term) for t in tokenize(n.label)}
    words = [t for t in tokenize(term) if t not in covered and t not in QUESTION_STOPWORDS]
    present = set(tokenize(text))
    return all(w in present for w in words)


def analyse(question: str) -> Query:
    text = question.strip()
    tokens = tuple(tokenize(text))
    terms = frozenset(tokens) - QUESTION_STOPWORDS
    named = tuple(named_terms(text))
    return Query(text, tokens, terms, named, asked_process(text), asked_term(text))
