"""Answers that follow the citation: statuses with a fake engine, then a real index."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest

from app.engine import cited
from app.engine.answer_types import Answer, Quote
from core.types import Citation, Reference, Source

REVIEW = "doi:review"
TEXT = "Intro. CAR T cells induce remission in most children.1,2,3 Other text here."
S, E = 7, TEXT.index("1,2,3") + 5


class FakeStore:
    def __init__(self, texts):
        self.texts = texts
        self.sources = {sid: Source(sid, title=f"title of {sid}") for sid in texts}
        self.sources["pmid:1"] = Source("pmid:1", title="Tisagenlecleucel in children")
        self.sources["pmid:2"] = Source("pmid:2", title="Blinatumomab in adults")

    def references_of(self, sid):
        if sid != REVIEW:
            return (), ()
        refs = (
            Reference(
                1,
                "Maude SL. Tisagenlecleucel in children. 2018.",
                authors=("Maude SL",),
                year=2018,
                pmid="1",
            ),
            Reference(
                2,
                "Kantarjian H. Blinatumomab in adults. 2017.",
                authors=("Kantarjian H",),
                year=2017,
                pmid="2",
            ),
            Reference(
                3,
                "Pan J. Low-dose CAR-T. Leukemia. 2017.",
                authors=("Pan J",),
                year=2017,
                pmid="28490811",
            ),
        )
        return refs, (Citation(S, E, (1, 2, 3), E - 5, E),)

    def stored_slice(self, sid, start, end):
        return self.texts.get(sid, "")[start:end]


def _answer(quotes, abstained=False):
    return Answer("q", abstained, "", tuple(quotes), (), "build-1")


class FakeEngine:
    """Answers restricted to pmid:1 with a verbatim quote, to pmid:2 with an abstention."""

    def __init__(self):
        texts = {REVIEW: TEXT, "pmid:1": "Remission was durable in 81% of children."}
        self.retriever = SimpleNamespace(catalogue=FakeStore(texts), build_id="build-fake")

    def ask(self, question, filters=None):
        (sid,) = filters.source_ids
        if sid == "pmid:1":
            return _answer([Quote(self.retriever.catalogue.texts[sid], sid, 0, 41, 2, 1, 0.9)])
        return _answer([], abstained=True)


def test_cited_works_are_listed_followed_and_labelled():
    engine = FakeEngine()
    quote = Quote(TEXT[S:E], REVIEW, S, E, 1, 1, 0.8)
    answer = cited.attach_cited_evidence(engine, "q", _answer([quote]))
    (evidence,) = answer.cited_evidence
    works = {w.n: w for w in evidence.works}
    assert works[1].status == cited.SUPPORTING and works[1].label == "Maude 2018"
    assert works[1].quote.text == "Remission was durable in 81% of children."
    assert works[2].status == cited.NOT_SUPPORTING and works[2].quote is None
    assert works[3].status == cited.NOT_IN_LIBRARY and works[3].pmid == "28490811"
    data = answer.to_json()["cited_evidence"][0]
    assert data["cites"][0]["quote"]["marked"] == "cited by the review"
    from app.reporting import format_answer

    text = format_answer(answer)
    assert "cites [1] Maude 2018 \u2014 in library, cited by the review" in text
    assert "cites [3] Pan 2017 \u2014 not in library: PMID 28490811" in text
    assert "cited, not supporting" in text


def test_a_quote_that_is_not_an_exact_slice_is_never_shown():
    engine = FakeEngine()
    engine.retriever.catalogue.texts["pmid:1"] = (
        "Something else entirely was stored for this paper."
    )
    quote = Quote(TEXT[S:E], REVIEW, S, E, 1, 1, 0.8)
    answer = cited.attach_cited_evidence(engine, "q", _answer([quote]))
    assert answer.cited_evidence[0].works[0].status == cited.NOT_SUPPORTING


def test_quotes_outside_citing_sentences_and_abstentions_are_left_alone():
    engine = FakeEngine()
    plain = _answer([Quote("Intro.", REVIEW, 0, 6, 1, 1, 0.8)])
    assert cited.attach_cited_evidence(engine, "q", plain).cited_evidence == ()
    assert cited.attach_cited_evidence(engine, "q", _answer([], True)).cited_evidence == ()


QUESTION = (
    "Has inter-epidemic transmission of RVFV been shown to occur in African buffalo, humans "
    "and sheep?"
)
REVIEW_ID = "doi:10.1371/journal.pntd.0002065"


@pytest.fixture(scope="module")
def cited_index(tmp_path_factory):
    """The pntd article as the review, plus one cited paper (ref 15) as PubMed passages."""
    from core.settings import load_settings
    from index.build import ingest_paths
    from tests.conftest import shared_path

    root = tmp_path_factory.mktemp("cited")
    lib = root / "lib"
    lib.mkdir()
    shutil.copy(shared_path("bench", "references", "pntd.0002065.pdf"), lib / "review.pdf")
    records = [
        (
            "title",
            "Rift Valley fever virus infection in African Buffalo (Syncerus caffer) herds in "
            "rural South Africa: evidence of inter-epidemic transmission",
        ),
        (
            "abstract",
            "African buffalo herds sampled between epidemics carried antibodies to Rift "
            "Valley fever virus, which shows inter-epidemic transmission of the virus in buffalo.",
        ),
    ]
    lines = [
        json.dumps({"pmid": "21460024", "section": s, "begin": i, "text": t})
        for i, (s, t) in enumerate(records)
    ]
    (lib / "cited.jsonl").write_text("\n".join(lines), encoding="utf-8")
    settings = load_settings(root / "index")
    assert not ingest_paths([lib], settings).failed
    return settings


def test_a_real_review_links_to_the_cited_papers_passage(cited_index):
    from app.engine.answer import Engine
    from index.retrieve import Filters

    settings = cited_index
    review = REVIEW_ID
    engine = Engine(settings)
    review = "doi:10.1371/journal.pntd.0002065"
    answer = engine.ask(QUESTION, filters=Filters(source_ids=frozenset({review})))
    assert answer.quotes and answer.quotes[0].source_id == review
    (evidence,) = [e for e in answer.cited_evidence if e.quote_index == 0]
    works = {w.n: w for w in evidence.works}
    # The first quote is its sentence, widened forward only (compose.widen_first): 15-18.
    assert set(works) == {15, 16, 17, 18}
    assert works[15].status == cited.SUPPORTING and works[15].library_source_id == "pmid:21460024"
    q = works[15].quote
    assert engine.retriever.catalogue.stored_slice(q.source_id, q.start, q.end) == q.text
    assert all(works[n].status == cited.NOT_IN_LIBRARY for n in (16, 17, 18))
    quote = answer.quotes[0]  # its citation marks are hidden from the display only
    assert engine.retriever.catalogue.stored_slice(review, quote.start, quote.end) == quote.text
    assert "15" in quote.text and quote.display_text and "15" not in quote.display_text
    assert answer.to_json()["quotes"][0]["display_text"] == quote.display_text


def test_the_app_shows_coverage_and_what_a_quote_cites(cited_index, monkeypatch):
    from streamlit.testing.v1 import AppTest

    app = str(
        __import__("pathlib").Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"
    )
    monkeypatch.setenv("BALA_INDEX", str(cited_index.index_dir))
    at = AppTest.from_file(app, default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "32 cited \u00b7 1 in library \u00b7 31 missing" in sidebar
    assert any("RIS" in b.label for b in at.sidebar.get("download_button"))
    at.chat_input[0].set_value(QUESTION).run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [e.label for e in at.expander]
    assert any(label.startswith("Cites 4 work(s)") for label in labels), labels
