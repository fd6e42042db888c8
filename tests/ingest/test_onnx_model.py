"""The ONNX backend: the same vectors as torch, exported once into its cache, and torch when
the export cannot be used."""

import copy
import logging
import os
import shutil

import numpy as np
import pytest
import torch

import ingest.onnx_model as onnx_model
from bot.settings import Settings, SettingsError
from ingest.embedding import Embedder

TEXTS = [
    "how long till meds + therapy kick in??",
    "i started therapy in march and my dr put me on zoloft in april. " * 30,  # past 256 tokens
    "meds?",
    "Ünïcödé 😀 " * 40,
    "",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A cache folder holding one export of the bundled model."""
    cache = tmp_path_factory.mktemp("onnx")
    embedder = Embedder(cache_dir=cache)
    embedder.embed(["warm up"])
    assert embedder.runs_onnx
    return cache


@pytest.fixture(scope="module")
def torch_embedder():
    return Embedder(backend="torch")


def test_onnx_gives_the_vectors_torch_gives(exported, torch_embedder):
    embedder = Embedder(cache_dir=exported)
    for texts in (TEXTS, TEXTS[:1], TEXTS[1:2], TEXTS * 10):  # alone, padded, truncated, many
        got, want = embedder.embed(texts), torch_embedder.embed(texts)
        assert got.dtype == np.float32 and got.shape == want.shape == (len(texts), 384)
        assert np.allclose(got, want, atol=1e-5)
    assert embedder.runs_onnx and not torch_embedder.runs_onnx


def test_an_export_in_the_cache_is_loaded_not_made_again(exported, monkeypatch):
    def no_export(model, path):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_model, "export", no_export)
    embedder = Embedder(cache_dir=exported)
    embedder.embed(["is it ok to take both"])
    assert embedder.runs_onnx


def test_a_damaged_export_is_made_again(exported, tmp_path, torch_embedder, caplog):
    cache = tmp_path / "cache"
    shutil.copytree(exported, cache)
    (damaged,) = cache.glob("*.onnx")
    damaged.write_bytes(b"not a model")
    embedder = Embedder(cache_dir=cache)
    with caplog.at_level(logging.WARNING):
        vectors = embedder.embed(TEXTS[:2])
    assert "exporting it again" in caplog.text
    assert embedder.runs_onnx and damaged.stat().st_size > 1_000_000
    assert np.allclose(vectors, torch_embedder.embed(TEXTS[:2]), atol=1e-5)


def test_when_the_export_fails_torch_embeds_and_the_log_says_why(
    tmp_path, torch_embedder, monkeypatch, caplog
):
    def failing(model, path):
        raise RuntimeError("no space left on device")

    monkeypatch.setattr(onnx_model, "export", failing)
    embedder = Embedder(cache_dir=tmp_path)
    with caplog.at_level(logging.WARNING):
        vectors = embedder.embed(TEXTS[:1])
    assert not embedder.runs_onnx
    assert "no space left on device" in caplog.text
    assert np.allclose(vectors, torch_embedder.embed(TEXTS[:1]), atol=1e-6)


def test_the_export_name_changes_with_the_weights_and_the_modules(torch_embedder):
    model = copy.deepcopy(torch_embedder.model)
    before = onnx_model.model_key(model)
    assert onnx_model.model_key(torch_embedder.model) == before
    with torch.no_grad():
        next(model.parameters())[0, 0] += 1e-3
    changed = onnx_model.model_key(model)
    assert changed != before
    model[1].pooling_mode = "max"  # the same weights, pooled another way
    assert onnx_model.model_key(model) not in (before, changed)


def test_no_partial_file_is_left_in_the_cache(exported):
    assert [p.suffix for p in exported.iterdir()] == [".onnx"]


def test_the_backend_and_cache_come_from_settings(tmp_path):
    settings = Settings.from_env(
        {"MEDFAQ_EMBEDDING_BACKEND": "torch", "MEDFAQ_MODEL_CACHE": str(tmp_path)}
    )
    embedder = Embedder.from_settings(settings)
    assert (embedder.backend, embedder.cache_dir) == ("torch", str(tmp_path))
    assert Embedder.from_settings(Settings()).backend == "onnx"
    with pytest.raises(SettingsError, match="EMBEDDING_BACKEND='tf'"):
        Settings.from_env({"MEDFAQ_EMBEDDING_BACKEND": "tf"})
    with pytest.raises(ValueError, match="embedding backend 'tf'"):
        Embedder(backend="tf")


def test_the_default_cache_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setitem(os.environ, "XDG_CACHE_HOME", str(tmp_path))
    assert onnx_model.default_cache_dir() == tmp_path / "medfaq" / "onnx"
