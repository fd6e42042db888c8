"""Pure: Okapi BM25 keyword search, kept as postings (each term -> the chunks holding it and
its weight there), so a query costs what its own terms' postings cost, not a pass over
every chunk of the corpus.

The scores are those of rank_bm25's BM25Okapi (k1 1.5, b 0.75, a term found in more than
half the chunks weighs `epsilon` times the mean idf), computed in the same order, so the
ranking is the same; ties are broken by chunk order.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


# eq=False: numpy arrays have no single truth value, so field-wise equality would raise.
@dataclass(frozen=True, eq=False)
class KeywordIndex:
    postings: Mapping[str, tuple[np.ndarray, np.ndarray]]  # term -> (chunk indices, weights)
    size: int  # number of chunks

    @classmethod
    def build(
        cls,
        documents: Sequence[Sequence[str]],
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
    ) -> KeywordIndex:
        """The index of `documents`, each a list of tokens."""
        counts = [Counter(tokens) for tokens in documents]
        size = len(counts)
        if not size:
            return cls({}, 0)
        lengths = np.array([len(tokens) for tokens in documents], dtype=np.float64)
        average = float(lengths.sum()) / size
        df = Counter(term for c in counts for term in c)
        idf = {t: math.log(size - n + 0.5) - math.log(n + 0.5) for t, n in df.items()}
        floor = epsilon * sum(idf.values()) / len(idf)
        idf = {t: (floor if v < 0 else v) for t, v in idf.items()}
        docs: dict[str, list[int]] = {}
        freqs: dict[str, list[int]] = {}
        for i, c in enumerate(counts):
            for term, tf in c.items():
                docs.setdefault(term, []).append(i)
                freqs.setdefault(term, []).append(tf)
        postings = {}
        for term, where in docs.items():
            where_ = np.array(where, dtype=np.int64)
            tf = np.array(freqs[term], dtype=np.float64)
            norm = k1 * (1 - b + b * lengths[where_] / average)
            postings[term] = (where_, idf[term] * (tf * (k1 + 1) / (tf + norm)))
        return cls(postings, size)

    def scores(self, query: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(chunk indices in ascending order, their scores) for the chunks holding any query
        term; a term asked twice counts twice, as in BM25Okapi."""
        found = [self.postings[t] for t in query if t in self.postings]
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        where = np.concatenate([w for w, _ in found])
        weights = np.concatenate([v for _, v in found])
        chunks, slot = np.unique(where, return_inverse=True)
        # bincount adds each chunk's weights in query order, as BM25Okapi's loop does.
        return chunks, np.bincount(slot, weights=weights, minlength=len(chunks))

    def top(self, query: Sequence[str], n: int) -> list[int]:
        """Indices of the `n` best chunks with a positive score, best first."""
        chunks, scores = self.scores(query)
        keep = scores > 0
        chunks, scores = chunks[keep], scores[keep]
        if len(chunks) > n:
            cut = np.argpartition(-scores, n - 1)[:n] if n > 0 else np.zeros(0, dtype=np.int64)
            # Everything tied with the n-th best stays in, so ties go by chunk order.
            worst = scores[cut].min() if len(cut) else math.inf
            chosen = np.flatnonzero(scores >= worst)
            chunks, scores = chunks[chosen], scores[chosen]
        order = np.lexsort((chunks, -scores))[:n]
        return [int(i) for i in chunks[order]]
