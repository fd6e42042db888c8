"""Calibrate answering on the development sets: `python -m evals.calibrate [--write]`.

Method (also in evals/CALIBRATION.md): every question of evals/cases/dev.yaml and
evals/cases/dev_typed.yaml goes through the bot's own understanding and retrieval once
(follow-ups with their history); then, over grids, on numbers only:

1. FAQ routing: the (threshold, margin) pair that routes no question to a wrong FAQ and the
   most to a right one (ties: the higher threshold).
2. Sentence choice: the lexical weight, the bank offset (how much less a bank question's
   similarity counts than a sentence's own) and the answer-type bonus that put an
   acceptable passage first most often, abstention off (ties: the smaller values).
3. Abstention: for each coverage weight and background margin, the threshold as high as
   possible while abstaining (by either rule) on at most `--max-wrong` of the answerable
   questions; the pair that abstains on the most off-topic questions wins (ties: the larger
   margin, then the smaller weight).
4. Affirmations: the highest closeness to an FAQ that its "Yes, ..." answer needs before it
   is quoted for a question it was not routed to, that still puts as many acceptable
   passages first as no such limit (a yes is quoted only where it is needed); the whole
   grid is searched, since the count is not monotonic in the limit.

The gate's sets (evals/cases/*.yaml other than dev*.yaml) are never used here.
`--write` stores the values in bot/settings.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from bot.answer import Thresholds, asked_elsewhere, compose_answer, relevance, routed_faq
from bot.evidence import Evidence
from bot.settings import PROJECT_ROOT
from bot.types import Answer

CASES = Path(__file__).parent / "cases"
SETTINGS_PATH = PROJECT_ROOT / "bot" / "settings.py"


@dataclass(frozen=True)
class Sample:
    question: str
    answerable: bool
    golds: tuple[str, ...]  # verbatim quotes: an acceptable first passage holds one
    faq: int | None  # or the FAQ that answers it
    kind: str  # the answer type the bot read
    evidence: Evidence


def dev_cases() -> list[tuple[str, tuple[str, ...], bool, tuple[str, ...], int | None]]:
    """(question, history, answerable, golds, faq) of both development sets; boundary ones
    (sent to the prescriber before any retrieval) are left out."""
    dev = yaml.safe_load((CASES / "dev.yaml").read_text(encoding="utf-8"))
    cases = [(c["question"], (), True, (), c["faq"]) for c in dev["faq_paraphrases"]]
    cases += [(c["question"], (), True, (c["gold"],), None) for c in dev["body_questions"]]
    cases += [(q, (), False, (), None) for q in dev["out_of_scope"]]
    typed = yaml.safe_load((CASES / "dev_typed.yaml").read_text(encoding="utf-8"))
    for q in typed["questions"]:
        if q.get("expect") == "boundary":
            continue
        answerable = q.get("expect") != "abstain"
        cases.append(
            (q["text"], tuple(q.get("history", ())), answerable, tuple(q.get("gold", ())), None)
        )
    return cases


def gather(bot) -> list[Sample]:
    samples = []
    for text, history, answerable, golds, faq in dev_cases():
        understood, boundary, evidence = bot.evidence_for(text, history)
        if boundary is None and evidence is not None:
            samples.append(Sample(text, answerable, golds, faq, understood.answer_type, evidence))
    return samples


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def right_passage(sample: Sample, chunk) -> bool:
    if sample.faq is not None:
        return chunk.faq == sample.faq
    return any(_squeeze(g) in _squeeze(chunk.text) for g in sample.golds)


def first_citation_right(sample: Sample, answer: Answer, chunks) -> bool:
    if not answer.citations:
        return False
    c = answer.citations[0]
    passage = next(p for p in chunks if p.source == c.source and p.start <= c.start < p.end)
    return right_passage(sample, passage)


def _routes(samples: list[Sample], t: Thresholds, exclude: frozenset[str]) -> tuple[int, int]:
    right = wrong = 0
    for s in samples:
        hit = routed_faq(s.evidence, t, s.kind, exclude)
        if hit is None:
            continue
        if s.answerable and right_passage(s, hit.chunk):
            right += 1
        else:
            wrong += 1
    return right, wrong


def calibrate_faq(samples: list[Sample], base: Thresholds, exclude: frozenset[str]) -> dict:
    """Routing by the FAQs' own questions first (bank routing off), then by bank questions."""
    best = None
    for threshold, margin in itertools.product(
        np.round(np.arange(0.5, 0.96, 0.02), 2), np.round(np.arange(0.0, 0.21, 0.02), 2)
    ):
        t = dataclasses.replace(base, faq=float(threshold), faq_margin=float(margin), faq_bank=9.0)
        right, wrong = _routes(samples, t, exclude)
        key = (-wrong, right, threshold)
        if best is None or key > best[0]:
            best = (key, {"faq_threshold": float(threshold), "faq_margin": float(margin)})
    routing = best[1]
    best = None
    for bank in np.round(np.arange(0.5, 1.001, 0.02), 2):
        t = dataclasses.replace(base, faq=routing["faq_threshold"],
                                faq_margin=routing["faq_margin"], faq_bank=float(bank))  # fmt: skip
        right, wrong = _routes(samples, t, exclude)
        key = (-wrong, right, bank)
        if best is None or key > best[0]:
            best = (key, {"faq_bank_threshold": float(bank), "routed_right": right,
                          "routed_wrong": wrong})  # fmt: skip
    return {**routing, **best[1]}


