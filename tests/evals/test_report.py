"""Scoring, the report files, the RAGAS export and the CLI, on a small hand-made run (no model)."""

from __future__ import annotations

import json

import pytest

from evals import __main__ as cli
from evals import metrics as m
from evals import report, runner
from evals.runner import Case, EvalRun, Outcome

PRODUCT = m.ProductTexts(
    truncated_notice="Your message was long.",
    boundary_leads={"stopping": ("Talk to your prescriber first.",)},
    reminders=(),
    crisis_lines=("US: call or text 988",),
    resource_lines=("US: call or text 988",),
    resource_numbers=("988",),
)
FAQ5 = "Medication may ease symptoms in 2-6 weeks; therapy builds skills over 8-12 weeks or more."
FAQ5_PASSAGE = f"5. How long until I see results?\n\n{FAQ5}"


def outcome(case: Case, reply: m.Reply, retrieved=(), similarity=None) -> Outcome:
    values, expected = runner.score(case, reply, retrieved, similarity, PRODUCT)
    values["latency_p50_ms"] = values["latency_p95_ms"] = (12.0,)
    return Outcome(case, reply, 12.0, retrieved, values, expected)


def make_run(outcomes: list[Outcome], thresholds: dict) -> EvalRun:
    metrics = runner.summarize(outcomes)
    gate = m.parse_thresholds(thresholds)
    missed = m.check_gate(metrics, gate, require_all=False)
    return EvalRun(tuple(outcomes), metrics, gate, tuple(missed), 1.5)


FAQ_CASE = Case("paraphrases", "When will I feel better?", faq=5, gold=FAQ5, reference=FAQ5,
                key_facts=("2-6 weeks", "8-12 weeks"), modes=("faq",))  # fmt: skip
OOS_CASE = Case("out_of_scope", "Will it rain in London?", modes=("abstain",))


@pytest.fixture
def failing_run() -> EvalRun:
    right = m.Reply(f"{FAQ5} [1]", "faq", quotes=(FAQ5,), passages=(FAQ5_PASSAGE,), faqs=(5,),
                    valid=(True,))  # fmt: skip
    answered_oos = m.Reply("Exercise helps. [1]", "passages", quotes=("Exercise helps.",),
                           passages=("Exercise helps.",), faqs=(None,), valid=(True,))  # fmt: skip
    outcomes = [
        outcome(FAQ_CASE, right, retrieved=((FAQ5_PASSAGE, 5),), similarity=1.0),
        outcome(OOS_CASE, answered_oos),
    ]
    return make_run(outcomes, {"faq_paraphrase_first_citation": 0.9, "abstention_recall_oos": 0.9})


def test_score_credits_a_right_answer_and_blames_a_wrong_one(failing_run):
    right, wrong = failing_run.outcomes
    assert right.values["faq_paraphrase_first_citation"] == (1.0,)
    assert right.values["faq_paraphrase_routing"] == (1.0,)
    assert right.values["paraphrase_hit1"] == (1.0,)
    assert right.values["paraphrase_key_fact_recall"] == (1.0,)
    assert right.values["paraphrase_token_f1"] == (1.0,)
    assert right.values["faithfulness"] == (1.0,)
    assert wrong.values["abstention_recall_oos"] == (0.0,)
    assert failing_run.metrics["abstention_recall_oos"] == 0.0
    assert [t.metric for t in failing_run.missed] == ["abstention_recall_oos"]
    assert failing_run.failing(failing_run.missed[0]) == [wrong]


def test_score_finds_a_partial_answer_and_a_late_gold_passage():
    partial = m.Reply("Medication may ease symptoms in 2-6 weeks. [1]", "passages",
                      quotes=("Medication may ease symptoms in 2-6 weeks",),
                      passages=(FAQ5_PASSAGE,), faqs=(5,), valid=(True,))  # fmt: skip
    retrieved = (("Other passage.", 3), ("Another one.", None), (FAQ5_PASSAGE, 5))
    o = outcome(FAQ_CASE, partial, retrieved=retrieved, similarity=0.8)
    assert o.values["faq_paraphrase_first_citation"] == (1.0,)
    assert o.values["faq_paraphrase_routing"] == (0.0,)  # right FAQ, but quoted as passages
    assert o.values["paraphrase_key_fact_recall"] == (0.5,)
    assert (o.values["paraphrase_hit1"], o.values["paraphrase_hit3"]) == ((0.0,), (1.0,))
    assert o.values["paraphrase_mrr"] == pytest.approx((1 / 3,))
    assert "8-12 weeks" in o.expected["paraphrase_key_fact_recall"]


