"""Indexing: idempotent, incremental, crash-safe, and strict about the model it was built with."""

import json
import subprocess
import sys

import numpy as np
import pytest

import ingest.indexing as indexing
from ingest.__main__ import main as ingest_main
from ingest.chunking import SCHEMA_VERSION, chunk_document
from ingest.indexing import ingest_corpus
from ingest.loading import load_corpus
from ingest.records import chunk_records, chunks_from_records
from ingest.store import PARTS, TERMS, ChromaIndex, IndexMismatch, IndexNotReady
from tests.conftest import FakeEmbedder

PROJECT = indexing.__file__.rsplit("/ingest/", 1)[0]


def run(settings, embedder, **kwargs):
    index = ChromaIndex.from_settings(settings)
    summary, problems = ingest_corpus(settings, index, embedder, **kwargs)
    return summary, problems, index


def snapshot(index: ChromaIndex, model="fake-embedder") -> dict[str, str]:
    got = index.active(model).get(["documents"])
    return dict(zip(got["ids"], got["documents"], strict=True))


def test_unchanged_rerun_writes_nothing_and_never_loads_the_model(make_settings, small_corpus):
    settings = make_settings(small_corpus)
    first, problems, index = run(settings, FakeEmbedder())
    assert problems == []
    assert (first.files, first.chunks, first.added, first.unchanged) == (2, 6, 6, 0)
    generation = index.pointers()["active"]

    second, _, index = run(settings, FakeEmbedder(forbid=True))
    assert (second.added, second.updated, second.unchanged, second.deleted) == (0, 0, 6, 0)
    assert index.pointers()["active"] == generation


def test_an_edited_file_replaces_only_its_own_chunks(make_settings, small_corpus):
    settings = make_settings(small_corpus)
    _, _, index = run(settings, FakeEmbedder())
    before = snapshot(index)
    sleep = small_corpus / "sleep.md"
    sleep.write_text(sleep.read_text().replace("Regular bedtimes help.", "Fixed bedtimes help."))

    embedder = FakeEmbedder()
    summary, _, index = run(settings, embedder)
    after = snapshot(index)
    # The edited paragraph changes; the chunks after it shift, so their offsets are rewritten,
    # but only the new text is embedded.
    assert (summary.added, summary.deleted) == (0, 0)
    assert summary.updated == 3 and summary.unchanged == 3
    assert set(embedder.embedded) == {
        "Why sleep matters\nFixed bedtimes help. Screens before bed delay sleep.",
        "Fixed bedtimes help.",
    }
    exercise = {i: d for i, d in before.items() if "xercise" in d or "Strength" in d}
    assert exercise and all(after.get(i) == d for i, d in exercise.items())
    assert "Fixed bedtimes help." in after.values()
    assert "Regular bedtimes help." not in after.values()


def test_a_removed_file_loses_its_chunks_and_an_added_one_gains_them(make_settings, small_corpus):
    settings = make_settings(small_corpus)
    run(settings, FakeEmbedder())
    (small_corpus / "exercise.txt").unlink()
    (small_corpus / "new.md").write_text("## New\n\nA new note.")
    summary, _, index = run(settings, FakeEmbedder())
    assert (summary.added, summary.deleted, summary.unchanged) == (1, 2, 4)
    sources = {m["source"] for m in index.active("fake-embedder").get(["metadatas"])["metadatas"]}
    assert sources == {"sleep.md", "new.md"}


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_write_failing_midway_leaves_the_previous_index_serving(
    make_settings, small_corpus, monkeypatch, failure
):
    settings = make_settings(small_corpus)
    _, _, index = run(settings, FakeEmbedder())
    before, generation = snapshot(index), index.pointers()["active"]
    (small_corpus / "sleep.md").write_text("## Changed\n\nEverything changed.")

    real_add = indexing._add
    calls = []

    def add_then_fail(collection, rows):
        calls.append(len(rows))
        if len(calls) == 2:  # the first batch is written, the second dies
            raise failure
        real_add(collection, rows)

    monkeypatch.setattr(indexing, "_add", add_then_fail)
    with pytest.raises(type(failure)):
        run(settings, FakeEmbedder())
    assert len(calls) == 2

    index = ChromaIndex.from_settings(settings)
    assert index.pointers()["active"] == generation
    assert snapshot(index) == before
    names = {c.name for c in index.client.list_collections()}
    expected = {settings.collection, *(generation + part for part in PARTS)}
    assert names == expected, "the half-written generation is dropped"

    monkeypatch.setattr(indexing, "_add", real_add)
    summary, _, index = run(settings, FakeEmbedder())
    assert "Everything changed." in snapshot(index).values() and summary.added == 1


