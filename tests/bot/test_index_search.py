"""Searching the index in Chroma query by query (bot/index_search.py) gives the evidence and the
answers that the search in memory (bot/retrieval.py) gives, over the same generation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bot.chat import Bot
from bot.index_search import IndexRetriever
from ingest.catalog import read_postings, term_rows
from ingest.store import ChromaIndex, IndexNotReady
from tests.conftest import load_cases

TOLERANCE = 1e-4  # Chroma's own distances against numpy's dot products, in float32


def _spread(items: list, n: int) -> list:
    step = max(1, len(items) // n)
    return items[::step][:n]


def _questions() -> list[tuple[str, list[str]]]:
    """(question, history): typed messages (follow-ups with their history), paraphrases,
    boundary and off-topic questions."""
    typed = [(c["text"], c.get("history", [])) for c in load_cases("typed.yaml")["questions"]]
    paraphrases = [(c["question"], []) for c in load_cases("paraphrases.yaml")["paraphrases"]]
    off_topic = [(q, []) for q in load_cases("out_of_scope.yaml")["out_of_scope"]]
    return _spread(typed, 60) + _spread(paraphrases, 16) + _spread(off_topic, 12)


QUESTIONS = _questions()


@pytest.fixture(scope="module")
def index_bot(bot):
    """The session's bot, but searching its generation in Chroma."""
    settings = dataclasses.replace(bot.settings, search="index")
    return Bot.build(settings, embedder=bot.retriever.embedder, sync=False, say=lambda _: None)


def test_the_bot_searches_in_chroma_when_told_to(bot, index_bot):
    assert isinstance(index_bot.retriever, IndexRetriever)
    assert not isinstance(bot.retriever, IndexRetriever)
    assert not hasattr(index_bot.retriever, "chunks")  # never holds the corpus


def test_start_up_reads_the_catalog_and_no_passage(bot):
    settings = dataclasses.replace(bot.settings, search="index")
    fresh = Bot.build(settings, embedder=bot.retriever.embedder, sync=False, say=lambda _: None)
    assert fresh.retriever._chunks.pick(c.id for c in bot.retriever.chunks) == (
        {},
        [c.id for c in bot.retriever.chunks],
    )
    assert fresh.retriever.catalog.chunks == len(bot.retriever.chunks)


def test_what_the_app_shows_is_the_same(bot, index_bot):
    mine, theirs = index_bot.retriever, bot.retriever
    assert mine.articles == theirs.articles
    assert mine.words == theirs.words
    assert index_bot.speller == bot.speller
    assert [c.id for c in mine.faq_chunks] == [c.id for c in theirs.faq_chunks]
    assert mine.faq_chunks == theirs.faq_chunks
    assert mine.background == theirs.background
    for chunk in theirs.chunks:
        for offset in (chunk.start, chunk.end - 1):
            assert mine.passage_at(chunk.source, offset) == chunk
    assert mine.passage_at(theirs.chunks[0].source, 10**9) is None


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE


def _missed_bank_questions(bot, index_bot, vector, n: int = 10) -> int:
    """How many of the `n` bank questions nearest to `vector` (exactly, in memory) Chroma's
    HNSW search leaves out of its nearest (BANK_POOL)."""
    memory = bot.retriever
    nearest = np.argsort(-(memory._bank_vectors @ vector))[:n]
    exact = [(memory.bank[i].question, memory.bank[i].chunk, memory.bank[i].start) for i in nearest]
    found = {(q.question, q.chunk, q.start) for q, _ in index_bot.retriever._nearest_bank(vector)}
    return sum(key not in found for key in exact)


def test_chroma_finds_the_nearest_bank_questions_nearly_always(bot, index_bot):
    """HNSW is approximate: for a question far from every bank question (an off-topic one)
    Chroma has at times left out one of its nearest, however the graph was built. Seldom."""
    misses = [_missed_bank_questions(bot, index_bot, bot.retriever.embed(q)) for q, _ in QUESTIONS]
    assert sum(misses) <= 2 and sum(m > 0 for m in misses) <= 2


