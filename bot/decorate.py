"""Pure: the last stage of a reply. The risk reply before (or instead of) the answer, and
the answers to the several questions of one message joined into one."""

from __future__ import annotations

import dataclasses

from bot import replies
from bot.risk import Risk
from bot.types import Answer


def risk_answer(risk: Risk, answer: Answer | None = None) -> Answer:
    """The reply to a message at risk. Urgent: what to do now, nothing else. Concern: warm
    words and the resources first, then the cited answer when the message also asked
    something the articles answer (`answer`: None when it asked nothing)."""
    reply = replies.crisis_reply(risk.tier, risk.kind, risk.overdose)
    if risk.urgent or answer is None or answer.mode not in ("faq", "passages", "boundary"):
        return Answer(reply, "crisis", crisis=True, risk=risk.tier)
    return dataclasses.replace(
        answer, text=f"{reply}\n\n{answer.text}", crisis=True, risk=risk.tier, suggestions=()
    )


def combine(answers: list[Answer]) -> Answer:
    """One reply for the questions of one message: the answered ones in order, citations
    renumbered; an abstention only when none was answered."""
    answered = [a for a in answers if a.mode != "abstain"]
    if len(answered) <= 1:
        return answered[0] if answered else answers[0]
    parts, citations = [], []
    for answer in answered:
        text = answer.text
        shift = len(citations)
        for c in sorted(answer.citations, key=lambda c: -c.n):  # [1] -> [3] before [3] -> [5]
            text = text.replace(f"[{c.n}]", f"[{c.n + shift}]")
        citations += [dataclasses.replace(c, n=c.n + shift) for c in answer.citations]
        parts.append(text)
    first = answered[0]
    return dataclasses.replace(
        first,
        text="\n\n".join(parts),
        citations=tuple(citations),
        partial=any(a.partial for a in answered),
    )
