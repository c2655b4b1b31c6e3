"""Query normalization: exact expansions, case and token rules, and original-first weighting."""

from __future__ import annotations

import re

import pytest

from index.normalize import NormalizedQuery, case_sensitive, content_tokens, normalize_query
from index.vocabulary import VOCABULARY, Entry

EXPECTED = [
    ("blina after CAR T relapse", ("blinatumomab", "chimeric antigen receptor T cell")),
    (
        "InO in Ph+ ALL",
        (
            "inotuzumab ozogamicin",
            "Philadelphia chromosome-positive",
            "acute lymphoblastic leukemia",
        ),
    ),
    ("all patients", ()),
    ("KMT2A-rearranged infants", ("MLL",)),
    ("MLL-rearranged infant ALL", ("KMT2A", "acute lymphoblastic leukemia")),
    ("cytokine release syndrome grading", ("CRS",)),
    ("outcomes after a second relapse", ()),
    # Drug nicknames are case-insensitive; the repeat adds nothing twice.
    ("Tisa-cel versus tisa-cel", ("tisagenlecleucel",)),
    (
        "brexu-cel or obe-cel in r/r B-ALL",
        (
            "brexucabtagene autoleucel",
            "obecabtagene autoleucel",
            "relapsed/refractory",
            "B-cell acute lymphoblastic leukemia",
        ),
    ),
    # Longest match wins: B-cell ALL is B-ALL, not also ALL; "CAR-T" is not also "CAR".
    # (The British spelling is added last, for BM25 recall of UK-spelled papers.)
    ("B-cell acute lymphoblastic leukemia relapse", ("B-ALL", "leukaemia")),
    ("CAR-T cells for CD19-negative relapse", ("chimeric antigen receptor T cell", "CD19 loss")),
    ("loss of CD19 after CAR T", ("CD19-negative", "chimeric antigen receptor T cell")),
    # Both sides already present: nothing to add.
    ("CAR T (chimeric antigen receptor T cell) therapy", ()),
    ("lineage switch to AML", ("LS", "acute myeloid leukemia")),
    (
        "ICANS and CRS after axi-cel",
        (
            "immune effector cell-associated neurotoxicity syndrome",
            "cytokine release syndrome",
            "axicabtagene ciloleucel",
        ),
    ),
    (
        "MRD-negative CR before allo-HSCT",
        (
            "measurable residual disease",
            "complete remission",
            "allogeneic hematopoietic stem cell transplantation",
        ),
    ),
    # British spellings: long forms still match; the American word is added last.
    (
        "acute lymphoblastic leukaemia after haematopoietic stem cell transplantation",
        (
            "ALL",
            "HSCT",
            "leukemia",
            "hematopoietic",
        ),
    ),
    ("Ph+ALL", ("Philadelphia chromosome-positive", "acute lymphoblastic leukemia")),
    ("cr and Cr and bite", ()),
]


@pytest.mark.parametrize(("query", "expected"), EXPECTED)
def test_exact_expansions(query, expected):
    assert normalize_query(query).expansions == expected


def test_all_caps_acronyms_are_case_sensitive():
    assert normalize_query("ALL in all patients").expansions == ("acute lymphoblastic leukemia",)
    assert normalize_query("CR rate").expansions == ("complete remission",)
    for query in ("cr rate", "all of them", "os", "bm", "Ino"):
        assert normalize_query(query).expansions == (), query


def test_whole_tokens_only():
    # CR inside CRS / CRi is not CR; ALL inside "ALLIANCE" or "small" is not ALL.
    assert normalize_query("CRS").expansions == ("cytokine release syndrome",)
    assert normalize_query("ALLIANCE small study").expansions == ()
    assert normalize_query("CARTOGRAPHY").expansions == ()


def test_case_rule():
    for acronym in ("ALL", "CR", "Ph+", "InO", "BiTE", "r/r", "B-ALL", "MLL", "KTE-X19"):
        assert case_sensitive(acronym), acronym
    for word in ("blinatumomab", "tisa-cel", "Kymriah", "alloSCT", "acute myeloid leukemia"):
        assert not case_sensitive(word), word


def test_max_expansions_is_respected():
    query = "CRS ICANS HLH GVHD NGS MRD TKI blina"
    full = normalize_query(query).expansions
    assert len(full) == 6  # the default cap
    assert normalize_query(query, max_expansions=2).expansions == full[:2]
    assert normalize_query(query, max_expansions=0).expansions == ()
    assert normalize_query(query, max_expansions=-1).expansions == ()
    assert len(normalize_query(query, max_expansions=20).expansions) == 8


