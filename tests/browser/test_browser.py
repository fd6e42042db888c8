"""The app in a real browser: Debian's Chromium, driven by Playwright's sync API, against `demo`
served in this process (Playwright's own browser download is not used)."""

from __future__ import annotations

import dataclasses
import re
import socket
import time
from pathlib import Path

import pytest

from bot import feedback
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = PROJECT_ROOT / "test-results" / "browser"
FAQ_QUESTION = "How long until I see results from medication and therapy?"
CRISIS_MESSAGE = "I want to kill myself"
MARKUP = "<img src=x onerror=alert(1)> **bold** [link](https://example.com) what is DBT?"


@pytest.fixture(scope="module")
def url(app):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, local_url, _ = app.demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        theme=app.THEME,  # as `python app.py` serves it
    )
    yield local_url
    app.demo.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is missing: `make browser` installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, url):
    """A fresh page on the app; any JavaScript dialog (e.g. an injected alert) fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url)
    yield page
    context.close()
    assert dialogs == []


def last(page, role: str):
    return page.locator(f'[data-testid="{role}"]').last


def test_an_faq_example_streams_a_cited_answer_and_a_crisis_message_gets_resources(app, page):
    from playwright.sync_api import expect

    [faq] = [c for c in app.BOT.retriever.faq_chunks if c.question == FAQ_QUESTION]
    page.get_by_role("button", name=FAQ_QUESTION).click()

    expect(last(page, "bot")).to_contain_text(f"{faq.answer.text} [1]", timeout=20_000)
    expect(last(page, "bot")).to_contain_text(app.DISCLAIMER)
    marker = last(page, "bot").get_by_role("link", name="[1]")
    expect(marker).to_have_attribute("href", "#source-1")
    expect(marker).to_have_attribute("title", re.compile(r"^Source 1: Frequently Asked"))

    source = page.locator("#source-1")
    expect(source.locator("mark")).to_have_text(faq.answer.text)
    expect(source.locator(".passage")).to_contain_text(faq.question)  # the quote, in context
    expect(source.locator("summary")).to_have_attribute("aria-label", re.compile(r"^Source 1: "))
    expect(page.locator(".sources")).to_contain_text(app.ARTICLES[0][0])
    expect(page.locator(".sources")).to_contain_text(app.ARTICLES[0][1])

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "faq-answer.png", full_page=True)

    marker.focus()  # citation markers are reachable and followed from the keyboard
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"#source-1$"))
    expect(source).to_be_in_viewport()

    box = page.get_by_role("textbox", name="Your question")
    box.focus()
    page.keyboard.type(CRISIS_MESSAGE)
    page.keyboard.press("Enter")  # Enter submits
    expect(last(page, "user")).to_have_text(CRISIS_MESSAGE)
    expect(last(page, "bot")).to_contain_text("call or text 988", timeout=20_000)
    expect(last(page, "bot").locator("strong").first).to_contain_text("988")
    expect(page.locator(".sources .help")).to_contain_text("988")
    expect(page.locator(".sources details")).to_have_count(0)
    footer = page.get_by_role("complementary", name="Disclaimer and crisis resources")
    expect(footer).to_contain_text("988")  # always there

    page.screenshot(path=SCREENSHOTS / "crisis-reply.png", full_page=True)


def test_markup_typed_into_the_chat_is_shown_as_plain_text(page):
    from playwright.sync_api import expect

    box = page.get_by_role("textbox", name="Your question")
    box.fill(MARKUP)
    box.press("Enter")
    message = last(page, "user")
    expect(message).to_have_text(MARKUP, timeout=20_000)
    expect(last(page, "bot")).to_be_visible()
    for tag in ("img", "strong", "a"):
        expect(message.locator(tag)).to_have_count(0)
    expect(page.locator("img[src=x]")).to_have_count(0)


def test_a_like_is_stored_when_a_feedback_folder_is_set(app, page, tmp_path, monkeypatch):
    from playwright.sync_api import expect

    folder = tmp_path / "feedback"
    settings = dataclasses.replace(app.BOT.settings, feedback_dir=str(folder))
    monkeypatch.setattr(app.BOT, "settings", settings)
    page.get_by_role("button", name=FAQ_QUESTION).click()
    expect(last(page, "bot")).to_contain_text("[1]", timeout=20_000)
    page.get_by_role("button", name="Like", exact=True).last.click()

    deadline = time.monotonic() + 15
    while not (folder / feedback.VOTES_FILE).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    [vote] = feedback.read_votes(folder)
    assert vote["vote"] == "like" and vote["question"] == FAQ_QUESTION
    assert vote["citations"][0]["section"].startswith("Frequently Asked Questions > 5.")
