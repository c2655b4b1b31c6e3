"""Answer exports (Markdown, BibTeX, RIS, CSL-JSON) and AMA references by citeproc-py with the
shipped CSL style, measured against our own formatter."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import bibtexparser
import rispy

from app.engine.answer_types import ABSTAIN_MESSAGE, Answer, CitedSource, Quote
from app.engine.citations import (
    DISCLAIMER,
    ama_reference,
    answer_bibtex,
    answer_csl_json,
    answer_markdown,
    answer_ris,
    hand_ama_reference,
)
from app.engine.csl import citeproc_ama, csl_name
from core.types import Source

ASKED = datetime(2026, 12, 1, 21, 30, tzinfo=UTC)
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
    page_labels=("64",),
)
NEJM = Source(
    "doi:10.1056/nejmoa1715274",
    "article",
    "Inhaled Combined Budesonide-Formoterol as Needed in Mild Asthma",
    ("O'Byrne PM", "FitzGerald JM", "Bateman ED", "Barnes PJ", "Zhong N", "Keen C", "Jorup C"),
    "N Engl J Med",
    2018,
    "378",
    "20",
    "1865-1876",
    "10.1056/nejmoa1715274",
    "29768149",
)
PONE = Source(
    "doi:10.1371/journal.pone.0046493",
    "article",
    "MmPPOX Inhibits Mycobacterium tuberculosis "
    "Lipolytic Enzymes Belonging to the Hormone-Sensitive Lipase Family and Alters Mycobacterial "
    "Growth",
    ("Vincent Delorme", "Sadia V. Diomandé", "Luc Dedieu"),
    "PLoS ONE",
    2012,
    "7",
    "9",
    "e46493",
    "10.1371/journal.pone.0046493",
)
PUBMED = Source(
    "pmid:29247018",
    title="Tisagenlecleucel in children and young adults with B-cell ALL",
    authors=("Maude SL", "Laetsch TW"),
    journal="N Engl J Med",
    year=2018,
    pmid="29247018",
    url="https://pubmed.ncbi.nlm.nih.gov/29247018/",
)


def _answer() -> Answer:
    quotes = (
        Quote("Relapse is common.", REVIEW.source_id, 5, 23, 1, 1, 0.8, "c1"),
        Quote("Remission was 81%.", PUBMED.source_id, 0, 18, None, 2, 0.7, "c2"),
    )
    sources = (CitedSource(1, REVIEW), CitedSource(2, PUBMED))
    return Answer("What follows CD19-negative relapse?", False, "2 quotes", quotes, sources, "B42")


def _abstention() -> Answer:
    return Answer(
        "Does drug X work?", True, ABSTAIN_MESSAGE, (), (CitedSource(1, NEJM, False),), "B42"
    )


def test_citeproc_ama_matches_the_style_on_known_references():
    assert citeproc_ama(REVIEW) == (
        "Lamble AJ, Kovach AE, Shah NN. How I treat postimmunotherapy relapsed B-ALL. Blood. "
        "2025;145(1):64-74. doi:10.1182/blood.2024024517"
    )
    assert ama_reference(NEJM).startswith("O'Byrne PM, FitzGerald JM, Bateman ED, et al. Inhaled")
    assert ama_reference(NEJM).endswith("doi:10.1056/nejmoa1715274 PMID: 29768149.")
    # without authors citeproc-py would print the title twice: our formatter takes over
    untitled = Source("pmid:9", pmid="9")
    assert ama_reference(untitled) == hand_ama_reference(untitled)


def test_citeproc_and_our_formatter_agree_where_they_both_apply():
    """Measured: the references both formatters can do; they differ only by AMA's "et al."
    period and the PMID our formatter adds."""
    same = [s for s in (REVIEW, PONE) if citeproc_ama(s) == hand_ama_reference(s)]
    assert same == [REVIEW, PONE]
    ours, theirs = hand_ama_reference(NEJM), citeproc_ama(NEJM)
    assert ours.replace("et al.", "et al").startswith(theirs.replace("et al.", "et al"))


def test_names_become_csl_names():
    assert csl_name("Adam J. Lamble") == {"family": "Lamble", "given": "Adam J."}
    assert csl_name("Maude SL") == {"family": "Maude", "given": "S. L."}
    assert csl_name("Lamble, Adam J.") == {"family": "Lamble", "given": "Adam J."}
    assert csl_name("Children's Oncology Group") == {"literal": "Children's Oncology Group"}


def _has_header(text: str) -> None:
    for part in ("What follows CD19-negative relapse?", "2026-12-01T21:30:00Z", "B42", DISCLAIMER):
        assert part in text, part


def test_markdown_carries_question_date_build_disclaimer_and_journal_pages():
    md = answer_markdown(_answer(), ASKED)
    _has_header(md)
    assert "\u201cRelapse is common.\u201d [1, p. 64]" in md  # PDF page 1 = journal page 64
    assert "\u201cRemission was 81%.\u201d [2]" in md


def test_bibtex_parses_back_and_pubmed_sources_have_full_fields():
    bib = answer_bibtex(_answer(), ASKED)
    _has_header(bib)
    library = bibtexparser.parse_string(bib)
    assert not library.failed_blocks and len(library.comments) == 1
    entries = {e.key: {f.key: f.value for f in e.fields} for e in library.entries}
    assert set(entries) == {"lamble2025", "maude2018"}
    pubmed = entries["maude2018"]
    assert {"author", "title", "journal", "year", "pmid"} <= set(pubmed)
    assert pubmed["author"] == "Maude SL and Laetsch TW" and pubmed["year"] == "2018"
    assert "[2] in the bala answer to: What follows" in pubmed["note"]


def test_ris_parses_back_with_the_answer_record_first():
    records = rispy.loads(answer_ris(_answer(), ASKED))
    assert [r["type_of_reference"] for r in records] == ["GEN", "JOUR", "JOUR"]
    _has_header(records[0]["notes"][0])
    assert "\u201cRelapse is common.\u201d" in records[0]["abstract"]
    review = records[1]
    assert review["authors"] == ["Lamble, Adam J.", "Kovach, Alexandra E.", "Shah, Nirali N."]
    assert (review["start_page"], review["end_page"], review["doi"]) == ("64", "74", REVIEW.doi)
    assert records[2]["accession_number"] == "29247018"


def test_csl_json_is_an_item_array_citeproc_can_format():
    items = json.loads(answer_csl_json(_answer(), ASKED))
    assert items[0]["type"] == "document" and items[0]["issued"] == {"date-parts": [[2026, 12, 1]]}
    _has_header(items[0]["note"])
    review = items[1]
    assert review["container-title"] == "Blood" and review["author"][0]["family"] == "Lamble"
    assert "p. 64" in review["note"]


def test_abstentions_export_too():
    answer = _abstention()
    for text in (
        answer_markdown(answer, ASKED),
        answer_bibtex(answer, ASKED),
        answer_ris(answer, ASKED),
        answer_csl_json(answer, ASKED),
    ):
        assert ABSTAIN_MESSAGE in text and "Does drug X work?" in text and "B42" in text
        assert "decision support, not medical advice" in text
    bib = bibtexparser.parse_string(answer_bibtex(answer, ASKED))
    assert "closest source, not supporting" in bib.entries[0]["note"]


def test_cli_exports_the_demo_review_quote_with_its_journal_page(demo_index, tmp_path, capsys):
    from app.cli import main

    question = "Which treatment modalities are explored for postimmunotherapy relapse?"
    targets = [tmp_path / f"answer.{ext}" for ext in ("md", "bib", "ris", "json")]
    args = ["ask", question, "--json", "--index", str(demo_index.index_dir)]
    assert main(args + [a for t in targets for a in ("--export", str(t))]) == 0
    data = json.loads(capsys.readouterr().out)
    review = next(q for q in data["quotes"] if q["source_id"] == REVIEW.source_id)
    assert (review["page"], review["page_label"]) == (1, "64")  # PDF page 1 = Blood p. 64
    markdown = targets[0].read_text(encoding="utf-8")
    assert ", p. 64]" in markdown and question in markdown and data["build_id"] in markdown
    assert not bibtexparser.parse_string(targets[1].read_text(encoding="utf-8")).failed_blocks
    assert rispy.loads(targets[2].read_text(encoding="utf-8"))[0]["type_of_reference"] == "GEN"
    assert json.loads(targets[3].read_text(encoding="utf-8"))[0]["id"] == "bala-answer"