def test_a_crashed_ingests_leftover_generation_is_swept_later(make_settings, small_corpus):
    settings = make_settings(small_corpus)
    _, _, index = run(settings, FakeEmbedder())
    leftover = index.create_generation("fake-embedder")
    for part in (leftover.passages, leftover.sentences):
        part.modify(metadata={**part.metadata, "created": 0.0})
    young = index.create_generation("fake-embedder")  # maybe another ingest, still running
    run(settings, FakeEmbedder(forbid=True))
    names = {c.name for c in index.client.list_collections()}
    assert leftover.name not in names and leftover.name + "-sentences" not in names
    assert young.name in names and young.name + "-sentences" in names


def test_a_bad_file_is_skipped_and_keeps_what_was_indexed_from_it(make_settings, small_corpus):
    settings = make_settings(small_corpus)
    _, _, index = run(settings, FakeEmbedder())
    before = snapshot(index)
    (small_corpus / "exercise.txt").write_bytes(b"\x00\x01binary now")
    (small_corpus / "empty.md").write_text("")
    summary, problems, index = run(settings, FakeEmbedder(forbid=True))
    assert sorted((p.source, p.reason.split(" ")[0]) for p in problems) == [
        ("empty.md", "file"),
        ("exercise.txt", "file"),
    ]
    assert snapshot(index) == before and summary.deleted == 0


def test_another_model_or_schema_is_refused_until_rebuilt(make_settings, small_corpus):
    settings = make_settings(small_corpus)
    run(settings, FakeEmbedder())

    class OtherModel(FakeEmbedder):
        model_name = "other-model"

    with pytest.raises(IndexMismatch, match=r"python -m ingest --rebuild"):
        run(settings, OtherModel())
    embedder = OtherModel()
    summary, _, index = run(settings, embedder, rebuild=True)
    records = chunk_records(c for d in load_corpus(small_corpus)[0] for c in chunk_document(d))
    assert sorted(embedder.embedded) == sorted({r.embed_text for r in records})  # all, afresh
    assert index.active("other-model").metadata["embedding_model"] == "other-model"
    assert summary.unchanged == 6


def test_a_damaged_index_is_reported_with_what_to_do(make_settings, small_corpus, capsys):
    settings = make_settings(small_corpus)
    settings.index_path.mkdir(parents=True)
    (settings.index_path / "chroma.sqlite3").write_text("not a database")
    with pytest.raises(IndexNotReady, match=r"cannot be opened .* then run: python -m ingest"):
        ChromaIndex.from_settings(settings)
    assert ingest_main(["--corpus", str(small_corpus), "--index", str(settings.index_path)]) == 2
    assert "cannot be opened" in capsys.readouterr().err
    assert (settings.index_path / "chroma.sqlite3").read_text() == "not a database"  # kept


def test_records_round_trip_to_the_same_chunks(make_settings, small_corpus):
    settings = make_settings(small_corpus)
    _, _, index = run(settings, FakeEmbedder())
    got = index.active("fake-embedder").get(["documents", "metadatas"])
    stored = chunks_from_records(got["ids"], got["documents"], got["metadatas"])
    docs, _ = load_corpus(small_corpus)
    expected = sorted(
        (c for d in docs for c in chunk_document(d)), key=lambda c: (c.source, c.start)
    )
    assert stored == expected


