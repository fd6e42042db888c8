"""Spelling correction (pure): only misspelt words, only to the articles' own words."""

import pytest

from bot.spelling import Speller, is_name, names_in

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


@pytest.mark.parametrize(
    "word",
    ["tms", "ect", "emdr", "ketamine", "acupuncture", "haiku", "faucet", "wort"],
)
def test_a_rare_word_names_something(word):
    assert is_name(word)


@pytest.mark.parametrize(
    "word",
    [
        "therapy",  # everyday English
        "appt",  # chat shorthand
        "ngl",
        "hasnt",  # an apostrophe left out
        "theyd",
        "foggy",  # derived from an everyday word
        "nauseous",
        "doomscrolling",
        "customise",
        "acronyms",  # the plural of an everyday word
        "bandaid",  # two everyday words run together
        "timeframe",
        "definately",  # a typo of an everyday word, first letter kept
    ],
)
def test_shorthand_derived_words_and_typos_name_nothing(word):
    assert not is_name(word)


def test_names_in_a_question_are_lower_case_in_order_once_each():
    assert names_in("Is TMS or EMDR better?? tms sounds scary tbh") == ("tms", "emdr")
