"""Pure: the evidence one query is answered from, and how its parts are found and scored:
tokens, reciprocal-rank fusion, bank questions per quote, sentence similarity and word overlap,
the closest background question. Both searches (bot/retrieval.py in memory, bot/index_search.py
in Chroma) build their Evidence with these."""

from __future__ import annotations

import functools
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import snowballstemmer

from bot.types import Article, BankQuestion, Chunk, Hit, Span

RRF_K = 60  # the usual reciprocal-rank-fusion constant: damps the weight of the top ranks

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours out over own same she should so some such than that the their theirs them
    then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves
    ok okay please tell know want need get got also much many really thing things well good
    best better way ways lot like make made go going feel im ive id dont cant wont isnt
    arent doesnt one s t m d ll re ve someone something anything anyone people person
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
_STEMMERS = threading.local()  # a Snowball stemmer keeps state while it works: one per thread


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        stemmer = _STEMMERS.english = snowballstemmer.stemmer("english")
    return stemmer.stemWord(word)


def tokenize(text: str) -> list[str]:
    """Stemmed, lower-cased content words, for BM25 and for measuring query coverage.

    >>> tokenize("Do SSRIs and therapies really work?")
    ['ssris', 'therapi', 'work']
    """
    words = [
        w for w in re.findall(r"[a-z0-9]+", text.lower().replace("'", "")) if w not in STOPWORDS
    ]
    return [stem(w) for w in words]


def passage_tokens(chunk: Chunk) -> list[str]:
    """What keyword search indexes of a passage: its section title and its text."""
    return tokenize(f"{chunk.section} {chunk.text}")


@functools.lru_cache(maxsize=65536)
def sentence_tokens(text: str) -> frozenset[str]:
    """A sentence's content words, for the overlap with a query."""
    return frozenset(tokenize(text))


def articles_of(chunks: Iterable[Chunk]) -> tuple[Article, ...]:
    """The articles the chunks come from, oldest first."""
    found = {(c.title, c.date, c.source) for c in chunks}
    return tuple(Article(*a) for a in sorted(found, key=lambda a: (a[1] or "", a[2])))


@dataclass(frozen=True)
class SentenceHit:
    span: Span
    chunk: Chunk
    similarity: float  # cosine similarity to the query
    overlap: float  # IDF-weighted share of the query's content words found in the sentence
    bank: float = 0.0  # best similarity of a bank question whose quote holds this sentence


@dataclass(frozen=True)
class BankHit:
    """A question-bank question like the query, and the quote that answers it."""

    question: str
    chunk: Chunk
    start: int
    end: int
    score: float  # cosine similarity of the two questions


@dataclass(frozen=True)
class Evidence:
    """Everything the answer composer needs about one query."""

    hits: tuple[Hit, ...]  # fused passage ranking; score is the RRF score
    dense: dict[str, float]  # chunk id -> cosine similarity, for the passages Chroma returned
    faqs: tuple[Hit, ...]  # FAQ chunks by similarity of their question to the query
    sentences: tuple[SentenceHit, ...]  # sentences of the top passages, most similar first
    coverage: float  # share of the query's content words found anywhere in the corpus
    bank: tuple[BankHit, ...] = ()  # the closest bank questions, best first (one per quote)
    articles: int = 1  # how many articles were searched
    # The closest background question that no article answers (bot/data/background.yaml),
    # and its similarity: a question much closer to it than to anything the articles answer
    # asks about something else.
    background: str = ""
    background_score: float = -1.0
    # The query's content words (stemmed) that no article has and the caller did not count
    # as known: a name among them is a subject the articles do not cover.
    missing: frozenset[str] = frozenset()


@dataclass(frozen=True)
class HeldOut:
    """What a calibration leaves out for one question: the bank quote it was written for
    (chunk id, quote start) and the background question it is."""

    quote: tuple[str, int] | None = None
    background: str = ""


NOTHING_HELD_OUT = HeldOut()


