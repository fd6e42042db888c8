"""The background questions: read, embedded once, set aside where an article answers them."""

import re
from pathlib import Path

import numpy as np
import pytest

from bot.background import (
    BACKGROUND_PATH,
    SENTENCE_LIFT,
    embed_background,
    read_background,
    unanswered,
)
from bot.settings import SettingsError

EVALS = Path(__file__).resolve().parents[2] / "evals"


def _unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_background_questions_the_articles_answer_are_set_aside():
    cost, dose, brain = _unit(1, 0, 0), _unit(0, 1, 0), _unit(0, 0, 1)
    bank = np.stack([_unit(0.05, 1, 0)])  # a bank question nearly the "dose" one
    sentence = _unit(0, 0.6, 0.8)  # a sentence about the brain: similarity 0.8 to "brain"
    kept, vectors = unanswered(
        [("how much?", cost), ("how many mg?", dose), ("what in the brain?", brain)],
        (bank, [np.stack([sentence])]),
        mask=0.7,
    )
    assert kept == ["how much?"]
    assert np.allclose(vectors, [cost])
    # A sentence counts SENTENCE_LIFT more than its similarity: just below the line, kept.
    below = 0.7 - SENTENCE_LIFT - 0.01
    near = _unit(np.sqrt(1 - below**2), 0, below)
    kept, _ = unanswered([("what in the brain?", near)], (None, [brain[None, :]]), mask=0.7)
    assert kept == ["what in the brain?"]
    assert unanswered([], (bank, []), 0.7) == ([], None)
    assert unanswered([("how many mg?", dose)], (bank, []), 0.7) == ([], None)


def test_the_bundled_background_is_broad_and_without_repeats():
    questions = read_background()
    assert len(questions) >= 400
    assert len({q.lower() for q in questions}) == len(questions)
    assert read_background("") == ()


def test_a_file_without_a_question_list_is_refused(tmp_path):
    path = tmp_path / "bg.yaml"
    path.write_text("questions: just one string\n", encoding="utf-8")
    with pytest.raises(ValueError, match="questions"):
        read_background(path)
    path.write_text('questions:\n  - "  how   much?  "\n  - "how much?"\n', encoding="utf-8")
    assert read_background(path) == ("how much?",)


def _words(text: str) -> set[str]:
    return set(re.sub(r"[^a-z0-9 ]", "", text.lower()).split())


def test_no_background_question_repeats_an_eval_question():
    """The background must not hold the evaluation's own questions (nor near copies): the
    gate would then measure questions the bot was handed."""
    texts = []
    for path in EVALS.rglob("*.yaml"):
        raw = path.read_text(encoding="utf-8")
        texts += re.findall(r'"([^"\n]{10,})"', raw) + re.findall(r"'([^'\n]{10,})'", raw)
        texts += re.findall(r"(?:text|question): ([^\n\"']{10,})", raw)
        texts += re.findall(r"^\s*- ([^\n\"']{10,})$", raw, re.MULTILINE)
    cases = [w for w in map(_words, texts) if len(w) >= 3]
    assert len(cases) > 1000
    copies = []
    for question in read_background(BACKGROUND_PATH):
        mine = _words(question)
        if any(len(mine & w) / len(mine | w) >= 0.7 for w in cases):
            copies.append(question)
    assert copies == []


class CountingEmbedder:
    model_name = "counting"

    def __init__(self):
        self.calls = 0

    def embed(self, texts):
        self.calls += 1
        return np.eye(len(texts), 4, dtype=np.float32)


def test_background_is_embedded_once_per_model():
    embedder = CountingEmbedder()
    first = embed_background(embedder, ("a?", "b?"))
    again = embed_background(embedder, ("a?", "b?"))
    assert embedder.calls == 1
    assert [q for q, _ in first] == ["a?", "b?"]
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(first, again, strict=True))
    assert embed_background(embedder, ()) == []


def test_a_missing_or_broken_background_file_is_named_in_one_clear_error(tmp_path):
    with pytest.raises(SettingsError, match=r"nope\.yaml .*cannot be read: No such file"):
        read_background(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("questions: [unclosed\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"broken\.yaml .*cannot be read"):
        read_background(broken)
