"""Patient privacy and honest inputs: mask identifiers, limit length, check the language.

Pure functions only. `mask_identifiers` runs on every question and comment before anything is
stored or logged; `question_problem` says, in words a clinician reads, why a question is not
answered (too long, not English) instead of letting the engine abstain silently.
"""

from __future__ import annotations

import re

MAX_QUESTION_CHARS = 600
MASK = {
    "id": "[ID]",
    "date": "[DATE]",
    "name": "[NAME]",
    "email": "[EMAIL]",
    "phone": "[PHONE]",
}

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATES = (
    r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b",  # 2015-03-02
    r"\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b",  # 02/03/2015, 3.2.15
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}\s*,?\s*\d{{2,4}}\b",  # 2 March 2015
    rf"\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?\s*,?\s*\d{{2,4}}\b",  # March 2, 2015
)
_DATE = re.compile("|".join(_DATES), re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?<!\w)(?:\+?\d{1,3}[ .-])?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b")
# A labelled record number ("MRN 1234", "MRN: A-12345", "medical record number 99")...
_LABELLED_ID = re.compile(
    r"\b(MRN|medical record(?: number| no\.?)?|record no\.?|hospital (?:number|no\.?)"
    r"|NHS(?: number| no\.?)?|patient id|ID)(\s*[:#]?\s*)([A-Z]{0,3}-?\d[\d-]{2,})",
    re.IGNORECASE,
)
# ...and any other long digit run, unless it is a literature identifier (PMID, PMC, doi).
_LONG_NUMBER = re.compile(r"(?<![\w./])(?<!PMID )(?<!PMID: )(?<!PMID:)(?<!PMC)[A-Z]{0,2}\d{6,}\b")
_NAME_WORD = r"(?:[A-Z][a-z]+(?:[-'\u2019][A-Z]?[a-z]+)?|[A-Z]\.)"
_NAME = rf"{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}}"
_NAMED = re.compile(
    rf"\b((?i:patient|pt\.?|mr\.?|mrs\.?|ms\.?|miss)(?:\s*[:,]\s*|\s+)(?:(?i:named|called)\s+)?)"
    rf"({_NAME})"
)
# "Jane Doe, MRN ..." / "Jane Doe (DOB ...)": a name right before a record label.
_NAME_BEFORE_LABEL = re.compile(rf"\b({_NAME})(?=\s*[,(;]?\s*(?i:MRN|DOB|date of birth|born)\b)")
# Words that follow "patient" in ordinary clinical English and are never names.
_NOT_NAMES = frozenset(
    "A An The With Who Whose Has Had Is Was In On At After Before And Or But If When "
    "Relapsed Refractory Treated Receiving Received Cohort Group".split()
)


def _mask_name(match: re.Match, group: int) -> str:
    words = match.group(group).split()
    # Case-insensitive keywords can match at a sentence start; a name never starts with
    # one of these ordinary words, so leave the text alone then.
    if words[0] in _NOT_NAMES:
        return match.group(0)
    return match.group(0).replace(match.group(group), MASK["name"])


def mask_identifiers(text: str) -> str:
    """`text` with MRN-like numbers, dates, e-mail addresses, phone numbers and names after
    "patient"/"Pt"/"Mr"/"Mrs"/"Ms" (or right before "MRN"/"DOB") replaced by placeholders.

    Deliberately over-masks: any full date and any run of six or more digits goes, except
    PMIDs and PMC ids written as such; years alone ("2015") and drug doses stay.
    """
    if not text:
        return text
    out = _EMAIL.sub(MASK["email"], text)
    out = _LABELLED_ID.sub(lambda m: m.group(1) + m.group(2) + MASK["id"], out)
    out = _DATE.sub(MASK["date"], out)
    out = _PHONE.sub(MASK["phone"], out)
    out = _LONG_NUMBER.sub(MASK["id"], out)
    out = _NAMED.sub(lambda m: _mask_name(m, 2), out)
    return _NAME_BEFORE_LABEL.sub(lambda m: _mask_name(m, 1), out)


# --- language ------------------------------------------------------------------------------

_STOPWORDS = {
    "English": "the of and to is are was were what which who how does do did for with after "
    "before from than that this these those be been should would could can there their "
    "when why or not any it its by on at into".split(),
    "German": "der das und ist sind wie was welche nach bei mit nicht ein eine einer oder "
    "auch für von zu dem den des sich werden wird kann nach über zur zum".split(),
    "Spanish": "el los las del que es son cómo como qué cuál cuáles después para por con "
    "una uno pero sus entre puede tras sobre según pacientes".split(),
    "French": "le les des est sont comment quel quelle quels après pour avec une dans pas "
    "sur du au aux peut chez selon patients".split(),
    "Italian": "il gli della delle che sono è dopo per con una nel nella quale quali dei "
    "può tra sulla pazienti".split(),
    "Portuguese": "os da das do dos que são é após para com uma em não pelo pela qual quais "
    "pode entre pacientes".split(),
    "Dutch": "het een van en is zijn wat hoe na bij met niet voor welke kan worden patiënten".split(),
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _stopword_hits(tokens: list[str]) -> dict[str, int]:
    lists = {lang: set(words) for lang, words in _STOPWORDS.items()}
    return {lang: sum(t in words for t in tokens) for lang, words in lists.items()}


def guess_language(text: str) -> str | None:
    """'English', another language's name, or None when there is too little to tell.

    Counts function words (stopwords) of English and six European languages; medical terms
    are shared and ignored. Another language wins only with at least two of its function
    words and more of them than English has.
    """
    tokens = [t.lower() for t in _WORD.findall(text)]
    hits = _stopword_hits(tokens)
    english = hits.pop("English")
    best, best_hits = max(hits.items(), key=lambda kv: kv[1])
    if best_hits >= 2 and best_hits > english:
        return best
    return "English" if english else None


def question_problem(question: str, max_chars: int = MAX_QUESTION_CHARS) -> str | None:
    """Why this question is not sent to the engine, as a message for the reader; or None."""
    if len(question) > max_chars:
        return (
            f"This question has {len(question):,} characters; bala answers questions of up "
            f"to {max_chars:,}. Please ask one shorter, focused question (no case summary)."
        )
    language = guess_language(question)
    if language not in (None, "English"):
        return (
            f"This question looks like {language}. bala answers questions in English only "
            "(its search model and vocabulary are English); please ask it in English."
        )
    return None
