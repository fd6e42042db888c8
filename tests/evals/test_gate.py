"""The eval gate on the real pipeline, and proof that it bites when the pipeline is broken."""

from __future__ import annotations

import dataclasses

import pytest

from bot.chat import Bot
from bot.settings import Settings
from evals import runner
from evals.report import format_failures

pytestmark = pytest.mark.slow

ANSWERABLE = ("faqs", "paraphrases", "body", "out_of_scope", "conversations")
FAQ5 = "How long until I see results from medication and therapy?"


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """As `python -m evals` runs (see evals/__main__.py): one thread, restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def gate_run(bot) -> runner.EvalRun:
    """The whole suite, as `python -m evals` runs it, on the session's real bot."""
    return runner.run_evals(bot)


def without_latency(metrics) -> dict:
    return {k: v for k, v in metrics.items() if not k.startswith("latency")}


def test_the_real_pipeline_passes_the_gate(gate_run):
    assert gate_run.passed, format_failures(gate_run)


def test_every_threshold_is_measured_on_the_real_pipeline(gate_run):
    assert [t.metric for t in gate_run.thresholds if t.metric not in gate_run.metrics] == []
    assert gate_run.metrics["citation_validity"] == 1.0


def test_two_runs_give_identical_scores(bot, gate_run):
    again = runner.run_evals(bot, runner.load_cases(categories=ANSWERABLE))
    first = [o for o in gate_run.outcomes if o.case.category in ANSWERABLE]
    assert without_latency(again.metrics) == without_latency(runner.summarize(first))
    assert [o.reply for o in again.outcomes] == [o.reply for o in first]


class ReversedRetriever:
    """The real retriever with every ranking turned upside down: the worst passage first."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def retrieve(self, query, vector, k=4, pool=10):
        ev = self._inner.retrieve(query, vector, k=k, pool=pool)
        best = {h.chunk.id for h in ev.hits} | {h.chunk.id for h in ev.faqs[:3]}
        return dataclasses.replace(
            ev,
            hits=ev.hits[::-1],
            faqs=ev.faqs[::-1],
            # only sentences from passages ranked below the top ones are left to quote
            sentences=tuple(s for s in ev.sentences if s.chunk.id not in best),
        )

    def rank_faqs(self, vector, n=None):
        return self._inner.rank_faqs(vector, n)[::-1]


def missed(run) -> set[str]:
    return {t.metric for t in run.missed}


def test_the_gate_fails_when_retrieval_returns_the_wrong_passages(bot):
    broken = Bot(ReversedRetriever(bot.retriever), bot.sources, bot.settings)
    run = runner.run_evals(broken, runner.load_cases(categories=("faqs", "body")))
    assert not run.passed
    assert {"faq_routing_verbatim", "faq_hit1", "body_first_citation"} <= missed(run)
    failures = format_failures(run)
    assert "FAIL faq_routing_verbatim" in failures
    assert repr(FAQ5) in failures
    assert "expected: mode faq, first citation from FAQ 5" in failures


def test_the_gate_fails_without_the_background_questions(bot):
    """Off-topic questions close to the article ("does insurance cover it?") are caught by
    comparing them with the background questions; without them the gate must fail."""
    settings = dataclasses.replace(bot.settings, background_margin=9.0)
    broken = Bot(bot.retriever, bot.sources, settings)
    run = runner.run_evals(broken, runner.load_cases(categories=("out_of_scope",)))
    assert "abstention_recall_oos" in missed(run)


def test_the_gate_fails_without_the_risk_exemplars(bot):
    """The exemplars flag risk messages the classifier leaves under its threshold; with them
    off, concern recall must fall under the gate's floor."""
    settings = dataclasses.replace(bot.settings, risk_neighbour_threshold=9.0)
    broken = Bot(bot.retriever, bot.sources, settings, bot.risk_model)
    run = runner.run_evals(broken, runner.load_cases(categories=("risk",)))
    assert "risk_recall_concern" in missed(run)


def test_the_gate_fails_when_the_bot_never_abstains(bot):
    settings = dataclasses.replace(bot.settings, abstain_threshold=-10.0, background_margin=9.0)
    broken = Bot(bot.retriever, bot.sources, settings)
    run = runner.run_evals(broken, runner.load_cases(categories=("out_of_scope",)))
    assert run.metrics["abstention_recall_oos"] < 0.5
    assert "abstention_recall_oos" in missed(run)
    failures = format_failures(run)
    assert "'Will it rain in London this weekend?'" in failures
    assert "expected: an abstention, no quote" in failures


def test_the_gate_fails_when_an_faq_answer_no_longer_matches_its_reference(
    corpus_copy, tmp_path, embedder
):
    article = corpus_copy / "medication-and-therapy.md"
    text = article.read_text(encoding="utf-8")
    assert text.count("2-6 weeks") == 1
    article.write_text(text.replace("2-6 weeks", "10-14 weeks"), encoding="utf-8")
    settings = Settings.from_env({}, corpus_dir=corpus_copy, index_path=tmp_path / "index")
    broken = Bot.build(settings, embedder=embedder)
    run = runner.run_evals(broken, runner.load_cases(categories=("faqs",)))
    assert {"faq_key_fact_recall", "faq_citation_precision"} <= missed(run)
    failures = format_failures(run)
    assert "missing ['2-6 weeks']" in failures
    assert "10-14 weeks" in failures and repr(FAQ5) in failures
