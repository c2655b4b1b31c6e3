"""The answer score of a candidate sentence: does it answer the question, not echo it?

Each candidate sentence of the top passages gets signals (`FEATURES`), and the shipped answer
model (index/rerank.py; a logistic model fitted on BioASQ 7B-9B by `bala train scorer`) turns
them into the probability that the sentence answers the question:
- `sent_cos`: cosine of the sentence's own vector to the question - computed only for a
  model that reads it (the shipped one does not: on BioASQ 10B it did not help, and it cost
  one embedding call over every candidate per question);
- `passage_cos`, `overlap`: the passage cosine and IDF-weighted term overlap of before;
- `prior`: 1 / rank of the sentence's passage in the fused retrieval list;
- `echo`: share of the sentence's content words that are question words; `novel`: how many
  content words it adds (capped, scaled to 0..1) - restating a question does not answer it;
- `section`: +1 after a RESULTS/CONCLUSIONS label, -1 after BACKGROUND/OBJECTIVE/METHODS or
  in a title; `title`: the passage is a title;
- `length`, `digits`: answers carry figures and some length;
- `rank1`, `first_sent`, `sent_pos`, `single`: the top passage; where in its passage the
  sentence sits; a one-sentence passage;
- `new_ents`, `new_nums`: entities (acronyms, gene/drug-like names) and numbers the sentence
  adds that the question lacks; `q_which`/`q_what`/`q_how`/`q_list` and their products with
  `new_ents`: what kind of answer the question asks for;
- `d_*`: a signal minus the question's best value of it (each question has its own scale);
- `ce`: the fine-tuned cross-encoder's logit, when the shipped model has one.
A sentence that mostly restates the question (`restates`) is never the first quote.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from index.lexical import tokenize

FEATURES = (
    "sent_cos", "passage_cos", "overlap", "prior", "echo", "novel", "section", "title",
    "length", "digits",
    # relative to the question's best candidate (a question's scale is its own)
    "d_sent_cos", "d_passage_cos", "d_overlap", "d_legacy",
    # where it sits: the top passage, the first sentence of its passage, a one-sentence passage
    "rank1", "first_sent", "sent_pos", "single",
    # answer type: what the question asks for, and what the sentence brings that it lacks
    "new_ents", "new_nums", "q_which", "q_what", "q_how", "q_list", "which_x_ents",
    "list_x_ents",
)  # fmt: skip
RELATIVE = {"d_sent_cos": "sent_cos", "d_passage_cos": "passage_cos", "d_overlap": "overlap"}
# An entity-like token: an acronym or a mixed-case/digit name (CD19, BCMA, FLT3, IL-6R).
_ENTITY = re.compile(r"\b(?:[A-Z][A-Za-z0-9-]*[A-Z0-9][A-Za-z0-9-]*|[A-Za-z]+\d[A-Za-z0-9-]*)\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?\s*%|\b\d+(?:\.\d+)?\b")
_WH = {"which": "q_which", "what": "q_what", "how": "q_how", "list": "q_list", "name": "q_list"}
NOVEL_WORDS = 4  # a sentence adding this many content words beyond the question is no echo
ECHO_SHARE = 0.6  # ... one with at least this share of question words and fewer new ones is

_GOOD_LABEL = re.compile(
    r"(?:CONCLUSIONS?|RESULTS?|FINDINGS|INTERPRETATION|SUMMARY|SIGNIFICANCE)\b[^A-Za-z]{0,12}$"
)
_WEAK_LABEL = re.compile(
    r"(?:BACKGROUND|INTRODUCTION|OBJECTIVES?|AIMS?|PURPOSE|METHODS?|DESIGN|CONTEXT)"
    r"\b[^A-Za-z]{0,12}$"
)
_LABEL_START = re.compile(
    r"^([A-Z][A-Z ]{3,30}|(?:Background|Introduction|Objectives?|Aims?|Purpose|Methods?|Design"
    r"|Context|Results?|Findings|Conclusions?|Interpretation|Summary|Significance))\s*:"
)
# What the authors did rather than found: "We conducted a phase 2 study…", "Here we
# characterize ABL001…", "We report nine patients…" (not "We report that…"). A review's
# roadmap ("We explore treatment modalities including…") lists its content and is not here.
_STUDY_STATEMENT = re.compile(
    r"^\W*(?:(?:here|herein|in this (?:study|report|trial|work|analysis))\W+)?"
    r"(?:we|the authors)\s+(?:have\s+|then\s+|also\s+)?(?:conducted|performed|evaluated"
    r"|investigated|assessed|examined|studied|analy[sz]ed|enrolled|randomi[sz]ed"
    r"|randomly\s+assigned|retrospectively|prospectively|characteri[sz]ed?|encountered"
    r"|undertook|designed|sought|aimed|report(?:ed)?(?!\s+(?:that|here\s+that)\b))\b",
    re.I,
)
# A question about how a study was done, which a methods sentence does answer.
_ASKS_DESIGN = re.compile(
    r"\b(?:design(?:ed)?|methods?|enrol+(?:ed)?|randomi[sz]ed|how many|endpoints?|eligib\w*"
    r"|inclusion)\b",
    re.I,
)
# "What is glofitamab?": a definition question, which background sentences do answer.
_DEFINITION = re.compile(r"^\s*(?:what|who)\s+(?:is|are|was|were)\s+(?!(?:the|a|an)\b)", re.I)


def content_words(sentence: str, stop: frozenset[str]) -> list[str]:
    return [t for t in tokenize(sentence) if t not in stop]


def echo_share(sentence: str, question_terms: set[str], stop: frozenset[str]) -> float:
    """Share of the sentence's content words that the question has, when it adds few new."""
    words = content_words(sentence, stop)
    if not words:
        return 1.0
    share = sum(1 for t in words if t in question_terms) / len(words)
    novel = len({t for t in words if t not in question_terms})
    return share if novel < NOVEL_WORDS and share >= ECHO_SHARE else 0.0


