"""Query -> ranked evidence, over an index generation held in memory: dense search in Chroma,
BM25, reciprocal-rank fusion, FAQ and bank-question match (bot/evidence.py scores them)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from bot.background import embed_background, unanswered
from bot.evidence import (
    NOTHING_HELD_OUT,
    BankHit,
    Evidence,
    HeldOut,
    articles_of,
    best_per_quote,
    candidate_ids,
    closest_background,
    fuse,
    overlap_weights,
    passage_tokens,
    score_sentences,
    sentence_counts,
    sentence_id,
    sentence_idf,
    tokenize,
)
from bot.index_search import IndexRetriever
from bot.keywords import KeywordIndex
from bot.spelling import words_in
from bot.types import BankQuestion, Chunk, Hit


class Retriever:
    """Hybrid retrieval over one index generation, held in memory: every passage, sentence
    vector and bank question is read once. Safe to share between threads: after
    construction nothing is mutated. (bot/index_search.py asks Chroma instead.)

    `passages_in_process`: the passages are ranked here, by their vectors, instead of by a
    query to `collection`. For a local folder, which cannot go down, that saves a query per
    question; with a server, the query is what tells an app that the server is down."""

    def __init__(
        self,
        chunks: list[Chunk],
        vectors: dict[str, np.ndarray],
        collection,
        embedder,
        bank: Sequence[tuple[BankQuestion, np.ndarray]] = (),
        background: Sequence[tuple[str, np.ndarray]] = (),
        background_mask: float = 0.7,
        passages_in_process: bool = False,
    ):
        self.chunks = chunks
        self.by_id = {c.id: c for c in chunks}
        self.articles = articles_of(chunks)
        # Questions whose chunk is gone (never, for one generation) are dropped.
        self.bank = [q for q, _ in bank if q.chunk in self.by_id]
        self._bank_vectors = (
            np.stack([v for q, v in bank if q.chunk in self.by_id]) if self.bank else None
        )
        self.collection = collection
        self.embedder = embedder
        self.passages_in_process = passages_in_process
        self._passage_vectors = (
            np.stack([vectors[c.id] for c in chunks]) if chunks else np.zeros((0, 0), np.float32)
        )
        self._keywords = KeywordIndex.build([passage_tokens(c) for c in chunks])
        self._faqs = [c for c in chunks if c.kind == "faq" and c.question]
        self._faq_vectors = (
            np.stack([vectors[sentence_id(c.id, 0)] for c in self._faqs]) if self._faqs else None
        )
        self._vectors = vectors
        counts, n = sentence_counts(chunks)
        self._idf = {t: sentence_idf(n, df) for t, df in counts.items()}
        self._rarest = max(self._idf.values(), default=1.0)
        self.background, self._background_vectors = unanswered(
            background, self._answered_vectors(), background_mask
        )

    def _answered_vectors(self, block: int = 4096):
        """(the questions the articles answer: bank and FAQ questions, as one matrix; their
        sentences' vectors, in blocks, so that a large corpus is never copied whole)."""
        questions = [v for v in (self._bank_vectors, self._faq_vectors) if v is not None]
        ids = [sentence_id(c.id, i) for c in self.chunks for i in range(len(c.sentences))]
        blocks = (
            np.stack([self._vectors[i] for i in ids[n : n + block]])
            for n in range(0, len(ids), block)
        )
        return (np.vstack(questions) if questions else None), blocks

    @property
    def faq_chunks(self) -> list[Chunk]:
        return list(self._faqs)

    @functools.cached_property
    def words(self) -> frozenset[str]:
        """The articles' words, for the speller."""
        return frozenset(words_in(f"{c.title} {c.section} {c.text}" for c in self.chunks))

    def embed(self, text: str) -> np.ndarray:
        return self.embedder.embed([text])[0]

    def passage_at(self, source: str, offset: int) -> Chunk | None:
        """The passage of `source` that holds `offset`."""
        for chunk in self.chunks:
            if chunk.source == source and chunk.start <= offset < chunk.end:
                return chunk
        return None

    def retrieve(
        self,
        query: str,
        vector: np.ndarray,
        k: int = 4,
        pool: int = 10,
        known: frozenset[str] = frozenset(),
        held_out: HeldOut = NOTHING_HELD_OUT,
    ) -> Evidence:
        """Fuse dense (Chroma) and BM25 rankings; score FAQ questions, bank questions and
        candidate sentences. `known`: stemmed query words that count as covered even when
        no article has them (lay words and brand names the caller maps to the articles').
        `held_out`: what to leave out, for calibrating on the banks and the background."""
        tokens = tokenize(query)
        dense = self._dense(vector, pool)
        order, fused = fuse(dense, self._keyword(tokens, pool))
        bank = self.rank_bank(vector, skip=held_out.quote)
        faqs = self.rank_faqs(vector)
        chunks = [self.by_id[i] for i in candidate_ids(order, faqs, bank)]
        weights = overlap_weights(set(tokens), self._idf.get, self._rarest)
        return Evidence(
            hits=tuple(Hit(self.by_id[i], fused[i]) for i in order[:k]),
            dense=dense,
            faqs=faqs,
            sentences=score_sentences(vector, weights, chunks, self._vectors.__getitem__, bank),
            coverage=self.coverage(tokens, known),
            missing=self.missing(tokens, known),
            bank=bank,
            articles=len(self.articles),
            **closest_background(
                self.background, self._background_vectors, vector, held_out.background
            ),
        )

    def rank_bank(
        self, vector: np.ndarray, n: int = 5, skip: tuple[str, int] | None = None
    ) -> tuple[BankHit, ...]:
        """The bank questions closest to the query, the best one per quote (but `skip`)."""
        if self._bank_vectors is None:
            return ()
        sims = self._bank_vectors @ vector
        ranked = ((self.bank[i], float(sims[i])) for i in np.argsort(-sims))
        return best_per_quote(ranked, self.by_id.get, n, skip)

    def rank_faqs(self, vector: np.ndarray, n: int | None = None) -> tuple[Hit, ...]:
        """FAQs by the similarity of their own question to the query (all of them, or the
        best `n`)."""
        if self._faq_vectors is None:
            return ()
        sims = self._faq_vectors @ vector
        return tuple(Hit(self._faqs[i], float(sims[i])) for i in np.argsort(-sims)[:n])

    def coverage(self, tokens: list[str], known: frozenset[str] = frozenset()) -> float:
        """The share of the query's content words found anywhere in the corpus (or `known`)."""
        words = set(tokens)
        return 1.0 - len(self.missing(tokens, known)) / len(words) if words else 0.0

    def missing(self, tokens: list[str], known: frozenset[str] = frozenset()) -> frozenset[str]:
        """The query's content words that no article has (and not `known`)."""
        return frozenset(t for t in tokens if t not in self._keywords.postings and t not in known)

    def _dense(self, vector: np.ndarray, n: int) -> dict[str, float]:
        """The `n` passages most similar to the query: chunk id -> cosine similarity."""
        if self.passages_in_process:
            sims = self._passage_vectors @ vector
            top = np.argsort(-sims, kind="stable")[:n]
            return {self.chunks[i].id: float(sims[i]) for i in top}
        got = self.collection.query(
            query_embeddings=[vector], n_results=min(n, len(self.chunks)), include=["distances"]
        )
        return {i: 1.0 - d for i, d in zip(got["ids"][0], got["distances"][0], strict=True)}

    def _keyword(self, tokens: list[str], n: int) -> list[str]:
        if not tokens:
            return []
        return [self.chunks[i].id for i in self._keywords.top(tokens, n)]


class HybridRetriever(BaseRetriever):
    """The hybrid ranking as a LangChain retriever, so it composes with LangChain chains.

    Each Document carries the chunk's source, section, offsets and fused score in metadata.
    `retriever`: the search in memory, or in Chroma (bot/index_search.py).
    """

    retriever: Retriever | IndexRetriever
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
    generation,
    embedder,
    background: tuple[str, ...] = (),
    background_mask: float = 0.7,
    passages_in_process: bool = False,
) -> Retriever:
    """Read one index generation (records and vectors) into a Retriever (which ranks its
    passages itself, or asks their collection: see Retriever); `background`: the background
    questions (read_background)."""
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
        passages_in_process,
    )
