"""The scale benchmark's own parts (evals/bench_scale.py): recombined corpora are deterministic
valid articles with unique titles, the random-vector index opens with the real loader, and the
limits and the table say what they should. The run itself is `python -m evals.bench_scale`."""

from __future__ import annotations

import numpy as np
import pytest

from bot.retrieval import load_retriever
from bot.settings import Settings
from evals import bench_scale as scale
from ingest.store import ChromaIndex
from tests.conftest import ARTICLE

SEED_TEXT = ARTICLE.read_text(encoding="utf-8")


def test_the_seed_is_read_into_its_sections_and_faqs():
    seed = scale.parse_seed(SEED_TEXT)
    assert seed.title == "Combining Medication and Therapy for Mental Health"
    assert seed.date == "2026-02-25" and len(seed.intro) == 1
    assert [len(p) for _, p in seed.sections] == [2, 3, 6, 4, 4]
    assert (
        len(seed.faqs) == 8 and seed.faqs[0][0] == "Do medication and therapy work better together?"
    )
    for block in [
        *seed.intro,
        *(p for _, ps in seed.sections for p in ps),
        *(a for _, a in seed.faqs),
    ]:
        assert block in SEED_TEXT


def test_recombined_articles_are_deterministic_valid_and_uniquely_titled(tmp_path):
    seed = scale.parse_seed(SEED_TEXT)
    assert scale.recombine(seed, 7) == scale.recombine(seed, 7) != scale.recombine(seed, 8)
    folder = scale.write_corpus(tmp_path / "corpus", 30)
    documents, chunks, records = scale.corpus_records(folder)
    assert len(documents) == 30 and len({d.title for d in documents}) == 30
    assert all(d.date and d.title.startswith(seed.title) for d in documents)
    headings = {h for h, _ in seed.sections} | {scale.FAQ_HEADING}
    for doc in documents:
        mine = [c for c in chunks if c.source == doc.source]
        assert sum(c.kind == "faq" for c in mine) == 4  # FAQs found as FAQs, renumbered 1-4
        assert sorted(c.faq for c in mine if c.faq) == [1, 2, 3, 4]
        sections = {c.section.split(" > ")[0] for c in mine} - {doc.title}  # the opening
        assert len(sections) == 4 and sections <= headings
        assert all(doc.text[c.start : c.end] == c.text for c in mine)
        assert all(c.text in SEED_TEXT for c in mine if c.kind == "paragraph")
    assert len({r.id for r in records}) == len(records)  # unique ids across the articles
    again = scale.write_corpus(tmp_path / "again", 10)  # article n is the same in every size
    assert [p.read_text() for p in sorted(again.iterdir())] == [
        p.read_text() for p in sorted(folder.iterdir())[:10]
    ]


def test_one_article_is_the_seed_without_its_question_bank(tmp_path):
    folder = scale.write_corpus(tmp_path / "one", 1)
    assert [p.name for p in folder.iterdir()] == [ARTICLE.name]
    assert (folder / ARTICLE.name).read_text(encoding="utf-8") == SEED_TEXT


def test_the_random_vector_index_opens_with_the_real_loader(tmp_path):
    folder = scale.write_corpus(tmp_path / "corpus", 3)
    _, chunks, records = scale.corpus_records(folder)
    settings = Settings.from_env({}, corpus_dir=folder, index_path=tmp_path / "index")
    written = scale.write_random_index(settings, records)
    assert written["records"] == len(records)
    generation = ChromaIndex.from_settings(settings).active(settings.embedding_model)
    assert generation.count() == len(records)
    retriever = load_retriever(generation, embedder=None)
    assert {c.id for c in retriever.chunks} == {c.id for c in chunks}
    assert {c.sentences for c in retriever.chunks} == {c.sentences for c in chunks}
    assert len(retriever.faq_chunks) == 12 and not retriever.bank
    norms = np.linalg.norm(np.stack(list(retriever._vectors.values())), axis=1)
    assert norms.shape == (len(records),) and np.allclose(norms, 1.0, atol=1e-5)
    query = np.random.default_rng(1).standard_normal(scale.DIM).astype(np.float32)
    evidence = retriever.retrieve("how long until therapy works", query / np.linalg.norm(query))
    assert len(evidence.hits) == 4 and evidence.articles == 3


def test_a_build_is_stopped_when_it_is_or_will_be_over_its_limit():
    scale.check_pace(elapsed=10, done=10, total=1000, limit=60)  # too early to judge: goes on
    scale.check_pace(elapsed=10, done=500, total=1000, limit=60)  # on pace for 20 s
    with pytest.raises(scale.Stopped, match="would take 200 s"):
        scale.check_pace(elapsed=20, done=100, total=1000, limit=60)
    with pytest.raises(scale.Stopped):
        scale.check_pace(elapsed=61, done=10, total=1000, limit=60)


def test_the_questions_are_five_warm_ups_then_fifty_realistic_ones():
    questions = scale.load_questions()
    assert len(questions) == scale.WARMUP + scale.TIMED == 55
    assert len({q["text"] for q in questions}) == 55
    assert any(q["history"] for q in questions)  # typed follow-ups keep their earlier messages


def test_the_table_shows_measured_and_skipped_rows():
    rows = [
        {"articles": 1000, "mode": "local", "search": "memory", "chunks": 12260, "p50_ms": 1.5},
        {"articles": 10000, "mode": "server", "skipped": "build stopped after 900 s"},
    ]
    lines = scale.table(rows).splitlines()
    assert lines[0].startswith("| articles | mode | search | chunks |") and len(lines) == 5
    assert lines[2].startswith("| 1,000 | local | memory | 12,260 |") and "1.5" in lines[2]
    assert lines[4] == "- 10,000 server: build stopped after 900 s"
