"""The message vectors a process remembers (pure, with a counting stand-in for the model)."""

import numpy as np
import pytest

from bot.vectors import VectorMemory


class Counting:
    def __init__(self):
        self.one, self.many = [], []

    def embed_one(self, text):
        self.one.append(text)
        return np.full(3, len(text), dtype=np.float32)

    def embed_many(self, texts):
        self.many.append(list(texts))
        return np.stack([np.full(3, len(t), dtype=np.float32) for t in texts])


def test_missing_texts_are_embedded_together_once_and_rows_follow_the_order_asked():
    model = Counting()
    memory = VectorMemory(model.embed_one, model.embed_many, capacity=10)
    rows = memory.of(["ab", "abcd", "ab"])
    assert rows[:, 0].tolist() == [2, 4, 2]
    assert model.many == [["ab", "abcd"]] and model.one == []
    memory.of(["abcd", "x"])  # one remembered, one new: the new one alone
    assert model.one == ["x"] and len(memory) == 3


def test_the_oldest_is_forgotten_past_capacity_and_a_lookup_makes_a_text_the_latest():
    model = Counting()
    memory = VectorMemory(model.embed_one, model.embed_many, capacity=2)
    memory.of(["a"])
    memory.of(["bb"])
    memory.of(["a"])  # looked up: now the latest
    memory.of(["ccc"])  # "bb" is the oldest: forgotten
    assert len(memory) == 2
    memory.of(["a"])
    assert model.one == ["a", "bb", "ccc"]  # "a" was still remembered
    memory.of(["bb"])
    assert model.one[-1] == "bb"


def test_vectors_handed_out_are_read_only_and_clear_forgets_them():
    model = Counting()
    memory = VectorMemory(model.embed_one, model.embed_many, capacity=4)
    memory.of(["abc"])
    vector = memory.of(["abc", "abc"])[0]
    with pytest.raises(ValueError):
        memory._vectors["abc"][0] = 1.0
    assert vector[0] == 3
    memory.clear()
    assert len(memory) == 0 and memory.of([]).shape == (0, 0)
