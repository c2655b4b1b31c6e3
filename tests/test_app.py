"""The Streamlit app under AppTest: answers, abstention, literal document text, feedback."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from app.answer_view import SCROLL_SCRIPT, STYLE
from app.engine.answer import get_engine
from app.feedback import read_feedback, record_feedback
from app.ui_text import (
    WORD_JOINER,
    context_window,
    escape_markdown,
    highlighted_markdown,
)
from core.ids import doi_url, pubmed_url

APP = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")
DEMO_QUESTION = "What happens after relapse following CD19 CAR T cells?"
OFF_TOPIC = "What diet is best for gout?"
HOSTILE = (
    "<script>alert(1)</script> ![x](http://example.invalid/x.png) $5 to $10"
    " (:smile: www.example.invalid ops@example.invalid)"
)
INJECTION_TEXT = (
    "Relapse after CD19 CAR T-cell therapy in B-ALL is frequently CD19-negative.\n\n"
    f"Salvage blinatumomab after CAR T relapse cost {HOSTILE} per vial in the survey.\n\n"
    "Inotuzumab ozogamicin targets CD22 and is used for relapsed B-ALL.\n"
)
INJECTION_QUESTION = "What did salvage blinatumomab after CAR T relapse cost per vial?"
UNSAFE_TYPES = ("image", "latex", "html", "link_button", "iframe", "json")


def unescape(markdown: str) -> str:
    """Undo backslash escapes: the text node a Markdown parser makes of escaped text."""
    return re.sub(r"\\(.)", r"\1", markdown)


def visible(markdown: str) -> str:
    """What a reader sees: the text node without the invisible word joiners."""
    return unescape(markdown).replace(WORD_JOINER, "")


def unescaped(raw: str, markdown: str) -> bool:
    """Does `raw` occur in `markdown` with its first character not backslash-escaped?"""
    return re.search(r"(?<!\\)" + re.escape(raw), markdown) is not None


def own_html(body: str) -> bool:
    """The app's static style sheet, its scroll script or a scroll anchor (hex ids only)."""
    ids = re.findall(r"bala-q-([0-9a-f]+)", body)
    if body == STYLE:
        return True
    return len(ids) == 1 and body in (SCROLL_SCRIPT % ids[0], f'<span id="bala-q-{ids[0]}"></span>')


def all_markdown(at) -> list[str]:
    """Values of every Markdown-rendered element (markdown, captions, warnings, ...)."""
    kinds = ("markdown", "caption", "warning", "info", "error", "success")
    return [el.value for kind in kinds for el in at.get(kind)]


