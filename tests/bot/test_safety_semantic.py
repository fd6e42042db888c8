"""Tests for bot/semantic_safety.py: the exemplar bank, its calibration, and its verdicts."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import yaml

from bot.safety import Verdict, detect_crisis
from bot.semantic_safety import (
    ExemplarBank,
    build_exemplar_bank,
    load_exemplar_kinds,
    load_exemplars,
    score_message,
    semantic_crisis,
)
from tests.conftest import ARTICLE, CASES, load_cases
from tests.conftest import PROJECT_ROOT as ROOT

CRISIS_CASES = load_cases("crisis.yaml")["cases"]
NEAR_MISSES = [c["text"] for c in load_cases("near_misses.yaml")["cases"]]
FAQ_QUESTIONS = [
    re.sub(r"^\d+\.\s*", "", line[4:]).strip()
    for line in ARTICLE.read_text(encoding="utf-8").splitlines()
    if line.startswith("### ")
]
_DEV, _BOUNDARY = load_cases("dev.yaml"), load_cases("boundary.yaml")
NEVER_FLAGGED = (
    FAQ_QUESTIONS
    + list(_BOUNDARY["not_boundary"])
    + [c["question"] for c in _DEV["faq_paraphrases"] + _DEV["body_questions"]]
    + list(_DEV["out_of_scope"])
)


@pytest.fixture(scope="module")
def bank(embedder) -> ExemplarBank:
    return build_exemplar_bank(embedder.embed)


@pytest.fixture(scope="module")
def embed_one(embedder):
    return lambda text: embedder.embed([text])[0]


def _flagged(texts: list[str], vectors: np.ndarray, bank: ExemplarBank) -> list[str]:
    """Texts flagged by the rules OR the semantic check (the combination the bot uses)."""
    return [
        t
        for t, v in zip(texts, vectors, strict=True)
        if detect_crisis(t) or semantic_crisis(v, bank)
    ]


# --------------------------------------------------------------------------- the data file


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def test_exemplars_are_disjoint_from_every_eval_case():
    crisis, safe, _, _ = load_exemplars()
    eval_texts = {
        s.strip().casefold()
        for path in CASES.glob("*.yaml")
        for s in _strings(load_cases(path.name))
    }
    overlap = [t for t in (*crisis, *safe) if t.strip().casefold() in eval_texts]
    assert overlap == [], "exemplars must be new phrasings, or the evals measure memory"
    assert len({t.casefold() for t in (*crisis, *safe)}) == len(crisis) + len(safe)


def test_exemplar_file_covers_every_category_with_enough_texts():
    crisis, safe, threshold, margin = load_exemplars()
    assert len(crisis) >= 200 and len(safe) >= 200
    assert 0.0 < threshold < 1.0 and 0.0 <= margin < 0.5
    data = yaml.safe_load((ROOT / "bot" / "data" / "crisis_exemplars.yaml").read_text())
    categories = {g["category"]: g for g in data["crisis"]}
    assert set(categories) >= {
        "suicidal_ideation",
        "intent_or_plan",
        "method_seeking",
        "passive_wish",
        "hopelessness_burden",
        "warning_signs",
        "self_harm",
        "slang_coded",
        "third_party",
        "abuse",
    }
    assert categories["abuse"]["kind"] == "abuse"
    kinds = load_exemplar_kinds()
    assert len(kinds) == len(crisis) and set(kinds) == {"crisis", "abuse"}


# --------------------------------------------------------------------------- pure logic, no model


def _toy_bank(threshold: float = 0.8, margin: float = 0.1) -> ExemplarBank:
    return ExemplarBank(
        crisis=np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32),
        safe=np.array([[0.0, 0.0, 1.0], [0.8, 0.0, 0.6]], dtype=np.float32),
        threshold=threshold,
        margin=margin,
        kinds=("crisis", "abuse"),
    )


def test_semantic_crisis_needs_both_threshold_and_margin():
    bank = _toy_bank()
    assert semantic_crisis(np.array([1.0, 0.0, 0.0]), bank) == Verdict("crisis", "crisis.semantic")
    # near the crisis row (0.97) but nearly as near a safe row (0.92): the margin says no
    near_both = np.array([0.97, 0.0, 0.243])
    assert semantic_crisis(near_both, bank) is None
    assert semantic_crisis(near_both, dataclasses.replace(bank, margin=0.0)) is not None
    # nearest crisis row under the threshold
    assert semantic_crisis(np.array([0.7, 0.0, -0.71]), bank) is None


def test_semantic_crisis_takes_the_kind_of_the_nearest_exemplar_and_any_vector_length():
    bank = _toy_bank()
    assert semantic_crisis(np.array([0.0, 3.0, 0.0]), bank) == Verdict("abuse", "abuse.semantic")
    assert semantic_crisis(np.array([[0.0, 1.0, 0.0]]), bank) == Verdict("abuse", "abuse.semantic")
    assert semantic_crisis(np.zeros(3), bank) is None
    no_kinds = dataclasses.replace(bank, kinds=())
    assert semantic_crisis(np.array([0.0, 1.0, 0.0]), no_kinds).kind == "crisis"


def test_build_exemplar_bank_embeds_once_and_keeps_rows_in_order(fake_embedder):
    crisis, safe, threshold, margin = load_exemplars()
    bank = build_exemplar_bank(fake_embedder.embed)
    assert fake_embedder.embedded == [*crisis, *safe]
    assert bank.crisis.shape[0] == len(crisis) and bank.safe.shape[0] == len(safe)
    assert (bank.threshold, bank.margin) == (threshold, margin)
    first_safe = fake_embedder.embed([safe[0]])[0]
    assert np.allclose(bank.safe[0], first_safe)


# --------------------------------------------------------------------------- with the real model


@pytest.fixture(scope="module")
def crisis_vectors(embedder) -> np.ndarray:
    return embedder.embed([c["text"] for c in CRISIS_CASES])


def test_rules_or_semantic_flag_every_crisis_case(bank, crisis_vectors):
    texts = [c["text"] for c in CRISIS_CASES]
    missed = set(texts) - set(_flagged(texts, crisis_vectors, bank))
    assert missed == set()


def test_semantic_check_alone_catches_most_crisis_cases(bank, crisis_vectors):
    # The rules already flag every case, so this is what shows the semantic net is alive;
    # calibration measured about 80% (typos and other languages are left to the rules).
    caught = [semantic_crisis(v, bank) is not None for v in crisis_vectors]
    assert sum(caught) / len(caught) >= 0.72


def test_near_miss_false_positives_stay_at_most_five_percent(bank, embedder):
    flagged = _flagged(NEAR_MISSES, embedder.embed(NEAR_MISSES), bank)
    assert len(flagged) / len(NEAR_MISSES) <= 0.05, flagged


def test_no_article_dev_or_not_boundary_question_is_flagged(bank, embedder):
    assert len(FAQ_QUESTIONS) == 8
    assert _flagged(NEVER_FLAGGED, embedder.embed(NEVER_FLAGGED), bank) == []


def test_an_abuse_disclosure_the_rules_miss_gets_the_abuse_kind(bank, embed_one):
    text = "my uncle keeps sending me messages asking to meet up alone, I'm 11"
    assert detect_crisis(text) is None  # the case the semantic check exists for
    assert semantic_crisis(embed_one(text), bank) == Verdict("abuse", "abuse.semantic")


def test_an_indirect_crisis_message_the_rules_miss_is_flagged(bank, embed_one):
    text = "i keep thinking everyone is better off if i just disappear for good"
    assert detect_crisis(text) is None
    assert semantic_crisis(embed_one(text), bank) == Verdict("crisis", "crisis.semantic")


def test_the_margin_keeps_an_idiom_near_a_crisis_exemplar_unflagged(bank, embed_one):
    # "I'm going to jump into the pool" is close to "I'm going to jump off the top of the car
    # park", past the threshold; it is only let through because "I'm going to jump in the
    # shower" (a safe exemplar) is nearer still.
    vector = embed_one("I'm going to jump into the pool")
    score = score_message(vector, bank)
    assert score.crisis >= bank.threshold
    assert semantic_crisis(vector, bank) is None
    assert semantic_crisis(vector, dataclasses.replace(bank, margin=-1.0)) is not None
    assert semantic_crisis(embed_one("this commute is murdering me"), bank) is None
