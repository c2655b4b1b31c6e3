"""Does the retrieved evidence mention what the question names?

A question that names a drug, antigen, gene or syndrome (inotuzumab, CD22, KMT2A, ICANS) can
only be answered by evidence that mentions it. When none of the retrieved passages does, bala
abstains instead of quoting something tangential, and says which terms were missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from index.lexical import tokenize
from index.normalize import concepts_in, mentions_concept
from index.vocabulary import VOCABULARY

# Tokens such as CD22, KMT2A, IL-6, BCR-ABL1, COVID-19: hyphen-joined parts that are digits or
# capitals, with at least one digit ("CD19-targeted" names CD19).
_TOKEN = re.compile(r"(?<![\w-])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_CODE_PART = re.compile(r"[A-Z0-9]*\d[A-Za-z0-9]*|[A-Z]+")
# Drug names by their nonproprietary stems (-mab, -nib, -cel, -abine, -ase, ...).
_DRUG = re.compile(
    r"(?i)^[a-z]{3,}(?:mab|nib|cel|leucel|abine|itabine|aspargase|platin|rubicin|mycin|"
    r"poside|taxel|tinib|rafenib|parib|lisib|clax|mide|zomib|citinib|tecan|trexate|staurin|"
    r"sertib|ciclib|degib|inostat|grastim|olimus|mustine|ersen|siran|kinra|conazole)$"
)


# A formula: inline TeX with a math sign ($x^2$, \(x^2\); not "$5 and $10"), or a one-letter
# variable with a caret exponent (x^2; not 10^9/L, which is how counts are written).
_FORMULA = re.compile(
    r"\$(?=[^$\n]*[\^_\\=+<>])[^$\n]{1,40}\$|\$[A-Za-z]\$"
    r"|\\\(.{1,40}?\\\)"
    r"|(?<![\w^])[A-Za-z]\^[{(]?[A-Za-z0-9+-]+[})]?"
)


# An eponym or place name with its disease noun, inside the question: "Down syndrome",
# "Li-Fraumeni syndrome", "Hodgkin's lymphoma". The capital must not start the question, and
# the noun is lower case (a Title-Cased "Acute Lymphoblastic Leukemia" is no eponym). Each word
# alone is common ("down"), so only the pair names the condition.
_EPONYM_NOUNS = (
    "syndrome|disease|lymphoma|leuka?emia|anaemia|anemia|sarcoma|tumou?r|palsy|ataxia"
    "|dystrophy|encephalopathy|thyroiditis|phenomenon|sign|hump"
)
_EPONYM = re.compile(
    rf"(?<=[\s(,;/])([A-Z][a-z]+(?:-[A-Z][a-z]+)*)(?:['\u2019]s)?\s+({_EPONYM_NOUNS})\b"
)


# A capitalized adjective is no name ("Myelodysplastic syndrome", "Autoimmune disease").
_ADJECTIVE = re.compile(r"(?:ic|al|ous|ive|ary|ory|oid|une)$")


def eponyms(question: str) -> list[tuple[str, tuple[int, int]]]:
    """Eponymous conditions named in the question ("Down syndrome"), possessive dropped."""
    return [
        (f"{m.group(1)} {m.group(2)}", m.span())
        for m in _EPONYM.finditer(question)
        if not _ADJECTIVE.search(m.group(1))
    ]


def is_eponym(label: str) -> bool:
    return _EPONYM.fullmatch(" " + label, 1) is not None


def _eponym_forms(label: str) -> list[str]:
    """What the whole library is searched for: "Down syndrome", "Down-syndrome", "Down's
    syndrome", and the name with its possessive ("Alzheimer's"); the name alone is not searched
    for, as the case-folded search finds "down" everywhere."""
    name, noun = label.rsplit(" ", 1)
    possessive = [f"{name}'s {noun}", f"{name}\u2019s {noun}", f"{name}'s", f"{name}\u2019s"]
    return [label, f"{name}-{noun}", *possessive]


def _eponym_mentioned(label: str, evidence: str) -> bool:
    """The pair in any case, with or without the possessive or a hyphen ("Down's syndrome",
    "Achard-Thiers-Syndrome"), or the name alone as a name: capitalized, not part of a longer
    word ("Alzheimer's", not "Downregulation" or "Down-regulated"); a text about Alzheimer's
    disease may call it AD after naming it once. A name of 6 letters or more also matches a
    capitalized word one slip away ("Freidreich" asked, "Friedreich" written)."""
    name, noun = label.rsplit(" ", 1)
    pair = re.escape(name) + r"(?:['\u2019]s)?[\s-]+" + re.escape(noun) + "s?"
    if re.search(r"(?<!\w)" + pair + r"(?!\w)", evidence, re.IGNORECASE):
        return True
    if re.search(rf"(?<![\w-]){re.escape(name)}(?:['\u2019]s)?(?![\w-])", evidence):
        return True
    if len(name) < 6:  # "Down" has too many near neighbours to allow a slip
        return False
    return any(_one_edit(name, w) for w in set(_CAPITALIZED.findall(evidence)))


# Capitalized words of a text, for a name the question may misspell ("Freidreich's ataxia").
_CAPITALIZED = re.compile(r"(?<![\w-])[A-Z][a-z]+(?:-[A-Z][a-z]+)*(?![\w-])")


def _one_edit(a: str, b: str) -> bool:
    """a and b differ by at most one substitution, insertion, deletion or swap of neighbours."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return a == b
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
        swap = len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
        return len(diff) == 1 or (swap and a[diff[1]] == b[diff[0]])
    short, long_ = sorted((a, b), key=len)
    i = next((k for k, (x, y) in enumerate(zip(short, long_)) if x != y), len(short))
    return short[i:] == long_[i + 1 :]


