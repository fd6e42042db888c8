"""Pure: evidence for a question -> an Answer whose every sentence is a cited, verbatim quote."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.retrieval import Evidence, SentenceHit
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
    sentence_window: float = 0.08
    max_sentences: int = 3


def relevance(evidence: Evidence, coverage_weight: float) -> float:
    """How well the article covers the question: the best dense match (passage or
    sentence), lowered when the question's content words are missing from the corpus."""
    best = max([*evidence.dense.values(), *(s.score for s in evidence.sentences[:1])], default=0.0)
    return best - coverage_weight * (1.0 - evidence.coverage)


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
    if relevance(evidence, t.coverage_weight) < t.abstain or not evidence.sentences:
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


def select_sentences(
    sentences: tuple[SentenceHit, ...], hits: tuple[Hit, ...], t: Thresholds
) -> list[SentenceHit]:
    """The best sentence and those close behind it, grouped by passage in ranking order and
    in document order within a passage, without duplicates or questions."""
    usable = [s for s in sentences if not s.span.text.rstrip().endswith("?")]
    if not usable:
        return []
    floor = usable[0].score - t.sentence_window
    chosen, seen = [], set()
    for s in usable:
        if s.score < floor or len(chosen) == t.max_sentences:
            break
        key = (s.chunk.source, s.span.start)
        if key not in seen:
            seen.add(key)
            chosen.append(s)
    rank = {h.chunk.id: i for i, h in enumerate(hits)}
    best_rank = {}
    for s in chosen:  # passages follow the rank of their best sentence
        best_rank.setdefault(s.chunk.id, len(best_rank))
    return sorted(
        chosen, key=lambda s: (best_rank[s.chunk.id], rank.get(s.chunk.id, 0), s.span.start)
    )


def passages_answer(chosen: list[SentenceHit]) -> Answer:
    parts, citations = [], []
    for s in chosen:
        span = with_context(s.chunk, s.span)
        if any(c.start <= span.start and span.end <= c.end for c in citations):
            continue  # already quoted as context of another sentence
        citation = cite(len(citations) + 1, s.chunk, span, s.score)
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
