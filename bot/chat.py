"""The bot: a short pipeline of stages for one message in its conversation.

    clean -> assess risk (bot.risk) -> understand (bot.understand, bot.spelling) -> route
    (bot.routing): boundary or retrieve (bot.retrieval in memory, bot.index_search in Chroma;
    both score with bot.evidence) -> compose (bot.answer) -> verify citations -> decorate (risk
    replies, the resources of a flagged conversation, notices)

Each stage is a pure function of its inputs; this module holds the heavy objects (index,
embedder, risk model) and passes them in.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bot import replies, safety
from bot.answer import Thresholds, compose_answer, faq_answer, matched_faq, verify_citations
from bot.background import read_background
from bot.decorate import combine, risk_answer
from bot.evidence import Evidence
from bot.index_search import IndexRetriever, load_index_retriever
from bot.lexicon import (
    expand_lay_terms,
    in_article_words,
    lay_term_words,
    lexicon_words,
    specifics,
)
from bot.retrieval import Retriever, load_retriever
from bot.risk import (
    Risk,
    RiskModel,
    RiskThresholds,
    assess_risk,
    bundled_model,
    message_parts,
    strongest,
)
from bot.routing import context_turn, is_stopping_faq, stopping_ids, stopping_in_context
from bot.settings import Settings
from bot.spelling import Speller, names_in, words_in
from bot.types import Answer, Chunk, Citation, Hit
from bot.understand import Understood, asks_something, understand
from bot.vectors import VectorMemory

log = logging.getLogger("medfaq")

# How many earlier messages are checked for risk, which keeps the resources on.
_FLAG_LOOKBACK = 20
# FAQs looked through for one on stopping medication; all of them in memory.
STOPPING_POOL = 50


@dataclass(eq=False)  # a service object: compared and hashed by identity
class Bot:
    """Built once (index, embedder, settings), then asked any number of questions, from any
    number of threads: it keeps no per-conversation state; history is passed in."""

    retriever: Retriever | IndexRetriever
    sources: Mapping[str, str]  # source -> its text, to verify every quote before it is shown
    settings: Settings
    risk_model: RiskModel | None = None  # None: the phrase rules alone decide

    def __post_init__(self) -> None:
        s = self.settings
        self.thresholds = Thresholds.from_settings(s)
        self.risk_thresholds = RiskThresholds(
            s.risk_concern_threshold,
            s.risk_urgent_threshold,
            s.risk_keyword_threshold,
            s.risk_neighbour_threshold,
            s.risk_neighbour_margin,
            s.risk_rule_doubt,
        )
        # The articles' words and the lexicon's; not the question banks', which are typed as
        # people type ("theraphy"), typos included.
        self.speller = Speller(tuple(sorted(self.retriever.words | words_in(lexicon_words()))))
        # Looked up at each call: the retriever (and its embedder) may be swapped later.
        self._memory = VectorMemory(
            lambda text: self.retriever.embed(text),
            lambda texts: self.retriever.embedder.embed(texts),
            s.vector_cache,
        )

    @classmethod
    def build(
        cls,
        settings: Settings | None = None,
        *,
        embedder=None,
        index=None,
        sync: bool | None = None,
        say: Callable[[str], None] = log.info,
    ) -> Bot:
        """Open the index, first bringing it in line with the corpus (building it if missing).

        `sync` None: sync, unless the index is on a server (shared by several apps) and
        already has a generation: there, `python -m ingest` updates the index, once, and every
        running app picks the new generation up (bot/service.py). Apps that each synced at
        start-up would each read the whole index, and race to write it."""
        from ingest.embedding import Embedder, limit_blas_threads
        from ingest.indexing import ingest_corpus
        from ingest.loading import CorpusTexts, load_corpus
        from ingest.store import ChromaIndex, IndexNotReady

        settings = settings or Settings.from_env()
        background = read_background(settings.background_file)  # a bad file fails first
        embedder = embedder or Embedder.from_settings(settings)
        index = index or ChromaIndex.from_settings(settings)
        if sync is None:
            sync = not settings.chroma_url or index.active_any(missing_ok=True) is None
        if sync:
            if index.active(missing_ok=True) is None:
                say(f"No index at {index.where} yet: building it from {settings.corpus_dir} ...")
            summary, problems = ingest_corpus(settings, index, embedder)
            if summary.added or summary.updated or summary.deleted:
                say(
                    f"Index updated: {summary.added} added, {summary.updated} updated, "
                    f"{summary.deleted} deleted chunks ({summary.seconds:.1f} s)"
                )
            for problem in problems:
                say(f"Skipped {problem}")
        generation = index.active(embedder.model_name)
        if settings.searches_index(generation.passages.count()):
            if generation.terms is None:
                raise IndexNotReady(
                    f"The index at {index.where} has no keyword terms yet (it was built by an "
                    "older version). Bring it up to date with: python -m ingest"
                )
            retriever = load_index_retriever(
                generation, embedder, background, settings.background_mask
            )
            sources: Mapping[str, str] = CorpusTexts(settings.corpus_dir)
        else:
            # A local folder cannot go down: its passages are ranked in the process.
            retriever = load_retriever(
                generation,
                embedder,
                background,
                settings.background_mask,
                passages_in_process=not settings.chroma_url,
            )
            documents, _ = load_corpus(settings.corpus_dir)
            sources = {d.source: d.text for d in documents}
        model = bundled_model()
        if model is not None and model.model_name != settings.embedding_model:
            say(
                f"The risk classifier was trained on {model.model_name!r}, not "
                f"{settings.embedding_model!r}: only the phrase rules check for risk. "
                "Retrain it with: python -m evals.train_risk"
            )
            model = None
        bot = cls(retriever, sources, settings, model)
        bot._embed("warm up")  # load the model, word frequencies and safety patterns now
        limit_blas_threads(settings.blas_threads)  # once the model's libraries are loaded
        bot.speller.correct("warming")
        names_in("warming")  # word frequencies and the list of common words
        safety.detect_crisis("warm up")
        return bot

    # ------------------------------------------------------------------------ the pipeline

    def ask(self, question: str | None, history: Sequence[str] = ()) -> Answer:
        """Answer `question`; `history` holds the person's earlier messages, oldest first."""
        began = time.perf_counter()
        cleaned = safety.clean_input(question, self.settings.max_input_chars)
        notices = (
            (replies.truncated_notice(self.settings.max_input_chars),) if cleaned.truncated else ()
        )
        answer = self._reply(question or "", cleaned, history)
        flagged = self.flagged(history) if not answer.crisis else None
        if flagged is not None:
            answer = self._keep_resources(answer, flagged)
        # Timings, modes and ids only: what people write is never logged.
        ids = ",".join(f"{c.source}:{c.start}-{c.end}" for c in answer.citations)
        ms = (time.perf_counter() - began) * 1000
        log.info(
            "answered mode=%s risk=%s citations=[%s] in %.1f ms",
            answer.mode,
            answer.risk,
            ids,
            ms,
        )
        return dataclasses.replace(answer, notices=notices)

    def _reply(self, raw: str, cleaned: safety.CleanInput, history: Sequence[str]) -> Answer:
        if cleaned.empty:
            return Answer(replies.EMPTY_REPLY, "notice")
        understood = understand(cleaned.text, self._earlier(history))
        questions = self._questions(understood)
        # One forward pass for everything this message needs embedded: the rows the risk
        # check reads (the whole message, including any part past the cut, and its parts
        # when long) and the question(s) to retrieve with and what they lean on in a long
        # post, also in the articles' words.
        queries = [q.query for q in questions] + [q.context for q in questions if q.context]
        self._embed_all([*self._risk_rows(raw), *queries, *map(in_article_words, queries)])
        risk = self.assess(raw)
        if risk is not None:
            log.info("risk %s (%s)", risk.tier, risk.rule)
            if risk.urgent:
                return risk_answer(risk)
        if safety.looks_non_english(cleaned.text):
            if risk is not None:
                return risk_answer(risk)
            return Answer(replies.NON_ENGLISH_REPLY, "notice")
        asked = asks_something(cleaned.text) or safety.detect_boundary(cleaned.text) is not None
        if risk is not None and not asked:
            return risk_answer(risk)  # nothing asked: no quotes loosely tied to the message
        answers = [self._answer(q, understood, history) for q in questions]
        answer = combine(answers)
        return risk_answer(risk, answer) if risk is not None else answer

    def assess(self, message: str) -> Risk | None:
        """The message's risk tier: phrase rules and the classifier over its embedding (and
        over its parts, for a long message)."""
        text = safety.clean_input(message, safety.MAX_SCAN_CHARS).text
        if not text:
            return None
        if self.risk_model is None:
            return assess_risk(text, None, None, self.risk_thresholds)
        rows = self._risk_rows(text)
        vectors = self._embed_all(rows)
        return assess_risk(text, vectors, self.risk_model, self.risk_thresholds, rows)

    def _risk_rows(self, message: str) -> list[str]:
        """What the classifier reads: the message as answered, and its parts when long."""
        text = safety.clean_input(message, safety.MAX_SCAN_CHARS).text
        if not text or self.risk_model is None:
            return []
        return [safety.clean_input(text, self.settings.max_input_chars).text, *message_parts(text)]

    def _questions(self, understood: Understood) -> list[Understood]:
        """One query per question found in the message (a long message may hold two), its
        misspelt words spelt as the articles spell them: what is embedded in the message's one
        forward pass is what is searched with."""
        if len(understood.questions) < 2 or understood.follow_up:
            return [self._spelt(understood)]
        return [
            self._spelt(dataclasses.replace(understood, query=q, questions=(q,), contexts=(c,)))
            for q, c in zip(understood.questions, understood.contexts, strict=True)
        ]

    def _answer(self, understood: Understood, asked: Understood, history: Sequence[str]) -> Answer:
        """One question (spelt): a boundary reply, or a composed answer with its quotes
        verified."""
        boundary, evidence, vector = self.route(understood, asked, history)
        if boundary is not None:
            return self._boundary(boundary, understood.query, vector)
        answer = compose_answer(
            evidence,
            self.thresholds,
            understood.answer_type,
            stopping_ids(evidence),
            specifics(understood.query),
            names_in(understood.query),
        )
        return verify_citations(answer, self.sources)

    def _spelt(self, understood: Understood) -> Understood:
        """The question (and what it leans on in its post) spelt as the articles spell them."""
        correct = self.speller.correct
        return dataclasses.replace(
            understood,
            query=correct(understood.query),
            contexts=tuple(correct(c) if c else "" for c in understood.contexts),
        )

    def route(
        self, understood: Understood, asked: Understood, history: Sequence[str] = ()
    ) -> tuple[safety.Verdict | None, Evidence | None, np.ndarray]:
        """(boundary verdict, None, vector) for a question the prescriber must answer, else
        (None, evidence, vector); `understood` is spelt already (`_spelt`). A follow-up that
        could not be rewritten is retrieved with the earlier question blended in: its words
        join the keyword query and its embedding is added with `context_weight`; a question
        of a long post that names no subject, likewise with the sentences before it, at
        `post_context_weight`."""
        query = understood.query
        # What it leans on: the earlier turn, or the sentences before it in a long post (told
        # rather than asked, so they weigh less).
        if history and asked.follow_up:
            context, weight = context_turn(history), self.settings.context_weight
            context = self.speller.correct(context) if context else None
        else:  # spelt already, with the question
            context, weight = understood.context or None, self.settings.post_context_weight
        boundary = safety.detect_boundary(query)
        if boundary is None and not understood.rewritten:
            boundary = stopping_in_context(query, context)
        vector = self._query_vector(query)
        if boundary is not None:
            return boundary, None, vector
        retriever, t = self.retriever, self.thresholds
        if (
            context
            and not understood.rewritten
            and matched_faq(retriever.rank_faqs(vector), t) is None
        ):
            vector = vector + weight * self._query_vector(context)
            vector = vector / np.linalg.norm(vector)
            query = f"{context} {query}"
        # Lay words and brand names bring the article's own words into the keyword search.
        evidence = retriever.retrieve(
            expand_lay_terms(query), vector, k=self.settings.top_k, known=lay_term_words(query)
        )
        return None, evidence, vector

    def evidence_for(self, message: str, history: Sequence[str] = ()):
        """What the answer to a message is composed from, for calibration: (understood,
        boundary verdict or None, evidence or None) of its first question."""
        cleaned = safety.clean_input(message, self.settings.max_input_chars).text
        understood = understand(cleaned, self._earlier(history))
        first = self._questions(understood)[0]
        boundary, evidence, _ = self.route(first, understood, history)
        return first, boundary, evidence

    def _boundary(self, verdict: safety.Verdict, question: str, vector: np.ndarray) -> Answer:
        """No instructions beyond the article. Stopping gets the article's FAQ on it, led by
        the advice to talk to the prescriber; mode "faq" when that FAQ is what was asked."""
        lead = replies.boundary_reply(verdict)
        faq = self.stopping_faq(vector)
        if verdict.kind == "stopping" and faq is not None:
            answer = verify_citations(faq_answer(faq.chunk, faq.score, lead=lead), self.sources)
            if answer.citations:
                asked = matched_faq(self.retriever.rank_faqs(vector), self.thresholds)
                mode = "faq" if asked is not None and asked.chunk.id == faq.chunk.id else "boundary"
                return dataclasses.replace(answer, mode=mode)
        return Answer(lead, "boundary")

    def stopping_faq(self, vector: np.ndarray) -> Hit | None:
        """The FAQ on stopping medication closest to the question, if any article has one
        (among the STOPPING_POOL FAQs closest to it, when the index is searched in Chroma)."""
        ranked = self.retriever.rank_faqs(vector, STOPPING_POOL)
        return next((h for h in ranked if is_stopping_faq(h.chunk)), None)

    def passage_for(self, citation: Citation) -> Chunk | None:
        """The passage (paragraph or whole FAQ) a citation quotes from, to show it in context."""
        return self.retriever.passage_at(citation.source, citation.start)

    # ------------------------------------------------------------------------ conversation

    @staticmethod
    def _earlier(history: Sequence[str]) -> list[str]:
        """Earlier messages that can give a follow-up its subject (not crisis messages)."""
        turns = [safety.clean_input(h).text for h in history]
        return [t for t in turns if t and not safety.detect_crisis(t)]

    def flagged(self, history: Sequence[str]) -> Risk | None:
        """The risk found among earlier messages: once flagged, a conversation keeps its
        resources visible (derived from the history, so no state is stored)."""
        turns = [t for t in history[-_FLAG_LOOKBACK:] if isinstance(t, str)]
        return strongest([self.assess(turn) for turn in turns])

    @staticmethod
    def _keep_resources(answer: Answer, risk: Risk) -> Answer:
        reminder = replies.resources_reminder("abuse" if risk.kind == "abuse" else "crisis")
        text = f"{answer.text}\n\n{reminder}"
        return dataclasses.replace(answer, text=text, crisis=True, risk=risk.tier)

    # ------------------------------------------------------------------------ vectors

    def forget_vectors(self) -> None:
        """Drop the remembered message vectors (benchmarks time each question afresh)."""
        self._memory.clear()

    def _embed(self, text: str) -> np.ndarray:
        return self._embed_all([text])[0]

    def _query_vector(self, query: str) -> np.ndarray:
        """What a question is searched with: the mean of its own embedding and that of its
        words in the articles' terms ("pills" -> "medication") when they differ. The model
        matches "combine pills and counseling" to "combining medication and therapy" less
        well than the same words would."""
        canonical = in_article_words(query)
        if canonical == query:
            return self._embed(query)
        pair = self._embed_all([query, canonical])
        vector = pair[0] + pair[1]
        return vector / np.linalg.norm(vector)

    def _embed_all(self, texts: list[str]) -> np.ndarray:
        """Vectors of `texts`, remembered (bot/vectors.py); missing ones in one batch."""
        return self._memory.of(texts)