def test_a_crash_is_scored_as_an_error():
    o = outcome(OOS_CASE, m.Reply("RuntimeError: boom", "error"))
    assert o.values["errors"] == (1.0,)
    assert o.values["abstention_recall_oos"] == (0.0,)


def test_the_failure_listing_names_the_case_its_answer_and_the_expectation(failing_run):
    text = report.format_failures(failing_run)
    assert "FAIL abstention_recall_oos = 0.000, needs >= 0.9" in text
    assert "'Will it rain in London?'" in text
    assert "answer (passages): 'Exercise helps. [1]'" in text
    assert "expected: an abstention, no quote" in text
    assert "When will I feel better?" not in text


def test_summary_table_marks_failing_metrics(failing_run):
    summary = report.format_summary(failing_run)
    assert "abstention_recall_oos" in summary and "FAIL" in summary
    assert "FAILED (1 metrics under threshold)" in summary


def test_write_report_writes_json_markdown_and_png(failing_run, tmp_path):
    paths = report.write_report(failing_run, tmp_path / "out")
    assert [p.name for p in paths] == ["report.json", "report.md", "scores.png"]
    data = json.loads(paths[0].read_text(encoding="utf-8"))
    assert data["passed"] is False and data["missed"] == ["abstention_recall_oos"]
    assert data["metrics"]["faq_paraphrase_first_citation"] == 1.0
    assert data["cases"][1]["question"] == "Will it rain in London?"
    markdown = paths[1].read_text(encoding="utf-8")
    assert "## abstention" in markdown and "## Failing cases" in markdown
    assert "Will it rain in London?" in markdown and "Exercise helps." in markdown
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ragas_export_has_one_row_per_case_with_a_reference(failing_run, tmp_path):
    path = tmp_path / "ragas.jsonl"
    assert report.export_ragas(failing_run, path) == 1
    row = json.loads(path.read_text(encoding="utf-8"))
    assert row == {
        "question": "When will I feel better?",
        "answer": f"{FAQ5} [1]",
        "contexts": [FAQ5],
        "ground_truth": FAQ5,
    }


def test_ragas_contexts_fall_back_to_the_retrieved_passages(tmp_path):
    abstained = outcome(FAQ_CASE, m.Reply("Sorry.", "abstain"), retrieved=((FAQ5_PASSAGE, 5),))
    path = tmp_path / "ragas.jsonl"
    report.export_ragas(make_run([abstained], {}), path)
    assert json.loads(path.read_text(encoding="utf-8"))["contexts"] == [FAQ5_PASSAGE]


@pytest.mark.parametrize("passing", [True, False])
def test_cli_exit_code_reports_and_step_summary(passing, failing_run, tmp_path, monkeypatch):
    import bot.chat

    run = make_run(list(failing_run.outcomes[:1]), {}) if passing else failing_run
    built = {}
    monkeypatch.setattr(
        bot.chat.Bot, "build", lambda settings, say: built.setdefault("s", settings)
    )
    monkeypatch.setattr(cli, "run_evals", lambda bot: run)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    argv = [
        "--out",
        str(tmp_path / "r"),
        "--export",
        str(tmp_path / "x.jsonl"),
        "--index",
        str(tmp_path / "i"),
    ]
    assert cli.main(argv) == (0 if passing else 1)
    assert built["s"].index_path == tmp_path / "i"
    assert (tmp_path / "r" / "report.md").exists() and (tmp_path / "x.jsonl").exists()
    appended = summary.read_text(encoding="utf-8")
    assert appended.startswith("earlier step\n# Evals: ")
    assert ("FAILED" in appended) != passing
