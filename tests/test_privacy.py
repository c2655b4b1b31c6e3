"""Pure privacy and input checks: identifier masking, language guess, length limit, auth config,
feedback storage (masking, file mode 0600, export/purge) and the app's pure text helpers."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from app.auth import AuthConfigError, AuthMode, is_loopback, oidc_problem, serve_auth_problem
from app.feedback import (
    export_feedback,
    load_answer,
    purge_feedback,
    read_feedback,
    record_feedback,
    store_answer,
)
from app.privacy import MAX_QUESTION_CHARS, guess_language, mask_identifiers, question_problem
from app.views import describe_filters, passage_location, quote_flags, short_source_label
from core.types import Source
from index.retrieve import Filters

ISSUE_QUESTION = "Jane Doe, MRN 12345678, DOB 2015-03-02, relapsed after CAR T: what next?"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ISSUE_QUESTION, "[NAME], MRN [ID], DOB [DATE], relapsed after CAR T: what next?"),
        ("Pt J. Smith relapsed on 3/4/2024", "Pt [NAME] relapsed on [DATE]"),
        ("patient: Maria Lopez, born 2 March 2015", "patient: [NAME], born [DATE]"),
        ("record 1234567 and 555-123-4567", "record [ID] and [PHONE]"),
        ("mail me at a.b@example.org", "mail me at [EMAIL]"),
        ("medical record number: A-99812", "medical record number: [ID]"),
    ],
)
def test_identifiers_are_masked(text, expected):
    assert mask_identifiers(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "What happens after relapse following CD19 CAR T cells?",
        "patient with CD19-negative relapse after tisa-cel in 2023",
        "Patient Relapsed after blinatumomab",  # an ordinary word, not a name
        "See PMID 38905627 and PMC1234567 on inotuzumab 0.8 mg/m2",
    ],
)
def test_clinical_text_is_left_alone(text):
    assert mask_identifiers(text) == text


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Welche Optionen gibt es nach einem Rezidiv nach CAR-T?", "German"),
        ("¿Cuáles son las opciones después de la recaída tras CAR T?", "Spanish"),
        ("Quelles sont les options après une rechute sous blinatumomab?", "French"),
        ("What are the options after CD19-negative relapse?", "English"),
        ("CD19 blinatumomab", None),  # too little to tell: let it through
    ],
)
def test_language_guess(question, language):
    assert guess_language(question) == language


def test_question_problem_names_the_reason():
    assert question_problem("What is the role of inotuzumab after CAR T?") is None
    long = "relapse " * 700
    msg = question_problem(long)
    assert msg and f"{len(long):,} characters" in msg and f"{MAX_QUESTION_CHARS:,}" in msg
    msg = question_problem("¿Cuáles son las opciones después de la recaída?")
    assert msg and "Spanish" in msg and "English" in msg


def test_serve_refuses_network_hosts_without_sign_in():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    problem = serve_auth_problem("0.0.0.0", AuthMode("none"), no_auth=False)
    assert problem and "--no-auth" in problem and "secrets.toml" in problem
    assert serve_auth_problem("0.0.0.0", AuthMode("none"), no_auth=True) is None
    assert serve_auth_problem("0.0.0.0", AuthMode("oidc", "s.toml"), no_auth=False) is None
    assert serve_auth_problem("127.0.0.1", AuthMode("none"), no_auth=False) is None


def test_oidc_config_is_checked(tmp_path):
    from app.serve import auth_mode

    full = {
        "redirect_uri": "http://h:8501/oauth2callback",
        "cookie_secret": "x" * 32,
        "client_id": "bala",
        "client_secret": "s",
        "server_metadata_url": "https://idp/.well-known/openid-configuration",
        "client_kwargs": {"prompt": "login"},
    }
    assert oidc_problem(full) is None
    assert "client_secret" in oidc_problem({**full, "client_secret": ""})
    assert oidc_problem({k: v for k, v in full.items() if k != "cookie_secret"})
    named = {"redirect_uri": full["redirect_uri"], "cookie_secret": "c", "okta": full}
    assert oidc_problem(named) is None
    bad = tmp_path / "secrets.toml"
    bad.write_text('[auth]\nredirect_uri = "http://h/oauth2callback"\n')
    with pytest.raises(AuthConfigError, match=str(bad)):
        auth_mode("0.0.0.0", bad, None, False)
    with pytest.raises(AuthConfigError, match="no such secrets file"):
        auth_mode("127.0.0.1", tmp_path / "missing.toml", None, False)
    assert auth_mode("0.0.0.0", None, "X-Forwarded-User", False) == AuthMode(
        "proxy", "X-Forwarded-User"
    )


def test_proxy_header_is_a_setting_read_once(monkeypatch):
    """`BALA_AUTH_PROXY_HEADER` reaches the app through Settings (validated, nested name
    too), and `bala serve` hands the child only the header it decided on."""
    from app.auth import proxy_header
    from core.settings import load_settings

    for var in ("BALA_AUTH_PROXY_HEADER", "BALA_SERVE__AUTH_PROXY_HEADER"):
        monkeypatch.delenv(var, raising=False)
    assert proxy_header() is None
    monkeypatch.setenv("BALA_AUTH_PROXY_HEADER", "X-Remote-User")
    assert proxy_header() == "X-Remote-User"
    monkeypatch.setenv("BALA_SERVE__AUTH_PROXY_HEADER", "X-Forwarded-User")
    assert load_settings().serve.auth_proxy_header == "X-Forwarded-User"
    assert proxy_header() == "X-Forwarded-User"


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_feedback_masks_identifiers_and_is_owner_only(tmp_path):
    path = tmp_path / "feedback.sqlite"
    record_feedback(
        path,
        build_id="b1",
        helpful=True,
        source_ids=["pmid:2", "doi:10.1/x", "pmid:2"],
        question=ISSUE_QUESTION,
        comment="Pt John Smith (MRN 987654321) did well",
        user_id="dr.lee@clinic.test",
    )
    record_feedback(path, build_id="b1", helpful=False, source_ids=["pmid:3"])
    assert _mode(path) == 0o600
    with_q, without_q = read_feedback(path)
    assert with_q["question"] == mask_identifiers(ISSUE_QUESTION)
    assert with_q["comment"] == "Pt [NAME] (MRN [ID]) did well"
    assert with_q["source_ids"] == ["doi:10.1/x", "pmid:2"] and with_q["user_id"]
    assert without_q["question"] is None and without_q["comment"] is None
    assert without_q["user_id"] is None and without_q["helpful"] is False
    raw = path.read_bytes()
    for secret in (b"12345678", b"2015-03-02", b"Jane", b"John Smith", b"987654321"):
        assert secret not in raw


def test_an_existing_world_readable_file_is_tightened(tmp_path):
    path = tmp_path / "feedback.sqlite"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    record_feedback(path, build_id="b", helpful=True, source_ids=[])
    assert _mode(path) == 0o600


def test_kept_answers_hold_no_question(tmp_path):
    path = tmp_path / "feedback.sqlite"
    answer = {"question": ISSUE_QUESTION, "missing_terms": ["Doe"], "build_id": "b7", "quotes": []}
    store_answer(path, "abc123", answer, user_id="u")
    assert load_answer(path, "b7", "abc123") == {"build_id": "b7", "quotes": []}
    assert load_answer(path, "other-build", "abc123") is None
    assert b"Jane" not in path.read_bytes() and b"Doe" not in path.read_bytes()


def test_export_and_purge(tmp_path):
    path = tmp_path / "feedback.sqlite"
    record_feedback(path, build_id="b", helpful=True, source_ids=["pmid:1"])
    store_answer(path, "a1", {"build_id": "b", "quotes": []})
    data = export_feedback(path)
    assert len(data["feedback"]) == 1 and data["answers"][0]["answer_id"] == "a1"
    assert json.dumps(data)  # exportable as JSON
    assert purge_feedback(path, older_than_days=1) == {"feedback": 0, "answers": 0}
    assert purge_feedback(path) == {"feedback": 1, "answers": 1}
    assert read_feedback(path) == [] and _mode(path) == 0o600


def test_legacy_feedback_table_is_set_aside(tmp_path):
    import sqlite3

    path = tmp_path / "feedback.sqlite"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE feedback (id INTEGER PRIMARY KEY, created_at TEXT, question TEXT,"
        " answer_json TEXT, build_id TEXT, helpful INTEGER, comment TEXT)"
    )
    db.execute(
        "INSERT INTO feedback VALUES (1, '2020-01-01T00:00:00+00:00', 'q', '{}', 'b', 1, '')"
    )
    db.commit()
    db.close()
    record_feedback(path, build_id="b2", helpful=True, source_ids=[])
    data = export_feedback(path)
    assert len(data["legacy_feedback"]) == 1 and len(data["feedback"]) == 1
    assert purge_feedback(path, older_than_days=30)["feedback_legacy_v1"] == 1


def test_filter_labels_and_locations():
    assert describe_filters(Filters()) == ""
    assert describe_filters(Filters(kinds=frozenset({"review"}))) == "Reviews only"
    both = describe_filters(
        Filters(kinds=frozenset({"article", "other"}), year_min=2018, year_max=2024)
    )
    assert both == "Primary articles only \u00b7 published 2018\u20132024"
    assert passage_location((64,), "Discussion") == "page 64, Discussion"
    assert passage_location((3, 4), "") == "pages 3\u20134"
    assert passage_location((), "abstract") == "Abstract"
    assert passage_location((), "") == ""


def test_source_label_and_quote_flags():
    review = Source("doi:x", authors=("Lamble AJ", "Kovach AE"), journal="Blood", year=2025)
    assert short_source_label(review) == "Lamble et al \u00b7 Blood \u00b7 2025"
    assert short_source_label(Source("pmid:1", authors=("Adam J. Lamble",))) == "Lamble"
    assert short_source_label(Source("pmid:9", pmid="9")) == "PMID 9"
    assert short_source_label(Source("sha256:ab")) == "sha256:ab"
    long = Source(
        "pmid:3",
        title="Tisagenlecleucel in Children and Young Adults with B-Cell Lymphoblastic Leukemia",
    )
    assert (
        short_source_label(long)
        == "Tisagenlecleucel in Children and Young Adults with B-Cell\u2026"
    )

    class Flagged:
        mismatch = "adult population"
        elided = True

    assert quote_flags(Flagged()) == ["adult population", "shortened with \u2026"]
    assert quote_flags(object()) == []
