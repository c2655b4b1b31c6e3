"""Pure answer composition: sentences, scoring, diverse selection, runs, abstention, citations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from contract import assert_answer_contract

from app.engine.answer_types import Answer, CitedSource, Quote
from app.engine.citations import ama_author, ama_reference, answer_bibtex, answer_markdown
from app.engine.compose import (
    Candidate,
    Scored,
    following_candidates,
    merge_runs,
    preselect,
    score_candidates,
    select_quotes,
    term_overlap,
)
from app.engine.query import analyse, asked_process, speaks_of
from app.engine.sentences import sentence_spans
from core.abstain import (
    ANSWER,
    NO_ANSWER,
    NO_RESCUE,
    OFF_TOPIC,
    Rescue,
    Strength,
    decide,
    rescue_of,
)
from core.settings import AnswerSettings
from core.text import near_duplicate
from core.types import Chunk, Source


def _cand(source, start, end, text=None, rank=1):
    text = text or f"Sentence of {source} at {start} to {end}."
    return Candidate(source, start, end, text, None, "c", rank)


def _scored(source, start, end, score, cos=0.7, overlap=0.5):
    return Scored(_cand(source, start, end), score, cos, overlap)


def test_sentence_spans_keep_abbreviations_and_decimals_whole():
    text = "CR was 81% (e.g. in children). Smith et al. saw 2.5 vs. 3 months. Next?  Yes"
    got = [text[s:e] for s, e in sentence_spans(text)]
    assert got == [
        "CR was 81% (e.g. in children).",
        "Smith et al. saw 2.5 vs. 3 months.",
        "Next?",
        "Yes",
    ]


def test_a_full_stop_glued_to_the_next_sentence_still_ends_one():
    text = (
        "Durable Remissions with Ivosidenib in IDH1-Mutated AML.In patients with AML, "
        "ivosidenib was active (VEGF-A).Objective: To assess e.g.The U.S.Food and Dr.Smith data."
    )
    got = [text[s:e] for s, e in sentence_spans(text)]
    assert got == [
        "Durable Remissions with Ivosidenib in IDH1-Mutated AML.",
        "In patients with AML, ivosidenib was active (VEGF-A).",
        "Objective: To assess e.g.The U.S.Food and Dr.Smith data.",
    ]


def test_line_break_markup_ends_a_sentence_and_section_labels_are_left_out():
    text = (
        "Tisagenlecleucel showed efficacy in a phase 2a study.<br><b>METHODS</b>: We enrolled "
        "93 adults.<BR/> Responses were durable.<br>"
    )
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == [
        "Tisagenlecleucel showed efficacy in a phase 2a study.",
        "We enrolled 93 adults.",
        "Responses were durable.",
    ]
    assert all("<" not in text[s:e] for s, e in spans)


def test_term_overlap_is_idf_weighted():
    idf = {"blinatumomab": 5.0, "relaps": 1.0}
    terms = {"blinatumomab", "relaps"}
    assert term_overlap(terms, "Blinatumomab works.", idf) == 5.0 / 6.0
    assert term_overlap(terms, "Relapse is common.", idf) == 1.0 / 6.0
    assert term_overlap(set(), "anything", idf) == 0.0


def test_score_candidates_orders_by_blend():
    cands = [_cand("a", 0, 10, "relapse after CAR T"), _cand("b", 0, 10, "unrelated words here")]
    scored = score_candidates(cands, np.array([0.5, 0.6]), {"relaps"}, {"relaps": 2.0}, 0.5)
    assert [s.candidate.source_id for s in scored] == ["a", "b"]


def test_select_quotes_prefers_diverse_sources_within_margin():
    scored = [
        _scored("a", 0, 10, 0.90),
        _scored("a", 20, 30, 0.89),
        _scored("b", 0, 10, 0.85),
        _scored("c", 0, 10, 0.60),  # below the margin
    ]
    chosen = select_quotes(scored, max_quotes=3, margin=0.12)
    assert [(s.candidate.source_id, s.candidate.start) for s in chosen] == [
        ("a", 0),
        ("b", 0),
        ("a", 20),
    ]


def test_the_same_sentence_is_quoted_once_even_from_two_excerpts():
    fragile = (
        "The Fragile-X related disorders (FXDs) are Repeat Expansion Diseases (REDs) that"
        " result from expansion of a CGG-repeat tract in the FMR1 gene."
    )
    other = "Huntington's disease and myotonic dystrophy are repeat expansion disorders too."
    texts = [fragile, fragile[1:], other]  # the second excerpt was cut mid-word: "he Fragile-X"
    scored = [
        Scored(_cand(src, 0, len(text), text), score, 0.7, 0.5)
        for src, text, score in zip("abc", texts, (0.9, 0.88, 0.8))
    ]
    chosen = select_quotes(scored, max_quotes=3, margin=0.5)
    assert [s.candidate.source_id for s in chosen] == ["a", "c"]
    assert near_duplicate(fragile, fragile.upper()) and not near_duplicate(fragile, other)


def test_a_run_is_at_most_two_adjacent_sentences():
    picked = [_scored("a", 0, 10, 0.9), _scored("a", 11, 20, 0.8), _scored("a", 21, 30, 0.7)]
    runs = merge_runs(picked)
    assert [(r.candidate.start, r.candidate.end) for r in runs] == [(0, 20), (21, 30)]


def test_merge_runs_joins_adjacent_sentences_of_one_source():
    picked = [_scored("a", 0, 10, 0.9), _scored("a", 11, 20, 0.8), _scored("b", 0, 5, 0.7)]
    runs = merge_runs(picked)
    assert [(r.candidate.source_id, r.candidate.start, r.candidate.end) for r in runs] == [
        ("a", 0, 20),
        ("b", 0, 5),
    ]


def test_abstain_on_weak_or_uncovered_evidence():
    strong = Strength(best_cosine=0.7, best_overlap=0.6, best_combined=0.8, best_answer=0.9)
    assert decide(strong, 0.45, 0.3) == ANSWER
    assert decide(Strength(best_cosine=0.3, best_overlap=0.9), 0.45, 0.3) == OFF_TOPIC
    assert decide(Strength(best_cosine=0.8, best_overlap=0.1), 0.45, 0.3) == OFF_TOPIC
    assert decide(Strength(best_cosine=0.8, has_candidates=False), 0.45, 0.3) == NO_ANSWER
    assert decide(Strength(has_candidates=False), 0.45, 0.3) == OFF_TOPIC


def test_topic_present_but_nothing_answers_is_its_own_verdict():
    weak_answer = Strength(best_cosine=0.7, best_overlap=0.6, best_combined=0.8, best_answer=0.04)
    assert decide(weak_answer, 0.45, 0.3, min_answer=0.1) == NO_ANSWER
    assert decide(weak_answer, 0.45, 0.3, min_combined=0.9) == NO_ANSWER
    named_elsewhere = Strength(best_cosine=0.7, missing_in_retrieved=("CD22",))
    assert decide(named_elsewhere, 0.45, 0.3) == NO_ANSWER
    assert decide(Strength(best_cosine=0.9, missing_in_library=("CD22",)), 0.45, 0.3) == OFF_TOPIC


def test_a_confident_answer_rescues_a_passage_under_the_meaning_bar():
    # "What is glofitamab and what does it target?": a short question naming a rare drug sits
    # far from every passage (cosine 0.46) although its best sentence covers it and answers.
    rare_name = Strength(best_cosine=0.47, best_overlap=0.7, best_combined=0.5, best_answer=0.5)
    rescue = Rescue(cosine=0.45, overlap=0.6, answer=0.4)
    assert decide(rare_name, 0.5, 0.2) == OFF_TOPIC  # no rescue by default
    assert decide(rare_name, 0.5, 0.2, rescue=rescue) == ANSWER
    for weaker in (
        replace(rare_name, best_cosine=0.44),  # too far even for the rescue
        replace(rare_name, best_overlap=0.5),  # covers too little of the question
        replace(rare_name, best_answer=0.3),  # the answer model is not confident
    ):
        assert decide(weaker, 0.5, 0.2, rescue=rescue) == OFF_TOPIC
    # a rescued question still abstains on a named term, or below min_answer
    named = replace(rare_name, missing_in_retrieved=("CD22",))
    assert decide(named, 0.5, 0.2, rescue=rescue) == NO_ANSWER
    assert decide(rare_name, 0.5, 0.2, min_answer=0.6, rescue=rescue) == NO_ANSWER
    # the settings' rescue is the answer scorer's only
    cfg = AnswerSettings(rescue_cosine=0.45, rescue_overlap=0.6, rescue_answer=0.4)
    assert rescue_of(cfg) == rescue
    assert rescue_of(cfg.model_copy(update={"scorer": "legacy"})) == NO_RESCUE


def test_a_how_question_asks_about_its_process():
    assert asked_process("How is cytokine release syndrome graded?") == ("graded",)
    assert asked_process("How can relapses be categorized for management?") == ("categorized",)
    # generic participles, hyphenated adjectives and active questions ask about no process
    assert asked_process("How is MRD used with first-line dasatinib?") == ()
    assert asked_process("How are CD19-directed CAR T cells dosed?") == ("dosed",)
    assert asked_process("How does c-myc become activated in Burkitt lymphoma?") == ()
    assert asked_process("What is graded in CRS?") == ()
    assert asked_process("How is CRS graded, and by whom?") == ("graded",)
    # any form of the process counts: graded, grade, grading; categorized, categories
    assert speaks_of(("graded",), ["Grading of CRS follows ASTCT criteria."])
    assert speaks_of(("categorized",), ["Relapses fall into three categories."])
    assert not speaks_of(("graded",), ["CRS is a systemic inflammatory condition."])
    assert speaks_of((), ["anything"])  # no process asked: nothing to speak of
    # a sentence that would be quoted must speak of it, not just any candidate
    cands = ["CRS is treated with tocilizumab.", "COVID-19 can cause a cytokine storm (CRS)."]
    assert speaks_of(("treated",), cands, cands[:1])
    assert not speaks_of(("treated",), cands, cands[1:])


def test_a_question_asking_for_a_figure_needs_a_quotable_figure():
    assert asked_process("How often does B-ALL relapse as CD19-negative disease?") == ("how often",)
    assert asked_process("What is the rate of CRS after CAR T?") == ("what is the rate",)
    assert asked_process("How   many patients relapse?") == ("how many",)
    asked = ("how often",)
    # a number that is part of a name or a label is no figure; a count, a percent or a word is
    for text in (
        "CD19-negative relapse after a phase 1-2a study",
        "a phase 2 trial of grade 3",
        "approved in 2017",
    ):
        assert not speaks_of(asked, [text], [text])
    for text in ("in 12 of 30 patients", "CR was 81%", "median 4.5 months", "it rarely occurs"):
        assert speaks_of(asked, [text], [text])
    # an age is who was treated, not a figure of what happened;
    # nor is a date
    for text in ("patients up to 25 years of age", "adults aged 18 or older", "12 years old",
                 "approved on August 30, 2017", "approved on 30 August 2017"):  # fmt: skip
        assert not speaks_of(asked, [text], [text])
    assert speaks_of(asked, ["followed for 3 years"], ["followed for 3 years"])
    assert asked_process("What is the complete remission rate with blinatumomab?") == (
        "what is the complete remission rate",
    )
    assert asked_process("What is the rate-limiting enzyme of heme synthesis?") == ()
    assert asked_process("What remission rates and durability did tisa-cel achieve?") == ()
    # "how long" takes a number or a word of duration
    assert asked_process("How long does B-cell aplasia last?") == ("how long",)
    for text, gives in (("durable remission", True), ("for 20 months", True), ("CD19", False)):
        assert speaks_of(("how long",), [text], [text]) is gives
    assert not speaks_of(("how often",), ["durable remission"], ["durable remission"])
    # a dose question takes an amount with a unit, not a count of cycles
    assert asked_process("What is the dose of blinatumomab?") == ("what is the dose",)
    for text, gives in (("two cycles of blinatumomab", False), ("28 µg/day", True),
                        ("15 μg/m2/day", True), ("0.5mg daily", True)):  # fmt: skip
        assert speaks_of(("what is the dose",), [text], [text]) is gives, text
    # only a quotable sentence counts: a figure elsewhere is most often about something else
    assert not speaks_of(asked, ["CD19 loss", "81% CR with tisagenlecleucel"], ["CD19 loss"])


def test_an_unaddressed_process_is_a_no_answer_verdict():
    on_topic = Strength(best_cosine=0.8, best_overlap=0.8, best_answer=0.9)
    assert decide(on_topic, 0.5, 0.2) == ANSWER
    assert decide(replace(on_topic, unaddressed=("graded",)), 0.5, 0.2) == NO_ANSWER
    far = replace(on_topic, best_cosine=0.3, unaddressed=("graded",))
    assert decide(far, 0.5, 0.2) == OFF_TOPIC


REVIEW = Source(
    "doi:10.1182/blood.2024024517",
    "review",
    "How I treat postimmunotherapy relapsed B-ALL",
    ("Adam J. Lamble", "Alexandra E. Kovach", "Nirali N. Shah"),
    "Blood",
    2025,
    "145",
    "1",
    "64-74",
    "10.1182/blood.2024024517",
)


def test_ama_reference_of_the_review():
    assert ama_author("Adam J. Lamble") == "Lamble AJ"
    assert ama_reference(REVIEW) == (
        "Lamble AJ, Kovach AE, Shah NN. How I treat postimmunotherapy relapsed B-ALL. Blood. "
        "2025;145(1):64-74. doi:10.1182/blood.2024024517"
    )


def test_pubmed_only_reference_links_pubmed():
    src = Source("pmid:123", title="A trial.", pmid="123")
    assert ama_reference(src) == "A trial. PMID: 123. https://pubmed.ncbi.nlm.nih.gov/123/"


def test_a_source_without_a_title_says_so_and_keeps_its_id():
    src = Source("pmid:9", pmid="9")
    assert ama_reference(src) == (
        "[title not in the library; pmid:9]. PMID: 9. https://pubmed.ncbi.nlm.nih.gov/9/"
    )


def test_answer_exports_and_json_contract():
    quote = Quote("Relapse is common.", REVIEW.source_id, 5, 23, 1, 1, 0.8, "cid")
    answer = Answer("Q?", False, "1 quote", (quote,), (CitedSource(1, REVIEW),), "b1")
    data = answer.to_json()
    assert_answer_contract(data)
    assert data["quotes"] and data["sources"]
    md = answer_markdown(answer)
    assert "\u201cRelapse is common.\u201d [1, p. 1]" in md and "1. Lamble AJ" in md
    bib = answer_bibtex(answer)
    assert "\n@article{lamble2025," in bib and "pages = {64--74}" in bib


def test_terms_the_library_never_uses_weigh_most():
    idf = {"car": 2.0, "relaps": 1.0, "rare": 6.0}
    terms = {"inotuzumab", "car", "relaps"}
    assert term_overlap(terms, "Relapse after CAR T.", idf) == 3.0 / 9.0


def test_preselect_keeps_overlapping_sentences_in_document_order():
    idf = {"blinatumomab": 4.0}
    cands = [
        _cand("a", 0, 10, "Nothing relevant here at all.", rank=1),
        _cand("b", 0, 10, "Blinatumomab induced remission.", rank=3),
        _cand("c", 0, 10, "Also unrelated text in this one.", rank=2),
    ]
    kept = preselect(cands, {"blinatumomab"}, idf, limit=2)
    assert [c.source_id for c in kept] == ["a", "b"]
    assert preselect(cands, set(), idf, limit=5) == cands


def test_question_terms_drop_function_words():
    assert analyse("What is glofitamab and what does it target?").terms == {"glofitamab", "target"}


def test_the_first_new_sentence_of_the_next_chunk_is_a_candidate():
    doc = (
        "Antigen escape is common. We outline an approach to relapse. "
        "We explore treatment modalities including reinfusions. Challenges are addressed."
    )
    top = Chunk("c1", "s", 0, 60, doc[:60])  # ends after "...approach to relapse."
    nxt = Chunk("c2", "s", 26, len(doc), doc[26:])  # overlaps the top chunk's last sentence
    (cand,) = following_candidates([(2, top, nxt)])
    assert cand.text == "We explore treatment modalities including reinfusions."
    assert doc[cand.start : cand.end] == cand.text  # an exact slice of the stored text
    assert (cand.chunk_id, cand.hit_rank, cand.position) == ("c2", 2, 1)
    short = Chunk("c3", "s", 61, 70, "Too short")
    assert following_candidates([(1, top, short)]) == []  # a fragment is never a candidate


def test_a_definition_question_is_answered_by_sentences_that_name_its_term():
    from app.engine.query import asked_term, names_term

    assert asked_term("What are humanized CAR constructs?") == "humanized CAR constructs"
    assert asked_term("What is ICANS?") == "ICANS"
    # not definitions: a role, a use, a possessive's attribute, a long phrase
    for question in (
        "What is the role of MRD?",
        "What is blinatumomab used for?",
        "What is gilteritinib's target profile?",
        "What is a very long phrase of six words here?",
    ):
        assert asked_term(question) == "", question
    term = "humanized CAR constructs"
    assert names_term(term, "Humanized CAR construct: a CAR whose binder is humanized.")
    assert not names_term(term, "Lisocabtagene maraleucel is an autologous CAR T-cell product.")
    # a concept of the vocabulary is named in any of its forms
    assert names_term("ICANS", "immune effector cell-associated neurotoxicity syndrome occurs")
