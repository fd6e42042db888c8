"""Calibrate the risk tiers' thresholds: `python -m evals.calibrate_safety [--write]`.

Method (also in evals/SAFETY.md): every calibration message is scored once, by the phrase
rules and by the trained classifier (bot/data/risk_model.npz) over its embedding and its
parts, with the embedding model of the settings (MEDFAQ_EMBEDDING_MODEL). Then, over a grid:

1. `risk_concern_threshold` and `risk_keyword_threshold` (what a bare keyword rule needs):
   the pairs allowed flag at most `--max-article` of the article messages (the FAQs, their
   paraphrases, body and development questions of the answer evals, and the development
   conversations' earlier turns) and give the crisis reply alone to at most `--max-fp` of
   the look-alikes of evals/cases/risk_dev.yaml (4% by default); among them the pair with
   the best recall of its risk messages wins (then fewer look-alikes flagged, then the
   higher thresholds).
2. `risk_neighbour_threshold` and `risk_neighbour_margin`, with those fixed: how close to
   one of the exemplars' risk messages (bot/data/risk_exemplars.npz), and how much closer
   than to any look-alike, flags a message; the pair flagging the most further risk
   messages within the same limits (then the looser pair).
3. `risk_urgent_threshold`: with those, the threshold that gives the urgent reply to the
   most urgent messages while at least `--min-precision` of the urgent replies go to
   urgent messages (then the higher threshold).

The test set, evals/cases/risk.yaml, is never used here: the gate measures it.
`--write` puts the chosen values in bot/settings.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import re
import sys
from dataclasses import dataclass

import numpy as np

from bot import safety
from bot.risk import RiskScores, RiskThresholds, decide, load_risk_model, message_parts
from bot.settings import PROJECT_ROOT, Settings
from bot.understand import asks_something
from evals.risk_data import CASES, EmbeddingCache, article_questions, load_labelled_yaml

SETTINGS_PATH = PROJECT_ROOT / "bot" / "settings.py"
CONCERN = np.round(np.arange(0.30, 0.981, 0.02), 2)
KEYWORD = np.round(np.arange(0.02, 0.981, 0.04), 2)
URGENT = np.round(np.arange(0.10, 0.951, 0.05), 2)
NEIGHBOUR = np.round(np.arange(0.55, 0.901, 0.025), 3)
NEIGHBOUR_MARGIN = np.round(np.arange(0.0, 0.301, 0.025), 3)


@dataclass(frozen=True)
class Scored:
    """One message, scored once: the grid search only compares numbers."""

    rule: safety.Verdict | None
    scores: RiskScores
    tier: str  # the label: "none", "concern" or "urgent"
    asks: bool  # it asks something: a concern reply then carries the answer under resources
    medication: bool  # the boundary rules read it as a question about managing medication
    danger_now: bool = False  # it tells of means at hand, an attempt just made, a timed plan


def score_messages(texts: list[str], tiers: list[str], model, embed) -> list[Scored]:
    rows = []
    for text, tier in zip(texts, tiers, strict=True):
        parts = [text[:2000], *message_parts(text)]  # as the bot reads it (max_input_chars)
        scores = model.score(embed(parts), parts)
        medication = safety.asks_about_medication(text)
        rule = safety.detect_crisis(text)
        danger_now = safety.tells_danger_now(text)
        rows.append(Scored(rule, scores, tier, asks_something(text), medication, danger_now))
    return rows


def tiers_of(rows: list[Scored], t: RiskThresholds) -> list[str]:
    out = []
    for r in rows:
        risk = decide(r.rule, r.scores, t, lambda r=r: r.medication, lambda r=r: r.danger_now)
        out.append("none" if risk is None else risk.tier)
    return out


def full_crisis_reply(rows: list[Scored], t: RiskThresholds) -> list[bool]:
    """Whether each message gets the crisis reply alone (no answer): urgent, or concern with
    nothing asked."""
    return [x == "urgent" or (x == "concern" and not r.asks)
            for r, x in zip(rows, tiers_of(rows, t), strict=True)]  # fmt: skip


def calibrate(
    dev: list[Scored], must_pass: list[Scored], max_fp: float, max_article: float,
    min_precision: float,
) -> RiskThresholds:  # fmt: skip
    risky = [r for r in dev if r.tier != "none"]
    looks = [r for r in dev if r.tier == "none"]
    allowed = int(max_article * len(must_pass))
    best = None
    for concern in CONCERN:
        for keyword in KEYWORD[concern >= KEYWORD]:
            t = RiskThresholds(float(concern), 1.0, float(keyword))
            if sum(x != "none" for x in tiers_of(must_pass, t)) > allowed:
                continue
            fp = np.mean(full_crisis_reply(looks, t))
            if fp > max_fp:
                continue
            recall = np.mean([x != "none" for x in tiers_of(risky, t)])
            key = (recall, -fp, concern, keyword)
            if best is None or key > best[0]:
                best = (key, t)
    if best is None:
        raise SystemExit("no thresholds meet the constraints: look at the sets")
    t = calibrate_neighbours(best[1], risky, looks, must_pass, max_fp, allowed)
    chosen = None
    for urgent in URGENT:
        trial = dataclasses.replace(t, urgent=float(urgent))
        if np.mean(full_crisis_reply(looks, trial)) > max_fp:
            continue
        got = tiers_of(dev, trial)
        said = [r.tier == "urgent" for r, x in zip(dev, got, strict=True) if x == "urgent"]
        precision = np.mean(said) if said else 1.0
        hit = [x == "urgent" for r, x in zip(dev, got, strict=True) if r.tier == "urgent"]
        recall = np.mean(hit) if hit else 0.0
        if precision >= min_precision:
            key = (recall, urgent)
            if chosen is None or key > chosen[0]:
                chosen = (key, trial)
    return chosen[1] if chosen else dataclasses.replace(t, urgent=1.0)


def calibrate_neighbours(
    t: RiskThresholds, risky: list[Scored], looks: list[Scored], must_pass: list[Scored],
    max_fp: float, allowed: int,
) -> RiskThresholds:  # fmt: skip
    """With the classifier's thresholds fixed: the exemplar similarity and margin that flag
    the most further risk messages within the same limits (ties: the looser pair, which
    flags more of what the calibration set does not hold; missing a person at risk costs
    more than a resources line under an answer); off (9.0) when none adds any. The classifier's thresholds are not traded for neighbours:
    searched jointly, the neighbours reached the same recall on the calibration set with a
    higher p(risk) threshold, and lost 6 points of recall on the test set."""
    base = np.mean([x != "none" for x in tiers_of(risky, t)])
    best = ((base, 9.0, 0.0), t)
    for near, margin in itertools.product(NEIGHBOUR, NEIGHBOUR_MARGIN):
        trial = dataclasses.replace(t, neighbour=float(near), neighbour_margin=float(margin))
        if sum(x != "none" for x in tiers_of(must_pass, trial)) > allowed:
            continue
        if np.mean(full_crisis_reply(looks, trial)) > max_fp:
            continue
        recall = np.mean([x != "none" for x in tiers_of(risky, trial)])
        if recall > best[0][0] or (recall == best[0][0] > base and (near, margin) < best[0][1:]):
            best = ((recall, float(near), float(margin)), trial)
    return best[1]


def report(name: str, rows: list[Scored], t: RiskThresholds) -> None:
    got = tiers_of(rows, t)
    risky = [(r, x) for r, x in zip(rows, got, strict=True) if r.tier != "none"]
    looks = [x for r, x in zip(rows, got, strict=True) if r.tier == "none"]
    urgent = [x for r, x in risky if r.tier == "urgent"]
    said_urgent = [r.tier for r, x in zip(rows, got, strict=True) if x == "urgent"]
    parts = [f"{name:<22}"]
    if risky:
        parts.append(f"risk recall {np.mean([x != 'none' for _, x in risky]):6.1%} of {len(risky)}")
    if urgent:
        parts.append(
            f"urgent reply {np.mean([x == 'urgent' for x in urgent]):6.1%} of {len(urgent)}"
        )
    if said_urgent:
        precision = np.mean([x == "urgent" for x in said_urgent])
        parts.append(f"urgent precision {precision:6.1%}")
    if looks:
        parts.append(f"benign flagged {np.mean([x != 'none' for x in looks]):5.1%} of {len(looks)}")
        benign = [r for r in rows if r.tier == "none"]
        parts.append(f"crisis reply alone {np.mean(full_crisis_reply(benign, t)):5.1%}")
    print("  ".join(parts))


def write_settings(t: RiskThresholds) -> None:
    text = SETTINGS_PATH.read_text(encoding="utf-8")
    for name, value in (
        ("risk_concern_threshold", t.concern),
        ("risk_urgent_threshold", t.urgent),
        ("risk_keyword_threshold", t.keyword),
        ("risk_neighbour_threshold", t.neighbour),
        ("risk_neighbour_margin", t.neighbour_margin),
    ):
        text, n = re.subn(rf"({name}: float = )[0-9.]+", rf"\g<1>{value}", text)
        if n != 1:
            raise SystemExit(f"{name} not found in {SETTINGS_PATH}")
    SETTINGS_PATH.write_text(text, encoding="utf-8")
    print(f"wrote the thresholds into {SETTINGS_PATH}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # The target: 3% of the look-alikes (evals/SAFETY.md).
    parser.add_argument("--max-fp", type=float, default=0.03,
                        help="look-alikes given the crisis reply alone, at most")  # fmt: skip
    parser.add_argument("--max-article", type=float, default=0.005,
                        help="article questions given any risk reply, at most")  # fmt: skip
    parser.add_argument("--min-precision", type=float, default=0.9, help="of urgent replies")
    parser.add_argument("--write", action="store_true", help="store them in bot/settings.py")
    args = parser.parse_args(argv)

    from ingest.embedding import Embedder

    settings = Settings.from_env()
    model = load_risk_model()
    if model.model_name != settings.embedding_model:
        raise SystemExit(
            f"bot/data/risk_model.npz was trained on {model.model_name!r}, but the settings "
            f"use {settings.embedding_model!r}: run python -m evals.train_risk first"
        )
    embedder = Embedder.from_settings(settings)
    cache = EmbeddingCache(settings.embedding_model)

    def embed(texts: list[str]) -> np.ndarray:
        return cache.embed(texts, embedder.embed)

    dev_examples = load_labelled_yaml(CASES / "risk_dev.yaml")
    dev = score_messages(
        [e.text for e in dev_examples], [e.tier for e in dev_examples], model, embed
    )
    questions = article_questions()
    must_pass = score_messages(questions, ["none"] * len(questions), model, embed)
    t = calibrate(dev, must_pass, args.max_fp, args.max_article, args.min_precision)
    print(
        f"risk_concern_threshold = {t.concern}\nrisk_urgent_threshold = {t.urgent}\n"
        f"risk_keyword_threshold = {t.keyword}\nrisk_neighbour_threshold = {t.neighbour}\n"
        f"risk_neighbour_margin = {t.neighbour_margin}"
    )
    report("risk_dev.yaml", dev, t)
    report("article questions", must_pass, t)
    if args.write:
        write_settings(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
