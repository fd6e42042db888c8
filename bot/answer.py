"""Pure: evidence for a question -> an Answer whose every sentence is a cited, verbatim quote."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.retrieval import Evidence, SentenceHit
from bot.settings import Settings
from bot.types import Answer, Chunk, Citation, Hit, Span

# A sentence opening with one of these leans on the sentence before it ("They might
# prescribe SSRIs..."), so the quote takes that sentence along for context.
_LEANS_BACK = re.compile(r"(?:They|It|This|These|That|Those|Their|Its|Such|Both)\b")

ABSTAIN_TEXT = "Sorry, the article I answer from doesn't cover that, so I can't answer it."


@dataclass(frozen=True)
class Thresholds:
    """The calibrated knobs (see evals/CALIBRATION.md); bot.settings holds their values."""

    abstain: float
    coverage_weight: float
    faq: float
    faq_margin: float
    lexical_weight: float = 0.0
    sentence_window: float = 0.08
    max_sentences: int = 3

    @classmethod
    def from_settings(cls, s: Settings, **overrides) -> Thresholds:
        values = dict(
            abstain=s.abstain_threshold,
            coverage_weight=s.coverage_weight,
            faq=s.faq_threshold,
            faq_margin=s.faq_margin,
            lexical_weight=s.lexical_weight,
            max_sentences=s.max_sentences,
        )
        return cls(**{**values, **overrides})


def relevance(evidence: Evidence, t: Thresholds) -> float:
    """How well the article covers the question: the best match (passage, or sentence with
    its word overlap), lowered when the question's content words are missing from the corpus."""
    best_sentence = max((sentence_score(s, t) for s in evidence.sentences), default=0.0)
    best = max([*evidence.dense.values(), best_sentence], default=0.0)
    return best - t.coverage_weight * (1.0 - evidence.coverage)


def matched_faq(faqs: tuple[Hit, ...], t: Thresholds) -> Hit | None:
    """The FAQ the question clearly asks: similar enough, and clearly ahead of the next one."""
    if not faqs or faqs[0].score < t.faq:
        return None
    runner_up = faqs[1].score if len(faqs) > 1 else -1.0
    return faqs[0] if faqs[0].score - runner_up >= t.faq_margin else None


def compose_answer(evidence: Evidence, t: Thresholds) -> Answer:
    """FAQ answer when the question asks an FAQ; else the best sentences; else abstain."""
    faq = matched_faq(evidence.faqs, t)
    if faq is not None:
        return faq_answer(faq.chunk, faq.score)
    if relevance(evidence, t) < t.abstain or not evidence.sentences:
        return abstain(evidence.faqs)
    return passages_answer(select_sentences(evidence.sentences, evidence.hits, t))


def faq_answer(chunk: Chunk, score: float, lead: str = "") -> Answer:
    """The FAQ's vetted answer, verbatim, cited as one span."""
    answer = chunk.answer
    text = f"{lead}\n\n{answer.text} [1]" if lead else f"{answer.text} [1]"
    return Answer(text, "faq", (cite(1, chunk, answer, score),))


def abstain(faqs: tuple[Hit, ...], n: int = 3) -> Answer:
    suggestions = tuple(h.chunk.question for h in faqs[:n] if h.chunk.question)
    lines = [ABSTAIN_TEXT]
    if suggestions:
        lines += ["", "Questions it does answer include:", *(f"- {q}" for q in suggestions)]
    return Answer("\n".join(lines), "abstain", suggestions=suggestions)


def sentence_score(s: SentenceHit, t: Thresholds) -> float:
    """Meaning first, with a share for the question's rarer words (names, conditions)."""
    return s.similarity + t.lexical_weight * s.overlap


def select_sentences(
    sentences: tuple[SentenceHit, ...], hits: tuple[Hit, ...], t: Thresholds
) -> list[tuple[SentenceHit, float]]:
    """The best sentence and those close behind it (with their scores), grouped by passage in
    ranking order and in document order within a passage, without duplicates or questions."""
    scored = sorted(
        ((s, sentence_score(s, t)) for s in sentences if not s.span.text.rstrip().endswith("?")),
        key=lambda pair: -pair[1],
    )
    if not scored:
        return []
    floor = scored[0][1] - t.sentence_window
    chosen = [pair for pair in scored[: t.max_sentences] if pair[1] >= floor]
    rank = {h.chunk.id: i for i, h in enumerate(hits)}
    best_rank: dict[str, int] = {}
    for s, _ in chosen:  # passages follow the rank of their best sentence
        best_rank.setdefault(s.chunk.id, len(best_rank))
    return sorted(
        chosen,
        key=lambda p: (best_rank[p[0].chunk.id], rank.get(p[0].chunk.id, 0), p[0].span.start),
    )


def passages_answer(chosen: list[tuple[SentenceHit, float]]) -> Answer:
    """Each chosen sentence, cited; a sentence of an FAQ answer brings the whole (short,
    vetted) answer, and one leaning on the sentence before it brings that one too."""
    parts, citations = [], []
    for s, score in chosen:
        span = s.chunk.answer if s.chunk.kind == "faq" else with_context(s.chunk, s.span)
        if any(c.start <= span.start and span.end <= c.end for c in citations):
            continue  # already quoted
        citation = cite(len(citations) + 1, s.chunk, span, score)
        citations.append(citation)
        parts.append(f"{span.text} [{citation.n}]")
    return Answer(" ".join(parts), "passages", tuple(citations))


def with_context(chunk: Chunk, span: Span) -> Span:
    """The span, widened to the sentence before it when it opens with a pronoun."""
    sentences = [s for s in chunk.sentences if s.role != "question"]
    index = next((i for i, s in enumerate(sentences) if s.start == span.start), None)
    if not index or not _LEANS_BACK.match(span.text):
        return span
    start = sentences[index - 1].start
    return Span(start, span.end, chunk.text[start - chunk.start : span.end - chunk.start])


def cite(n: int, chunk: Chunk, span: Span, score: float) -> Citation:
    return Citation(
        n,
        chunk.source,
        chunk.title,
        chunk.section,
        span.text,
        span.start,
        span.end,
        round(score, 4),
    )


def verify_citations(answer: Answer, sources: Mapping[str, str]) -> Answer:
    """Keep only citations whose quote is the source text at its offsets; drop the parts of
    the answer that relied on any other. With nothing left, the answer abstains."""
    good = [c for c in answer.citations if sources.get(c.source, "")[c.start : c.end] == c.quote]
    if len(good) == len(answer.citations):
        return answer
    if not good:
        return abstain(())
    bad = {c.n for c in answer.citations} - {c.n for c in good}
    text = answer.text
    for c in answer.citations:
        if c.n in bad:
            text = text.replace(f"{c.quote} [{c.n}]", "").strip()
    return Answer(text, answer.mode, tuple(good), answer.suggestions, answer.crisis, answer.notices)
