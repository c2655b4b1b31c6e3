"""The app under AppTest: honest inputs (length, language, masked identifiers), the filter
label, the privacy notice, the permalink, and `bala serve`/`bala feedback` on the CLI."""

from __future__ import annotations

import json
import stat

import pytest
from test_app import DEMO_QUESTION, all_markdown, run_app, visible

from app.cli import main as bala
from app.feedback import read_feedback
from index.layout import feedback_path

NOTICE = "Do not enter details that identify a patient"


def test_privacy_notice_is_shown(demo_index, monkeypatch):
    at = run_app(monkeypatch, demo_index.index_dir)
    assert any(NOTICE in i.value for i in at.info)


def test_a_long_question_gets_a_clear_message_and_is_not_echoed_whole(demo_index, monkeypatch):
    long = "What about relapse after CAR T " + "and more detail " * 400
    at = run_app(monkeypatch, demo_index.index_dir, long)
    assert any("characters; bala answers questions of up to" in e.value for e in at.error)
    echoed = [v for v in all_markdown(at) if "What about relapse" in visible(v)]
    assert echoed and all(len(v) < 600 for v in echoed)
    assert at.session_state["history"][-1]["answer"] is None  # never sent to the engine


def test_a_spanish_question_is_told_bala_answers_english(demo_index, monkeypatch):
    at = run_app(monkeypatch, demo_index.index_dir, "¿Cuáles son las opciones tras la recaída?")
    assert any("Spanish" in e.value and "English" in e.value for e in at.error)


def test_identifiers_are_masked_before_the_engine_sees_them(demo_index, monkeypatch):
    question = "Pt Jane Doe, MRN 12345678: " + DEMO_QUESTION
    at = run_app(monkeypatch, demo_index.index_dir, question)
    entry = at.session_state["history"][-1]
    assert entry["answer"].question == "Pt [NAME], MRN [ID]: " + DEMO_QUESTION
    shown = " ".join(visible(v) for v in all_markdown(at))
    assert "12345678" not in shown and "Jane" not in shown
    assert any("were masked before searching" in c.value for c in at.caption)


def test_filter_label_names_the_filter_of_each_answer(demo_index, monkeypatch):
    at = run_app(monkeypatch, demo_index.index_dir)
    at.sidebar.radio[0].set_value("Reviews only").run()
    assert any("Active filter: Reviews only" in m.value for m in at.markdown)
    at.chat_input[0].set_value(DEMO_QUESTION).run()
    at.sidebar.radio[0].set_value("All sources").run()
    values = [m.value for m in at.markdown]
    assert not any("Active filter" in v for v in values)  # gone once cleared
    at.chat_input[0].set_value(DEMO_QUESTION).run()
    labels = [v for v in (m.value for m in at.markdown) if "Filtered:" in v]
    assert labels == [":blue-badge[Filtered: Reviews only]"]  # the first answer only


def test_permalink_reopens_a_kept_answer_without_its_question(demo_index, monkeypatch):
    from streamlit.testing.v1 import AppTest
    from test_app import APP

    at = run_app(monkeypatch, demo_index.index_dir, DEMO_QUESTION)
    entry = at.session_state["history"][-1]
    answer = entry["answer"]
    raw = feedback_path(demo_index.index_dir).read_bytes()
    assert DEMO_QUESTION.encode() not in raw  # the kept answer has no question text
    again = AppTest.from_file(APP, default_timeout=120)
    again.query_params["build"] = answer.build_id
    again.query_params["answer"] = entry["id"]
    again.run()
    assert not again.exception
    quotes = [v for v in all_markdown(again) if v.startswith("> \u201c")]
    assert len(quotes) == len(answer.quotes) and quotes
    assert any("question is not kept" in v for v in all_markdown(again))
    again.query_params["answer"] = "000000000000"
    again.run()
    assert any("No answer is kept" in w.value for w in again.warning)


def test_serve_refuses_a_network_host_without_sign_in(tmp_path, capsys):
    code = bala(["serve", "--index", str(tmp_path), "--host", "0.0.0.0"])
    err = capsys.readouterr().err
    assert code == 2 and "refusing to serve on 0.0.0.0 without sign-in" in err
    assert "--no-auth" in err and "traceback" not in err.lower()


def test_feedback_export_and_purge_commands(tmp_path, capsys):
    from app.feedback import record_feedback

    index = tmp_path / "index"
    path = feedback_path(index)
    record_feedback(path, build_id="b", helpful=True, source_ids=["pmid:1"])
    out = tmp_path / "export.json"
    assert bala(["feedback", "export", "--index", str(index), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["feedback"][0]["source_ids"] == ["pmid:1"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert bala(["feedback", "purge", "--older-than", "7", "--index", str(index)]) == 0
    assert len(read_feedback(path)) == 1  # younger than a week: kept
    assert bala(["feedback", "purge", "--index", str(index)]) == 0
    assert "1 feedback row(s) deleted" in capsys.readouterr().out and not read_feedback(path)
    assert bala(["feedback", "purge", "--older-than", "-1", "--index", str(index)]) == 2


@pytest.mark.parametrize("question", ["What is blinatumomab?"])
def test_plain_english_question_is_answered(demo_index, monkeypatch, question):
    at = run_app(monkeypatch, demo_index.index_dir, question)
    assert not at.error and at.session_state["history"][-1]["answer"] is not None


def test_proxy_mode_refuses_a_request_without_the_user_header(demo_index, monkeypatch):
    monkeypatch.setenv("BALA_AUTH_PROXY_HEADER", "X-Forwarded-Email")
    at = run_app(monkeypatch, demo_index.index_dir)
    assert any(
        "Sign-in required" in e.value and "X\\-Forwarded\\-Email" in e.value for e in at.error
    )
    assert not at.chat_input


def test_oidc_configured_shows_only_the_sign_in_screen(demo_index, monkeypatch):
    from streamlit.testing.v1 import AppTest
    from test_app import APP

    monkeypatch.setenv("BALA_INDEX", str(demo_index.index_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["auth"] = {
        "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
        "cookie_secret": "x" * 40,
        "client_id": "bala",
        "client_secret": "s",
        "server_metadata_url": "http://127.0.0.1:1/.well-known/openid-configuration",
    }
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"] and not at.chat_input
    assert any(NOTICE in i.value for i in at.info)
