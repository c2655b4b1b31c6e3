"""Is a quote about the disease and population the question names?

A question about B-ALL answered from a lymphoma trial, or about children answered from an adult
cohort, is at best indirect evidence. Such quotes are demoted and labelled ("about DLBCL, not
B-ALL") so the clinician sees it, not hidden: they may still be the closest evidence there is.

A question that names no disease is about the product's domain (`AnswerSettings.domain`,
B-ALL): "What options exist after a CD19-negative relapse following CAR T-cell therapy?" asked
of bala is a B-ALL question, and a JULIET (DLBCL) sentence is indirect evidence for it - unless
it names a drug whose covering passages are all about other diseases (`implied_domain`).
What a passage is about is read from the passage itself (with its source's title); a passage
that names no disease falls back to its source's evidence labels (ingest/labels.py, derived
from MEDLINE indexing or the source's title and text) - many sources have no title.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Disease groups: (label, pattern). Case-sensitive where an acronym is ambiguous in lower case.
DISEASES: tuple[tuple[str, re.Pattern], ...] = (
    (
        "B-ALL",
        re.compile(r"\b(?:B-ALL|BCP-ALL|ALL|LBL)\b|(?i:lymphoblastic|precursor B-cell)"),
    ),
    (
        "DLBCL",
        re.compile(r"\b(?:DLBCL|LBCL|NHL|FL|MCL|PMBCL)\b|(?i:lymphoma)"),
    ),
    ("CLL", re.compile(r"\bCLL\b|(?i:chronic lymphocytic leuka?emia)")),
    ("myeloma", re.compile(r"\bMM\b|(?i:myeloma)")),
    ("AML", re.compile(r"\bAML\b|(?i:acute myeloid leuka?emia)")),
)
# ingest/labels.py disease labels -> the groups above (CML, MDS: no group, not compared).
LABEL_GROUPS = {
    "B-ALL": "B-ALL", "T-ALL": "B-ALL", "ALL": "B-ALL", "DLBCL": "DLBCL", "FL": "DLBCL",
    "MCL": "DLBCL", "HL": "DLBCL", "CLL": "CLL", "MM": "myeloma", "AML": "AML",
}  # fmt: skip
_LYMPHOMA_NAME = re.compile(r"(?i)diffuse large B-cell lymphoma|\bDLBCL\b")
_CHILDREN = re.compile(r"(?i)\b(?:child|children|childhood|pediatric|paediatric|infants?)\b")
_ADULTS = re.compile(r"(?i)\b(?:adults?|adult patients|older patients|elderly)\b")


def diseases_in(text: str) -> set[str]:
    """Disease groups a text names (B-ALL, DLBCL/lymphoma, CLL, myeloma, AML)."""
    return {label for label, pattern in DISEASES if pattern.search(text)}


def context_diseases(context: str, source_diseases=()) -> set[str]:
    """Disease groups of a passage (with its source's title), else of its source's labels."""
    return diseases_in(context) or {LABEL_GROUPS[d] for d in source_diseases if d in LABEL_GROUPS}


def asked_diseases(question: str, domain: str = "B-ALL") -> set[str]:
    """The disease groups a question is about: those it names, else the product's domain."""
    return diseases_in(question) or ({domain} if domain else set())


def _lymphoma_label(text: str, labels: Iterable[str]) -> str:
    named = _LYMPHOMA_NAME.search(text) or "DLBCL" in labels
    return "DLBCL" if named else "lymphoma"


def mismatch(question: str, context: str, source_diseases=(), domain: str = "B-ALL") -> str:
    """A short label when the context is about another disease or population, else "".

    `context`: the passage with its source's title; `source_diseases`: the source's evidence
    labels, used when the passage names no disease; `domain`: what a question naming no
    disease is about ("" = such a question is about no disease in particular).
    """
    asked = asked_diseases(question, domain)
    seen = context_diseases(context, source_diseases)
    if asked and seen and not asked & seen:
        other = sorted(seen)[0]
        other = _lymphoma_label(context, source_diseases) if other == "DLBCL" else other
        return f"about {other}, not {sorted(asked)[0]}"
    if _CHILDREN.search(question) and _ADULTS.search(context) and not _CHILDREN.search(context):
        return "about adults, not children"
    if _ADULTS.search(question) and _CHILDREN.search(context) and not _ADULTS.search(context):
        return "about children, not adults"
    return ""


def implied_domain(question: str, drug_named: bool, passage_diseases, domain: str) -> str:
    """What a question naming no disease is about: `domain`, unless it names a drug and the
    passages that cover it name diseases, none of them `domain` - then no disease in
    particular (""): "Which antigen does idecabtagene vicleucel target?" is answered from
    myeloma papers, and labelling them "about myeloma, not B-ALL" would mislead.
    `passage_diseases`: the disease groups of each covering passage (`context_diseases`)."""
    if not domain or diseases_in(question) or not drug_named:
        return domain
    seen = set().union(*passage_diseases)
    return "" if seen and domain not in seen else domain
