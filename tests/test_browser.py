"""`bala serve` driven by headless Debian Chromium: a cited answer and an abstention."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
STARTUP_S = 120
ANSWER_MS = 120_000
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


def _require_browser() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/install_browser.sh (apt chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright Python package is not installed (pip install playwright)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
            return resp.status == 200 and resp.read().strip() == b"ok"
    except OSError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the server's process group (bala serve and its streamlit child)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@contextmanager
def _serving(index_dir: Path, log_dir: Path):
    """`bala serve` on 127.0.0.1 and a free port, yielding its URL; always terminated."""
    _require_browser()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = log_dir / "serve.log"
    cmd = [sys.executable, "-m", "app.cli", "serve", "--index", str(index_dir)]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + STARTUP_S
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"bala serve did not come up: {log_path.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def server(demo_index, tmp_path_factory):
    with _serving(demo_index.index_dir, tmp_path_factory.mktemp("serve")) as url:
        yield url


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    """A server on a one-file index whose text holds HTML, a Markdown image and dollars."""
    _require_browser()
    from core.settings import load_settings
    from index.build import ingest_paths

    root = tmp_path_factory.mktemp("hostile")
    (root / "docs").mkdir()
    (root / "docs" / "car-t-relapse-notes.txt").write_text(HOSTILE_TEXT, encoding="utf-8")
    settings = load_settings(root / "index")
    assert not ingest_paths([root / "docs"], settings).failed
    with _serving(settings.index_dir, root) as url:
        yield url


def _browse(url: str):
    """A fresh headless Chromium page on `url`, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(ANSWER_MS)
            page.goto(url, wait_until="domcontentloaded")
            yield page
        finally:
            browser.close()


@pytest.fixture
def page(server):
    yield from _browse(server)


@pytest.fixture
def hostile_page(hostile_server):
    yield from _browse(hostile_server)


def _ask(page, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.wait_for(state="visible")
    box.fill(question)
    box.press("Enter")


def _screenshot(page, path: Path) -> None:
    """The whole app (Streamlit scrolls inside its own container, so grow the viewport)."""
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": 1400, "height": min(max(int(height) + 200, 1000), 6000)})
    page.wait_for_timeout(800)  # let expanders finish animating
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


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
    _screenshot(page, tmp_path / "answer.png")


def test_off_topic_question_abstains(page, tmp_path):
    _ask(page, OFF_TOPIC)
    page.get_by_text(ABSTAIN).first.wait_for(state="visible")
    # Streamlit renders the message top-down: wait for the sources panel under the warning.
    answer = page.get_by_test_id("stChatMessage").nth(1)
    answer.get_by_text("closest, not supporting").first.wait_for(state="visible")
    assert page.locator("blockquote").count() == 0
    _screenshot(page, tmp_path / "abstention.png")


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
    _screenshot(hostile_page, tmp_path / "literal.png")
