"""Lines that are never evidence: author/affiliation lines, citation lines, reference entries.

PDF text brings the title block, the authors with their affiliations, "Blood. 2025;145(1):64-74.
doi:…" lines and the reference list along with the prose; none of them answers a question.
"""

from __future__ import annotations

import re

_CITATION = re.compile(
    r"\b(?:19|20)\d\d\s*;\s*\d+\s*(?:\(\s*[\w-]+\s*\))?\s*:\s*[A-Za-z]?\d+|"
    r"\bPMID\s*:?\s*\d|\bCopyright\b|©|\bAll rights reserved\b",
    re.IGNORECASE,
)
_LINK = re.compile(r"doi\s*:|https?://|\bwww\.", re.IGNORECASE)  # a line that is mostly a link
_REFERENCE = re.compile(r"^\s*(?:\[\d+\]|\d{1,3}\.)\s+[A-Z][A-Za-z'\-]+\s+[A-Z]{1,3}\b[,.]")
_AUTHOR = re.compile(r"\b[A-Z][a-z'\-]+\s+(?:[A-Z]\.?\s?){1,3}(?:,|\band\b|\d)")
_AFFILIATION = re.compile(
    r"\b(?:Department|Division|University|Hospital|Institute|Center|Centre|School of|"
    r"Correspondence|e-mail|Email)\b"
)
_AUTHOR_NAMES = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z]\.)*\s+[A-Z][a-z'\-]+\d*(?:,|\s+and\b|\s*$)")


def is_non_evidence(text: str) -> bool:
    """Author, affiliation, citation or reference-list lines (not prose that answers)."""
    if _REFERENCE.match(text) or _CITATION.search(text):
        return True
    if _LINK.search(text) and len(text.split()) <= 12:
        return True
    authors = len(_AUTHOR.findall(text)) + len(_AUTHOR_NAMES.findall(text))
    words = len(text.split())
    verbs = re.search(r"\b(?:is|are|was|were|has|have|had|be|been|can|may|showed?|found)\b", text)
    if authors >= 3 and not verbs or (authors >= 2 and words < 16 and not verbs):
        return True
    return bool(_AFFILIATION.search(text) and not verbs and words < 60)
