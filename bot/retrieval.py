"""Query -> ranked evidence: dense search in Chroma, BM25, reciprocal-rank fusion, FAQ match."""

from __future__ import annotations

import functools
import math
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import snowballstemmer
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from bot.background import embed_background, unanswered
from bot.keywords import KeywordIndex
from bot.types import BankQuestion, Chunk, Hit, Span

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


@dataclass(frozen=True)
class HeldOut:
    """What a calibration leaves out for one question: the bank quote it was written for
    (chunk id, quote start) and the background question it is."""

    quote: tuple[str, int] | None = None
    background: str = ""


class Retriever:
    """Hybrid retrieval over one index generation. Safe to share between threads: after
    construction nothing is mutated."""

    def __init__(
        self,
        chunks: list[Chunk],
        vectors: dict[str, np.ndarray],
        collection,
        embedder,
        bank: Sequence[tuple[BankQuestion, np.ndarray]] = (),
        background: Sequence[tuple[str, np.ndarray]] = (),
        background_mask: float = 0.7,
    ):
        self.chunks = chunks
        self.by_id = {c.id: c for c in chunks}
        self.articles = len({c.source for c in chunks})
        # Questions whose chunk is gone (never, for one generation) are dropped.
        self.bank = [q for q, _ in bank if q.chunk in self.by_id]
        self._bank_vectors = (
            np.stack([v for q, v in bank if q.chunk in self.by_id]) if self.bank else None
        )
        self.collection = collection
        self.embedder = embedder
        self._keywords = KeywordIndex.build([tokenize(f"{c.section} {c.text}") for c in chunks])
        self._vocabulary = {t for c in chunks for t in tokenize(f"{c.section} {c.text}")}
        self._faqs = [c for c in chunks if c.kind == "faq" and c.question]
        self._faq_vectors = (
            np.stack([vectors[f"{c.id}-s0"] for c in self._faqs]) if self._faqs else None
        )
        self._sentence_ids = {
            c.id: [f"{c.id}-s{i}" for i in range(len(c.sentences))] for c in chunks
        }
        self._vectors = vectors
        self._sentence_tokens = {
            sid: set(tokenize(span.text))
            for c in chunks
            for sid, span in zip(self._sentence_ids[c.id], c.sentences, strict=True)
        }
        counts = Counter(t for tokens in self._sentence_tokens.values() for t in tokens)
        n = len(self._sentence_tokens)
        self._idf = {t: math.log(1 + n / df) for t, df in counts.items()}
        self.background, self._background_vectors = unanswered(
            background, self._answered_vectors(), background_mask
        )
        self._background_index = {q: i for i, q in enumerate(self.background)}

    def _answered_vectors(self, block: int = 4096):
        """(the questions the articles answer: bank and FAQ questions, as one matrix; their
        sentences' vectors, in blocks, so that a large corpus is never copied whole)."""
        questions = [v for v in (self._bank_vectors, self._faq_vectors) if v is not None]
        ids = [i for chunk_ids in self._sentence_ids.values() for i in chunk_ids]
        blocks = (
            np.stack([self._vectors[i] for i in ids[n : n + block]])
            for n in range(0, len(ids), block)
        )
        return (np.vstack(questions) if questions else None), blocks

    @property
    def faq_chunks(self) -> list[Chunk]:
        return list(self._faqs)

    def embed(self, text: str) -> np.ndarray:
        return self.embedder.embed([text])[0]

    def retrieve(
        self,
        query: str,
        vector: np.ndarray,
        k: int = 4,
        pool: int = 10,
        known: frozenset[str] = frozenset(),
        held_out: HeldOut = HeldOut(),
    ) -> Evidence:
        """Fuse dense (Chroma) and BM25 rankings; score FAQ questions, bank questions and
        candidate sentences. `known`: stemmed query words that count as covered even when
        no article has them (lay words and brand names the caller maps to the articles').
        `held_out`: what to leave out, for calibrating on the banks and the background."""
        tokens = tokenize(query)
        dense = self._dense(vector, pool)
        keyword = self._keyword(tokens, pool)
        fused: dict[str, float] = {}
        for ranking in (list(dense), keyword):
            for rank, chunk_id in enumerate(ranking):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        order = sorted(fused, key=lambda i: (-fused[i], -dense.get(i, 0.0)))
        bank = self.rank_bank(vector, skip=held_out.quote)
        faqs = self.rank_faqs(vector)
        # Sentences come from the whole fused pool, the closest FAQs and the passages of the
        # closest bank questions, not only the top k: the sentence that answers is often in a
        # passage ranked a little lower as a whole.
        candidates = dict.fromkeys(
            [*order, *(h.chunk.id for h in faqs[:3]), *(b.chunk.id for b in bank[:3])]
        )
        chunks = [self.by_id[i] for i in candidates]
        return Evidence(
            hits=tuple(Hit(self.by_id[i], fused[i]) for i in order[:k]),
            dense=dense,
            faqs=faqs,
            sentences=self._sentences(vector, set(tokens), chunks, bank),
            coverage=self.coverage(tokens, known),
            bank=bank,
            articles=self.articles,
            **self._closest_background(vector, held_out.background),
        )

    def _closest_background(self, vector: np.ndarray, skip: str = "") -> dict:
        if self._background_vectors is None:
            return {}
        sims = self._background_vectors @ vector
        if skip in self._background_index:
            sims[self._background_index[skip]] = -1.0
        best = int(np.argmax(sims))
        return {"background": self.background[best], "background_score": float(sims[best])}

    def rank_bank(
        self, vector: np.ndarray, n: int = 5, skip: tuple[str, int] | None = None
    ) -> tuple[BankHit, ...]:
        """The bank questions closest to the query, the best one per quote (but `skip`)."""
        if self._bank_vectors is None:
            return ()
        sims = self._bank_vectors @ vector
        hits: dict[tuple[str, int], BankHit] = {}
        for i in np.argsort(-sims):
            q = self.bank[i]
            key = (q.chunk, q.start)
            if key not in hits and key != skip:
                hits[key] = BankHit(q.question, self.by_id[q.chunk], q.start, q.end, float(sims[i]))
                if len(hits) == n:
                    break
        return tuple(hits.values())

    def rank_faqs(self, vector: np.ndarray) -> tuple[Hit, ...]:
        """FAQs by the similarity of their own question to the query."""
        if self._faq_vectors is None:
            return ()
        sims = self._faq_vectors @ vector
        return tuple(Hit(self._faqs[i], float(sims[i])) for i in np.argsort(-sims))

    def coverage(self, tokens: list[str], known: frozenset[str] = frozenset()) -> float:
        """The share of the query's content words found anywhere in the corpus (or `known`)."""
        words = set(tokens)
        return len(words & (self._vocabulary | known)) / len(words) if words else 0.0

    def _dense(self, vector: np.ndarray, n: int) -> dict[str, float]:
        got = self.collection.query(
            query_embeddings=[vector], n_results=min(n, len(self.chunks)), include=["distances"]
        )
        return {i: 1.0 - d for i, d in zip(got["ids"][0], got["distances"][0], strict=True)}

    def _keyword(self, tokens: list[str], n: int) -> list[str]:
        if not tokens:
            return []
        return [self.chunks[i].id for i in self._keywords.top(tokens, n)]

    def _sentences(
        self,
        vector: np.ndarray,
        query_tokens: set[str],
        chunks: list[Chunk],
        bank: Sequence[BankHit] = (),
    ) -> tuple[SentenceHit, ...]:
        # Words missing from the corpus weigh as much as its rarest word: they still count
        # against every sentence, so a question about something else finds no full overlap.
        rarest = max(self._idf.values(), default=1.0)
        weights = {t: self._idf.get(t, rarest) for t in query_tokens}
        total = sum(weights.values()) or 1.0
        found = []
        for chunk in chunks:
            quotes = [b for b in bank if b.chunk.id == chunk.id]
            for span, sid in zip(chunk.sentences, self._sentence_ids[chunk.id], strict=True):
                if span.role == "question":
                    continue
                shared = query_tokens & self._sentence_tokens[sid]
                overlap = sum(weights[t] for t in shared) / total
                asked = max(
                    (b.score for b in quotes if b.start < span.end and span.start < b.end),
                    default=0.0,
                )
                similarity = float(self._vectors[sid] @ vector)
                found.append(SentenceHit(span, chunk, similarity, overlap, asked))
        return tuple(sorted(found, key=lambda s: -s.similarity))