def is_formula(label: str) -> bool:
    """The whole label is a formula (looked up as written: it has no words to index)."""
    return _FORMULA.fullmatch(label) is not None


def _codes(question: str) -> list[tuple[str, tuple[int, int]]]:
    """Alphanumeric codes and drug names written in the question, with their spans."""
    found = []
    for m in _TOKEN.finditer(question):
        parts, kept = m.group().split("-"), []
        for part in parts:
            if not _CODE_PART.fullmatch(part):
                break
            kept.append(part)
        code = "-".join(kept)
        if code and _is_code(code):
            found.append((code, (m.start(), m.start() + len(code))))
        elif _DRUG.match(m.group()):
            found.append((m.group(), m.span()))
    return found


def _is_code(label: str) -> bool:
    """An alphanumeric code (CD22, IL-6, BCR-ABL1): letters and digits in one word."""
    return " " not in label and any(c.isdigit() for c in label) and any(c.isalpha() for c in label)


def is_drug_name(label: str) -> bool:
    """A word of the label has a nonproprietary drug stem (glofitamab, idecabtagene vicleucel)."""
    return any(_DRUG.match(word) for word in label.split())


@dataclass(frozen=True)
class NamedTerm:
    label: str  # as written in the question
    entry: int | None  # vocabulary concept, or None for a code matched literally


def named_terms(question: str) -> list[NamedTerm]:
    """Concepts of the clinical vocabulary, alphanumeric codes, drug names and formulas in the
    question.

    Bare acronyms outside the vocabulary (BTK, FDA) are not required: too many readings.
    """
    terms = []
    covered_spans: list[tuple[int, int]] = []
    for m in _FORMULA.finditer(question):
        terms.append(NamedTerm(m.group(), None))
        covered_spans.append(m.span())
    for entry in concepts_in(question):
        forms = VOCABULARY[entry].short + VOCABULARY[entry].long
        written = [f for f in forms if f.lower() in question.lower()]
        label = max(written, key=len) if written else forms[0]
        terms.append(NamedTerm(label, entry))
        for form in forms:
            for m in re.finditer(re.escape(form), question, re.IGNORECASE):
                covered_spans.append(m.span())
    for label, (start, end) in _codes(question) + eponyms(question):
        overlaps = any(start < e and s < end for s, e in covered_spans)
        if not overlaps and label not in {t.label for t in terms}:
            terms.append(NamedTerm(label, None))
            covered_spans.append((start, end))
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
    if is_formula(term.label):
        return term.label.lower() in evidence.lower()
    if is_eponym(term.label):
        return _eponym_mentioned(term.label, evidence)
    written = r"[\s-]?".join(map(re.escape, _CODE_PARTS.findall(term.label)))
    pattern = r"(?<![\w])" + (written or re.escape(term.label)) + r"(?![\w])"
    return re.search(pattern, evidence, re.IGNORECASE) is not None


