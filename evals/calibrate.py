"""Calibrate abstention and FAQ routing on the development set: `python -m evals.calibrate`.

Method (also in evals/CALIBRATION.md): every question of evals/cases/dev.yaml is retrieved
once; then, for each coverage weight on a grid, the abstention threshold is set as high as
possible while wrongly abstaining on at most `--max-wrong` of the answerable questions, and
the weight that abstains on the most out-of-scope questions wins (ties: the smaller weight,
so that similarity, not word overlap, does most of the work).
FAQ routing takes the (threshold, margin) pair that routes no question to a wrong FAQ and
routes the most paraphrases to the right one.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from bot.answer import Thresholds, compose_answer, matched_faq, relevance
from bot.retrieval import Evidence
from bot.types import Answer

DEV_SET = Path(__file__).parent / "cases" / "dev.yaml"


@dataclass(frozen=True)
class Sample:
    question: str
    kind: str  # "faq", "body" or "oos"
    faq: int | None
    gold: str | None
    evidence: Evidence


def gather(bot, dev: dict) -> list[Sample]:
    r = bot.retriever
    cases = [("faq", c["question"], c["faq"], None) for c in dev["faq_paraphrases"]]
    cases += [("body", c["question"], None, c["gold"]) for c in dev["body_questions"]]
    cases += [("oos", q, None, None) for q in dev["out_of_scope"]]
    return [
        Sample(q, kind, faq, gold, r.retrieve(q, r.embed(q), k=bot.settings.top_k))
        for kind, q, faq, gold in cases
    ]


def calibrate_faq(samples: list[Sample]) -> dict:
    """The (threshold, margin) routing no question to a wrong FAQ and the most to the right one."""
    best = None
    for threshold, margin in itertools.product(
        np.arange(0.5, 0.96, 0.02), np.arange(0.0, 0.21, 0.02)
    ):
        t = Thresholds(abstain=0, coverage_weight=0, faq=threshold, faq_margin=margin)
        right = wrong = 0
        for s in samples:
            hit = matched_faq(s.evidence.faqs, t)
            if hit is None:
                continue
            if (s.kind == "faq" and hit.chunk.faq == s.faq) or (
                s.kind == "body" and s.gold in hit.chunk.text
            ):
                right += 1
            else:
                wrong += 1
        key = (-wrong, right, -threshold)
        if best is None or key > best["key"]:
            best = {
                "key": key,
                "faq_threshold": round(float(threshold), 2),
                "faq_margin": round(float(margin), 2),
                "routed_right": right,
                "routed_wrong": wrong,
            }
    best.pop("key")
    return best


def first_citation_right(sample: Sample, answer: Answer, chunks) -> bool:
    if not answer.citations:
        return False
    c = answer.citations[0]
    passage = next(p for p in chunks if p.source == c.source and p.start <= c.start < p.end)
    return passage.faq == sample.faq if sample.kind == "faq" else sample.gold in passage.text


def calibrate_lexical(samples: list[Sample], base: Thresholds, chunks) -> dict:
    """The word-overlap weight that puts the answering passage first most often."""
    answerable = [s for s in samples if s.kind != "oos"]
    best = None
    for weight in np.round(np.arange(0.0, 1.01, 0.1), 2):
        t = dataclasses.replace(base, lexical_weight=float(weight), abstain=-1.0)
        right = sum(
            first_citation_right(s, compose_answer(s.evidence, t), chunks) for s in answerable
        )
        if best is None or right > best["first_citation_right"]:
            best = {
                "lexical_weight": float(weight),
                "first_citation_right": right,
                "of": len(answerable),
            }
    return best


def calibrate_abstention(samples: list[Sample], base: Thresholds, max_wrong: float) -> dict:
    """The coverage weight and threshold abstaining on the most out-of-scope questions while
    abstaining on at most `max_wrong` of the answerable ones."""
    answerable = [s for s in samples if s.kind != "oos"]
    oos = [s for s in samples if s.kind == "oos"]
    best = None
    for weight in np.round(np.arange(0.0, 0.81, 0.05), 2):
        t = dataclasses.replace(base, coverage_weight=float(weight))
        scores = sorted(relevance(s.evidence, t) for s in answerable)
        allowed = int(max_wrong * len(scores))
        threshold = scores[allowed] - 1e-6  # abstain below it: `allowed` answerable at most
        caught = sum(relevance(s.evidence, t) < threshold for s in oos)
        key = (caught, -weight)  # ties go to the smaller weight: lean on similarity first
        if best is None or key > best["key"]:
            best = {
                "key": key,
                "coverage_weight": float(weight),
                "abstain_threshold": round(float(threshold), 3),
                "oos_abstained": round(caught / len(oos), 3),
                "answerable_abstained": round(sum(a < threshold for a in scores) / len(scores), 3),
            }
    best.pop("key")
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.calibrate", description=__doc__)
    parser.add_argument("--dev", type=Path, default=DEV_SET)
    parser.add_argument(
        "--max-wrong",
        type=float,
        default=0.05,
        help="share of answerable questions allowed to be abstained on",
    )
    args = parser.parse_args(argv)

    from bot.chat import Bot

    bot = Bot.build()
    samples = gather(bot, yaml.safe_load(args.dev.read_text()))
    routing = calibrate_faq(samples)
    base = dataclasses.replace(
        bot.thresholds, faq=routing["faq_threshold"], faq_margin=routing["faq_margin"]
    )
    lexical = calibrate_lexical(samples, base, bot.retriever.chunks)
    base = dataclasses.replace(base, lexical_weight=lexical["lexical_weight"])
    abstention = calibrate_abstention(samples, base, args.max_wrong)
    print(f"development set: {len(samples)} questions from {args.dev}")
    for name, value in {**routing, **lexical, **abstention}.items():
        print(f"  {name:<22} {value}")
    print("Put the chosen values in bot/settings.py (or MEDFAQ_* variables).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
