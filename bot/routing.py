"""Pure: routing a question by what came before it and by the FAQs it may be sent to: the
earlier turn a follow-up leans on, a stopping question asked as a follow-up, and the FAQs (in
any article) that answer whether one may stop medication, which only the safety layer's
stopping route may give."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from bot import safety
from bot.evidence import Evidence
from bot.types import Chunk
from bot.understand import is_follow_up


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


@functools.lru_cache(maxsize=4096)
def _stopping_question(question: str) -> bool:
    verdict = safety.detect_boundary(question)
    return verdict is not None and verdict.kind == "stopping"


def is_stopping_faq(chunk: Chunk) -> bool:
    """Whether an FAQ, in any article, answers whether one may stop medication: the safety
    layer reads its own question as a stopping question."""
    return chunk.kind == "faq" and _stopping_question(chunk.question or "")


def stopping_faqs(faqs: Sequence[Chunk]) -> list[Chunk]:
    """The FAQs among `faqs` that answer whether one may stop medication."""
    return [c for c in faqs if is_stopping_faq(c)]


def stopping_ids(evidence: Evidence) -> frozenset[str]:
    """The stopping FAQs an answer could be routed to from `evidence` (its FAQs and the FAQs
    of its bank questions): they answer only the stopping questions the safety layer routes."""
    chunks = [h.chunk for h in evidence.faqs] + [b.chunk for b in evidence.bank]
    return frozenset(c.id for c in chunks if is_stopping_faq(c))