# A code's runs of letters and of digits: "IL6", "IL-6" and "IL 6" name one interleukin.
_CODE_PARTS = re.compile(r"[A-Za-z]+|\d+")


def _code_forms(label: str) -> list[str]:
    """A code as written, with its runs joined and hyphenated ("IL6", "IL-6")."""
    parts = _CODE_PARTS.findall(label)
    return [label, "".join(parts), "-".join(parts)] if len(parts) > 1 else [label]


def _named(question) -> list[NamedTerm]:
    """Named terms of a question given as text or as an analysed Query (app/engine/query)."""
    return named_terms(question) if isinstance(question, str) else list(question.named)


def missing_terms(question, evidence_texts: list[str]) -> list[str]:
    """Named terms of the question (text or Query) that no evidence passage mentions."""
    evidence = "\n".join(evidence_texts)
    tokens = set(tokenize(evidence))
    return [t.label for t in _named(question) if not _mentioned(t, evidence, tokens)]


def covers_enough(gap: list[str], question) -> bool:
    """Whether a passage missing the `gap` terms still covers the question (text or Query):
    it mentions every named term when the question names one or two; when it names more, it
    may leave out one that is a general concept of the vocabulary ("complete remission",
    "relapsed or refractory", B-ALL) - never a drug, a code (CD22), an eponym or a formula:
    a tisagenlecleucel passage does not answer a question about blinatumomab's remission rate
    in relapsed or refractory B-ALL."""
    if not gap:
        return True
    named = _named(question)
    if len(named) <= 2 or len(gap) > 1:
        return False
    term = next((t for t in named if t.label == gap[0]), None)
    return term is not None and term.entry is not None and not is_drug_name(term.label)


def _in_vocabulary(form: str, vocabulary: dict) -> bool:
    """The form's telling tokens are all indexed. A lone short acronym without a digit ("InO",
    "IO") is not telling - as a lowercase token it collides with unrelated words - and neither
    are one- or two-letter parts ("B" of B-cell); long forms and codes (CD22) count."""
    tokens = [t for t in tokenize(form) if len(t) >= 3 or any(c.isdigit() for c in t)]
    if not tokens or (len(tokens) == 1 and len(tokens[0]) < 4 and not tokens[0][-1].isdigit()):
        return False
    return all(t in vocabulary for t in tokens)


def missing_in_library(labels, question, vocabulary: dict, mentions=None) -> list[str]:
    """Of these named-term labels, those no indexed passage mentions in any written form.

    A whole-library BM25 term lookup: a form is present when every one of its tokens is in
    the index vocabulary (`vocabulary`: token -> idf). Conservative in the useful direction:
    a term reported missing is truly in no passage; one whose words all occur somewhere is
    treated as present ("passages mention it but none answers"). A formula has no words to
    look up, and a code's words do not say it ("CD-22" would be present wherever a "22" is):
    `mentions(literal)` searches the stored texts for them as written (without that lookup a
    formula counts as present).
    """
    by_label = {t.label: t for t in _named(question)}
    out = []
    for label in labels:
        if is_formula(label) or ((is_eponym(label) or _is_code(label)) and mentions is not None):
            if mentions is not None and not any(mentions(f) for f in _forms(label, by_label)):
                out.append(label)
            continue
        present = any(_in_vocabulary(f, vocabulary) for f in _forms(label, by_label))
        if not present:
            out.append(label)
    return out


_PLAIN_WORD = re.compile(r"[A-Za-z]+")


