"""Query -> ranked evidence, asking Chroma for everything a query needs: the search any number of
app processes share on one Chroma server, whose start-up and memory do not grow with the corpus.

Per query: the term records of the query's words (BM25 postings, sentence counts), the nearest
passages, FAQ questions and bank questions, then the candidate passages with their sentences
and sentence vectors. A generation never changes once written, so passages and terms already
read are kept (bounded) and asked for again only when evicted. Start-up reads the generation's
catalog record (articles, the speller's words, counts) and, for the background questions,
each one's nearest bank question and sentence.

The scoring is bot/evidence.py's, as in memory (bot/retrieval.py), and gives the same evidence
on the same generation (tests/bot/test_index_search.py), except where Chroma's approximate
nearest-neighbour search returns other neighbours than an exact one would, and for terms held
by more than ingest/catalog.py's POSTINGS_CAP passages.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from bot.background import embed_background, unanswered
from bot.evidence import (
    NOTHING_HELD_OUT,
    BankHit,
    Evidence,
    HeldOut,
    best_per_quote,
    candidate_ids,
    closest_background,
    fuse,
    overlap_weights,
    score_sentences,
    sentence_id,
    sentence_idf,
    tokenize,
)
from bot.keywords import KeywordIndex
from bot.types import BankQuestion, Chunk, Hit
from ingest.catalog import CATALOG_ID, TERM_PREFIX, Postings, read_catalog, read_postings
from ingest.records import chunks_from_records

FAQ_POOL = 10  # FAQs ranked per query: matching needs two, suggestions three
BANK_POOL = 50  # bank questions asked for per query, for the best one of five quotes
LISTED_FAQS = 48  # FAQs listed for the app's examples (`faq_chunks`)
_BACKGROUND_BATCH = 100


_REQUESTS: ThreadPoolExecutor | None = None
_LOCK = threading.Lock()
_running = 0  # retrievals under way in this process
PARALLEL_UNDER = 3  # with fewer retrievals under way, a query's requests are sent at once


def _at_once(*calls: Callable) -> list:
    """The results of `calls` (each one request to Chroma), the first failure raised. While
    this process runs few retrievals they are sent at the same time, so that a query costs
    its slowest request; under load one after another, as parallel requests would only
    contend for the same cores (measured: 8 threads answered 85 questions a second with
    parallel requests, 115 with sequential ones)."""
    global _REQUESTS
    with _LOCK:
        parallel = _running < PARALLEL_UNDER
        if parallel and _REQUESTS is None:
            _REQUESTS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="medfaq-chroma")
    if not parallel:
        return [call() for call in calls]
    futures = [_REQUESTS.submit(call) for call in calls]
    return [f.result() for f in futures]


class _Running:
    """Counts a retrieval under way, for `_at_once`."""

    def __enter__(self) -> None:
        global _running
        with _LOCK:
            _running += 1

    def __exit__(self, *exc) -> None:
        global _running
        with _LOCK:
            _running -= 1


class _Kept:
    """A bounded, thread-safe map of what was read (least recently used goes first)."""

    def __init__(self, size: int):
        self._items: OrderedDict = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def pick(self, keys: Iterable) -> tuple[dict, list]:
        """(the kept items among `keys`, the keys not kept)."""
        found, missing = {}, []
        with self._lock:
            for key in keys:
                if key in self._items:
                    self._items.move_to_end(key)
                    found[key] = self._items[key]
                else:
                    missing.append(key)
        return found, missing

    def keep(self, items: dict) -> None:
        with self._lock:
            self._items.update(items)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class IndexRetriever:
    """Hybrid retrieval over one index generation, searched in Chroma query by query. Safe to
    share between threads. Same interface as bot.retrieval.Retriever, but for `chunks` and
    `bank` (a process never holds them all)."""

    def __init__(
        self,
        generation,
        embedder,
        background: Sequence[tuple[str, np.ndarray]] = (),
        background_mask: float = 0.7,
        kept: int = 4096,
        kept_terms: int = 1024,
    ):
        self.collection = generation.passages
        self._sentences = generation.sentences
        self._questions = generation.questions
        self._bank = generation.bank
        self._terms = generation.terms
        self.embedder = embedder
        self._bank_size = self._bank.count()
        self._question_size = self._questions.count()
        got = self._terms.get(ids=[CATALOG_ID], include=["documents"])
        self.catalog = read_catalog(got["documents"][0])
        self.articles = self.catalog.articles
        self.words = frozenset(self.catalog.words)
        self._chunks = _Kept(kept)  # chunk id -> (Chunk, its sentence vectors)
        # term -> Postings (up to POSTINGS_CAP passages each), or None for a term no passage has
        self._postings = _Kept(kept_terms)
        self.background, self._background_vectors = unanswered(
            background, self._nearest_answered(background), background_mask
        )

    # ------------------------------------------------------------------------ the interface

    def embed(self, text: str) -> np.ndarray:
        return self.embedder.embed([text])[0]

    @functools.cached_property
    def faq_chunks(self) -> list[Chunk]:
        """Up to LISTED_FAQS FAQs (the first stored), by article: the examples the app shows.
        Never the search's: every query asks Chroma for the FAQs closest to it."""
        got = self.collection.get(where={"kind": "faq"}, limit=LISTED_FAQS, include=[])
        chunks = self._fetch(got["ids"])
        found = [chunks[i][0] for i in got["ids"] if i in chunks]
        return sorted((c for c in found if c.question), key=lambda c: (c.source, c.start))

    def passage_at(self, source: str, offset: int) -> Chunk | None:
        """The passage of `source` that holds `offset`."""
        where = {
            "$and": [{"source": source}, {"start": {"$lte": offset}}, {"end": {"$gt": offset}}]
        }
        got = self.collection.get(where=where, include=[])
        chunks = self._fetch(got["ids"][:1])
        return chunks[got["ids"][0]][0] if chunks else None

    def retrieve(
        self,
        query: str,
        vector: np.ndarray,
        k: int = 4,
        pool: int = 10,
        known: frozenset[str] = frozenset(),
        held_out: HeldOut = NOTHING_HELD_OUT,
    ) -> Evidence:
        """As bot.retrieval.Retriever.retrieve, asking Chroma."""
        with _Running():
            return self._retrieve(query, vector, k, pool, known, held_out)

    def _retrieve(
        self,
        query: str,
        vector: np.ndarray,
        k: int,
        pool: int,
        known: frozenset[str],
        held_out: HeldOut,
    ) -> Evidence:
        tokens = tokenize(query)
        # The four requests do not depend on each other: sent at once, they cost the slowest.
        postings, dense, bank_ranked, faq_ranked = _at_once(
            functools.partial(self._terms_of, set(tokens)),
            functools.partial(self._dense, vector, pool),
            functools.partial(self._nearest_bank, vector),
            functools.partial(self._nearest_faqs, vector, FAQ_POOL),
        )
        order, fused = fuse(dense, self._keyword(tokens, postings, pool))
        chunks = self._fetch(
            [*order, *(c for c, _ in faq_ranked), *(q.chunk for q, _ in bank_ranked)]
        )
        chunk_of = self._chunk_getter(chunks)
        bank = best_per_quote(bank_ranked, chunk_of, 5, held_out.quote)
        faqs = self._faq_hits(vector, faq_ranked, chunks, order)
        candidates = [chunks[i][0] for i in candidate_ids(order, faqs, bank) if i in chunks]
        vectors = {sid: v for _, found in chunks.values() for sid, v in found.items()}
        weights = overlap_weights(
            set(tokens), functools.partial(self._idf, postings), self.catalog.rarest
        )
        return Evidence(
            hits=tuple(Hit(chunks[i][0], fused[i]) for i in order[:k] if i in chunks),
            dense=dense,
            faqs=faqs,
            sentences=score_sentences(vector, weights, candidates, vectors.__getitem__, bank),
            coverage=self.coverage(tokens, known, postings),
            missing=self.missing(tokens, known, postings),
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
        ranked = self._nearest_bank(vector)
        chunks = self._fetch([q.chunk for q, _ in ranked])
        return best_per_quote(ranked, self._chunk_getter(chunks), n, skip)

    def rank_faqs(self, vector: np.ndarray, n: int | None = None) -> tuple[Hit, ...]:
        """The `n` (FAQ_POOL) FAQs whose own question is closest to the query, best first."""
        ranked = self._nearest_faqs(vector, n or FAQ_POOL)
        chunks = self._fetch([c for c, _ in ranked])
        return tuple(Hit(chunks[c][0], s) for c, s in ranked if c in chunks)

    def coverage(
        self,
        tokens: list[str],
        known: frozenset[str] = frozenset(),
        postings: dict[str, Postings | None] | None = None,
    ) -> float:
        """The share of the query's content words found anywhere in the corpus (or `known`)."""
        words = set(tokens)
        return 1.0 - len(self.missing(tokens, known, postings)) / len(words) if words else 0.0

    def missing(
        self,
        tokens: list[str],
        known: frozenset[str] = frozenset(),
        postings: dict[str, Postings | None] | None = None,
    ) -> frozenset[str]:
        """The query's content words that no article has (and not `known`)."""
        postings = self._terms_of(set(tokens)) if postings is None else postings
        return frozenset(t for t in tokens if postings.get(t) is None and t not in known)

    # ------------------------------------------------------------------------ Chroma

    def _dense(self, vector: np.ndarray, n: int) -> dict[str, float]:
        got = self.collection.query(
            query_embeddings=[vector], n_results=min(n, self.catalog.chunks), include=["distances"]
        )
        return {i: 1.0 - d for i, d in zip(got["ids"][0], got["distances"][0], strict=True)}

    def _nearest_bank(self, vector: np.ndarray) -> list[tuple[BankQuestion, float]]:
        if not self._bank_size:
            return []
        got = self._bank.query(
            query_embeddings=[vector],
            n_results=min(BANK_POOL, self._bank_size),
            include=["documents", "metadatas", "distances"],
        )
        rows = zip(got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True)
        ranked = [
            (BankQuestion(doc, m["source"], m["chunk"], m["start"], m["end"]), 1.0 - d)
            for doc, m, d in rows
        ]
        return sorted(ranked, key=lambda r: -r[1])

    def _nearest_faqs(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """(FAQ chunk id, similarity of its question to the query), best first."""
        if not self._question_size:
            return []
        got = self._questions.query(
            query_embeddings=[vector],
            n_results=min(n, self._question_size),
            include=["metadatas", "distances"],
        )
        pairs = zip(got["metadatas"][0], got["distances"][0], strict=True)
        return sorted(((m["chunk"], 1.0 - d) for m, d in pairs), key=lambda r: -r[1])

    @staticmethod
    def _faq_hits(
        vector: np.ndarray, ranked: list[tuple[str, float]], chunks: dict, order: list[str]
    ) -> tuple[Hit, ...]:
        """The nearest FAQs, and the FAQs among the fused passages scored the same way (by
        their question line's vector), best first."""
        scores = dict(ranked)
        for i in order:
            chunk, vectors = chunks.get(i, (None, {}))
            if chunk is not None and chunk.kind == "faq" and chunk.question and i not in scores:
                scores[i] = float(vectors[sentence_id(i, 0)] @ vector)
        hits = [Hit(chunks[i][0], score) for i, score in scores.items() if i in chunks]
        return tuple(sorted(hits, key=lambda h: -h.score))

    def _terms_of(self, terms: set[str]) -> dict[str, Postings | None]:
        found, missing = self._postings.pick(sorted(terms))
        if missing:
            got = self._terms.get(
                ids=[TERM_PREFIX + t for t in missing], include=["documents", "metadatas"]
            )
            read = dict.fromkeys(missing)
            for id_, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                read[id_.removeprefix(TERM_PREFIX)] = read_postings(doc, meta)
            self._postings.keep(read)
            found.update(read)
        return found

    def _keyword(
        self, tokens: list[str], postings: dict[str, Postings | None], n: int
    ) -> list[str]:
        held = {t: p for t, p in postings.items() if p is not None}
        if not tokens or not held:
            return []
        index = KeywordIndex(
            {t: (np.array(p.ords, dtype=np.int64), np.array(p.weights)) for t, p in held.items()},
            self.catalog.chunks,
        )
        ids = {o: i for p in held.values() for o, i in zip(p.ords, p.ids, strict=True)}
        return [ids[o] for o in index.top(tokens, n)]

    def _idf(self, postings: dict[str, Postings | None], term: str) -> float | None:
        found = postings.get(term)
        if found is None or not found.sentences:
            return None
        return sentence_idf(self.catalog.sentences, found.sentences)

    def _fetch(self, ids: Iterable[str]) -> dict[str, tuple[Chunk, dict[str, np.ndarray]]]:
        """The passages `ids` (those that exist), with their sentences and sentence vectors,
        each read by its id. The passages, their sentences and their FAQ question lines are
        asked for at once: a passage has at most `most_sentences` sentences, and asking for
        an id that does not exist costs nothing."""
        found, missing = self._chunks.pick(list(dict.fromkeys(ids)))
        if not missing:
            return found
        guessed = [sentence_id(i, n) for i in missing for n in range(self.catalog.most_sentences)]
        include = ["documents", "metadatas", "embeddings"]
        passages, *parts = _at_once(
            functools.partial(self.collection.get, ids=missing, include=include[:2]),
            functools.partial(self._sentences.get, ids=guessed, include=include),
            functools.partial(self._questions.get, ids=guessed, include=include),
        )
        columns = (
            [*passages["ids"], *(i for p in parts for i in p["ids"])],
            [*passages["documents"], *(d for p in parts for d in p["documents"])],
            [*passages["metadatas"], *(m for p in parts for m in p["metadatas"])],
        )
        vectors: dict[str, dict[str, np.ndarray]] = {}
        for part in parts:
            rows = zip(part["ids"], part["metadatas"], part["embeddings"], strict=True)
            for sid, meta, v in rows:
                vectors.setdefault(meta["chunk"], {})[sid] = np.asarray(v, dtype=np.float32)
        read = {c.id: (c, vectors.get(c.id, {})) for c in chunks_from_records(*columns)}
        self._chunks.keep(read)
        return {**found, **read}

    @staticmethod
    def _chunk_getter(chunks: dict) -> Callable[[str], Chunk | None]:
        def chunk_of(chunk_id: str) -> Chunk | None:
            kept = chunks.get(chunk_id)
            return kept[0] if kept is not None else None

        return chunk_of

    def _nearest_answered(self, background: Sequence[tuple[str, np.ndarray]]):
        """For bot.background.unanswered: the vectors of each background question's nearest
        bank question, and of its nearest sentence and FAQ question line."""
        if not background:
            return None, []
        vectors = np.stack([v for _, v in background])
        parts = {"bank": self._bank, "sentences": self._sentences, "questions": self._questions}
        nearest: dict[str, list[np.ndarray]] = {name: [] for name in parts}
        for name, collection in parts.items():
            if not collection.count():
                continue
            for start in range(0, len(vectors), _BACKGROUND_BATCH):
                got = collection.query(
                    query_embeddings=vectors[start : start + _BACKGROUND_BATCH],
                    n_results=1,
                    include=["embeddings"],
                )
                nearest[name] += [np.asarray(e[0], dtype=np.float32) for e in got["embeddings"]]
        questions = np.stack(nearest["bank"]) if nearest["bank"] else None
        blocks = [np.stack(nearest[n]) for n in ("sentences", "questions") if nearest[n]]
        return questions, blocks


def load_index_retriever(
    generation, embedder, background: tuple[str, ...] = (), background_mask: float = 0.7
) -> IndexRetriever:
    """The search over one generation in Chroma; `background`: the background questions."""
    return IndexRetriever(
        generation, embedder, embed_background(embedder, background), background_mask
    )
