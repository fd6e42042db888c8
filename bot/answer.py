"""Pure: evidence for a question -> an Answer whose every sentence is a cited, verbatim quote."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.evidence import BankHit, Evidence, SentenceHit, stem, tokenize
from bot.lexicon import specifics, subjects_agree
from bot.settings import Settings
from bot.types import Answer, Chunk, Citation, Hit, Span
from bot.understand import answer_type, carries_answer

# A sentence opening with one of these leans on the sentence before it ("They might
# prescribe SSRIs..."), so the quote takes that sentence along for context.
_LEANS_BACK = re.compile(r"(?:They|It|This|These|That|Those|Their|Its|Such|Both)\b")

ABSTAIN_TEXT = "Sorry, the article I answer from doesn't cover that, so I can't answer it."
ABSTAIN_TEXT_MANY = "Sorry, the articles I answer from don't cover that, so I can't answer it."
SUGGESTIONS_HEADING = "Questions it does answer include:"
PARTIAL_TEXT = "The article doesn't say exactly; here is what it says about {topic}:"
# An answer that opens by saying yes: given to a question it does not answer, it misleads.
AFFIRMATION = re.compile(
    r"\s*(?:yes|absolutely|definitely|certainly|of course|sure|indeed)\b", re.IGNORECASE
)
# Kinds of answer a sentence visibly carries (a time, a frequency, a profession...): for
# these, a quote that does not carry one only partly answers the question.
CARRIED = ("duration", "frequency", "who", "where", "risks", "safety")


@dataclass(frozen=True)
class Thresholds:
    """The calibrated knobs (see evals/CALIBRATION.md); bot.settings holds their values."""

    abstain: float
    coverage_weight: float
    faq: float
    faq_margin: float
    faq_bank: float = 0.8  # a bank question of an FAQ at least this similar routes to it
    lexical_weight: float = 0.0
    bank_offset: float = 0.2  # a bank question's similarity minus this counts as a sentence's
    type_bonus: float = 0.05  # for a sentence carrying the kind of answer asked for
    sentence_window: float = 0.08
    max_sentences: int = 3
    affirm: float = 0.0  # an FAQ answer opening with "Yes" is quoted only this close to it
    background_margin: float = 9.0  # closer by this to a background question: not covered

    @classmethod
    def from_settings(cls, s: Settings, **overrides) -> Thresholds:
        values = dict(
            abstain=s.abstain_threshold,
            coverage_weight=s.coverage_weight,
            faq=s.faq_threshold,
            faq_margin=s.faq_margin,
            faq_bank=s.faq_bank_threshold,
            lexical_weight=s.lexical_weight,
            bank_offset=s.bank_offset,
            type_bonus=s.type_bonus,
            max_sentences=s.max_sentences,
            affirm=s.affirm_threshold,
            background_margin=s.background_margin,
        )
        return cls(**{**values, **overrides})


def relevance(evidence: Evidence, t: Thresholds) -> float:
    """How well the article covers the question: the best match (passage, or sentence with
    its word overlap and bank match), lowered when the question's content words are missing
    from the corpus."""
    # The kind of answer asked for ranks sentences; it says nothing of whether the article
    # covers the question, so it is left out here.
    best_sentence = max((sentence_score(s, t) for s in evidence.sentences), default=0.0)
    best = max([*evidence.dense.values(), best_sentence], default=0.0)
    return best - t.coverage_weight * (1.0 - evidence.coverage)


def asked_elsewhere(evidence: Evidence, t: Thresholds) -> bool:
    """True when the question is clearly closer to a background question (one people ask that
    no article answers: "how much does therapy cost?") than to anything the articles answer:
    their FAQ and bank questions, passages and sentences."""
    support = max(
        [relevance(evidence, t), *(h.score for h in evidence.faqs[:1])]
        + [b.score for b in evidence.bank[:1]]
    )
    return evidence.background_score - support > t.background_margin


def matched_faq(faqs: tuple[Hit, ...], t: Thresholds, kind: str = "other") -> Hit | None:
    """The FAQ the question clearly asks: similar enough, clearly ahead of the next one, and
    asking for the same kind of answer ("how often" is not answered by "how long")."""
    if not faqs or faqs[0].score < t.faq:
        return None
    runner_up = faqs[1].score if len(faqs) > 1 else -1.0
    if faqs[0].score - runner_up < t.faq_margin:
        return None
    return faqs[0] if kinds_agree(kind, answer_type(faqs[0].chunk.question or "")) else None


def kinds_agree(asked: str, offered: str) -> bool:
    """Two kinds of answer agree unless both are specific and different."""
    vague = ("other", "whether", "how")
    return asked == offered or asked in vague or offered in vague


def affirms(chunk: Chunk) -> bool:
    """True when an FAQ's answer opens with a yes ("Absolutely, ...")."""
    answer = chunk.answer
    return answer is not None and bool(AFFIRMATION.match(answer.text))


