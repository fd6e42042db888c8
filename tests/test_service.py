"""The serving bot (bot/service.py): new index generations picked up without a restart, and a
plain reply, with the crisis lines, while the index cannot be reached."""

from __future__ import annotations

import logging
import time

import pytest
from chromadb.errors import NotFoundError

from bot.chat import Bot
from bot.index_search import IndexRetriever
from bot.replies import UNAVAILABLE_REPLY, load_resources
from bot.service import BotService, unavailable_answer
from evals.bench_load import ChromaServer
from ingest.indexing import ingest_corpus
from ingest.store import ChromaIndex

JOURNALING = """---
title: Journaling
date: 2025-02-01
description: A short note on journaling.
---

## Frequently Asked Questions

### 1. Does journaling help with worry?

Writing worries down before bed can quiet racing thoughts.
"""
QUESTION = "Does journaling help with worry?"
RISKY_QUESTION = "Sometimes I think about hurting myself. Do naps help?"  # concern, and asks
CRISIS_LINES = [r.line for r in load_resources("crisis")]


def add_article(settings, embedder, name: str = "journaling.md", text: str = JOURNALING) -> str:
    """Write an article and ingest it, as `python -m ingest` elsewhere would (its own client);
    the newly active generation's name."""
    (settings.corpus_dir / name).write_text(text, encoding="utf-8")
    index = ChromaIndex.from_settings(settings)
    ingest_corpus(settings, index, embedder)
    return index.active_name()


def cites(answer, source: str) -> bool:
    return any(c.source == source for c in answer.citations)


@pytest.fixture
def local(make_settings, small_corpus, embedder):
    """A service over a local index of the small corpus, not watching (tests call check())."""
    settings = make_settings(small_corpus)
    service = BotService.start(settings, embedder=embedder, watch=False)
    yield settings, service
    service.close()


# --------------------------------------------------------------------------- new generations


def test_a_new_generation_is_picked_up_and_requests_on_the_old_bot_still_finish(local, embedder):
    settings, service = local
    first, old = service.generation, service.bot
    assert not cites(service.ask(QUESTION), "journaling.md")

    active = add_article(settings, embedder)
    assert active != first and service.generation == first  # not yet checked
    assert service.check() is True
    assert service.generation == active and service.bot is not old
    # The models already in memory are reused, not loaded again.
    assert service.bot.retriever.embedder is old.retriever.embedder
    assert service.bot.risk_model is old.risk_model is not None
    answer = service.ask(QUESTION)
    assert cites(answer, "journaling.md") and "quiet racing thoughts" in answer.text
    # A request that started on the old Bot finishes there: its generation is kept.
    assert old.ask("Do naps help?").citations
    assert service.check() is False  # nothing new


def test_the_watcher_thread_swaps_in_a_new_generation(make_settings, small_corpus, embedder):
    settings = make_settings(small_corpus)
    index = ChromaIndex.from_settings(settings)
    bot = Bot.build(settings, embedder=embedder, index=index)
    service = BotService(bot, index, reload_seconds=0.05)
    service.watch()
    try:
        active = add_article(settings, embedder)
        deadline = time.monotonic() + 60  # bounded wait, nothing timed
        while service.generation != active and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.generation == active
        assert cites(service.ask(QUESTION), "journaling.md")
    finally:
        service.close()


def test_a_failed_reload_keeps_the_old_bot_serving_and_is_logged_once(
    make_settings, small_corpus, embedder, caplog
):
    settings = make_settings(small_corpus)
    index = ChromaIndex.from_settings(settings)
    bot = Bot.build(settings, embedder=embedder, index=index)

    def broken(old):
        raise RuntimeError("generation unreadable")

    service = BotService(bot, index, load=broken)
    add_article(settings, embedder)
    with caplog.at_level(logging.INFO, logger="medfaq"):
        assert service.check() is False
        assert service.check() is False
    assert service.bot is bot
    assert service.ask("Do naps help?").citations
    warnings = [r for r in caplog.records if "could not load index generation" in r.message]
    assert len(warnings) == 1 and "still serving" in warnings[0].message


def test_a_bot_whose_generation_was_dropped_reloads_and_answers(local, embedder):
    settings, service = local
    old = service.bot
    # As with a server: each question asks the collection for its passages (a local folder's
    # Bot ranks them itself, and would answer from its own copy until the next reload).
    old.retriever.passages_in_process = False
    add_article(settings, embedder)  # the first generation becomes "previous"
    add_article(settings, embedder, "more.md", JOURNALING.replace("Journaling", "More"))
    with pytest.raises(NotFoundError):  # ... and is dropped by the second flip
        old.ask("Why does sleep matter?")
    answer = service.ask("Why does sleep matter?")  # no check() in between
    assert answer.mode == "passages" and answer.citations
    assert service.generation == ChromaIndex.from_settings(settings).active_name()


# --------------------------------------------------------------------------- an unreachable index


