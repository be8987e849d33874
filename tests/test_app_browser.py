"""The running page in headless Chromium: `python app.py` (fakes, tmp index) driven by Playwright.

Needs Debian's Chromium (`apt-get install chromium`); Playwright's own browser download is not used.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUESTION = "Quel journal a révélé l'appel entre Trump et Poutine ?"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"app.py exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"app.py did not answer on {url} within {seconds:.0f}s")


@pytest.fixture
def server(tmp_path: Path, seeds: Path):
    port = free_port()
    env = os.environ | {
        "RAG_SOURCES": f'["{seeds}"]',
        "RAG_INDEX_DIR": str(tmp_path / "index"),
        "RAG_MODEL_CACHE": str(tmp_path / "cache"),
        "RAG_LLM": "fake",
        "RAG_EMBEDDER": "fake",
        "RAG_MIN_DENSE_SCORE": "0",
        "RAG_MIN_CONFIDENCE": "0",  # the fake's replies are no graded answers
        "GRADIO_SERVER_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_question_answered_with_sources(server, settings):
    sync_api = pytest.importorskip("playwright.sync_api")
    from rag.pipeline import RAG

    bot = RAG(settings)  # the same fakes on the same seeds: the answer the page must show
    bot.ingest(progress=False)
    expected = bot.ask(QUESTION)
    assert expected.citations

    shots = ROOT / "docs" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR")
            page.goto(server, wait_until="load")
            box = page.locator("#question").get_by_role("textbox")
            box.wait_for(timeout=30_000)
            box.fill(QUESTION)
            box.press("Enter")
            page.locator("#sources .source").first.wait_for(timeout=60_000)
            chat = page.locator("#chat")
            answer_start = expected.text.split("[")[0].strip()
            page.wait_for_function(
                "t => document.querySelector('#chat').innerText.includes(t)",
                arg=answer_start,
                timeout=30_000,
            )
            assert answer_start in chat.inner_text()
            sources = page.locator("#sources").inner_text()
            assert expected.citations[0].source in sources
            assert page.locator("#sources mark").count() >= 1
            assert "Latence" in page.locator("#latency").inner_text()

            # Clicking a citation marker brings its passage forward (focused, outlined).
            marker = chat.locator('a[href="#src-1"]').first
            marker.click()
            page.wait_for_function(
                "() => document.activeElement && document.activeElement.id === 'src-1'"
            )
            assert len(page.context.pages) == 1  # the same tab, not a new one
            page.screenshot(path=str(shots / "e2e.png"), full_page=True)

            # The interface switches to English; the conversation stays.
            page.get_by_text("English", exact=True).first.click()
            page.wait_for_function(
                "() => document.querySelector('#send').innerText.trim() === 'Send'"
            )
            assert answer_start in chat.inner_text()
        finally:
            browser.close()


@pytest.mark.server
def test_login_page_then_a_readers_page(tmp_path):
    """Behind the login: the login form loads (the guard lets its assets through), a wrong password
    is refused, bob (a reader) gets the chat and an answer, and no upload or remove controls."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.security_attacks import USERS, App

    with App(tmp_path) as app, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR")
            page.goto(app.url + "/", wait_until="load")
            name, secret = (
                page.locator("input[type=text]").first,
                page.locator("input[type=password]").first,
            )
            secret.wait_for(timeout=30_000)
            assert page.get_by_text("Connectez-vous pour poser vos questions").count() == 1
            name.fill("bob")
            secret.fill("wrong-password")
            page.locator(
                "button"
            ).first.click()  # the form's only button (its label follows the locale)
            page.wait_for_function(
                "() => /incorrect|incorrects/i.test(document.body.innerText)", timeout=15_000
            )
            name.fill("bob")  # the form clears itself after a failure
            secret.fill(USERS["bob"][0])
            page.locator(
                "button"
            ).first.click()  # the form's only button (its label follows the locale)
            box = page.locator("#question").get_by_role("textbox")
            box.wait_for(timeout=30_000)
            page.wait_for_function(
                "() => /bob \\(reader\\)/.test(document.body.innerText)", timeout=15_000
            )
            box.fill(QUESTION)
            box.press("Enter")
            page.locator("#sources .source").first.wait_for(timeout=60_000)
            page.get_by_role("tab", name="Documents").click()
            page.locator("#documents").wait_for(timeout=15_000)
            assert page.get_by_role("button", name="Ajouter et indexer").count() == 0
            assert page.get_by_role("button", name="Supprimer").count() == 0
        finally:
            browser.close()
