"""The last stage: answers to the questions of one message joined into one reply."""

from bot.decorate import combine
from bot.types import Answer, Citation


def _cite(n: int, quote: str, start: int) -> Citation:
    return Citation(n, "a.md", "A", "S", quote, start, start + len(quote), 0.9)


ONE, TWO, THREE = "Neither is better.", "Both help.", "It takes weeks."


def test_answers_are_joined_in_order_with_their_citations_renumbered():
    first = Answer(f"{ONE} [1] {TWO} [2]", "passages", (_cite(1, ONE, 0), _cite(2, TWO, 40)))
    second = Answer(f"{THREE} [1]", "faq", (_cite(1, THREE, 90),))
    joined = combine([first, second])
    assert joined.text == f"{ONE} [1] {TWO} [2]\n\n{THREE} [3]"
    assert [c.n for c in joined.citations] == [1, 2, 3]
    assert [c.quote for c in joined.citations] == [ONE, TWO, THREE]
    assert joined.mode == "passages"


def test_a_quote_given_already_is_not_given_again():
    first = Answer(f"{ONE} [1]", "passages", (_cite(1, ONE, 0),))
    second = Answer(f"{ONE} [1] {THREE} [2]", "passages", (_cite(1, ONE, 0), _cite(2, THREE, 90)))
    joined = combine([first, second])
    assert joined.text == f"{ONE} [1]\n\n{THREE} [2]"
    assert [(c.n, c.quote) for c in joined.citations] == [(1, ONE), (2, THREE)]


def test_an_answer_with_nothing_new_is_left_out_but_advice_is_kept():
    first = Answer(f"{ONE} [1]", "passages", (_cite(1, ONE, 0),))
    same = Answer(f"{ONE} [1]", "faq", (_cite(1, ONE, 0),))
    assert combine([first, same]).text == f"{ONE} [1]"
    advice = Answer(f"Ask your prescriber.\n\n{ONE} [1]", "boundary", (_cite(1, ONE, 0),))
    joined = combine([first, advice])
    assert joined.text == f"{ONE} [1]\n\nAsk your prescriber."
    assert len(joined.citations) == 1


def test_abstentions_are_left_out_unless_nothing_was_answered():
    answered = Answer(f"{ONE} [1]", "passages", (_cite(1, ONE, 0),))
    abstained = Answer("Sorry.", "abstain")
    assert combine([abstained, answered]) == answered
    assert combine([abstained, abstained]) == abstained
