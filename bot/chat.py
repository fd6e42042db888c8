"""The bot: safety checks first, then retrieval and a cited answer, for a question in context."""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from bot import safety
from bot.answer import Thresholds, compose_answer, faq_answer, matched_faq, verify_citations
from bot.retrieval import Retriever, load_retriever
from bot.semantic_safety import ExemplarBank, build_exemplar_bank, semantic_crisis
from bot.settings import Settings
from bot.types import Answer, Chunk, Citation, Hit

log = logging.getLogger("medfaq")

# A question that leans on an earlier turn: a pronoun standing for the earlier topic, or an
# opening such as "and", "what about".
_FOLLOW_UP = re.compile(
    r"^\s*(?:and|but|so|also|then|what about|how about|what if|why|how come)\b"
    r"|\b(?:that|this|it|they|them|those|these)\b",
    re.IGNORECASE,
)
# How many earlier messages are checked for a crisis, which keeps the resources on.
_FLAG_LOOKBACK = 20
# What a person might say when asking whether stopping is safe: used to find the FAQ on it.
_STOPPING_PROBE = "Can I stop taking my medication?"


def is_follow_up(question: str) -> bool:
    return bool(_FOLLOW_UP.search(question))


def context_turn(history: Sequence[str], depth: int = 2) -> str | None:
    """The earlier question a follow-up leans on: the latest one, together with the one
    before it when it was itself a follow-up (at most `depth` turns)."""
    turns: list[str] = []
    for turn in reversed(history):
        text = safety.clean_input(turn).text
        if not text or safety.detect_crisis(text):
            continue
        turns.insert(0, text)
        if len(turns) == depth or not is_follow_up(text):
            break
    return " ".join(turns) or None


def stopping_in_context(question: str, context: str | None) -> safety.Verdict | None:
    """A follow-up such as "Can I stop it once therapy starts?" asks about stopping what the
    earlier question named; the earlier question alone must not be the stopping one."""
    if not context or safety.detect_boundary(context):
        return None
    verdict = safety.detect_boundary(f"{context} {question}")
    return verdict if verdict and verdict.kind == "stopping" else None


