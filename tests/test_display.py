"""What a quote shows: its evidence labels beside it (CLI, app, exports) and its citation
marks hidden while the stored, verified slice stays exact."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from app.engine import cited
from app.engine.answer_types import Answer, CitedSource, Quote
from app.engine.citations import (
    answer_bibtex,
    answer_csl_json,
    answer_markdown,
    answer_ris,
    evidence_labels_text,
    format_quote,
)
from core.types import Citation, Source

TRIAL = Source(
    "pmid:1",
    title="Tisagenlecleucel in children and young adults with B-cell lymphoblastic leukemia",
    journal="N Engl J Med",
    year=2018,
    pmid="1",
    authors=("Maude SL", "Laetsch TW"),
    design="phase-2-trial",
    population="pediatric",
    diseases=("B-ALL",),
)
GLUED = "Most patients relapsed.12,13 Next, CD19-negative infection process2,3,4,5 and more."
BRACKETS = "Relapse was CD19-negative in humans [4\u20137]. Other text."


def _quote(text, start=0, source_id="pmid:1", **kw) -> Quote:
    return Quote(text, source_id, start, start + len(text), 3, 1, 0.9, **kw)


def _marks(text: str, *printed: str) -> tuple[Citation, ...]:
    out = []
    for mark in printed:
        at = text.index(mark)
        out.append(Citation(0, len(text), (1,), at, at + len(mark)))
    return tuple(out)


def test_labels_in_words_and_beside_the_quote():
    assert evidence_labels_text(TRIAL) == "phase 2 trial \u00b7 pediatric \u00b7 B-ALL"
    both = Source("x", design="systematic-review", population="both", diseases=("B-ALL", "AML"))
    assert evidence_labels_text(both) == (
        "systematic review/meta-analysis \u00b7 pediatric and adult \u00b7 B-ALL, AML"
    )
    assert evidence_labels_text(Source("y")) == "" and evidence_labels_text(None) == ""
    line = format_quote(_quote("Remission was durable."), TRIAL)
    assert line == (
        "\u201cRemission was durable.\u201d [1, p. 3] \u2014 phase 2 trial \u00b7 pediatric \u00b7 B-ALL"
    )
    assert format_quote(_quote("x."), Source("y")) == "\u201cx.\u201d [1, p. 3]"
    assert "phase 2" not in format_quote(_quote("x."), TRIAL, with_labels=False)


@pytest.mark.parametrize(
    "text, printed, shown",
    [
        (GLUED, ("12,13", "2,3,4,5"), "Most patients relapsed. Next, CD19-negative infection "),
        (BRACKETS, ("[4\u20137]",), "Relapse was CD19-negative in humans. Other text."),
    ],
)
def test_marks_are_hidden_from_the_display_but_the_slice_stays_exact(text, printed, shown):
    quote = _quote(text)
    display = cited.display_text(quote, _marks(text, *printed))
    assert display.startswith(shown)
    assert all(p not in display for p in printed)
    assert quote.text == text  # the quote is untouched


def test_marks_outside_the_quote_are_ignored_and_offsets_are_the_stored_texts():
    text = "Intro sentence here. " + GLUED
    offset = len("Intro sentence here. ")
    quote = _quote(GLUED[: GLUED.index(" Next")], start=offset)  # "... relapsed.12,13"
    marks = _marks(text, "12,13", "2,3,4,5")
    assert cited.display_text(quote, marks) == "Most patients relapsed."
    inside_only = _quote("Intro sentence here.", start=0)
    assert cited.display_text(inside_only, marks) == "Intro sentence here."


class _Store:
    def __init__(self, text):
        self.text = text
        self.sources = {"pmid:1": TRIAL}

    def references_of(self, sid):
        return (), _marks(self.text, "12,13", "2,3,4,5")

    def stored_slice(self, sid, start, end):
        return self.text[start:end]


def _answer(quote) -> Answer:
    return Answer("q?", False, "1 quote", (quote,), (CitedSource(1, TRIAL),), "B1")


def test_answers_carry_exact_text_and_display_text_everywhere():
    engine = SimpleNamespace(retriever=SimpleNamespace(catalogue=_Store(GLUED), build_id="B1"))
    answer = cited.attach_cited_evidence(engine, "q?", _answer(_quote(GLUED)))
    (q,) = answer.quotes
    assert q.text == GLUED and "12,13" not in q.display_text
    data = answer.to_json()["quotes"][0]
    assert data["text"] == GLUED and data["display_text"] == q.display_text
    from app.reporting import format_answer

    shown = format_answer(answer)
    assert q.display_text in shown and "relapsed.12,13" not in shown
    assert "phase 2 trial \u00b7 pediatric \u00b7 B-ALL" in shown
    markdown = answer_markdown(answer)
    assert q.display_text in markdown and "relapsed.12,13" not in markdown
    assert "phase 2 trial \u00b7 pediatric \u00b7 B-ALL" in markdown


def test_exports_carry_the_labels():
    import bibtexparser
    import rispy

    answer = _answer(_quote("Remission was durable."))
    bib = bibtexparser.parse_string(answer_bibtex(answer))
    assert "design: phase-2-trial" in bib.entries[0].fields_dict["keywords"].value
    ris = rispy.loads(answer_ris(answer))
    assert {"design: phase-2-trial", "population: pediatric", "disease: B-ALL"} <= set(
        ris[1]["keywords"]
    )
    csl = json.loads(answer_csl_json(answer))
    assert "disease: B-ALL" in csl[1]["keyword"]


PEDIATRIC_TRIAL = (
    "A phase 2 trial of tisagenlecleucel in children with relapsed B-cell acute lymphoblastic "
    "leukemia.\n\nIn this phase 2 trial, children and adolescents with relapsed B-ALL received "
    "CD19 CAR T cells; CD19-negative relapse after CAR T cells occurred in 15 of 61 children.\n"
)
ADULT_COHORT = (
    "A retrospective cohort study of adults with relapsed acute lymphoblastic leukemia.\n\n"
    "In this retrospective cohort of adult patients with B-ALL, relapse after CD19 CAR T cells "
    "was CD19-negative in one third of the adults and was treated with inotuzumab.\n"
)
LABEL_QUESTION = "How often is relapse after CD19 CAR T cells CD19-negative?"


@pytest.fixture(scope="module")
def labelled_index(tmp_path_factory):
    """Two text sources whose labels come from title/abstract rules."""
    from core.settings import load_settings
    from index.build import ingest_paths

    root = tmp_path_factory.mktemp("labelled")
    (root / "docs").mkdir()
    (root / "docs" / "pediatric-trial.txt").write_text(PEDIATRIC_TRIAL, encoding="utf-8")
    (root / "docs" / "adult-cohort.txt").write_text(ADULT_COHORT, encoding="utf-8")
    settings = load_settings(root / "index")
    assert not ingest_paths([root / "docs"], settings).failed
    return settings


def test_cli_ask_shows_the_labels_beside_every_quote(labelled_index, capsys):
    from app.cli import main

    code = main(["ask", LABEL_QUESTION, "--index", str(labelled_index.index_dir)])
    out = capsys.readouterr().out
    assert code == 0, out
    quotes = [line for line in out.splitlines() if line[:1].isdigit() and "\u201c" in line]
    assert len(quotes) == 2, out
    for line in quotes:
        assert "\u2014 phase 2 trial \u00b7 pediatric" in line or "\u2014 cohort" in line, line
    code = main(
        ["ask", LABEL_QUESTION, "--index", str(labelled_index.index_dir), "--population", "adult"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "pediatric" not in out.split("References")[0], out


def test_app_sidebar_filters_by_label_and_shows_label_badges(labelled_index, monkeypatch):
    from streamlit.testing.v1 import AppTest

    app = str(
        __import__("pathlib").Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"
    )
    monkeypatch.setenv("BALA_INDEX", str(labelled_index.index_dir))
    at = AppTest.from_file(app, default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    boxes = {m.label: m for m in at.sidebar.multiselect}
    assert {"Study design", "Population"} <= set(boxes)
    assert "phase 2 trial" in str(boxes["Study design"].options)  # in words
    at.chat_input[0].set_value(LABEL_QUESTION).run()
    shown = re.sub(r"\\(.)", r"\1", " ".join(m.value for m in at.markdown))  # unescaped
    assert ":blue-badge[phase 2 trial]" in shown and ":blue-badge[cohort/observational]" in shown
    boxes = {m.label: m for m in at.sidebar.multiselect}
    boxes["Population"].set_value(["adult"]).run()
    at.chat_input[0].set_value(LABEL_QUESTION).run()
    assert not at.exception, [e.value for e in at.exception]
    entry = at.session_state["history"][-1]
    assert entry["filters"].populations == frozenset({"adult"})
    assert entry["answer"].sources
    assert all(c.source.population in {"adult", "both"} for c in entry["answer"].sources)
