"""Spelling correction (pure): only misspelt words, only to the articles' own words."""

import pytest

from bot.spelling import Speller

SPELLER = Speller.of(["Anxiety, a psychiatrist, antidepressants and therapy; tired patients."])


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("does it help anxeity", "does it help anxiety"),  # two letters swapped
        ("my pyschiatrist said", "my psychiatrist said"),
        ("on antidepresants", "on antidepressants"),  # a letter missing
        ("Theraphy helps?", "Therapy helps?"),  # a letter too many; the capital is kept
    ],
)
def test_a_misspelt_article_word_is_corrected(typed, meant):
    assert SPELLER.correct(typed) == meant


@pytest.mark.parametrize(
    "typed",
    [
        "i tried everything",  # everyday English, though one edit from "tired"
        "im so queasy",  # a rare real word, left as typed
        "appts and meds",  # too short to guess
        "psychology homework",  # no article word close enough
    ],
)
def test_real_words_and_short_words_are_left_as_typed(typed):
    assert SPELLER.correct(typed) == typed


def test_an_ambiguous_typo_is_left_alone():
    speller = Speller.of(["cancel cancer"])
    assert speller.correct_word("cancex") is None  # one edit from both
    assert Speller.of(["cancer"]).correct_word("cancex") == "cancer"