@pytest.mark.parametrize(("question", "history"), QUESTIONS[:40])
def test_the_evidence_is_the_same(bot, index_bot, question, history):
    vector = bot.retriever.embed(question)
    if _missed_bank_questions(bot, index_bot, vector):
        # The answers are still compared (test_the_answers_are_the_same).
        pytest.skip("Chroma's approximate search left out one of the nearest bank questions")
    theirs = bot.retriever.retrieve(question, vector, known=frozenset({"zoloft"}))
    mine = index_bot.retriever.retrieve(question, vector, known=frozenset({"zoloft"}))
    assert [h.chunk for h in mine.hits] == [h.chunk for h in theirs.hits]
    assert all(_close(a.score, b.score) for a, b in zip(mine.hits, theirs.hits, strict=True))
    assert mine.dense.keys() == theirs.dense.keys()
    # In memory every FAQ is ranked; in Chroma the closest ones.
    assert [h.chunk for h in mine.faqs] == [h.chunk for h in theirs.faqs[: len(mine.faqs)]]
    assert all(_close(a.score, b.score) for a, b in zip(mine.faqs, theirs.faqs, strict=False))
    assert [(b.question, b.chunk, b.start) for b in mine.bank] == [
        (b.question, b.chunk, b.start) for b in theirs.bank
    ]
    assert len(mine.sentences) == len(theirs.sentences)
    for a, b in zip(mine.sentences, theirs.sentences, strict=True):
        assert (a.span, a.chunk) == (b.span, b.chunk)
        assert _close(a.similarity, b.similarity) and _close(a.bank, b.bank)
        assert a.overlap == pytest.approx(b.overlap, abs=1e-9)
    assert mine.coverage == theirs.coverage and mine.articles == theirs.articles
    assert mine.background == theirs.background
    assert _close(mine.background_score, theirs.background_score)


@pytest.mark.parametrize(("question", "history"), QUESTIONS)
def test_the_answers_are_the_same(bot, index_bot, question, history):
    mine, theirs = index_bot.ask(question, history), bot.ask(question, history)
    assert (mine.text, mine.mode, mine.risk, mine.suggestions) == (
        theirs.text,
        theirs.mode,
        theirs.risk,
        theirs.suggestions,
    )
    assert [(c.source, c.start, c.end) for c in mine.citations] == [
        (c.source, c.start, c.end) for c in theirs.citations
    ]


def test_the_stopping_faq_is_found_by_meaning(bot, index_bot):
    question = "can i quit my meds now that therapy is going well?"
    mine, theirs = index_bot.ask(question), bot.ask(question)
    assert mine.mode in ("boundary", "faq") and mine.citations
    assert mine.text == theirs.text


def test_a_generation_without_terms_is_refused_with_what_to_do(bot, monkeypatch):
    real = ChromaIndex.active

    def without_terms(self, *args, **kwargs):
        generation = real(self, *args, **kwargs)
        return dataclasses.replace(generation, terms=None)

    monkeypatch.setattr(ChromaIndex, "active", without_terms)
    settings = dataclasses.replace(bot.settings, search="index")
    with pytest.raises(IndexNotReady, match=r"python -m ingest"):
        Bot.build(settings, embedder=bot.retriever.embedder, sync=False)


def test_a_common_term_keeps_the_passages_where_it_weighs_most(bot):
    chunks = bot.retriever.chunks
    full = {r[0]: read_postings(r[1], r[2]) for r in term_rows(chunks)}
    capped = {r[0]: read_postings(r[1], r[2]) for r in term_rows(chunks, cap=3)}
    common = max(full, key=lambda t: len(full[t].ords) if t.startswith("t:") else 0)
    assert len(full[common].ords) > 3 and len(capped[common].ords) == 3
    best = np.argsort(-np.array(full[common].weights), kind="stable")[:3]
    assert capped[common].ords == tuple(sorted(full[common].ords[i] for i in best))
    assert list(capped[common].ords) == sorted(capped[common].ords)
    rare = next(t for t in full if t.startswith("t:") and len(full[t].ords) == 1)
    assert capped[rare] == full[rare]
