"""The answer scorer's pure parts on tiny inline cases: echo, titles, other diseases, filters."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from app.engine.compose import Candidate, Scored, choose_quotes
from app.engine.evidence_filter import is_non_evidence
from app.engine.population import mismatch
from app.engine.query import analyse
from app.engine.scorer import echo_share, rescore, section_signal
from core.settings import AnswerSettings
from core.types import Chunk
from index.rerank import Logistic

# A stand-in answer model: the probability rises with the sentence's own cosine only, so the
# tests below check what the engine adds around the model (echo, titles, labels, the bar).
BY_COSINE = Logistic(
    {"features": ["sent_cos"], "coef": [10.0], "intercept": 0.0, "mean": [0.0], "scale": [1.0]}
)

CFG = AnswerSettings()
QUESTION = "Is double balloon enteroscopy efficacious and safe in a community setting?"
TITLE = "Double balloon enteroscopy: is it efficacious and safe in a community setting?"
ANSWER = (
    "CONCLUSIONS: DBE was efficacious and safe in a community setting, with a diagnostic "
    "yield of 60% and no major complications in 112 procedures."
)


def _chunk(cid: str, text: str, section: str = "") -> Chunk:
    return Chunk(cid, f"pmid:{cid}", 0, len(text), text, (), section)


def _legacy(cid: str, text: str, score: float, rank: int = 1) -> Scored:
    return Scored(Candidate(f"pmid:{cid}", 0, len(text), text, None, cid, rank), score, 0.7, 0.6)


def _rescored(question: str, items: list[tuple[str, str, str, float]], cosines: list[float]):
    """items: (chunk id, text, chunk section, legacy score); each text is its own context."""
    query = analyse(question)
    legacy = [_legacy(cid, text, score) for cid, text, _, score in items]
    chunks = {cid: _chunk(cid, text, section) for cid, text, section, _ in items}
    labels = {cid: mismatch(question, text) for cid, text, _, _ in items}
    return rescore(query, legacy, np.array(cosines), None, chunks, labels, BY_COSINE, CFG)


def test_an_echo_sentence_loses_to_the_sentence_that_answers():
    # The echo is closer to the question in meaning (it restates it): it must still lose.
    scored = _rescored(QUESTION, [("1", TITLE, "", 0.9), ("2", ANSWER, "", 0.6)], [0.9, 0.5])
    echo = next(s for s in scored if s.candidate.text == TITLE)
    answer = next(s for s in scored if s.candidate.text == ANSWER)
    assert echo.echo and not answer.echo and echo.score > answer.score
    picked = choose_quotes(scored, CFG, with_scorer=True)
    assert picked[0].candidate.text == ANSWER


def test_with_the_shipped_model_the_echo_is_still_never_the_first_quote():
    # Whatever the shipped model scores this echo (word overlap with the question goes with
    # answers on BioASQ), the restatement rule decides.
    from app.engine.scorer import rescore
    from index.rerank import MODEL_DIR, AnswerModel

    model = AnswerModel(MODEL_DIR)
    query = analyse(QUESTION)
    items = (("1", TITLE), ("2", ANSWER))
    legacy = [_legacy(cid, text, 0.7) for cid, text in items]
    chunks = {cid: _chunk(cid, text) for cid, text in items}
    logits = model.cross.score(QUESTION, [t for _, t in items]) if model.cross else None
    scored = rescore(query, legacy, np.array([0.6, 0.6]), logits, chunks, {}, model, CFG)
    picked = choose_quotes(scored, CFG, with_scorer=True)
    assert picked and picked[0].candidate.text == ANSWER
    assert all(s.candidate.text != TITLE for s in picked)


def test_a_title_that_restates_the_question_is_never_the_only_quote():
    scored = _rescored(QUESTION, [("1", TITLE, "title", 0.9)], [0.9])
    assert choose_quotes(scored, CFG, with_scorer=True) == []  # abstain rather than quote it
    both = _rescored(QUESTION, [("1", TITLE, "title", 0.9), ("2", ANSWER, "", 0.5)], [0.9, 0.3])
    picked = choose_quotes(both, CFG, with_scorer=True)
    assert [s.candidate.text for s in picked] == [ANSWER]


def test_a_dlbcl_quote_is_labelled_and_demoted_for_a_b_all_question():
    question = "What options exist after CD19-negative relapse of B-ALL following CAR T cells?"
    dlbcl = "Axicabtagene ciloleucel improved event-free survival in relapsed DLBCL after CAR T."
    ball = "CD22-directed CAR T cells induced remission in CD19-negative B-ALL after CD19 CAR T."
    scored = _rescored(question, [("1", dlbcl, "", 0.7), ("2", ball, "", 0.7)], [0.5, 0.5])
    assert scored[0].candidate.text == ball and scored[0].label == ""
    assert scored[1].label == "about DLBCL, not B-ALL"
    assert scored[1].score < scored[0].score


def _same_source(scored, source: str = "pmid:1"):
    return [replace(s, candidate=replace(s.candidate, source_id=source)) for s in scored]


def test_background_loses_to_a_finding_and_a_title_to_its_own_conclusion():
    question = "Does dasatinib plus blinatumomab work in Ph-positive ALL?"
    title = "Dasatinib-Blinatumomab for Ph-Positive Acute Lymphoblastic Leukemia in Adults."
    background = "BACKGROUND: Dasatinib and blinatumomab are active in Ph-positive ALL."
    finding = "CONCLUSIONS: Dasatinib with blinatumomab gave molecular responses in 60%."
    query = analyse(question)
    items = [("1", title, "title"), ("2", background, ""), ("3", finding, "")]
    legacy = _same_source([_legacy(cid, text, 0.7) for cid, text, _ in items])
    chunks = {cid: _chunk(cid, text, section) for cid, text, section in items}
    cosines = np.array([0.9, 0.9, 0.5])  # the stand-in model prefers title and background
    scored = rescore(query, legacy, cosines, None, chunks, {}, BY_COSINE, CFG)
    assert [s.candidate.text for s in scored] == [finding, title, background]
    # without its paper's conclusion among the candidates a title keeps its place
    alone = rescore(query, legacy[:2], cosines[:2], None, chunks, {}, BY_COSINE, CFG)
    assert [s.candidate.text for s in alone] == [title, background]
    # the demotion is a setting; at 0 the model's order stands
    flat = rescore(
        query,
        legacy,
        cosines,
        None,
        chunks,
        {},
        BY_COSINE,
        CFG.model_copy(update={"background_penalty": 0.0}),
    )
    assert flat[-1].candidate.text == finding
    # a definition question is answered by background: no demotion there
    defining = analyse("What is blinatumomab?")
    plain = rescore(defining, legacy, cosines, None, chunks, {}, BY_COSINE, CFG)
    assert plain[-1].candidate.text == finding


def _ranked(question: str, texts: list[str], cosines: list[float], cfg=CFG) -> list:
    """Rescored candidates (one per passage) with the stand-in model that reads cosines."""
    legacy = [_legacy(str(i), text, 0.7) for i, text in enumerate(texts)]
    chunks = {str(i): _chunk(str(i), text, "") for i, text in enumerate(texts)}
    return rescore(analyse(question), legacy, np.array(cosines), None, chunks, {}, BY_COSINE, cfg)


def test_a_study_statement_loses_to_a_finding_unless_the_design_is_asked():
    methods = "We conducted a phase 2 study of dasatinib and blinatumomab in Ph-positive ALL."
    finding = "Dasatinib with blinatumomab gave molecular responses in 60% of patients."
    # the stand-in model prefers the study statement (cosine 0.9)
    asked = _ranked("Does dasatinib plus blinatumomab work?", [methods, finding], [0.9, 0.5])
    assert [s.candidate.text for s in asked] == [finding, methods]
    design = _ranked("How was the dasatinib study designed?", [methods, finding], [0.9, 0.5])
    assert [s.candidate.text for s in design] == [methods, finding]


def test_a_definition_question_prefers_the_sentence_that_defines_the_term():
    other = "Glofitamab was well tolerated after CAR T-cell therapy in nine patients."
    defining = "Glofitamab, a CD20xCD3 bispecific antibody, is a T-cell engager in trials."
    scored = _ranked("What is glofitamab?", [other, defining], [0.9, 0.5])
    assert [s.candidate.text for s in scored] == [defining, other]
    # with no defining sentence among them, nothing is demoted
    no_penalty = CFG.model_copy(update={"background_penalty": 0.0})
    alone = _ranked("What is glofitamab?", [other], [0.9])
    assert alone[0].score == _ranked("What is glofitamab?", [other], [0.9], no_penalty)[0].score


def test_population_mismatch_labels():
    assert mismatch("CAR T in children with B-ALL?", "Outcomes of adults with ALL") == (
        "about adults, not children"
    )
    assert mismatch("CAR T in children with B-ALL?", "Children and young adults with ALL") == ""
    assert mismatch("IVIG after CAR T?", "CLL patients after CAR T", domain="") == ""
    assert mismatch("Relapse in B-ALL?", "Relapsed follicular lymphoma") == (
        "about lymphoma, not B-ALL"
    )


JULIET = (
    "The phase II JULIET trial suggests that the CD19-targeting CAR T-cell therapy "
    "tisagenlecleucel produces durable responses in patients with relapsed and refractory "
    "diffuse large B-cell lymphoma."
)
NO_DISEASE = "What options exist after a CD19-negative relapse following CAR T-cell therapy?"


def test_a_question_naming_no_disease_is_about_b_all():
    assert mismatch(NO_DISEASE, JULIET) == "about DLBCL, not B-ALL"
    assert mismatch("IVIG after CAR T?", "CLL patients after CAR T") == "about CLL, not B-ALL"
    assert mismatch(NO_DISEASE, "Relapsed B-ALL after CD19 CAR T cells") == ""
    assert mismatch(NO_DISEASE, JULIET, domain="") == ""  # a library not about B-ALL
    assert mismatch("Relapse of AML after transplant?", JULIET) == "about DLBCL, not AML"


def test_a_question_about_a_drug_is_about_the_disease_of_its_papers():
    from app.engine.population import implied_domain

    myeloma, lymphoma, ball = {"myeloma"}, {"DLBCL"}, {"B-ALL"}
    question = "Which antigen does idecabtagene vicleucel target?"
    # every covering passage that names a disease is about myeloma: no B-ALL default
    assert implied_domain(question, True, [myeloma, set(), myeloma], "B-ALL") == ""
    # one B-ALL passage among them, or no drug named, or no disease seen: the default stands
    assert implied_domain(question, True, [myeloma, ball], "B-ALL") == "B-ALL"
    assert implied_domain("IVIG after CAR T?", False, [lymphoma], "B-ALL") == "B-ALL"
    assert implied_domain(question, True, [set()], "B-ALL") == "B-ALL"
    # a question naming its disease keeps it whatever the passages
    assert implied_domain("Ide-cel in B-ALL?", True, [myeloma], "B-ALL") == "B-ALL"
    passage = "Ide-cel, a BCMA-directed CAR T-cell therapy for relapsed myeloma."
    assert mismatch(question, passage, (), "B-ALL") == "about myeloma, not B-ALL"
    assert mismatch(question, passage, (), "") == ""


def test_a_passage_naming_no_disease_is_judged_by_its_source_labels():
    untitled = "Tisagenlecleucel produced durable responses after one infusion."
    assert mismatch(NO_DISEASE, untitled, ("DLBCL",)) == "about DLBCL, not B-ALL"
    assert mismatch(NO_DISEASE, untitled, ("MCL",)) == "about lymphoma, not B-ALL"
    assert mismatch(NO_DISEASE, untitled, ("B-ALL", "DLBCL")) == ""  # covers both
    assert mismatch(NO_DISEASE, untitled, ()) == ""
    # the passage's own words win over its source's labels
    assert mismatch(NO_DISEASE, JULIET, ("B-ALL", "DLBCL")) == "about DLBCL, not B-ALL"


def test_the_juliet_quote_is_demoted_and_labelled_for_a_question_naming_no_disease():
    options = (
        "We explore treatment modalities including CD19-CAR reinfusions, humanized CAR "
        "constructs, combinatorial strategies, and alternative antigen-targeted therapies."
    )
    scored = _rescored(NO_DISEASE, [("1", JULIET, "", 0.7), ("2", options, "", 0.7)], [0.6, 0.5])
    assert scored[0].candidate.text == options and scored[0].label == ""
    assert scored[1].label == "about DLBCL, not B-ALL"


def test_quotes_below_the_answer_bar_are_not_shown():
    weak = "Tisagenlecleucel is a CD19-directed CAR T-cell product given as one infusion."
    scored = _rescored(QUESTION, [("2", ANSWER, "", 0.6), ("3", weak, "", 0.6)], [0.3, -0.4])
    picked = choose_quotes(scored, CFG.replace(answer_margin=5.0), with_scorer=True)
    assert [s.candidate.text for s in picked] == [ANSWER]


def test_echo_share_counts_only_sentences_adding_little():
    terms = set(analyse(QUESTION).terms)
    from app.engine.query import QUESTION_STOPWORDS

    assert echo_share(TITLE, terms, QUESTION_STOPWORDS) > 0.6
    assert echo_share(ANSWER, terms, QUESTION_STOPWORDS) == 0.0


def test_section_labels():
    assert section_signal("", ANSWER, "") == 1.0
    assert section_signal("BACKGROUND: ", "CRS is common.", "") == -1.0
    assert section_signal("", "Any title", "title") == -1.0
    assert section_signal("We found this. ", "It works.", "") == 0.0
    assert section_signal("", "Background: CRS is common.", "") == -1.0  # labels in any case
    assert section_signal("", "Conclusions: it works.", "") == 1.0
    assert section_signal("", "Background checks: none.", "") == 0.0  # not a label


def test_author_citation_and_reference_lines_are_never_evidence():
    assert is_non_evidence("Adam J. Lamble, Alexandra E. Kovach, and Nirali N. Shah")
    assert is_non_evidence("Blood. 2025;145(1):64-74. doi:10.1182/blood.2024024517")
    assert is_non_evidence("12. Maude SL, Laetsch TW, Buechner J, et al. N Engl J Med. 2018.")
    assert is_non_evidence("Department of Pediatrics, University of Washington, Seattle, WA")
    assert not is_non_evidence("Tisagenlecleucel induced remission in 81% of patients.")
    assert not is_non_evidence("CD19-negative relapse occurred in 30% (Maude et al.).")


def _sentence_candidates(text: str, cid: str = "9") -> list[Scored]:
    from app.engine.compose import candidates_from_hits
    from index.retrieve import Hit

    chunk = Chunk(cid, f"pmid:{cid}", 100, 100 + len(text), text, (), "")
    cands = candidates_from_hits([Hit(chunk, 0, 1.0)], 6)
    return [Scored(c, 1.0 - 0.1 * i, 0.5, 0.5) for i, c in enumerate(cands)]


def test_the_first_quote_takes_one_neighbour_but_never_a_whole_passage():
    """The next sentence, so the quote starts at the answer; the one before only when the
    answer leans on it ("They…"); a passage of two sentences stays as it is."""
    from app.engine.compose import widen_first

    three = (
        "Relapse after CAR T is common. CD22 CAR T cells induced remission in 70% of patients. "
        "Toxicity was mild in most patients. Follow-up was short."
    )
    scored = _sentence_candidates(three)
    scored = [replace(scored[1], score=2.0), scored[0], scored[2], scored[3]]
    wide = widen_first([scored[0], scored[2], scored[1]], [("9", 100, three)])
    text = wide[0].candidate.text
    assert text == three[wide[0].candidate.start - 100 : wide[0].candidate.end - 100]
    assert text.startswith("CD22 CAR T cells") and text.endswith("mild in most patients.")
    assert [s.candidate.text for s in wide[1:]] == ["Relapse after CAR T is common."]
    leaning = (
        "CD22 CAR T cells were given to 20 patients. They induced remission in 70% of them. "
        "Toxicity was mild in most patients."
    )
    scored = _sentence_candidates(leaning)
    wide = widen_first([replace(scored[1], score=2.0)], [("9", 100, leaning)])
    assert wide[0].candidate.text.startswith("CD22 CAR T cells were given")
    assert wide[0].candidate.text.endswith("70% of them.")
    two = "Relapse after CAR T is common. CD22 CAR T cells induced remission in 70% of cases."
    pair = _sentence_candidates(two)
    assert widen_first(pair[:1], [("9", 100, two)]) == pair[:1]  # whole passage: no


def test_answer_type_signals_see_what_a_sentence_adds():
    from app.engine.scorer import answer_type_signals, question_type

    query = analyse("Which gene is mutated in Ph-like ALL?")
    qtype = question_type(query.text)
    assert qtype["q_which"] == 1.0 and qtype["q_how"] == 0.0
    cands = _sentence_candidates("CRLF2 rearrangements occur in half of Ph-like ALL cases.")
    sig = answer_type_signals(query, cands[0].candidate, qtype)
    assert sig["new_ents"] > 0 and sig["which_x_ents"] == sig["new_ents"]
    echo = _sentence_candidates("Ph-like ALL is a subtype of ALL with poor outcomes.")
    assert answer_type_signals(query, echo[0].candidate, qtype)["new_ents"] == 0.0
    assert sig["single"] == 1.0 and sig["first_sent"] == 1.0


def test_only_a_model_reading_sentence_vectors_makes_the_engine_embed_sentences():
    from app.engine.scorer import uses_sentence_vectors
    from index.rerank import MODEL_DIR, AnswerModel

    assert uses_sentence_vectors(BY_COSINE)
    assert not uses_sentence_vectors(AnswerModel(MODEL_DIR))  # the shipped model


def test_a_sources_third_sentence_outranks_another_sources_weaker_one():
    # The review's third-best sentence (its list of options) must not lose its place to a
    # DLBCL trial's weaker one only because two review sentences were quoted already.
    def scored(source: str, start: int, text: str, p: float) -> Scored:
        cand = Candidate(source, start, start + len(text), text, None, source, 1)
        return Scored(cand, p, 0.7, 0.5, answer=p)

    review = [
        scored("doi:review", 0, "Antigen escape presents as CD19-negative B-ALL.", 0.42),
        scored("doi:review", 100, "We outline a systematic approach to these relapses.", 0.36),
        scored("doi:review", 200, "We explore CD19-CAR reinfusions and CD22 CAR T cells.", 0.35),
    ]
    other = scored("pmid:1", 0, "JULIET: tisagenlecleucel in relapsed DLBCL worked.", 0.21)
    cfg = CFG.model_copy(update={"quotes_per_source": 3})
    picked = choose_quotes([*review, other], cfg, with_scorer=True)
    assert [s.score for s in picked] == [0.42, 0.36, 0.35, 0.21]
    two_each = CFG.model_copy(update={"quotes_per_source": 2})
    two = choose_quotes([*review, other], two_each, with_scorer=True)
    assert 0.35 not in [s.score for s in two]


def test_a_candidate_keeps_its_passage_rank_in_retrieval():
    """A passage left out for not naming the question's drug does not lift the ones after it:
    the retrieval prior (1 / rank) is the rank among all retrieved passages."""
    from app.engine.compose import candidates_from_hits
    from index.retrieve import Hit

    first = Chunk("a", "pmid:1", 0, 40, "Blinatumomab induced remission in 40%.", (), "")
    sixth = Chunk("f", "pmid:6", 0, 40, "We explore options after CD19 loss here.", (), "")
    hits = [Hit(first, 0, 1.0), Hit(sixth, 5, 0.5)]
    assert [c.hit_rank for c in candidates_from_hits(hits, 6)] == [1, 2]
    assert [c.hit_rank for c in candidates_from_hits(hits, 6, [1, 6])] == [1, 6]
