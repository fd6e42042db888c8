"""The bot: safety checks first, then retrieval and a cited answer, for a question in context."""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bot import safety
from bot.answer import Thresholds, compose_answer, faq_answer, matched_faq, verify_citations
from bot.retrieval import Retriever, load_retriever
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


@dataclass
class Bot:
    """Built once (index, embedder, settings), then asked any number of questions, from any
    number of threads: it keeps no per-conversation state; history is passed in."""

    retriever: Retriever
    sources: dict[str, str]  # source -> its text, to verify every quote before it is shown
    settings: Settings

    def __post_init__(self) -> None:
        s = self.settings
        self.thresholds = Thresholds(
            abstain=s.abstain_threshold,
            coverage_weight=s.coverage_weight,
            faq=s.faq_threshold,
            faq_margin=s.faq_margin,
            max_sentences=s.max_sentences,
        )

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
        bot = cls(retriever, {d.source: d.text for d in documents}, settings)
        _ = bot.stopping_faq  # loads the model now, so the first question is not the slow one
        return bot

    def ask(self, question: str | None, history: Sequence[str] = ()) -> Answer:
        """Answer `question`; `history` holds the person's earlier messages, oldest first."""
        cleaned = safety.clean_input(question, self.settings.max_input_chars)
        notices = (safety.TRUNCATED_NOTICE,) if cleaned.truncated else ()
        answer = self._reply(cleaned, history)
        flagged = self._flagged(history)
        if flagged and not answer.crisis:
            answer = self._keep_resources(answer, flagged)
        return dataclasses.replace(answer, notices=notices)

    def _reply(self, cleaned: safety.CleanInput, history: Sequence[str]) -> Answer:
        if cleaned.empty:
            return Answer(safety.EMPTY_REPLY, "notice")
        crisis = safety.detect_crisis(cleaned.text)
        if crisis:
            log.info("crisis reply (rule %s)", crisis.rule)
            return Answer(safety.crisis_reply(crisis), "crisis", crisis=True)
        if safety.looks_non_english(cleaned.text):
            return Answer(safety.NON_ENGLISH_REPLY, "notice")
        boundary = safety.detect_boundary(cleaned.text)
        if boundary:
            return self._boundary(boundary, cleaned.text)
        return verify_citations(self._answer(cleaned.text, history), self.sources)

    def _answer(self, question: str, history: Sequence[str]) -> Answer:
        """A follow-up is retrieved with the earlier question blended in: its words join the
        keyword query and its embedding is added to the question's with `context_weight`."""
        retriever, k = self.retriever, self.settings.top_k
        vector = retriever.embed(question)
        context = context_turn(history) if history and is_follow_up(question) else None
        if context and matched_faq(retriever.rank_faqs(vector), self.thresholds) is None:
            vector = vector + self.settings.context_weight * retriever.embed(context)
            vector = vector / np.linalg.norm(vector)
            question = f"{context} {question}"
        return compose_answer(retriever.retrieve(question, vector, k=k), self.thresholds)

    def _boundary(self, verdict: safety.Verdict, question: str) -> Answer:
        """No instructions beyond the article. Stopping gets the article's FAQ on it, led by
        the advice to talk to the prescriber; mode "faq" when that FAQ is what was asked."""
        lead = safety.boundary_reply(verdict)
        faq = self.stopping_faq
        if verdict.kind == "stopping" and faq is not None:
            answer = verify_citations(faq_answer(faq.chunk, faq.score, lead=lead), self.sources)
            if answer.citations:
                asked = matched_faq(
                    self.retriever.rank_faqs(self.retriever.embed(question)), self.thresholds
                )
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

    @staticmethod
    def _flagged(history: Sequence[str]) -> safety.Verdict | None:
        """The latest crisis verdict among earlier messages: once flagged, a conversation keeps
        its resources visible (derived from the history, so no state is stored)."""
        for turn in reversed(history):
            verdict = safety.detect_crisis(safety.clean_input(turn).text or "")
            if verdict:
                return verdict
        return None

    @staticmethod
    def _keep_resources(answer: Answer, verdict: safety.Verdict) -> Answer:
        reminder = safety.resources_reminder(verdict.kind)
        return dataclasses.replace(answer, text=f"{answer.text}\n\n{reminder}", crisis=True)
