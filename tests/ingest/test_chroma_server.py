"""The same index, generations and alias, on a Chroma server (`chroma run`) on loopback."""

import contextlib
import dataclasses
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from ingest.chunking import SCHEMA_VERSION
from ingest.indexing import ingest_corpus
from ingest.store import ChromaIndex, IndexUnreachable, open_client
from tests.conftest import FakeEmbedder


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        chroma = Path(shutil.which("chroma") or "chroma")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tmp_path_factory.mktemp("chroma-server")
    command = [
        str(chroma),
        "run",
        "--path",
        str(folder),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("chroma run did not start listening within 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_ingest_against_a_server_is_incremental_and_switches_generations(
    chroma_url, make_settings, small_corpus
):
    settings = make_settings(small_corpus, chroma_url=chroma_url, collection="server-test")
    index = ChromaIndex.from_settings(settings)
    first, _ = ingest_corpus(settings, index, FakeEmbedder())
    generation = index.pointers()["active"]
    again, _ = ingest_corpus(settings, index, FakeEmbedder(forbid=True))
    assert (first.added, again.unchanged, again.added) == (6, 6, 0)
    assert index.pointers()["active"] == generation

    (small_corpus / "exercise.txt").unlink()
    changed, _ = ingest_corpus(settings, index, FakeEmbedder())
    assert changed.deleted == 2
    assert index.pointers() == {
        "active": index.pointers()["active"],
        "previous": generation,
        "schema_version": SCHEMA_VERSION,
    }
    sources = {m["source"] for m in index.active("fake-embedder").get(["metadatas"])["metadatas"]}
    assert sources == {"sleep.md"}


@pytest.fixture
def silent_server():
    """A server on loopback that accepts connections and never answers (a hung Chroma)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    listener.close()


def test_a_server_that_never_answers_fails_start_up_within_the_timeout(
    silent_server, make_settings, small_corpus
):
    settings = make_settings(small_corpus, chroma_url=silent_server, chroma_timeout=0.5)
    raised = []

    def start():
        try:
            open_client(settings)
        except IndexUnreachable as exc:
            raised.append(str(exc))

    thread = threading.Thread(target=start, daemon=True)
    thread.start()
    thread.join(timeout=15)  # without the limit, the client would wait for ever
    assert not thread.is_alive(), "open_client still waiting on a server that never answers"
    assert raised and raised[0].startswith("Cannot reach the Chroma server")


def test_requests_to_a_server_carry_the_timeout(chroma_url, make_settings, small_corpus):
    settings = make_settings(small_corpus, chroma_url=chroma_url, chroma_timeout=3.5)
    client = open_client(settings)
    assert client._server._session.timeout == httpx.Timeout(3.5)
    assert client.heartbeat() > 0


def test_a_bot_on_the_server_searches_it_query_by_query_and_answers_as_in_memory(
    chroma_url, bot, embedder
):
    from bot.chat import Bot
    from bot.index_search import IndexRetriever

    settings = dataclasses.replace(
        bot.settings, chroma_url=chroma_url, collection="server-bot", memory_passages=20
    )
    served = Bot.build(settings, embedder=embedder, say=lambda _: None)  # ingests into it
    assert isinstance(served.retriever, IndexRetriever)  # 28 passages: more than 20
    assert served.retriever.articles == bot.retriever.articles
    for question in (
        "do meds n therapy work better together or nah",
        "how long till my lexapro starts working",
        "can i just stop my pills once therapy helps",
        "whats the best pizza place near me",
    ):
        mine, theirs = served.ask(question), bot.ask(question)
        assert (mine.text, mine.mode, mine.citations) == (
            theirs.text,
            theirs.mode,
            theirs.citations,
        )
    citation = served.ask("do meds n therapy work better together or nah").citations[0]
    assert served.passage_for(citation) == bot.passage_for(citation)


def test_apps_on_a_server_serve_its_generation_and_leave_updates_to_ingest(
    chroma_url, make_settings, small_corpus, embedder
):
    from bot.chat import Bot
    from bot.index_search import IndexRetriever
    from bot.service import generation_of

    settings = make_settings(small_corpus, chroma_url=chroma_url, collection="server-no-sync")
    first = Bot.build(settings, embedder=embedder, say=lambda _: None)  # no index yet: built
    (small_corpus / "new.md").write_text("## Naps\n\nA short nap can help after a bad night.")
    second = Bot.build(settings, embedder=embedder, say=lambda _: None)
    assert generation_of(second) == generation_of(first)  # not synced by an app
    assert not isinstance(second.retriever, IndexRetriever)  # small: read into memory
    summary, _ = ingest_corpus(settings, ChromaIndex.from_settings(settings), embedder)
    assert summary.added == 1
    third = Bot.build(settings, embedder=embedder, say=lambda _: None)
    assert generation_of(third) != generation_of(first)
    assert "new.md" in {a.source for a in third.retriever.articles}