def run_app(monkeypatch, index_dir: Path, question: str | None = None):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("BALA_INDEX", str(index_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if question is not None:
        at.chat_input[0].set_value(question).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory):
    """A tiny index whose one text file holds HTML, a Markdown image and dollar signs."""
    from core.settings import load_settings
    from index.build import ingest_paths

    root = tmp_path_factory.mktemp("hostile")
    (root / "docs").mkdir()
    (root / "docs" / "car-t-relapse-notes.txt").write_text(INJECTION_TEXT, encoding="utf-8")
    settings = load_settings(root / "index")
    report = ingest_paths([root / "docs"], settings)
    assert not report.failed, report.failed
    return settings


# --- pure helpers --------------------------------------------------------------------------


def test_escape_markdown_round_trips_and_neutralises_markup():
    escaped = escape_markdown(HOSTILE + " `code` :red[x] *a* _b_ #h | [l](u)")
    for raw in ("<script>", "![", "](", "$5", "`code`", ":red[", "*a*", "_b_"):
        assert not unescaped(raw, escaped), raw
    assert visible(escaped) == HOSTILE + " `code` :red[x] *a* _b_ #h | [l](u)"
    for trigger in ("http://", "www.", ":smile:", "s@e"):  # autolinks and emoji on text nodes
        assert trigger not in unescape(escaped), trigger


def test_context_window_is_verbatim_and_highlighted():
    text = "alpha " * 100 + "THE QUOTE <b>" + " omega" * 100
    start = text.index("THE QUOTE")
    ctx = context_window(text, start, start + len("THE QUOTE <b>"), radius=40)
    assert ctx.before + ctx.quote + ctx.after in text
    assert ctx.quote == "THE QUOTE <b>" and ctx.clipped_start and ctx.clipped_end
    md = highlighted_markdown(ctx)
    assert ":orange-background[THE QUOTE \\<b\\>]" in md and "<b>" not in md


def test_links_are_built_only_from_valid_identifiers():
    assert pubmed_url("12345") == "https://pubmed.ncbi.nlm.nih.gov/12345/"
    assert pubmed_url("123) [x](javascript:alert(1)") is None
    assert doi_url("10.1182/blood.2024024936") == "https://doi.org/10.1182/blood.2024024936"
    assert doi_url("javascript:alert(1)") is None
    assert " " not in (doi_url('10.1000/a<b>"c') or "")


def test_feedback_concurrent_writers(tmp_path):
    path = tmp_path / "feedback.sqlite"

    def write(n: int) -> None:
        for i in range(10):
            record_feedback(path, build_id="build", helpful=i % 2 == 0, source_ids=[f"pmid:{n}"])

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    rows = read_feedback(path)
    assert len(rows) == 60 and {r["build_id"] for r in rows} == {"build"}
    assert rows[0]["created_at"].endswith("+00:00")


def test_feedback_survives_a_journal_that_vanishes_mid_check(tmp_path, monkeypatch):
    """Another writer's journal can disappear between two stat calls; the write goes on."""
    import app.feedback as feedback

    path = tmp_path / "feedback.sqlite"
    journal = tmp_path / "feedback.sqlite-journal"
    journal.write_text("")
    real_stat, calls = feedback.os.stat, {"journal": 0}

    def stat(p, *args, **kwargs):
        if str(p) == str(journal):
            calls["journal"] += 1
            if calls["journal"] > 1:  # it existed a moment ago; now the other writer is done
                journal.unlink(missing_ok=True)
                raise FileNotFoundError(p)
        return real_stat(p, *args, **kwargs)

    monkeypatch.setattr(feedback.os, "stat", stat)
    assert record_feedback(path, build_id="b", helpful=True, source_ids=["pmid:1"]) == 1


def test_serve_command_is_local_headless_and_xsrf_protected():
    from app.serve import streamlit_command

    cmd = " ".join(streamlit_command("127.0.0.1", 8599))
    for flag in (
        "--server.address 127.0.0.1",
        "--server.port 8599",
        "--server.headless true",
        "--server.enableXsrfProtection true",
        "--browser.gatherUsageStats false",
    ):
        assert flag in cmd
    assert cmd.split()[1:4] == ["-m", "streamlit", "run"]


# --- the app -------------------------------------------------------------------------------


def test_answer_renders_quotes_and_sources(demo_index, monkeypatch):
    at = run_app(monkeypatch, demo_index.index_dir, DEMO_QUESTION)
    values = all_markdown(at)
    quotes = [v for v in values if v.startswith("> \u201c")]
    assert quotes and all(re.search(r"\u201d \\\[\d+", q) for q in quotes)
    assert any("pubmed.ncbi.nlm.nih.gov" in v or "doi.org" in v for v in values)
    assert any(v.startswith("**Sources**") for v in values)
    assert any(e.label.startswith("Passage around quote 1") for e in at.expander)
    labels = {b.label for b in at.get("download_button")}
    assert {"Export Markdown", "Export BibTeX"} <= labels
    sidebar = " ".join(el.value for el in at.sidebar.get("markdown"))
    assert "sources" in sidebar and "passages" in sidebar
    assert not at.warning


def test_off_topic_question_abstains(demo_index, monkeypatch):
    at = run_app(monkeypatch, demo_index.index_dir, OFF_TOPIC)
    assert any("Insufficient evidence in the indexed library" in w.value for w in at.warning)
    values = all_markdown(at)
    assert not any(v.startswith("> \u201c") for v in values)
    assert any("closest, not supporting" in v for v in values)


def test_an_unaddressed_process_is_said_in_the_app_and_the_cli(demo_index, monkeypatch):
    from app.reporting import format_answer

    question = "How is cytokine release syndrome graded?"
    at = run_app(monkeypatch, demo_index.index_dir, question)
    assert any("none answers the question" in w.value for w in at.warning)
    line = "None of the retrieved passages says how it is graded."
    assert any(line in visible(v) for v in all_markdown(at))
    answer = get_engine(demo_index).ask(question)
    assert line in format_answer(answer)


def test_example_button_asks_its_question(demo_index, monkeypatch):
    at = run_app(monkeypatch, demo_index.index_dir)
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert len(at.get("chat_message")) == 2  # the question and its answer


def test_document_text_is_shown_literally(hostile_index, monkeypatch):
    at = run_app(monkeypatch, hostile_index.index_dir, INJECTION_QUESTION)
    for kind in UNSAFE_TYPES:
        if kind == "html":  # only the app's own static HTML, never document text
            assert all(own_html(el.proto.body) for el in at.get(kind))
            continue
        assert not at.get(kind), f"unexpected {kind} element"
    values = all_markdown(at)
    shown = [v for v in values if "alert(1)" in visible(v)]
    assert any(v.startswith("> \u201c") for v in shown), "the hostile sentence was not quoted"
    assert any(":orange-background[" in v for v in shown), "no highlighted passage"
    for v in shown:
        assert HOSTILE in visible(v)  # the literal text is what a reader sees
        assert "http://" not in unescape(v) and ":smile:" not in unescape(v)
        for raw in ("<script>", "![x]", "](http", "$5", "$10"):
            assert not unescaped(raw, v), f"unescaped {raw!r} in {v!r}"
    assert "<script>" not in "".join(el.value for el in at.get("text"))


def test_feedback_is_written_beside_the_index(hostile_index, monkeypatch):
    from index.layout import feedback_path

    path = feedback_path(hostile_index.index_dir)
    before = len(read_feedback(path))
    at = run_app(monkeypatch, hostile_index.index_dir, INJECTION_QUESTION)
    next(b for b in at.button if b.label.endswith("Not helpful")).click().run()
    assert not at.exception
    rows = read_feedback(path)
    assert len(rows) == before + 1
    row = rows[-1]
    assert row["helpful"] is False and row["build_id"]
    assert row["question"] is None and row["comment"] is None  # not ticked: not kept
    assert row["source_ids"] and all(s.startswith("sha256:") for s in row["source_ids"])
    assert any("feedback saved" in s.value for s in at.success)


def test_missing_index_shows_how_to_build_one(tmp_path, monkeypatch):
    at = run_app(monkeypatch, tmp_path / "no-index-here")
    assert any("No index" in w.value for w in at.warning)
    assert any("bala ingest" in c.value and "--index" in c.value for c in at.code)
    assert not at.chat_input


def test_source_type_filter_reaches_the_engine(demo_index, monkeypatch):
    at = run_app(monkeypatch, demo_index.index_dir)
    at.sidebar.radio[0].set_value("Reviews only").run()
    at.chat_input[0].set_value(DEMO_QUESTION).run()
    entry = at.session_state["history"][-1]
    assert entry["filters"].kinds == frozenset({"review"})
    assert all(c.source.kind == "review" for c in entry["answer"].sources)


def test_engine_failure_is_a_short_message(demo_index, monkeypatch, capsys):
    from app.engine.answer import Engine

    def boom(self, question, k=None, filters=None):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(Engine, "ask", boom)
    at = run_app(monkeypatch, demo_index.index_dir, DEMO_QUESTION)
    assert [e.value for e in at.error] and "internal error" in at.error[0].value
    assert "secret internal detail" not in " ".join(all_markdown(at))
    assert "secret internal detail" in capsys.readouterr().err  # the traceback is logged