def test_expansions_are_new_and_unique():
    q = normalize_query("HSCT or hematopoietic stem cell transplantation after CAR T and CAR")
    # HSCT's long form is already there; "chimeric antigen receptor" is inside the CAR T form.
    assert q.expansions == ("chimeric antigen receptor T cell", "haematopoietic")


def test_spelling_variants_match_long_forms():
    assert normalize_query("paediatric ALL").expansions == (
        "acute lymphoblastic leukemia",
        "pediatric",
    )
    assert normalize_query("leukaemia").expansions == ("leukemia",)
    assert normalize_query("leukemia").expansions == ("leukaemia",)


def test_custom_vocabulary():
    vocab = (Entry(("XYZ",), ("xylo zeta",)),)
    assert normalize_query("XYZ and blina", vocabulary=vocab).expansions == ("xylo zeta",)
    assert normalize_query("Xylo-Zeta", vocabulary=vocab).expansions == ("XYZ",)


def test_dense_text():
    q = normalize_query("blina after CAR T relapse")
    assert q.dense_text == (
        "blina after CAR T relapse (blinatumomab; chimeric antigen receptor T cell)"
    )
    assert normalize_query("outcomes").dense_text == "outcomes"


def test_lexical_text_without_expansions_is_the_original():
    assert normalize_query("outcomes after relapse").lexical_text == "outcomes after relapse"


def _weights(q: NormalizedQuery) -> tuple[int, int]:
    """(content tokens from the original copies, all tokens from the expansions)."""
    original = len(content_tokens(q.original)) * q.original_repeats
    added = sum(len(re.findall(r"\w+", e)) for e in q.expansions)
    return original, added


@pytest.mark.parametrize("query", [e[0] for e in EXPECTED] + ["ALL", "CRS ICANS HLH GVHD NGS MRD"])
def test_original_dominates_lexical_text(query):
    q = normalize_query(query)
    assert q.lexical_text.startswith(q.original)
    assert q.lexical_text.count(q.original) >= q.original_repeats
    original, added = _weights(q)
    if content_tokens(q.original):
        assert original >= added
        if q.expansions:
            assert q.original_repeats >= 2
    else:  # "ALL" is a BM25 stop word: nothing to drown, the original is used once
        assert q.original_repeats == 1


def test_weighting_holds_in_bm25_tokens():
    """The real BM25 tokenizer agrees: original tokens outnumber expansion tokens."""
    lexical = pytest.importorskip("index.lexical")
    stop = pytest.importorskip("bm25s.stopwords")
    # Every BM25 stop word is also uncounted by the normalizer, so its count is conservative.
    assert all(content_tokens(w) == [] for w in stop.STOPWORDS_EN)
    for query in ("InO in Ph+ ALL", "blina after CAR T relapse", "CRS ICANS HLH GVHD NGS MRD"):
        q = normalize_query(query)
        from_original = len(lexical.tokenize(q.original)) * q.original_repeats
        from_expansions = len(lexical.tokenize(" ".join(q.expansions)))
        assert len(lexical.tokenize(q.lexical_text)) == from_original + from_expansions
        assert from_original >= from_expansions > 0, query


def test_vocabulary_is_well_formed():
    assert 40 <= len(VOCABULARY) <= 70
    seen: dict[str, int] = {}
    for i, entry in enumerate(VOCABULARY):
        assert entry.short and entry.long, entry
        for form in entry.short + entry.long:
            assert form == form.strip() and form, entry
            key = form if case_sensitive(form) else form.lower()
            assert seen.setdefault(key, i) == i, f"{form!r} in two entries"
    # Every entry expands both ways from its own first forms.
    for entry in VOCABULARY:
        if not entry.spelling:
            assert normalize_query(entry.short[0]).expansions[:1] == (entry.long[0],), entry
            assert normalize_query(entry.long[0]).expansions[:1] == (entry.short[0],), entry


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is a test extra
    given = None

if given is not None:
    vocab_words = st.sampled_from(
        [f for e in VOCABULARY for f in e.short + e.long] + ["all", "cr", "relapse", "+", "-"]
    )
    queries = st.one_of(
        st.text(max_size=80),
        st.lists(st.one_of(vocab_words, st.text(max_size=6)), max_size=8).map(" ".join),
    )

    @settings(max_examples=300, deadline=None)
    @given(queries, st.integers(min_value=-2, max_value=10))
    def test_property_never_raises_and_keeps_original(query, cap):
        q = normalize_query(query, max_expansions=cap)
        assert q.original == query
        assert len(q.expansions) <= max(0, cap)
        assert len(set(q.expansions)) == len(q.expansions)
        assert q.original in q.lexical_text and q.original in q.dense_text
        assert q.dense_text.startswith(query) and q.lexical_text.startswith(query)
        original, added = _weights(q)
        if content_tokens(query):
            assert original >= added
