"""`bala serve` driven by headless Debian Chromium: a cited answer and an abstention."""

from __future__ import annotations

import re

import pytest
from browser_util import browse, require_browser, screenshot, serving

pytestmark = pytest.mark.browser

QUESTION = "What happens after relapse following CD19 CAR T cells?"
OFF_TOPIC = "What diet is best for gout?"
ABSTAIN = "Insufficient evidence in the indexed library"
HOSTILE = (
    "<script>alert(1)</script> ![x](http://example.invalid/x.png) $5 to $10"
    " (:smile: www.example.invalid ops@example.invalid)"
)
WORD_JOINER = "\u2060"  # invisible; app/ui_text.py puts it where autolinks would fire
HOSTILE_TEXT = (
    "Relapse after CD19 CAR T-cell therapy in B-ALL is frequently CD19-negative.\n\n"
    f"Salvage blinatumomab after CAR T relapse cost {HOSTILE} per vial in the survey.\n\n"
    "Inotuzumab ozogamicin targets CD22 and is used for relapsed B-ALL.\n"
)
HOSTILE_QUESTION = "What did salvage blinatumomab after CAR T relapse cost per vial?"
SOURCE_LINK = 'a[href*="pubmed.ncbi.nlm.nih.gov"], a[href*="doi.org"]'


@pytest.fixture(scope="module")
def server(demo_index, tmp_path_factory):
    with serving(demo_index.index_dir, tmp_path_factory.mktemp("serve")) as url:
        yield url


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    """A server on a one-file index whose text holds HTML, a Markdown image and dollars."""
    require_browser()
    from core.settings import load_settings
    from index.build import ingest_paths

    root = tmp_path_factory.mktemp("hostile")
    (root / "docs").mkdir()
    (root / "docs" / "car-t-relapse-notes.txt").write_text(HOSTILE_TEXT, encoding="utf-8")
    settings = load_settings(root / "index")
    assert not ingest_paths([root / "docs"], settings).failed
    with serving(settings.index_dir, root) as url:
        yield url


@pytest.fixture
def page(server):
    yield from browse(server)


@pytest.fixture
def hostile_page(hostile_server):
    yield from browse(hostile_server)


def _ask(page, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.wait_for(state="visible")
    box.fill(question)
    box.press("Enter")


def test_answer_with_quotes_and_source_links(page, tmp_path):
    _ask(page, QUESTION)
    answer = page.get_by_test_id("stChatMessage").nth(1)
    answer.wait_for(state="visible")
    page.locator(SOURCE_LINK).first.wait_for(state="visible")
    quotes = answer.locator("blockquote")
    assert quotes.count() >= 1
    for i in range(quotes.count()):
        assert re.search(r"\[\d+(, p\. \d+)?\]", quotes.nth(i).inner_text())
    assert "Sources" in answer.inner_text()
    sidebar = page.get_by_test_id("stSidebar").inner_text()
    assert "Indexed library" in sidebar and "Example questions" in sidebar
    page.get_by_text("Passage around quote 1").first.click()
    page.get_by_test_id("stExpanderDetails").first.wait_for(state="visible")
    screenshot(page, tmp_path / "answer.png")


def test_off_topic_question_abstains(page, tmp_path):
    _ask(page, OFF_TOPIC)
    page.get_by_text(ABSTAIN).first.wait_for(state="visible")
    # Streamlit renders the message top-down: wait for the sources panel under the warning.
    answer = page.get_by_test_id("stChatMessage").nth(1)
    answer.get_by_text("closest, not supporting").first.wait_for(state="visible")
    assert page.locator("blockquote").count() == 0
    screenshot(page, tmp_path / "abstention.png")


def test_document_markup_is_shown_as_text(hostile_page, tmp_path):
    dialogs: list[str] = []
    hostile_page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _ask(hostile_page, HOSTILE_QUESTION)
    answer = hostile_page.get_by_test_id("stChatMessage").nth(1)
    answer.locator("blockquote").first.wait_for(state="visible")
    hostile_page.get_by_text("Passage around quote 1").first.click()
    details = hostile_page.get_by_test_id("stExpanderDetails").first
    details.wait_for(state="visible")
    # the expander can be visible a moment before its passage is rendered into it
    details.get_by_text("per vial in the survey", exact=False).first.wait_for(state="visible")
    quote = answer.locator("blockquote").first.inner_text().replace(WORD_JOINER, "")
    passage = details.inner_text()
    assert HOSTILE in quote and HOSTILE in passage.replace(WORD_JOINER, "")
    for selector in ('img[src*="example.invalid"]', 'a[href*="example.invalid"]'):
        assert hostile_page.locator(selector).count() == 0, selector
    inline_scripts = hostile_page.locator("script:not([src])").all_inner_texts()
    assert not any("alert(1)" in text for text in inline_scripts)
    assert hostile_page.locator(".katex").count() == 0 and not dialogs
    assert "\U0001f604" not in answer.inner_text()  # :smile: stays text
    screenshot(hostile_page, tmp_path / "literal.png")