def bank_faq(bank: tuple[BankHit, ...], t: Thresholds, kind: str = "other") -> Hit | None:
    """The FAQ that a question of its bank matches clearly: similar enough, ahead of the best
    bank question of any other passage, asking the same kind of answer, and not an FAQ that
    opens with "Yes": a yes is given only to a question close to the FAQ's own, never on the
    strength of a paraphrase, so it cannot say yes to something else."""
    if not bank or bank[0].chunk.kind != "faq" or bank[0].score < t.faq_bank:
        return None
    best = bank[0]
    other = max((b.score for b in bank[1:] if b.chunk.id != best.chunk.id), default=-1.0)
    if best.score - other < t.faq_margin or affirms(best.chunk):
        return None
    return Hit(best.chunk, best.score) if kinds_agree(kind, answer_type(best.question)) else None


def routed_faq(
    evidence: Evidence,
    t: Thresholds,
    kind: str = "other",
    exclude: frozenset[str] = frozenset(),
    asked: frozenset[str] = frozenset(),
) -> Hit | None:
    """The FAQ to answer with, if any: the one whose own question the question matches, else
    the one a bank question matches; never one in `exclude` (the FAQs on stopping, which
    answer only the stopping questions the safety layer routes itself), nor one that does not
    name the conditions or people the question asks about (`asked`, from
    bot.lexicon.specifics): the subject must agree, not just the topic."""
    faq = matched_faq(evidence.faqs, t, kind) or bank_faq(evidence.bank, t, kind)
    if faq is None or faq.chunk.id in exclude:
        return None
    return faq if subjects_agree(asked, specifics(faq.chunk.text)) else None


def unknown_names(names: tuple[str, ...], evidence: Evidence) -> tuple[str, ...]:
    """The names of the question (bot.spelling.names_in: "tms", "acupuncture") that no
    article has and that the closest bank question does not name either: a question about a
    treatment, test or product the articles never mention is not one they answer, however
    much the rest of it reads like theirs ("is tms better than antidepressants")."""
    named = set(tokenize(evidence.bank[0].question)) if evidence.bank else set()
    return tuple(
        n for n in names if stem(n) in evidence.missing and not {stem(n), stem(f"{n}s")} & named
    )


def compose_answer(
    evidence: Evidence,
    t: Thresholds,
    kind: str = "other",
    exclude: frozenset[str] = frozenset(),
    asked: frozenset[str] = frozenset(),
    names: tuple[str, ...] = (),
) -> Answer:
    """FAQ answer when the question asks an FAQ; else the best sentences; else abstain.
    `kind` is the kind of answer the question asks for (bot.understand.answer_type); `asked`
    the conditions and people it names (bot.lexicon.specifics); `names` the rare names in it
    (bot.spelling.names_in): one that no article has means the question is not covered."""
    if unknown_names(names, evidence):
        return abstain(evidence.faqs, articles=evidence.articles)
    faq = routed_faq(evidence, t, kind, exclude, asked)
    if faq is not None:
        return faq_answer(faq.chunk, faq.score)
    sentences = quotable(evidence, t, asked)
    if relevance(evidence, t) < t.abstain or asked_elsewhere(evidence, t) or not sentences:
        return abstain(evidence.faqs, articles=evidence.articles)
    chosen = select_sentences(sentences, evidence.hits, t, kind)
    answer = passages_answer(chosen)
    if kind in CARRIED and not any(carries_answer(s.span.text, kind) for s, _ in chosen):
        return partial(answer, chosen[0][0].chunk)
    return answer


