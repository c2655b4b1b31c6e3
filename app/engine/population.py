"""Is a quote about the disease and population the question names?

A question about B-ALL answered from a lymphoma trial, or about children answered from an adult
cohort, is at best indirect evidence. Such quotes are demoted and labelled ("about DLBCL, not
B-ALL") so the clinician sees it, not hidden: they may still be the closest evidence there is.
A source is judged by its passage read with its title.
"""

from __future__ import annotations

import re

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
_LYMPHOMA_NAME = re.compile(r"(?i)diffuse large B-cell lymphoma|\bDLBCL\b")
_CHILDREN = re.compile(r"(?i)\b(?:child|children|childhood|pediatric|paediatric|infants?)\b")
_ADULTS = re.compile(r"(?i)\b(?:adults?|adult patients|older patients|elderly)\b")


def diseases_in(text: str) -> set[str]:
    """Disease groups a text names (B-ALL, DLBCL/lymphoma, CLL, myeloma, AML)."""
    return {label for label, pattern in DISEASES if pattern.search(text)}


def _lymphoma_label(text: str) -> str:
    return "DLBCL" if _LYMPHOMA_NAME.search(text) else "lymphoma"


def mismatch(question: str, context: str) -> str:
    """A short label when the context is about another disease or population, else ""."""
    asked = diseases_in(question)
    seen = diseases_in(context)
    if asked and seen and not asked & seen:
        other = sorted(seen)[0]
        other = _lymphoma_label(context) if other == "DLBCL" else other
        return f"about {other}, not {sorted(asked)[0]}"
    if _CHILDREN.search(question) and _ADULTS.search(context) and not _CHILDREN.search(context):
        return "about adults, not children"
    if _ADULTS.search(question) and _CHILDREN.search(context) and not _ADULTS.search(context):
        return "about children, not adults"
    return ""
