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
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from bot.answer import Thresholds, matched_faq, relevance
from bot.retrieval import Evidence

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


def calibrate_abstention(samples: list[Sample], max_wrong: float) -> dict:
    answerable = [s for s in samples if s.kind != "oos"]
    oos = [s for s in samples if s.kind == "oos"]
    best = None
    for weight in np.round(np.arange(0.0, 0.81, 0.05), 2):
        scores = sorted(relevance(s.evidence, weight) for s in answerable)
        allowed = int(max_wrong * len(scores))
        threshold = scores[allowed] - 1e-6  # abstain below it: `allowed` answerable at most
        oos_scores = [relevance(s.evidence, weight) for s in oos]
        caught = sum(o < threshold for o in oos_scores)
        key = (caught, -weight)  # ties go to the smaller weight: lean on similarity first
        if best is None or key > best["key"]:
            wrong = sum(a < threshold for a in scores)
            best = {
                "key": key,
                "coverage_weight": float(weight),
                "abstain_threshold": round(float(threshold), 3),
                "oos_abstained": caught / len(oos),
                "answerable_abstained": wrong / len(scores),
            }
    best.pop("key")
    return best


def calibrate_faq(samples: list[Sample]) -> dict:
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
    abstention = calibrate_abstention(samples, args.max_wrong)
    routing = calibrate_faq(samples)
    print(f"development set: {len(samples)} questions from {args.dev}")
    for name, value in {**abstention, **routing}.items():
        print(f"  {name:<22} {value}")
    print("Put the chosen values in bot/settings.py (or MEDFAQ_* variables).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