def test_cli_json_summary_and_bad_file_exit_status(
    make_settings, small_corpus, monkeypatch, capsys
):
    monkeypatch.setattr("ingest.embedding.Embedder.from_settings", lambda settings: FakeEmbedder())
    monkeypatch.setenv("MEDFAQ_INDEX_PATH", str(small_corpus.parent / "cli-index"))
    assert ingest_main(["--corpus", str(small_corpus), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert list(summary) == [
        "files",
        "chunks",
        "questions",
        "added",
        "updated",
        "unchanged",
        "deleted",
        "seconds",
    ]
    assert summary["added"] == 6

    (small_corpus / "broken.md").write_bytes(b"\xff\xfe\xfa")
    assert ingest_main(["--corpus", str(small_corpus)]) == 1
    out, err = capsys.readouterr()
    assert "skipped broken.md: not valid UTF-8" in err
    assert "6 unchanged" in out


def test_real_model_end_to_end_from_the_command_line(tmp_path):
    """The real command on the real corpus: bundled model, normalized 384-d vectors."""
    index_path = tmp_path / "index"
    command = [sys.executable, "-m", "ingest", "--index", str(index_path), "--json"]
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["files"] == 1 and summary["added"] == summary["chunks"] == 28

    import chromadb

    client = chromadb.PersistentClient(str(index_path))
    active = ChromaIndex(client).active("sentence-transformers/all-MiniLM-L6-v2")
    assert active.passages.count() == 28 and active.sentences.count() > 28
    vectors = np.asarray(active.get(["embeddings"])["embeddings"])
    assert vectors.shape[1] == 384
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_a_generation_is_read_in_pages_that_add_up_to_every_record(make_settings, small_corpus):
    _, _, index = run(make_settings(small_corpus), FakeEmbedder())
    generation = index.active("fake-embedder")
    whole = generation.get(["documents"])
    paged = generation.get(["documents"], page=3)
    assert len(whole["ids"]) == generation.count() > 6
    assert sorted(zip(paged["ids"], paged["documents"], strict=True)) == sorted(
        zip(whole["ids"], whole["documents"], strict=True)
    )


def test_an_index_of_an_older_schema_is_rewritten_with_the_vectors_it_has(
    make_settings, small_corpus
):
    settings = make_settings(small_corpus)
    _, _, index = run(settings, FakeEmbedder())
    before = snapshot(index)
    old = index.active("fake-embedder")
    old.passages.modify(metadata={**old.metadata, "schema_version": SCHEMA_VERSION - 1})
    index.client.delete_collection(old.name + TERMS)
    with pytest.raises(IndexMismatch, match=r"Bring it up to date with: python -m ingest$"):
        index.active("fake-embedder")

    summary, _, index = run(settings, FakeEmbedder(forbid=True))  # nothing is embedded again
    new = index.active("fake-embedder")
    assert new.name != old.name and new.metadata["schema_version"] == SCHEMA_VERSION
    assert new.terms is not None and new.terms.count() > 1
    assert snapshot(index) == before
    assert (summary.added, summary.deleted) == (0, 0)


def test_each_record_goes_to_its_own_part_and_every_part_is_searched_whole(
    make_settings, small_corpus
):
    settings = make_settings(small_corpus)
    _, _, index = run(settings, FakeEmbedder())
    generation = index.active("fake-embedder")
    kinds = {}
    for part in generation.records:
        got = part.get(include=["metadatas"])
        kinds[part.name.removeprefix(generation.name)] = {m["kind"] for m in got["metadatas"]}
    assert kinds[""] <= {"paragraph", "faq"} and kinds["-sentences"] == {"sentence"}
    assert kinds["-questions"] == {"question"}
    assert kinds["-bank"] <= {"bank"}
    catalog = generation.terms.get(ids=["~catalog"], include=["documents"])
    assert len(catalog["ids"]) == 1