def section_signal(context_before: str, sentence: str, chunk_section: str) -> float:
    """+1 in results/conclusions, -1 in background/methods or a title, else 0."""
    if chunk_section == "title":
        return -1.0
    label = _LABEL_START.match(sentence)
    tail = (label.group(1).upper() + ":") if label else context_before[-60:].rstrip()
    if _GOOD_LABEL.search(tail):
        return 1.0
    if _WEAK_LABEL.search(tail):
        return -1.0
    return 0.0


def uses_sentence_vectors(model) -> bool:
    """Whether the answer model reads `sent_cos` (each sentence embedded per question)."""
    names = getattr(getattr(model, "logistic", model), "features", ("sent_cos",))
    return any(n in ("sent_cos", "d_sent_cos") for n in names)


def question_type(question: str) -> dict:
    """What kind of answer the question asks for, from its first words (0/1 flags)."""
    words = question.lower().split()
    flags = dict.fromkeys(("q_which", "q_what", "q_how", "q_list"), 0.0)
    if words and words[0] in _WH:
        flags[_WH[words[0]]] = 1.0
    if "list" in words[:2] or "name" in words[:3]:
        flags["q_list"] = 1.0
    return flags


def answer_type_signals(query, c, qtype: dict) -> dict:
    """Position of the sentence in its passage, and the entities and numbers it adds."""
    asked = {m.lower() for m in _ENTITY.findall(query.text)}
    tokens = set(query.tokens)
    new = {e.lower() for e in _ENTITY.findall(c.text)} - asked
    new_ents = min(len({e for e in new if e not in tokens}), 5) / 5
    return {
        "rank1": 1.0 if c.hit_rank == 1 else 0.0,
        "first_sent": 1.0 if c.position == 0 else 0.0,
        "sent_pos": c.position / (c.siblings - 1) if c.siblings > 1 else 0.0,
        "single": 1.0 if c.siblings == 1 else 0.0,
        "new_ents": new_ents,
        "new_nums": min(len(_NUMBER.findall(c.text)), 5) / 5,
        **qtype,
        "which_x_ents": qtype["q_which"] * new_ents,
        "list_x_ents": qtype["q_list"] * new_ents,
    }


def add_relative(rows: list[dict]) -> None:
    """Each signal minus the question's best value of it (in place)."""
    for name, base in RELATIVE.items():
        top = max((r[base] for r in rows), default=0.0)
        for r in rows:
            r[name] = r[base] - top
    top = max((r["legacy"] for r in rows), default=0.0)
    for r in rows:
        r["d_legacy"] = r["legacy"] - top