def fuse(dense: dict[str, float], keyword: list[str]) -> tuple[list[str], dict[str, float]]:
    """Reciprocal-rank fusion of the dense and keyword rankings: (chunk ids best first, their
    fused scores); ties go to the denser."""
    fused: dict[str, float] = {}
    for ranking in (list(dense), keyword):
        for rank, chunk_id in enumerate(ranking):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(fused, key=lambda i: (-fused[i], -dense.get(i, 0.0))), fused


def candidate_ids(order: list[str], faqs: Sequence[Hit], bank: Sequence[BankHit]) -> list[str]:
    """The passages whose sentences may be quoted: the whole fused pool, the closest FAQs and
    the passages of the closest bank questions, not only the top k: the sentence that answers
    is often in a passage ranked a little lower as a whole."""
    return list(
        dict.fromkeys([*order, *(h.chunk.id for h in faqs[:3]), *(b.chunk.id for b in bank[:3])])
    )


def best_per_quote(
    ranked: Iterable[tuple[BankQuestion, float]],
    chunk_of: Callable[[str], Chunk | None],
    n: int = 5,
    skip: tuple[str, int] | None = None,
) -> tuple[BankHit, ...]:
    """The first bank question of `ranked` (best first) for each quote, at most `n`, never
    the quote `skip` nor one whose chunk is gone."""
    hits: dict[tuple[str, int], BankHit] = {}
    for q, score in ranked:
        key = (q.chunk, q.start)
        chunk = chunk_of(q.chunk)
        if key not in hits and key != skip and chunk is not None:
            hits[key] = BankHit(q.question, chunk, q.start, q.end, score)
            if len(hits) == n:
                break
    return tuple(hits.values())


def overlap_weights(
    query_tokens: set[str], idf: Callable[[str], float | None], rarest: float
) -> dict[str, float]:
    """Each query word's weight in the sentence overlap: its idf among the sentences. Words
    missing from the corpus weigh as much as its rarest word: they still count against every
    sentence, so a question about something else finds no full overlap."""
    weights = {}
    for t in query_tokens:
        found = idf(t)
        weights[t] = rarest if found is None else found
    return weights


def score_sentences(
    vector: np.ndarray,
    weights: dict[str, float],
    chunks: Sequence[Chunk],
    vectors: Callable[[str], np.ndarray],
    bank: Sequence[BankHit] = (),
) -> tuple[SentenceHit, ...]:
    """The candidate sentences (not FAQ question lines) of `chunks`, most similar first:
    similarity to the query (`vectors`: sentence id -> vector), the weighted share of the
    query's words they hold, and the best bank question whose quote holds them."""
    total = sum(weights.values()) or 1.0
    query_tokens = set(weights)
    found = []
    for chunk in chunks:
        quotes = [b for b in bank if b.chunk.id == chunk.id]
        for seq, span in enumerate(chunk.sentences):
            if span.role == "question":
                continue
            shared = query_tokens & sentence_tokens(span.text)
            overlap = sum(weights[t] for t in shared) / total
            asked = max(
                (b.score for b in quotes if b.start < span.end and span.start < b.end),
                default=0.0,
            )
            similarity = float(vectors(sentence_id(chunk.id, seq)) @ vector)
            found.append(SentenceHit(span, chunk, similarity, overlap, asked))
    return tuple(sorted(found, key=lambda s: -s.similarity))


def sentence_id(chunk_id: str, seq: int) -> str:
    return f"{chunk_id}-s{seq}"


def sentence_counts(chunks: Iterable[Chunk]) -> tuple[Counter, int]:
    """(term -> number of sentences holding it, number of sentences), over every sentence of
    every chunk."""
    counts: Counter = Counter()
    n = 0
    for chunk in chunks:
        for span in chunk.sentences:
            counts.update(sentence_tokens(span.text))
            n += 1
    return counts, n


def sentence_idf(sentences: int, df: int) -> float:
    return math.log(1 + sentences / df)


def closest_background(
    questions: Sequence[str], vectors: np.ndarray | None, vector: np.ndarray, skip: str = ""
) -> dict:
    """The background question closest to the query and its similarity (none: {})."""
    if vectors is None:
        return {}
    sims = vectors @ vector
    if skip and skip in questions:
        sims[list(questions).index(skip)] = -1.0
    best = int(np.argmax(sims))
    return {"background": questions[best], "background_score": float(sims[best])}
