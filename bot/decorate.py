"""Pure: the last stage of a reply. The risk reply before (or instead of) the answer, and
the answers to the several questions of one message joined into one."""

from __future__ import annotations

import dataclasses
import re

from bot import replies
from bot.risk import Risk
from bot.types import Answer

_MARKER = re.compile(r"\[(\d+)\]")


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
    renumbered; an abstention only when none was answered. A quote one answer gave already
    is not given again: a later answer drops it, and an answer left with nothing new to
    quote is left out (a boundary reply keeps its advice)."""
    answered = [a for a in answers if a.mode != "abstain"]
    if len(answered) <= 1:
        return answered[0] if answered else answers[0]
    parts, citations, given = [], [], set()
    for answer in answered:
        text, numbers = answer.text, {}
        for c in answer.citations:
            span = (c.source, c.start, c.end)
            if span in given and f"{c.quote} [{c.n}]" in text:
                text = text.replace(f"{c.quote} [{c.n}]", "")
                continue
            given.add(span)
            numbers[c.n] = len(citations) + 1
            citations.append(dataclasses.replace(c, n=numbers[c.n]))
        if not numbers and answer.mode in ("faq", "passages"):
            continue
        text = _MARKER.sub(lambda m, new=numbers: f"[{new.get(int(m[1]), m[1])}]", text)
        parts.append(re.sub(r" *\n *", "\n", re.sub(r" {2,}", " ", text)).strip())
    first = answered[0]
    return dataclasses.replace(
        first,
        text="\n\n".join(parts),
        citations=tuple(citations),
        partial=any(a.partial for a in answered),
    )