def features_of(query, s, sent_cos: float, chunk, qtype: dict | None = None) -> dict:
    """The signals of one legacy-scored candidate (see the module docstring)."""
    from app.engine.query import QUESTION_STOPWORDS

    c = s.candidate
    before = chunk.text[: max(0, c.start - chunk.start)] if chunk is not None else ""
    section = getattr(chunk, "section", "")
    words = content_words(c.text, QUESTION_STOPWORDS)
    terms = set(query.terms)
    return {
        "sent_cos": float(sent_cos),
        "passage_cos": s.cosine,
        "overlap": s.overlap,
        "prior": 1.0 / c.hit_rank,
        "echo": sum(1 for t in words if t in terms) / len(words) if words else 1.0,
        "novel": min(len({t for t in words if t not in terms}), 20) / 20,
        "section": section_signal(before, c.text, section),
        "title": 1.0 if section == "title" else 0.0,
        "length": min(len(c.text.split()), 60) / 60,
        "digits": 1.0 if re.search(r"\d", c.text) else 0.0,
        "legacy": s.score,  # the blend bala used before (compose.score_candidates)
        **answer_type_signals(query, c, qtype or question_type(query.text)),
        "restates": echo_share(c.text, terms, QUESTION_STOPWORDS) > 0.0,
    }


def background(question: str, rows: list[dict], legacy: list) -> list[bool]:
    """Which candidates are background rather than findings: a sentence in an abstract's
    BACKGROUND/OBJECTIVE/METHODS part, a title whose own source has a RESULTS/CONCLUSIONS
    sentence among the candidates (the paper's conclusion answers before its title does),
    or an unlabelled statement of what the authors did ("We conducted a phase 2 study…")
    unless the question asks how a study was done. For a definition question ("What is
    lisocabtagene maraleucel?") background is what does not define the term, when some
    candidate does ("Lisocabtagene maraleucel (liso-cel) is an autologous…")."""
    if _DEFINITION.match(question):
        return _not_defining(question, legacy)
    concluded = {s.candidate.source_id for s, r in zip(legacy, rows) if r["section"] > 0}
    methods_asked = bool(_ASKS_DESIGN.search(question))
    return [
        (r["section"] < 0 and (not r["title"] or s.candidate.source_id in concluded))
        or (
            r["section"] == 0
            and not methods_asked
            and bool(_STUDY_STATEMENT.match(s.candidate.text))
        )
        for s, r in zip(legacy, rows)
    ]


def _not_defining(question: str, legacy: list) -> list[bool]:
    """For "What is X?": the candidates that do not define X ("X (abbr) is a/an …"), when
    one of them does; none otherwise (then every sentence about X may answer)."""
    term = re.match(r"[\w-]+", question[_DEFINITION.match(question).end() :])
    if term is None:
        return [False] * len(legacy)
    defines = re.compile(
        rf"^\W*(?:[A-Z][A-Za-z ]{{2,30}}:\s*)?{re.escape(term.group(0))}\b[^.;]{{0,80}}?"
        r"\b(?:is|are)\s+(?:a|an)\b",
        re.I,
    )
    flags = [not defines.match(s.candidate.text) for s in legacy]
    return flags if not all(flags) else [False] * len(legacy)


def rescore(
    query, legacy: list, sent_cos: np.ndarray, logits, chunks: dict, labels: dict, model, cfg
) -> list:
    """Legacy-scored candidates re-ranked by the answer model's probability, best first.

    A candidate whose passage is about another disease or population than the question
    (`labels`: chunk id -> app/engine/population.mismatch label) is demoted by
    `mismatch_penalty` and labelled; a background sentence (`background`) is demoted by
    `background_penalty`: BioASQ, which the model learnt from, quotes background as readily
    as findings, a clinician asking what to do does not.
    """
    qtype = question_type(query.text)
    rows = [
        features_of(query, s, cos, chunks.get(s.candidate.chunk_id), qtype)
        for s, cos in zip(legacy, sent_cos)
    ]
    add_relative(rows)
    if logits is not None:
        for row, logit in zip(rows, logits):
            row["ce"] = float(logit)
    probs = model.predict(rows)
    out = []
    for s, row, p, bg in zip(legacy, rows, probs, background(query.text, rows, legacy)):
        label = labels.get(s.candidate.chunk_id, "")
        score = float(p) + cfg.prior_weight * row["prior"]
        score -= cfg.mismatch_penalty if label else 0.0
        score -= cfg.background_penalty if bg else 0.0
        out.append(
            replace(s, score=score, answer=float(p), echo=row["restates"], label=label, signals=row)
        )
    return sorted(out, key=lambda x: (-x.score, x.candidate.source_id, x.candidate.start))
