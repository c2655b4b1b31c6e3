"""Does the retrieved evidence mention what the question names?

A question that names a drug, antigen, gene or syndrome (inotuzumab, CD22, KMT2A, ICANS) can
only be answered by evidence that mentions it. When none of the retrieved passages does, bala
abstains instead of quoting something tangential, and says which terms were missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.normalize import concepts_in, mentions_concept
from app.vocabulary import VOCABULARY
from index.lexical import tokenize

# Codes with letters and digits (CD22, KMT2A, IL-6, TP53, BCR-ABL1), and acronyms of 3+ capitals.
_CODE = re.compile(r"(?<![\w-])(?=[A-Za-z-]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_ACRONYM = re.compile(r"(?<!\w)[A-Z]{3,}s?(?!\w)")


@dataclass(frozen=True)
class NamedTerm:
    label: str  # as written in the question
    entry: int | None  # vocabulary concept, or None for a code matched literally


def named_terms(question: str) -> list[NamedTerm]:
    """Concepts of the clinical vocabulary and literal codes/acronyms the question names."""
    terms = []
    covered_spans: list[tuple[int, int]] = []
    for entry in concepts_in(question):
        forms = VOCABULARY[entry].short + VOCABULARY[entry].long
        written = [f for f in forms if f.lower() in question.lower()]
        label = max(written, key=len) if written else forms[0]
        terms.append(NamedTerm(label, entry))
        for form in forms:
            for m in re.finditer(re.escape(form), question, re.IGNORECASE):
                covered_spans.append(m.span())
    for pattern in (_CODE, _ACRONYM):
        for m in pattern.finditer(question):
            overlaps = any(m.start() < e and s < m.end() for s, e in covered_spans)
            label = (
                m.group()[:-1]
                if m.group().endswith("s") and m.group()[:-1].isupper()
                else m.group()
            )
            if not overlaps and label not in {t.label for t in terms}:
                terms.append(NamedTerm(label, None))
                covered_spans.append(m.span())
    return terms


def _mentioned(term: NamedTerm, evidence: str, evidence_tokens: set[str]) -> bool:
    """By any form of the concept, or every word of a multi-word long form.

    The word rule catches interrupted phrases: "chimeric antigen receptor (CAR) T cells"
    mentions CAR T cells although no form matches it as written.
    """
    if term.entry is not None:
        if mentions_concept(evidence, term.entry):
            return True
        long_forms = [tokenize(f) for f in VOCABULARY[term.entry].long]
        return any(len(t) > 1 and set(t) <= evidence_tokens for t in long_forms)
    pattern = r"(?<![\w])" + re.escape(term.label) + r"(?![\w])"
    return re.search(pattern, evidence, re.IGNORECASE) is not None


def missing_terms(question: str, evidence_texts: list[str]) -> list[str]:
    """Named terms of the question that no evidence passage mentions."""
    evidence = "\n".join(evidence_texts)
    tokens = set(tokenize(evidence))
    return [t.label for t in named_terms(question) if not _mentioned(t, evidence, tokens)]
