"""The message vectors a process remembers: each text embedded once, the latest kept."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np


class VectorMemory:
    """Vectors of texts, embedded on first use and remembered (the latest `capacity`): the
    history is checked again at every turn, and each earlier message was embedded when it
    was asked; a message's own texts are looked up again while it is answered. Safe to share
    between threads; the vectors it hands out are read-only."""

    def __init__(
        self,
        embed_one: Callable[[str], np.ndarray],
        embed_many: Callable[[list[str]], np.ndarray],
        capacity: int,
    ):
        self._embed_one, self._embed_many = embed_one, embed_many
        self.capacity = capacity
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()

    def of(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text; those not remembered are embedded together, in one batch."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        wanted = list(dict.fromkeys(texts))
        with self._lock:
            found = {t: self._vectors[t] for t in wanted if t in self._vectors}
            for text in found:
                self._vectors.move_to_end(text)
        missing = [t for t in wanted if t not in found]
        if missing:
            embedded = (
                [self._embed_one(missing[0])] if len(missing) == 1 else self._embed_many(missing)
            )
            for text, vector in zip(missing, embedded, strict=True):
                vector = np.asarray(vector, dtype=np.float32)
                vector.flags.writeable = False  # shared between calls: nobody may change it
                found[text] = vector
            with self._lock:
                for text in missing:
                    self._vectors[text] = found[text]
                while len(self._vectors) > self.capacity:
                    self._vectors.popitem(last=False)
        return np.stack([found[t] for t in texts])
