"""Shared fixtures: settings pointed at temporary folders, embedders, a small corpus."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.settings import PROJECT_ROOT, Settings

CORPUS = PROJECT_ROOT / "corpus"
ARTICLE = CORPUS / "medication-and-therapy.md"
DATA = Path(__file__).parent / "data"
CASES = PROJECT_ROOT / "evals" / "cases"
SEED = DATA / "seed-article.txt"  # the article as delivered, before it became Markdown


def load_cases(name: str):
    """One of the eval case files (evals/cases/NAME), which the tests share."""
    return yaml.safe_load((CASES / name).read_text(encoding="utf-8"))


def pdf_file(objects: list[bytes]) -> bytes:
    """A PDF file from its numbered objects (1: the catalog), with a correct xref table."""
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


class FakeEmbedder:
    """Deterministic vectors from a text hash, for tests where meaning does not matter.
    Counts what it embeds; with `forbid=True` any call fails the test."""

    model_name = "fake-embedder"

    def __init__(self, forbid: bool = False):
        self.forbid = forbid
        self.embedded: list[str] = []

    def embed(self, texts, progress=False):
        assert not self.forbid, "the embedding model was used, but nothing needed embedding"
        self.embedded.extend(texts)
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vector = np.random.default_rng(seed).normal(size=8).astype(np.float32)
            rows.append(vector / np.linalg.norm(vector))
        return np.stack(rows)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def embedder():
    """The real bundled all-MiniLM-L6-v2, loaded once per test session."""
    from ingest.embedding import Embedder

    return Embedder.from_settings(Settings.from_env())


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the real corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    """Two short Markdown files, for tests that edit, add and remove files."""
    target = tmp_path / "small"
    shutil.copytree(DATA / "small", target)
    return target


@pytest.fixture
def make_settings(tmp_path):
    def make(corpus: Path, **overrides) -> Settings:
        return Settings.from_env({}, corpus_dir=corpus, index_path=tmp_path / "index", **overrides)

    return make


@pytest.fixture(scope="session")
def bot(tmp_path_factory, embedder):
    """The real bot over the real corpus, with its index built once in a temporary folder."""
    from bot.chat import Bot

    settings = Settings.from_env({}, index_path=tmp_path_factory.mktemp("index"))
    return Bot.build(settings, embedder=embedder)


@pytest.fixture(scope="session")
def app():
    """The app module: importing it builds the pipeline (over the project's index) and `demo`."""
    import app

    return app
