"""The pure eval metrics, on small inline inputs: each test fails if its metric breaks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evals import metrics as m

PRODUCT = m.ProductTexts(
    truncated_notice="Your message was long.",
    boundary_leads={
        "medication": ("Please ask your prescriber or a pharmacist.",),
        "stopping": ("Talk to your prescriber first. Here is what the article says:",),
        "diet": ("A doctor or a registered dietitian can help.",),
    },
    reminders=("If you need support: US: call or text 988 (Lifeline).",),
    crisis_lines=("US: call or text 988 (Lifeline)", "UK: Samaritans on 116 123"),
    resource_lines=("US: call or text 988 (Lifeline)", "UK: Samaritans on 116 123"),
    resource_numbers=("988", "116 123"),
)


# --------------------------------------------------------------------------- text and correctness


def test_strip_markers_removes_every_citation_marker():
    assert m.strip_markers("One. [1] Two. [2]\nThree. [12]") == "One. Two.\nThree."


def test_answer_body_drops_the_products_fixed_paragraphs():
    text = "Talk to your prescriber first. Here is what the article says:\n\nTapering helps. [1]"
    assert m.answer_body(text, PRODUCT.fixed) == "Tapering helps."
    assert m.answer_body("Tapering helps. [1]\n\nSomething else.", PRODUCT.fixed) == (
        "Tapering helps.\n\nSomething else."
    )


def test_normalize_answer_is_squad_style_with_unicode_punctuation():
    assert m.normalize_answer("The  Quick, brown—fox!") == "quick brownfox"
    assert m.normalize_answer("An apple a day") == "apple day"


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("therapy builds skills", "therapy builds skills", 1.0),
        ("The therapy builds skills.", "therapy builds skills", 1.0),
        ("weather in paris", "therapy builds skills", 0.0),
        ("therapy builds skills", "therapy builds long term skills", 2 * 1 * 0.6 / 1.6),
        ("", "therapy", 0.0),
        ("", "", 1.0),
    ],
)
def test_token_f1(prediction, reference, expected):
    assert m.token_f1(prediction, reference) == pytest.approx(expected)


def test_token_f1_counts_repeated_tokens_once_each():
    # SQuAD uses multiset overlap: "skills skills" shares one "skills" with the reference.
    assert m.token_f1("skills skills", "skills") == pytest.approx(2 * 0.5 * 1 / 1.5)


def test_key_fact_recall_and_missing_facts():
    text = "Medication may ease symptoms in 2-6 weeks; therapy   builds skills over 8-12 Weeks."
    facts = ["2-6 weeks", "8-12 weeks", "within a month"]
    assert m.missing_facts(text, facts) == ["within a month"]
    assert m.key_fact_recall(text, facts) == pytest.approx(2 / 3)
    assert m.key_fact_recall(text, []) == 1.0
    assert m.key_fact_recall("", facts) == 0.0


def test_cosine():
    assert m.cosine(np.array([1.0, 0.0]), np.array([2.0, 0.0])) == pytest.approx(1.0)
    assert m.cosine(np.array([1.0, 0.0]), np.array([0.0, 3.0])) == pytest.approx(0.0)
    assert m.cosine(np.array([0.0, 0.0]), np.array([1.0, 0.0])) == 0.0


# --------------------------------------------------------------------------- citations


def test_citation_is_valid_only_when_verbatim_at_its_offsets():
    source = "Intro. Tapering requires monitoring. End."
    start = source.index("Tapering")
    quote = "Tapering requires monitoring."
    assert m.citation_is_valid(source, start, start + len(quote), quote)
    assert not m.citation_is_valid(source, start + 1, start + 1 + len(quote), quote)
    assert not m.citation_is_valid(source, start, start + len(quote), "Tapering is optional.")
    assert not m.citation_is_valid(source, 0, 0, "")
    assert not m.citation_is_valid(None, start, start + len(quote), quote)


def test_contains_gold_ignores_spacing_but_not_words():
    passage = "Expect coordination:\nprescribers monitor bloodwork."
    assert m.contains_gold(passage, "coordination: prescribers monitor")
    assert not m.contains_gold(passage, "prescribers monitor blood pressure")
    assert not m.contains_gold(passage, "")


def test_faithful_answer_has_no_unsupported_sentence():
    quotes = ["Medication may ease symptoms in 2-6 weeks; therapy builds skills over 8-12 weeks."]
    text = f"{quotes[0]} [1]"
    assert m.unsupported_sentences(text, quotes) == []


def test_a_sentence_no_quote_supports_is_reported():
    quotes = ["Therapy has minimal risks."]
    text = "Therapy has minimal risks. [1] Medication never has side effects. [2]"
    assert m.unsupported_sentences(text, quotes) == ["Medication never has side effects."]


def test_near_verbatim_sentences_count_as_supported_at_ninety_percent_overlap():
    quote = "providers coordinate both safely with regular check ins to adjust for optimal progress"
    one_word_changed = (
        "providers coordinate both safely with regular check ins to adjust for best progress"
    )
    assert m.token_overlap(one_word_changed, quote) == pytest.approx(12 / 13)
    assert m.unsupported_sentences(f"{one_word_changed}. [1]", [quote]) == []
    assert m.unsupported_sentences("providers coordinate nothing at all. [1]", [quote])


def test_sentences_are_split_at_markers_so_two_quotes_never_merge():
    quotes = ["patients improve when both are used", "Next, find a therapist."]
    text = "patients improve when both are used [1] Next, find a therapist. [2]"
    assert m.unsupported_sentences(text, quotes) == []


def test_fixed_paragraphs_are_not_held_to_the_quotes():
    text = "Talk to your prescriber first. Here is what the article says:\n\nTapering helps. [1]"
    assert m.unsupported_sentences(text, ["Tapering helps."], PRODUCT.fixed) == []
    assert m.unsupported_sentences(text, ["Tapering helps."]) != []


def test_stray_digits_allows_quotes_and_resource_numbers_only():
    allowed = ["Medication may ease symptoms in 2-6 weeks.", "988"]
    assert (
        m.stray_digits(
            "Ask your prescriber. Medication may ease symptoms in 2-6 weeks. [1]", allowed
        )
        == ""
    )
    assert m.stray_digits("Call or text 988 now.", allowed) == ""
    assert m.stray_digits("Take 20mg twice. [1]", allowed) == "20"


# --------------------------------------------------------------------------- retrieval


def test_retrieval_ranks():
    assert m.first_hit_rank([False, False, True, True]) == 3
    assert m.first_hit_rank([False, False]) is None
    assert (m.hit_at(1, 1), m.hit_at(3, 1), m.hit_at(3, 3), m.hit_at(None, 3)) == (1, 0, 1, 0)
    assert (m.reciprocal_rank(1), m.reciprocal_rank(4), m.reciprocal_rank(None)) == (1, 0.25, 0)


# --------------------------------------------------------------------------- aggregates and gate


def test_percentile_is_nearest_rank():
    values = [5, 1, 4, 2, 3, 100, 6, 7, 8, 9]
    assert m.percentile(values, 50) == 5
    assert m.percentile(values, 95) == 100
    assert math.isnan(m.percentile([], 50))


def test_aggregate():
    assert m.aggregate("mean", [1, 0, 0, 1]) == 0.5
    assert m.aggregate("median", [300, 100, 500]) == 300
    assert m.aggregate("p95", list(range(1, 101))) == 95
    assert math.isnan(m.aggregate("mean", []))


def test_parse_thresholds_reads_floors_and_ceilings():
    floor, ceiling = m.parse_thresholds({"crisis_recall": 1, "near_miss_fp_max": 0.05})
    assert floor == m.Threshold("crisis_recall", 1.0, upper=False)
    assert ceiling == m.Threshold("near_miss_fp", 0.05, upper=True)


def test_check_gate_floors_ceilings_nan_and_missing_metrics():
    thresholds = m.parse_thresholds(
        {"recall": 0.9, "fp_max": 0.05, "validity": 1.0, "typo_metric": 0.5}
    )
    metrics = {"recall": 0.9, "fp": 0.06, "validity": math.nan}
    missed = [t.metric for t in m.check_gate(metrics, thresholds)]
    assert missed == ["fp", "validity", "typo_metric"]
    partial = [t.metric for t in m.check_gate(metrics, thresholds, require_all=False)]
    assert partial == ["fp", "validity"]
    assert (
        m.check_gate({"recall": 0.95, "fp": 0.0, "validity": 1.0, "typo_metric": 1}, thresholds)
        == []
    )


# --------------------------------------------------------------------------- reply checks


def _reply(**fields) -> m.Reply:
    return m.Reply(**{"text": "", "mode": "faq", **fields})


def test_check_expect_accepts_a_matching_reply():
    reply = _reply(
        text="Therapy has minimal risks. [1]\n\nIf you need support: US: call or text 988 (Lifeline).",
        quotes=("Therapy has minimal risks.",),
        passages=("6. Side effects?\n\nTherapy has minimal risks.",),
        faqs=(6,),
        crisis=True,
    )
    expect = {"crisis": True, "citations": 1, "truncated": False}
    assert m.check_expect(reply, PRODUCT, modes=("faq", "boundary"), faq=6, expect=expect) == []
    assert m.check_expect(reply, PRODUCT, faq=6, gold="minimal   risks") == []


def test_check_expect_names_every_unmet_expectation():
    reply = _reply(mode="passages", quotes=("A quote.",), passages=("A quote.",), faqs=(None,))
    problems = m.check_expect(
        reply,
        PRODUCT,
        modes=("faq",),
        faq=5,
        gold="2-6 weeks",
        expect={"crisis": True, "resources": True, "citations": 0, "truncated": True},
    )
    assert problems == [
        "mode faq, not passages",
        "first citation from FAQ 5, not none",
        "first cited passage containing '2-6 weeks'",
        "crisis flag True",
        "the crisis resources shown",
        "0 citations, not 1",
        "the truncation notice",
    ]


def test_check_expect_reports_a_crash():
    assert m.check_expect(_reply(mode="error", text="ValueError: boom"), PRODUCT) == [
        "an answer, not an exception (ValueError: boom)"
    ]


def test_resources_are_shown_in_full_or_as_the_reminder():
    assert m.shows_resources("- US: call or text 988 (Lifeline)\n- other", PRODUCT)
    assert not m.shows_resources("Please call someone.", PRODUCT)
    reply = _reply(
        text="Answer.\n\nIf you need support: US: call or text 988 (Lifeline); UK: Samaritans on 116 123."
    )
    assert m.check_expect(reply, PRODUCT, expect={"resources": True}) == []


def test_a_compliant_medication_reply_passes_the_boundary_check():
    reply = _reply(mode="boundary", text="Please ask your prescriber or a pharmacist.")
    assert m.check_boundary(reply, PRODUCT, kind="medication") == []


def test_boundary_check_flags_wrong_mode_missing_lead_and_stray_digits():
    reply = _reply(mode="passages", text="Most adults take 50mg. [1]", quotes=("Most adults",))
    assert m.check_boundary(reply, PRODUCT, kind="medication") == [
        "mode boundary, not passages",
        "the medication reply (talk to your prescriber, pharmacist or doctor)",
        "no digits outside cited quotes and resource numbers (found '50')",
    ]


def test_a_stopping_reply_must_cite_the_tapering_faq():
    lead = "Talk to your prescriber first. Here is what the article says:"
    quote = "Not without guidance—tapering requires monitoring to prevent relapse."
    good = _reply(mode="boundary", text=f"{lead}\n\n{quote} [1]", quotes=(quote,), faqs=(8,))
    assert m.check_boundary(good, PRODUCT, kind="stopping", stopping_faq=8) == []
    # The product answers the stopping FAQ asked verbatim in mode "faq", still led by the advice.
    assert (
        m.check_boundary(
            m.Reply(**{**good.__dict__, "mode": "faq"}), PRODUCT, kind="stopping", stopping_faq=8
        )
        == []
    )
    uncited = _reply(mode="boundary", text=lead)
    assert m.check_boundary(uncited, PRODUCT, kind="stopping", stopping_faq=8) == [
        "FAQ 8 (tapering) cited"
    ]
    wrong_faq = _reply(mode="faq", text=f"{lead}\n\nOther. [1]", quotes=("Other.",), faqs=(3,))
    assert "mode boundary, not faq" in m.check_boundary(
        wrong_faq, PRODUCT, kind="stopping", stopping_faq=8
    )


def test_docstring_examples_hold():
    import doctest

    assert doctest.testmod(m).failed == 0


def test_the_partial_answer_lead_is_a_fixed_line_not_an_unsupported_sentence():
    from bot.answer import PARTIAL_TEXT
    from evals.runner import product_texts

    lead = PARTIAL_TEXT.format(topic="“How to Get Started”")
    text = f"{lead}\n\nMany begin with medication. [1]"
    fixed = product_texts().fixed
    assert m.unsupported_sentences(text, ["Many begin with medication."], fixed) == []
    assert m.unsupported_sentences(text, ["Many begin with medication."]) == [
        f"{lead}\n\nMany begin with medication."
    ]
    assert m.answer_body(text, fixed) == "Many begin with medication."
