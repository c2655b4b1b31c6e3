"""Helpers for the browser tests: `bala serve` and a real OpenID provider on loopback, headless
Debian Chromium, and a few page actions. Everything started here is stopped by its PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
STARTUP_S = 120
ANSWER_MS = 120_000
DESKTOP = {"width": 1400, "height": 1000}
PHONE = {"width": 390, "height": 844}
OIDC_DIR = Path(__file__).resolve().parent / "oidc"
CLIENT_ID, CLIENT_SECRET = "bala-test", "bala-test-client-secret"


def require_browser() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/install_browser.sh (apt chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright Python package is not installed (pip install playwright)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def stop(proc: subprocess.Popen) -> None:
    """Terminate a process group we started (bala serve and its streamlit child)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@contextmanager
def started(cmd: list[str], ready_url: str, log_path: Path, cwd: Path | None = None):
    """Run `cmd` in its own process group until `ready_url` answers 200; always stopped."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )
    try:
        deadline = time.monotonic() + STARTUP_S
        while not _answers(ready_url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{cmd[:4]} did not come up: {log_path.read_text()[-2000:]}")
            time.sleep(0.5)
        yield proc
    finally:
        stop(proc)


@contextmanager
def serving(index_dir: Path, log_dir: Path, extra: list[str] = (), port: int | None = None):
    """`bala serve` on 127.0.0.1 and a free port, yielding its URL."""
    require_browser()
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "app.cli", "serve", "--index", str(index_dir)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), *extra]
    with started(cmd, f"{url}/_stcore/health", log_dir / "serve.log"):
        yield url


@contextmanager
def openid_provider(log_dir: Path, redirect_uri: str):
    """npm's oidc-provider on a loopback port (tests/oidc), yielding its issuer URL."""
    node = shutil.which("node")
    if not node or not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.skip("node or tests/oidc/node_modules missing: run scripts/install_browser.sh")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    cmd = [node, "provider.mjs", str(port), redirect_uri, CLIENT_ID, CLIENT_SECRET]
    ready = f"{issuer}/.well-known/openid-configuration"
    with started(cmd, ready, log_dir / "oidc.log", cwd=OIDC_DIR):
        yield issuer


def write_secrets(path: Path, issuer: str, redirect_uri: str) -> Path:
    """A Streamlit secrets file whose [auth] section points at the test provider."""
    path.write_text(
        "[auth]\n"
        f'redirect_uri = "{redirect_uri}"\n'
        'cookie_secret = "test-only-cookie-secret-with-enough-entropy-0123456789"\n'
        f'client_id = "{CLIENT_ID}"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
        'client_kwargs = { prompt = "login" }\n',
        encoding="utf-8",
    )
    return path


def browse(url: str, viewport: dict = DESKTOP):
    """A fresh headless Chromium page on `url`, closed afterwards (use with `yield from`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport=viewport)
            page.set_default_timeout(ANSWER_MS)
            page.goto(url, wait_until="domcontentloaded")
            yield page
        finally:
            browser.close()


def ask(page, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.wait_for(state="visible")
    box.fill(question)
    box.press("Enter")


def ask_and_wait(page, question: str):
    """Ask, wait until the newest answer is complete (its feedback row is drawn), return it."""
    before = page.get_by_test_id("stChatMessage").count()
    ask(page, question)
    answer = page.get_by_test_id("stChatMessage").nth(before + 1)
    answer.get_by_text("Build ").first.wait_for(state="visible")
    page.wait_for_timeout(2500)  # the app scrolls the new question into view
    return answer


def reader_scrolls(page) -> None:
    """The reader scrolls a little, as one does to reach the buttons under an answer: the app
    then stops keeping the newest question in view (a click while it still does can land on
    whatever its scrolling moved under the pointer)."""
    page.mouse.wheel(0, 120)
    page.wait_for_timeout(300)


def in_viewport(locator) -> bool:
    """Is the element's top inside the visible window (below Streamlit's header bar)?"""
    box = locator.evaluate("e => { const r = e.getBoundingClientRect(); return [r.top, r.bottom] }")
    height = locator.page.viewport_size["height"]
    return 0 <= box[0] < height and box[1] > 0


def screenshot(page, path: Path, full: bool = True) -> None:
    """The whole app (Streamlit scrolls inside its own container, so grow the viewport), or
    exactly what the reader sees when `full` is False."""
    if full:
        height = page.evaluate(
            "() => Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight))"
        )
        width = page.viewport_size["width"]
        page.set_viewport_size({"width": width, "height": min(max(int(height) + 200, 1000), 6000)})
        page.wait_for_timeout(800)  # let expanders finish animating
    page.screenshot(path=str(path), full_page=full)
    print(f"screenshot: {path}")


def sign_in(page, user: str) -> None:
    """Click "Sign in", log in on the provider's own page, consent, and come back."""
    page.get_by_role("button", name="Sign in").click()
    page.locator('input[name="login"]').wait_for(state="visible")
    page.fill('input[name="login"]', user)
    page.fill('input[name="password"]', "any")
    page.click('button[type="submit"]')
    page.wait_for_load_state()
    if page.locator('button[type="submit"]').count():  # the consent page
        page.click('button[type="submit"]')
    page.get_by_text("Signed in as").wait_for(state="visible")
