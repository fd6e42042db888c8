"""Calibration for any corpus: held-out bank and background questions, the threshold that
keeps the seed's share of held-out bank questions abstained on."""

import dataclasses

import pytest

from bot.answer import Thresholds
from bot.evidence import Evidence, HeldOut
from bot.settings import Settings
from evals import two_articles as two
from evals.calibrate import Sample
from evals.calibrate_corpus import held_out_samples, rates, threshold_for_rate

T = Thresholds(abstain=0.5, coverage_weight=0.0, faq=0.7, faq_margin=0.05, background_margin=0.0)


def _sample(relevance: float, answerable: bool = True, background: float = -1.0) -> Sample:
    evidence = Evidence(
        hits=(), dense={"c": relevance}, faqs=(), sentences=(), coverage=1.0,
        background_score=background,
    )  # fmt: skip
    return Sample("q", answerable, (), None, "other", evidence)


def test_the_threshold_abstains_on_at_most_the_given_share_of_answerable_questions():
    samples = [_sample(r) for r in (0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99)]
    samples += [_sample(0.1, answerable=False)]
    assert threshold_for_rate(samples, T, 0.2) == pytest.approx(0.4, abs=1e-3)
    # A question closer to a background question already counts against the share.
    near_background = [*samples, _sample(0.9, background=0.99)]
    assert threshold_for_rate(near_background, T, 0.2) < 0.4
    t = dataclasses.replace(T, abstain=0.45)
    oos, wrong = rates(samples, t)
    assert oos == 1.0 and wrong == pytest.approx(0.3)


def test_held_out_questions_leave_out_their_own_quote_and_background_question(bot):
    retriever = bot.retriever
    asked = retriever.bank[0]
    vector = bot._embed(asked.question)
    whole = retriever.retrieve(asked.question, vector)
    assert (whole.bank[0].chunk.id, whole.bank[0].start) == (asked.chunk, asked.start)
    held = retriever.retrieve(asked.question, vector, held_out=HeldOut((asked.chunk, asked.start)))
    assert all((b.chunk.id, b.start) != (asked.chunk, asked.start) for b in held.bank)
    question = retriever.background[0]
    vector = bot._embed(question)
    assert retriever.retrieve(question, vector).background_score == pytest.approx(1.0, abs=1e-3)
    left_out = retriever.retrieve(question, vector, held_out=HeldOut(background=question))
    assert left_out.background != question and left_out.background_score < 0.99


def test_the_seed_keeps_its_threshold_and_a_broader_corpus_gets_a_higher_one(
    bot, tmp_path, embedder
):
    """On the corpus it was calibrated on, the step gives back (nearly) the calibrated
    threshold; the two-article corpus scores higher and gets a higher one."""
    samples = held_out_samples(bot)
    assert sum(s.answerable for s in samples) > 500 and sum(not s.answerable for s in samples) > 300
    rate = Settings().abstain_bank_rate
    assert threshold_for_rate(samples, bot.thresholds, rate) == pytest.approx(
        bot.thresholds.abstain, abs=0.005
    )
    corpus = two.make_corpus(tmp_path / "corpus", "two")
    both = two.build_bot(corpus, tmp_path / "index", embedder, say=lambda _: None)
    higher = threshold_for_rate(held_out_samples(both), both.thresholds, rate)
    assert higher > bot.thresholds.abstain + 0.02
    assert two.calibrated(both).settings.abstain_threshold == higher
