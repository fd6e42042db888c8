"""Calibrate abstention for any corpus: `python -m evals.calibrate_corpus [--corpus DIR] [--write]`.

`python -m evals.calibrate` needs development questions written for each article; a
maintainer's corpus has none. This step needs only what every corpus here can have: the
question banks beside its articles and the background questions (bot/data/background.yaml).

- Answerable: every bank question, with the questions of its own quote left out of the
  bank (so it stands for a question in other words than any the bank holds); questions the
  safety layer sends to the prescriber are left out.
- Off-topic: every background question that no article answers, with itself left out of
  the background.

Held out like this, bank questions are harder than real ones, so the share abstained on
is not the 4% budget of the development sets: `python -m evals.calibrate` measures it on the
corpus it calibrates (`abstain_bank_rate`, 10.7% for the seed at its threshold). This script
sets `abstain_threshold` as high as possible while abstaining on at most that share of the
corpus's held-out bank questions: a corpus whose questions score higher (a broader
article) gets a higher threshold. Everything else keeps its value. It prints the value as a
MEDFAQ_ line to set for that corpus (a Space's variables, or the environment of `make
run`); `--write` stores it in bot/settings.py instead, for a deployment that serves only
this corpus. A corpus without banks cannot be calibrated this way: the script says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

from bot import safety
from bot.answer import Thresholds
from bot.evidence import HeldOut
from bot.lexicon import expand_lay_terms, in_article_words, lay_term_words
from bot.settings import Settings
from evals.calibrate import Sample, abstains, highest_threshold, write_settings


def held_out_samples(bot) -> list[Sample]:
    """The bank questions (their own quote left out) and the background questions (each left
    out of the background), as calibration samples."""
    retriever = bot.retriever
    asked = [(q.question, True, HeldOut(quote=(q.chunk, q.start))) for q in retriever.bank]
    asked += [(q, False, HeldOut(background=q)) for q in retriever.background]
    queries = [bot.speller.correct(text) for text, _, _ in asked]
    bot._embed_all([*queries, *map(in_article_words, queries)])  # one batch for all
    samples = []
    for query, (text, answerable, held_out) in zip(queries, asked, strict=True):
        if safety.detect_boundary(query) is not None:
            continue
        evidence = retriever.retrieve(
            expand_lay_terms(query),
            bot._query_vector(query),
            k=bot.settings.top_k,
            known=lay_term_words(query),
            held_out=held_out,
        )
        samples.append(Sample(text, answerable, (), None, "other", evidence))
    return samples


def rates(samples: list[Sample], t: Thresholds) -> tuple[float, float]:
    """(share of off-topic samples abstained on, share of answerable ones abstained on)."""
    oos = [abstains(s.evidence, t) for s in samples if not s.answerable]
    wrong = [abstains(s.evidence, t) for s in samples if s.answerable]
    return sum(oos) / max(len(oos), 1), sum(wrong) / max(len(wrong), 1)


def threshold_for_rate(samples: list[Sample], t: Thresholds, rate: float) -> float:
    """The abstention threshold as high as possible while at most `rate` of the answerable
    samples are abstained on (by either rule); the current one when none can be."""
    threshold = highest_threshold([s for s in samples if s.answerable], t, rate)
    return t.abstain if threshold is None else round(threshold, 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.calibrate_corpus", description=__doc__)
    parser.add_argument("--corpus", type=Path, help="the corpus folder (default: the settings')")
    parser.add_argument("--write", action="store_true", help="store it in bot/settings.py")
    args = parser.parse_args(argv)

    from bot.chat import Bot

    settings = Settings.from_env(search="memory")  # calibration reads every bank question
    with tempfile.TemporaryDirectory() as folder:
        if args.corpus is not None:
            settings = dataclasses.replace(
                settings, corpus_dir=args.corpus, index_path=Path(folder), chroma_url=""
            )
        bot = Bot.build(settings, say=lambda line: None)
        samples = held_out_samples(bot)
    answerable = sum(s.answerable for s in samples)
    if not answerable:
        print(f"{settings.corpus_dir} has no question bank: nothing to calibrate on.")
        return 1
    print(
        f"{settings.corpus_dir}: {answerable} bank questions (each with its own quote left out)"
        f" and {len(samples) - answerable} background questions (each left out)"
    )
    t = bot.thresholds
    chosen = dataclasses.replace(
        t, abstain=threshold_for_rate(samples, t, settings.abstain_bank_rate)
    )
    for name, trial in (("current settings", t), ("calibrated", chosen)):
        oos, wrong = rates(samples, trial)
        print(
            f"  {name:<17} threshold {trial.abstain:.3f}: off-topic abstained {oos:6.1%},"
            f" held-out bank questions abstained {wrong:6.1%}"
        )
    print(f"MEDFAQ_ABSTAIN_THRESHOLD={chosen.abstain}")
    if args.write:
        write_settings({"abstain_threshold": chosen.abstain})
    return 0


if __name__ == "__main__":
    sys.exit(main())