@dataclass(eq=False)  # a service object: compared and hashed by identity
class Bot:
    """Built once (index, embedder, settings), then asked any number of questions, from any
    number of threads: it keeps no per-conversation state; history is passed in."""

    retriever: Retriever
    sources: dict[str, str]  # source -> its text, to verify every quote before it is shown
    settings: Settings
    # For the semantic crisis check beside the rules; a Future while it is being embedded.
    exemplars: ExemplarBank | Future | None = None

    def __post_init__(self) -> None:
        self.thresholds = Thresholds.from_settings(self.settings)

    @classmethod
    def build(
        cls,
        settings: Settings | None = None,
        *,
        embedder=None,
        index=None,
        sync: bool = True,
        say: Callable[[str], None] = log.info,
    ) -> Bot:
        """Open the index, first bringing it in line with the corpus (building it if missing)."""
        from ingest.embedding import Embedder
        from ingest.indexing import ChromaIndex, ingest_corpus
        from ingest.loading import load_corpus

        settings = settings or Settings.from_env()
        embedder = embedder or Embedder(settings.embedding_model)
        index = index or ChromaIndex.from_settings(settings)
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
                say(f"Skipped corpus file {problem}")
        retriever = load_retriever(index.active(embedder.model_name), embedder)
        documents, _ = load_corpus(settings.corpus_dir)
        # Embedding the crisis examples takes ~2 s: it runs while the caller goes on starting
        # up (the app builds its page); the first message that needs it waits for it.
        pool = ThreadPoolExecutor(1, thread_name_prefix="exemplars")
        exemplars = pool.submit(build_exemplar_bank, embedder.embed)
        pool.shutdown(wait=False)
        bot = cls(retriever, {d.source: d.text for d in documents}, settings, exemplars)
        # Load the model and compile the safety patterns now, not on the first question.
        _ = bot.stopping_faq
        safety.detect_crisis("warm up")
        return bot

    def ask(self, question: str | None, history: Sequence[str] = ()) -> Answer:
        """Answer `question`; `history` holds the person's earlier messages, oldest first."""
        began = time.perf_counter()
        cleaned = safety.clean_input(question, self.settings.max_input_chars)
        notices = (
            (safety.truncated_notice(self.settings.max_input_chars),) if cleaned.truncated else ()
        )
        answer = self._reply(question or "", cleaned, history)
        flagged = self._flagged(history)
        if flagged and not answer.crisis:
            answer = self._keep_resources(answer, flagged)
        # Timings, modes and ids only: what people write is never logged.
        ids = ",".join(f"{c.source}:{c.start}-{c.end}" for c in answer.citations)
        ms = (time.perf_counter() - began) * 1000
        log.info(
            "answered mode=%s crisis=%s citations=[%s] in %.1f ms",
            answer.mode,
            answer.crisis,
            ids,
            ms,
        )
        return dataclasses.replace(answer, notices=notices)

    def _reply(self, raw: str, cleaned: safety.CleanInput, history: Sequence[str]) -> Answer:
        if cleaned.empty:
            return Answer(safety.EMPTY_REPLY, "notice")
        # The whole message, not only the part that gets answered, is checked for a crisis;
        # the phrase rules first, then the message's meaning against crisis examples.
        vector = self._embed(cleaned.text)
        crisis = safety.detect_crisis(raw) or self._semantic_crisis(vector)
        if crisis:
            log.info("crisis reply (rule %s)", crisis.rule)
            return Answer(safety.crisis_reply(crisis), "crisis", crisis=True)
        if safety.looks_non_english(cleaned.text):
            return Answer(safety.NON_ENGLISH_REPLY, "notice")
        question = cleaned.text
        context = context_turn(history) if history and is_follow_up(question) else None
        boundary = safety.detect_boundary(question) or stopping_in_context(question, context)
        if boundary:
            return self._boundary(boundary, question, vector)
        return verify_citations(self._answer(question, vector, context), self.sources)

    def _answer(self, question: str, vector: np.ndarray, context: str | None) -> Answer:
        """A follow-up is retrieved with the earlier question blended in: its words join the
        keyword query and its embedding is added to the question's with `context_weight`."""
        retriever, t = self.retriever, self.thresholds
        if context and matched_faq(retriever.rank_faqs(vector), t) is None:
            vector = vector + self.settings.context_weight * self._embed(context)
            vector = vector / np.linalg.norm(vector)
            question = f"{context} {question}"
        evidence = retriever.retrieve(question, vector, k=self.settings.top_k)
        routed = matched_faq(evidence.faqs, t)
        stopping = self.stopping_faq
        if routed is not None and stopping is not None and routed.chunk.id == stopping.chunk.id:
            # The FAQ on stopping answers stopping questions, which the safety layer has
            # already sent to _boundary: "Can I start therapy while on medication?" must not
            # be told about tapering, however alike the embeddings find the two.
            t = dataclasses.replace(t, faq=float("inf"))
        return compose_answer(evidence, t)

    def _semantic_crisis(self, vector: np.ndarray) -> safety.Verdict | None:
        bank = self.exemplar_bank
        return semantic_crisis(vector, bank) if bank is not None else None

    @property
    def exemplar_bank(self) -> ExemplarBank | None:
        """The crisis examples' vectors, waiting for them if they are still being embedded."""
        bank = self.exemplars
        return bank.result() if isinstance(bank, Future) else bank

    def _boundary(self, verdict: safety.Verdict, question: str, vector: np.ndarray) -> Answer:
        """No instructions beyond the article. Stopping gets the article's FAQ on it, led by
        the advice to talk to the prescriber; mode "faq" when that FAQ is what was asked."""
        lead = safety.boundary_reply(verdict)
        faq = self.stopping_faq
        if verdict.kind == "stopping" and faq is not None:
            answer = verify_citations(faq_answer(faq.chunk, faq.score, lead=lead), self.sources)
            if answer.citations:
                asked = matched_faq(self.retriever.rank_faqs(vector), self.thresholds)
                mode = "faq" if asked is not None and asked.chunk.id == faq.chunk.id else "boundary"
                return dataclasses.replace(answer, mode=mode)
        return Answer(lead, "boundary")

    @functools.cached_property
    def stopping_faq(self) -> Hit | None:
        """The FAQ that answers whether one can stop medication, if the corpus has one."""
        faqs = self.retriever.rank_faqs(self.retriever.embed(_STOPPING_PROBE))
        return faqs[0] if faqs and faqs[0].score >= 0.6 else None

    def passage_for(self, citation: Citation) -> Chunk | None:
        """The passage (paragraph or whole FAQ) a citation quotes from, to show it in context."""
        for chunk in self.retriever.chunks:
            if chunk.source == citation.source and chunk.start <= citation.start < chunk.end:
                return chunk
        return None

    def _flagged(self, history: Sequence[str]) -> safety.Verdict | None:
        """The latest crisis verdict among earlier messages: once flagged, a conversation keeps
        its resources visible (derived from the history, so no state is stored)."""
        turns = [t for t in (safety.clean_input(h).text for h in history[-_FLAG_LOOKBACK:]) if t]
        for turn in reversed(turns):
            verdict = safety.detect_crisis(turn)
            if verdict:
                return verdict
        bank = self.exemplar_bank
        for turn in reversed(turns if bank is not None else []):
            verdict = semantic_crisis(self._embed(turn), bank)
            if verdict:
                return verdict
        return None

    @functools.lru_cache(maxsize=4096)  # noqa: B019 (one Bot lives as long as the process)
    def _embed(self, text: str) -> np.ndarray:
        """A message's vector, remembered: the history is checked again at every turn, and
        each earlier message was embedded when it was asked."""
        vector = self.retriever.embed(text)
        vector.flags.writeable = False  # shared between calls: nobody may change it
        return vector

    @staticmethod
    def _keep_resources(answer: Answer, verdict: safety.Verdict) -> Answer:
        reminder = safety.resources_reminder(verdict.kind)
        return dataclasses.replace(answer, text=f"{answer.text}\n\n{reminder}", crisis=True)