def specialized_absent(
    question: str,
    vocabulary: dict,
    pieces: Callable[[str], int],
    min_pieces: int = 4,
    min_chars: int = 8,
) -> list[str]:
    """Specialized words of the question that no indexed passage contains.

    A word is specialized when the embedding model's WordPiece vocabulary (general English)
    splits it into at least `min_pieces` pieces: "haploidentical", "pyostomatitis",
    "Milvexian"; not "transplant", "durability" or "cholesterol" (1-3 pieces). Acronyms and
    codes are left to `named_terms`. Absent means its stem is not in the whole library's BM25
    vocabulary (`vocabulary`: token -> idf), so a question about it cannot be answered from
    this library. `min_pieces` 0 turns the check off.
    """
    if min_pieces <= 0:
        return []
    out = []
    for word in _PLAIN_WORD.findall(question):
        if len(word) < min_chars or not word[1:].islower():
            continue
        tokens = tokenize(word)
        if tokens and any(t not in vocabulary for t in tokens):
            if pieces(word.lower()) >= min_pieces and word not in out:
                if not _prefixed_known(word, vocabulary) and not _spelled_otherwise(
                    word, vocabulary
                ):
                    out.append(word)
    return out


# British and American spellings of clinical words ("hypogammaglobulinaemia" is written where
# "hypogammaglobulinemia" is asked): (British, American) fragments, tried both ways.
_SPELLINGS = (
    ("aemia", "emia"), ("haem", "hem"), ("oedem", "edem"), ("oesoph", "esoph"),
    ("oestr", "estr"), ("paed", "ped"), ("foet", "fet"), ("isation", "ization"), ("ise", "ize"),
)  # fmt: skip


def _spelled_otherwise(word: str, vocabulary: dict) -> bool:
    """The library has the word in the other spelling (British or American)."""
    lower = word.lower()
    for uk, us in _SPELLINGS:
        for a, b in ((uk, us), (us, uk)):
            if a in lower and (uk not in lower or a == uk):
                tokens = tokenize(lower.replace(a, b))
                if tokens and all(t in vocabulary for t in tokens):
                    return True
    return False


# Prefixes clinical writing joins with or without a hyphen ("anti-lymphoma", "antilymphoma").
_PREFIXES = (
    "anti", "non", "post", "pre", "re", "co", "sub", "inter", "intra", "multi", "over", "under",
    "hyper", "hypo", "pan", "pro", "semi", "trans", "ultra", "counter", "auto", "neo", "peri",
)  # fmt: skip


def _prefixed_known(word: str, vocabulary: dict) -> bool:
    """A prefix joined to a word the library has: "antilymphoma" when a passage writes
    "anti-lymphoma" (BM25 indexes "anti" and "lymphoma" apart), "posttransplant"."""
    lower = word.lower()
    for prefix in _PREFIXES:
        rest = lower[len(prefix) :]
        if lower.startswith(prefix) and len(rest) >= 4 and prefix in vocabulary:
            tokens = tokenize(rest)
            if tokens and all(t in vocabulary for t in tokens):
                return True
    return False


def written_in_library(labels, question, mentions) -> list[str]:
    """Of these named-term labels (present by the word lookup of `missing_in_library`), those
    some stored text contains as written, in one of the concept's forms (`mentions`: a
    case-folded full scan). Only these are reported as "indexed passages mention X": the
    words of "intravenous immunoglobulin" can each occur in some passage while no passage
    mentions IVIG."""
    by_label = {t.label: t for t in _named(question)}
    return [label for label in labels if any(mentions(f) for f in _forms(label, by_label))]


def _forms(label: str, by_label: dict[str, NamedTerm]) -> list[str]:
    """The label as written (and a code's or an eponym's spellings), then the other forms of
    its vocabulary concept (no repeats)."""
    term = by_label.get(label)
    forms = [label]
    if is_eponym(label):
        forms = _eponym_forms(label)
    elif term is not None and term.entry is None and not is_formula(label):
        forms = _code_forms(label)
    if term is not None and term.entry is not None:
        forms += list(VOCABULARY[term.entry].short + VOCABULARY[term.entry].long)
    return list(dict.fromkeys(forms))