def calibrate_sentences(samples, base: Thresholds, exclude, chunks) -> dict:
    answerable = [s for s in samples if s.answerable]
    best = None
    grid = itertools.product(
        np.round(np.arange(0.0, 1.01, 0.1), 2),
        np.round(np.arange(0.0, 0.41, 0.05), 2),
        np.round(np.arange(0.0, 0.31, 0.05), 2),
    )
    for lexical, offset, bonus in grid:
        t = dataclasses.replace(base, lexical_weight=float(lexical), bank_offset=float(offset),
                                type_bonus=float(bonus), abstain=-1.0)  # fmt: skip
        right = sum(
            first_citation_right(s, compose_answer(s.evidence, t, s.kind, exclude), chunks)
            for s in answerable
        )
        key = (right, -lexical, -offset, -bonus)
        if best is None or key > best[0]:
            best = (key, {"lexical_weight": float(lexical), "bank_offset": float(offset),
                          "type_bonus": float(bonus), "first_citation_right": right,
                          "of": len(answerable)})  # fmt: skip
    return best[1]


def calibrate_abstention(samples, base: Thresholds, max_wrong: float) -> dict:
    """For each coverage weight and background margin: the abstention threshold as high as
    possible while at most `max_wrong` of the answerable questions are abstained on (by
    either rule); the pair that abstains on the most off-topic questions wins (ties: the
    larger margin, then the smaller weight). Margin 9.0 turns the background off."""
    answerable = [s for s in samples if s.answerable]
    oos = [s for s in samples if not s.answerable]
    best = None
    margins = [*np.round(np.arange(0.0, 0.201, 0.02), 2), 9.0]
    for weight, margin in itertools.product(np.round(np.arange(0.0, 0.81, 0.05), 2), margins):
        t = dataclasses.replace(
            base, coverage_weight=float(weight), background_margin=float(margin)
        )
        threshold = highest_threshold(answerable, t, max_wrong)
        if threshold is None:
            continue
        t = dataclasses.replace(t, abstain=float(threshold))
        caught = sum(abstains(s.evidence, t) for s in oos)
        wrong = sum(abstains(s.evidence, t) for s in answerable)
        key = (caught, margin, -weight)
        if best is None or key > best[0]:
            best = (key, {"coverage_weight": float(weight),
                          "background_margin": float(margin),
                          "abstain_threshold": round(float(threshold), 3),
                          "oos_abstained": round(caught / len(oos), 3),
                          "answerable_abstained": round(wrong / len(answerable), 3)})  # fmt: skip
    return best[1]


def highest_threshold(answerable: list[Sample], t: Thresholds, rate: float) -> float | None:
    """The abstention threshold as high as possible while at most `rate` of the answerable
    samples are abstained on by either rule (None when the background rule alone abstains
    on more)."""
    elsewhere = [asked_elsewhere(s.evidence, t) for s in answerable]
    rest = sorted(
        relevance(s.evidence, t) for s, e in zip(answerable, elsewhere, strict=True) if not e
    )
    room = int(rate * len(answerable)) - sum(elsewhere)
    if room < 0 or not rest:
        return None
    return float(rest[min(room, len(rest) - 1)]) - 1e-6


