"""Question banks: quotes tied to their place, stale entries reported, indexed incrementally."""

from __future__ import annotations

import shutil

from bot.types import SourceDocument
from ingest.chunking import chunk_document
from ingest.indexing import ingest_corpus
from ingest.questions import bank_path, locate_bank, read_bank
from ingest.records import bank_from_records
from ingest.store import ChromaIndex
from tests.conftest import CORPUS, FakeEmbedder

TEXT = "## Start\n\nSessions are weekly at first. Results take 4-12 weeks.\n"
DOC = SourceDocument("a.md", "A", "", "", TEXT)


def test_each_question_is_tied_to_its_quote_and_chunk():
    chunks = chunk_document(DOC)
    entries = [
        {"quote": "Results take 4-12 weeks.", "questions": ["how long b4 it works", "when?"]}
    ]
    found, problems = locate_bank(entries, DOC, chunks, "a.questions.yaml")
    assert problems == []
    assert [q.question for q in found] == ["how long b4 it works", "when?"]
    assert {TEXT[q.start : q.end] for q in found} == {"Results take 4-12 weeks."}
    assert {q.chunk for q in found} == {chunks[0].id}


def test_a_quote_no_longer_in_the_article_is_reported_stale_and_skipped():
    entries = [
        {"quote": "Results take 2-6 weeks.", "questions": ["how long?"]},
        {"quote": "Sessions are weekly at first.", "questions": ["how often?", "How often?"]},
    ]
    found, problems = locate_bank(entries, DOC, chunk_document(DOC), "a.questions.yaml")
    assert [q.question for q in found] == ["how often?"]  # the duplicate is dropped too
    [problem] = problems
    assert problem.source == "a.questions.yaml"
    assert "entry 1 is stale" in problem.reason and "Results take 2-6" in problem.reason


def test_a_bank_sits_beside_its_article_and_must_have_entries(tmp_path):
    assert bank_path(tmp_path, "sub/a.md") == tmp_path / "sub" / "a.questions.yaml"
    assert read_bank(tmp_path / "missing.questions.yaml") == []
    bad = tmp_path / "bad.questions.yaml"
    bad.write_text("entries: [{quote: 1}]\n")
    try:
        read_bank(bad)
    except ValueError as exc:
        assert "entry 1" in str(exc)
    else:
        raise AssertionError("a malformed bank was accepted")


def _bank(index, model="fake-embedder"):
    got = index.active(model).get(["documents", "metadatas"])
    return bank_from_records(got["ids"], got["documents"], got["metadatas"])


def test_the_bank_is_indexed_incrementally_and_stale_entries_are_reported(tmp_path, make_settings):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = make_settings(corpus)
    first = FakeEmbedder()
    summary, problems = ingest_corpus(settings, ChromaIndex.from_settings(settings), first)
    assert problems == [] and summary.questions > 200
    index = ChromaIndex.from_settings(settings)
    assert len(_bank(index)) == summary.questions

    again = FakeEmbedder(forbid=True)  # nothing changed: nothing is embedded
    summary, _ = ingest_corpus(settings, index, again)
    assert summary.added == summary.updated == summary.deleted == 0

    bank = corpus / "medication-and-therapy.questions.yaml"
    text = bank.read_text(encoding="utf-8")
    bank.write_text(text.replace("entries:\n", 'entries:\n  - quote: "Not in the article."\n'
                                 '    questions: ["a question nobody can answer"]\n'
                                 '  - quote: "Therapy strengthens independence"\n'
                                 '    questions: ["will therapy make me need pills less someday"]\n', 1),
                    encoding="utf-8")  # fmt: skip
    embedder = FakeEmbedder()
    summary, problems = ingest_corpus(settings, index, embedder)
    assert embedder.embedded == ["will therapy make me need pills less someday"]
    assert [p.source for p in problems] == ["medication-and-therapy.questions.yaml"]
    assert "stale" in problems[0].reason
    questions = [q.question for q in _bank(index)]
    assert "will therapy make me need pills less someday" in questions
    assert "a question nobody can answer" not in questions


def test_a_bank_that_cannot_be_read_is_reported_and_its_questions_kept(tmp_path, make_settings):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = make_settings(corpus)
    index = ChromaIndex.from_settings(settings)
    first, _ = ingest_corpus(settings, index, FakeEmbedder())
    (corpus / "medication-and-therapy.questions.yaml").write_text("entries: [unclosed\n")
    summary, problems = ingest_corpus(settings, index, FakeEmbedder(forbid=True))
    assert [p.source for p in problems] == ["medication-and-therapy.questions.yaml"]
    assert "cannot be read" in problems[0].reason
    assert summary.questions == first.questions == len(_bank(index))