def quotable(
    evidence: Evidence, t: Thresholds, asked: frozenset[str] = frozenset()
) -> tuple[SentenceHit, ...]:
    """The candidate sentences, without those of an FAQ answer that opens with a yes unless the
    question is close to that FAQ (its own question or one of its bank questions) and names
    no condition or people the FAQ does not: quoted for a question it does not answer ("Is
    ketamine therapy effective?", "do both work for insomnia?"), the FAQ's "Yes, ..." would
    say yes to that question."""
    closeness: dict[str, float] = {}
    for chunk, score in [(h.chunk, h.score) for h in evidence.faqs] + [
        (b.chunk, b.score) for b in evidence.bank
    ]:
        closeness[chunk.id] = max(score, closeness.get(chunk.id, -1.0))
    return tuple(
        s
        for s in evidence.sentences
        if not affirms(s.chunk)
        or (
            closeness.get(s.chunk.id, -1.0) >= t.affirm
            and subjects_agree(asked, specifics(s.chunk.text))
        )
    )


def partial(answer: Answer, chunk: Chunk) -> Answer:
    """The quotes, led by the fixed line saying the article only partly answers."""
    topic = chunk.section.split(" > ")[-1]
    lead = PARTIAL_TEXT.format(topic=f"“{topic}”" if topic else "this")
    return Answer(f"{lead}\n\n{answer.text}", answer.mode, answer.citations, partial=True)


def faq_answer(chunk: Chunk, score: float, lead: str = "") -> Answer:
    """The FAQ's vetted answer, verbatim, cited as one span."""
    answer = chunk.answer
    text = f"{lead}\n\n{answer.text} [1]" if lead else f"{answer.text} [1]"
    return Answer(text, "faq", (cite(1, chunk, answer, score),))


def abstain(faqs: tuple[Hit, ...], n: int = 3, articles: int = 1) -> Answer:
    """The abstention, with the closest FAQ questions as suggestions; among several articles,
    each suggestion names its article (title and date)."""
    hits = [h for h in faqs[:n] if h.chunk.question]
    lines = [ABSTAIN_TEXT if articles <= 1 else ABSTAIN_TEXT_MANY]
    if hits:
        lines += ["", SUGGESTIONS_HEADING]
        lines += [
            f"- {h.chunk.question}"
            if articles <= 1
            else f"- {h.chunk.question} ({article(h.chunk)})"
            for h in hits
        ]
    suggestions = tuple(h.chunk.question for h in hits)
    return Answer("\n".join(lines), "abstain", suggestions=suggestions)


def article(chunk: Chunk) -> str:
    """How an answer names a chunk's article: its title, and its date when it has one."""
    return f"{chunk.title}, {chunk.date}" if chunk.date else chunk.title


def sentence_score(s: SentenceHit, t: Thresholds, kind: str = "other") -> float:
    """Meaning first (the sentence's own similarity, or that of a bank question it answers),
    with a share for the question's rarer words (names, conditions) and a bonus when the
    sentence carries the kind of answer asked for (a time for "how long")."""
    meaning = max(s.similarity, s.bank - t.bank_offset)
    carried = kind in CARRIED and carries_answer(s.span.text, kind)
    return meaning + t.lexical_weight * s.overlap + (t.type_bonus if carried else 0.0)


def select_sentences(
    sentences: tuple[SentenceHit, ...], hits: tuple[Hit, ...], t: Thresholds, kind: str = "other"
) -> list[tuple[SentenceHit, float]]:
    """The best sentence and those close behind it (with their scores), grouped by passage in
    ranking order and in document order within a passage, without duplicates or questions."""
    scored = sorted(
        (
            (s, sentence_score(s, t, kind))
            for s in sentences
            if not s.span.text.rstrip().endswith("?")
        ),
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
    return dataclasses.replace(answer, text=text, citations=tuple(good))