class Outage:
    """Switches an index and a Bot's collection between answering and refusing, as a Chroma
    server going down and coming back does."""

    def __init__(self):
        self.down = False

    def check(self):
        if self.down:
            raise ConnectionError("[Errno 111] Connection refused")


class FlakyCollection:
    def __init__(self, collection, outage: Outage):
        self._collection, self._outage = collection, outage

    def __getattr__(self, name):
        return getattr(self._collection, name)

    def query(self, **kwargs):
        self._outage.check()
        return self._collection.query(**kwargs)


class FlakyIndex:
    def __init__(self, index, outage: Outage):
        self._index, self._outage = index, outage
        self.where = "http://127.0.0.1:1"

    def active_name(self):
        self._outage.check()
        return self._index.active_name()


@pytest.fixture
def flaky(make_settings, small_corpus, embedder):
    settings = make_settings(small_corpus)
    index = ChromaIndex.from_settings(settings)
    bot = Bot.build(settings, embedder=embedder, index=index)
    outage = Outage()
    bot.retriever.collection = FlakyCollection(bot.retriever.collection, outage)
    bot.retriever.passages_in_process = False  # as with a server: every question asks it
    return BotService(bot, FlakyIndex(index, outage)), outage


def test_while_the_index_is_unreachable_replies_say_so_keep_crisis_help_and_recover(flaky, caplog):
    service, outage = flaky
    normal = service.ask("Why does sleep matter?")
    assert normal.mode == "passages"
    outage.down = True
    with caplog.at_level(logging.INFO, logger="medfaq"):
        down = service.ask("Why does sleep matter?")
        risky = service.ask(RISKY_QUESTION)
        flagged = service.ask("Do naps help?", ["I want to kill myself"])
        unhealthy = service.health()
        outage.down = False
        back = service.ask("Why does sleep matter?")
        healthy = service.health()

    assert down.mode == "unavailable" and not down.citations and not down.crisis
    assert down.text.startswith(UNAVAILABLE_REPLY)
    assert all(line in down.text for line in CRISIS_LINES)
    # The risk check needs no index: a message at risk still gets its resources first.
    assert risky.crisis and risky.risk == "concern"
    assert risky.text.index("988") < risky.text.index(UNAVAILABLE_REPLY)
    assert flagged.crisis and flagged.risk is not None and UNAVAILABLE_REPLY in flagged.text
    assert back == normal  # recovered, with no restart
    assert unhealthy.as_dict()["status"] == "unavailable" and healthy.ok

    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.message.split(" (")[0] for r in records] == [
        "index unreachable at http://127.0.0.1:1"
    ]
    assert all(r.exc_info is None for r in caplog.records)  # no traceback
    assert any("reachable again" in r.message for r in caplog.records)


def test_a_failure_that_is_not_the_index_is_raised(flaky, monkeypatch):
    service, _ = flaky

    def broken(question, history=()):
        raise ValueError("a bug")

    monkeypatch.setattr(service.bot, "ask", broken)
    with pytest.raises(ValueError, match="a bug"):
        service.ask("Why does sleep matter?")


def test_the_unavailable_reply_always_carries_the_crisis_lines():
    answer = unavailable_answer("x" * 3000, None, None, max_chars=2000)
    assert answer.mode == "unavailable" and answer.notices  # the cut is still noticed
    assert all(line in answer.text for line in CRISIS_LINES)


# --------------------------------------------------------------------------- a real server


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    with ChromaServer(tmp_path_factory.mktemp("chroma-service")) as server:
        yield server


@pytest.mark.parametrize("search", ["memory", "index"])
def test_against_a_chroma_server_new_generations_outage_and_recovery(
    chroma, make_settings, small_corpus, embedder, search
):
    settings = make_settings(
        small_corpus, chroma_url=chroma.url, collection=f"service-{search}", search=search
    )
    service = BotService.start(settings, embedder=embedder, watch=False)
    assert isinstance(service.bot.retriever, IndexRetriever) == (search == "index")
    assert service.ask("Why does sleep matter?").mode == "passages"

    active = add_article(settings, embedder)  # ingest through another client
    assert service.check() and service.generation == active
    assert isinstance(service.bot.retriever, IndexRetriever) == (search == "index")
    assert cites(service.ask(QUESTION), "journaling.md")
    health = service.health().as_dict()
    assert health["status"] == "ok" and health["generation"] == active
    assert {a["source"] for a in health["articles"]} == {
        "exercise.txt",
        "journaling.md",
        "sleep.md",
    }

    chroma.stop()
    try:
        down = service.ask(QUESTION)
        assert down.mode == "unavailable" and UNAVAILABLE_REPLY in down.text
        assert not service.health().ok
        assert service.check() is False
    finally:
        chroma.start()
    back = service.ask(QUESTION)
    assert cites(back, "journaling.md")
    assert service.health().ok and service.generation == active  # the same data, back