class HybridRetriever(BaseRetriever):
    """The hybrid ranking as a LangChain retriever, so it composes with LangChain chains.

    Each Document carries the chunk's source, section, offsets and fused score in metadata.
    """

    retriever: Retriever
    k: int = 4

    model_config = ConfigDict(arbitrary_types_allowed=True)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        """The `k` (or, per call, `invoke(query, k=...)`) best passages."""
        k = self.k if k is None else k
        evidence = self.retriever.retrieve(query, self.retriever.embed(query), k=k)
        return [to_document(hit) for hit in evidence.hits[:k]]


def to_document(hit: Hit) -> Document:
    c = hit.chunk
    metadata = {
        "id": c.id,
        "source": c.source,
        "title": c.title,
        "section": c.section,
        "kind": c.kind,
        "start": c.start,
        "end": c.end,
        "score": hit.score,
    }
    if c.faq:
        metadata["faq"] = c.faq
    return Document(page_content=c.text, metadata=metadata, id=c.id)


def load_retriever(
    generation, embedder, background: tuple[str, ...] = (), background_mask: float = 0.7
) -> Retriever:
    """Read one index generation (records and vectors) into a Retriever that searches its
    passage collection; `background`: the background questions (read_background)."""
    from ingest.records import bank_from_records, chunks_from_records

    got = generation.get(include=["documents", "metadatas", "embeddings"])
    ids = got["ids"]
    vectors = {
        i: np.asarray(v, dtype=np.float32) for i, v in zip(ids, got["embeddings"], strict=True)
    }
    chunks = chunks_from_records(ids, got["documents"], got["metadatas"])
    columns = (ids, got["documents"], got["metadatas"])
    bank_ids = [i for i, meta in zip(ids, got["metadatas"], strict=True) if meta["kind"] == "bank"]
    bank = list(zip(bank_from_records(*columns), (vectors[i] for i in bank_ids), strict=True))
    return Retriever(
        chunks,
        vectors,
        generation.passages,
        embedder,
        bank,
        embed_background(embedder, background),
        background_mask,
    )