def abstains(evidence: Evidence, t: Thresholds) -> bool:
    return relevance(evidence, t) < t.abstain or asked_elsewhere(evidence, t)


def calibrate_affirmation(samples, base: Thresholds, exclude, chunks) -> dict:
    answerable = [s for s in samples if s.answerable]

    def right(affirm: float) -> int:
        t = dataclasses.replace(base, affirm=affirm)
        return sum(
            first_citation_right(s, compose_answer(s.evidence, t, s.kind, exclude), chunks)
            for s in answerable
        )

    unlimited = right(0.0)
    grid = [float(a) for a in np.round(np.arange(0.5, 0.951, 0.01), 2)]
    # Not monotonic: a higher limit can move a better passage back into first place.
    kept = [affirm for affirm in grid if right(affirm) >= unlimited]
    return {"affirm_threshold": max(kept, default=0.0)}


def write_settings(values: dict) -> None:
    text = SETTINGS_PATH.read_text(encoding="utf-8")
    for name, value in values.items():
        text, n = re.subn(rf"(\n    {name}: (?:float|int) = )[0-9.]+", rf"\g<1>{value}", text)
        if n != 1:
            raise SystemExit(f"{name} not found in {SETTINGS_PATH}")
    SETTINGS_PATH.write_text(text, encoding="utf-8")
    print(f"wrote them into {SETTINGS_PATH}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.calibrate", description=__doc__)
    parser.add_argument("--max-wrong", type=float, default=0.04,
                        help="share of answerable questions allowed to be abstained on")  # fmt: skip
    parser.add_argument("--write", action="store_true", help="store them in bot/settings.py")
    args = parser.parse_args(argv)

    from bot.chat import Bot
    from bot.routing import stopping_faqs
    from bot.settings import Settings

    bot = Bot.build(Settings.from_env(search="memory"))  # calibration reads every passage
    samples = gather(bot)
    chunks = bot.retriever.chunks
    exclude = frozenset(c.id for c in stopping_faqs(bot.retriever.faq_chunks))
    start = dataclasses.replace(bot.thresholds, affirm=0.0)  # step 4 sets it
    routing = calibrate_faq(samples, start, exclude)
    base = dataclasses.replace(start, faq=routing["faq_threshold"],
                               faq_margin=routing["faq_margin"],
                               faq_bank=routing["faq_bank_threshold"])  # fmt: skip
    sentences = calibrate_sentences(samples, base, exclude, chunks)
    base = dataclasses.replace(base, lexical_weight=sentences["lexical_weight"],
                               bank_offset=sentences["bank_offset"],
                               type_bonus=sentences["type_bonus"])  # fmt: skip
    abstention = calibrate_abstention(samples, base, args.max_wrong)
    base = dataclasses.replace(base, abstain=abstention["abstain_threshold"],
                               coverage_weight=abstention["coverage_weight"],
                               background_margin=abstention["background_margin"])  # fmt: skip
    affirmation = calibrate_affirmation(samples, base, exclude, chunks)
    from evals.calibrate_corpus import held_out_samples, rates

    # What calibrate_corpus keeps for another corpus: the share of this corpus's held-out
    # bank questions that the chosen threshold abstains on.
    bank_rate = {"abstain_bank_rate": round(rates(held_out_samples(bot), base)[1], 4)}
    print(f"development sets: {len(samples)} questions answered by retrieval")
    values = {**routing, **sentences, **abstention, **affirmation, **bank_rate}
    for name, value in values.items():
        print(f"  {name:<22} {value}")
    if args.write:
        keys = ("faq_threshold", "faq_margin", "faq_bank_threshold", "lexical_weight",
                "bank_offset", "type_bonus", "coverage_weight", "abstain_threshold",
                "background_margin", "affirm_threshold", "abstain_bank_rate")  # fmt: skip
        write_settings({k: values[k] for k in keys})
    return 0


if __name__ == "__main__":
    sys.exit(main())
