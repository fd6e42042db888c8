"""Answer composition (pure): routing, sentence choice, citations, abstention, verification."""

import dataclasses

import pytest

from bot.answer import (
    ABSTAIN_TEXT,
    ABSTAIN_TEXT_MANY,
    PARTIAL_TEXT,
    Thresholds,
    abstain,
    affirms,
    asked_elsewhere,
    compose_answer,
    kinds_agree,
    matched_faq,
    passages_answer,
    relevance,
    routed_faq,
    select_sentences,
    unknown_names,
    verify_citations,
)
from bot.evidence import BankHit, Evidence, SentenceHit
from bot.types import Chunk, Hit, Span

SOURCE = "## Help\n\nTherapy builds skills. They last for years. Pills help fast.\n\n### 1. Does it work?\n\nYes, it works well."
T = Thresholds(abstain=0.4, coverage_weight=0.3, faq=0.7, faq_margin=0.05)


def _span(text: str, role: str = "sentence") -> Span:
    start = SOURCE.index(text)
    return Span(start, start + len(text), text, role)


def _chunk(kind: str, first: str, last: str, *sentences: Span, faq=None) -> Chunk:
    start, end = SOURCE.index(first), SOURCE.index(last) + len(last)
    return Chunk(
        "id-" + kind,
        "a.md",
        "A",
        "2024-01-01",
        "Help",
        kind,
        SOURCE[start:end],
        start,
        end,
        faq,
        sentences,
    )


PARA = _chunk(
    "paragraph",
    "Therapy builds",
    "Pills help fast.",
    _span("Therapy builds skills."),
    _span("They last for years."),
    _span("Pills help fast."),
)
FAQ = _chunk(
    "faq",
    "1. Does",
    "works well.",
    _span("Does it work?", "question"),
    _span("Yes, it works well."),
    faq=1,
)


def evidence(
    faq_score=0.2, second=0.1, sims=(0.6, 0.5, 0.2), dense=0.6, coverage=1.0, overlaps=(0, 0, 0)
) -> Evidence:
    pairs = zip(PARA.sentences, sims, overlaps, strict=True)
    sentences = tuple(
        sorted((SentenceHit(s, PARA, sim, o) for s, sim, o in pairs), key=lambda s: -s.similarity)
    )
    return Evidence(
        hits=(Hit(PARA, 0.03), Hit(FAQ, 0.02)),
        dense={PARA.id: dense, FAQ.id: 0.1},
        faqs=(Hit(FAQ, faq_score), Hit(PARA, second)),
        sentences=sentences,
        coverage=coverage,
    )


def test_a_question_closer_to_a_background_question_than_to_the_article_abstains():
    t = dataclasses.replace(T, background_margin=0.0)
    covered = compose_answer(evidence(), t)
    assert covered.mode == "passages"  # the best sentence (0.6) is this close
    elsewhere = dataclasses.replace(
        evidence(), background="what does it cost?", background_score=0.8
    )
    assert asked_elsewhere(elsewhere, t)
    answer = compose_answer(elsewhere, t)
    assert answer.mode == "abstain" and answer.citations == ()
    # Closer to the article than to the background question: answered as before.
    nearer = dataclasses.replace(elsewhere, background_score=0.55)
    assert not asked_elsewhere(nearer, t) and compose_answer(nearer, t).mode == "passages"
    # The FAQ the question matches counts as the article's answer too; so does the margin.
    assert not asked_elsewhere(dataclasses.replace(elsewhere, faqs=(Hit(FAQ, 0.85),)), t)
    assert not asked_elsewhere(elsewhere, dataclasses.replace(t, background_margin=0.25))


def test_a_clear_faq_match_answers_with_the_faq_answer_verbatim():
    answer = compose_answer(evidence(faq_score=0.9), T)
    assert answer.mode == "faq"
    assert answer.text == "Yes, it works well. [1]"
    [c] = answer.citations
    assert SOURCE[c.start : c.end] == c.quote == "Yes, it works well."


def test_a_close_runner_up_sends_the_question_to_passages_instead():
    assert compose_answer(evidence(faq_score=0.75, second=0.72), T).mode == "passages"


def test_passages_answer_quotes_sentences_with_markers_and_context():
    answer = compose_answer(evidence(sims=(0.3, 0.62, 0.58)), T)
    assert answer.mode == "passages"
    # "They last for years." leans on the sentence before it, which it takes along;
    # "Therapy builds skills." is then already quoted and not repeated.
    assert answer.text == "Therapy builds skills. They last for years. [1] Pills help fast. [2]"
    assert [c.quote for c in answer.citations] == [
        "Therapy builds skills. They last for years.",
        "Pills help fast.",
    ]
    assert all(SOURCE[c.start : c.end] == c.quote for c in answer.citations)


def test_sentences_far_below_the_best_are_left_out():
    chosen = select_sentences(evidence(sims=(0.7, 0.5, 0.2)).sentences, (), T)
    assert [s.span.text for s, _ in chosen] == ["Therapy builds skills."]


def test_shared_rare_words_lift_a_sentence_above_a_merely_similar_one():
    lexical = dataclasses.replace(T, lexical_weight=0.4)
    ev = evidence(sims=(0.6, 0.3, 0.5), overlaps=(0.0, 0.0, 0.9))
    assert [s.span.text for s, _ in select_sentences(ev.sentences, (), T)] == [
        "Therapy builds skills."
    ]
    [(best, score)] = select_sentences(ev.sentences, (), lexical)
    assert best.span.text == "Pills help fast." and score == pytest.approx(0.86)


def test_a_sentence_of_an_faq_answer_brings_the_whole_answer():
    answer = passages_answer([(SentenceHit(FAQ.sentences[1], FAQ, 0.7, 0.0), 0.7)])
    assert answer.text == "Yes, it works well. [1]" and answer.citations[0].quote == FAQ.answer.text


def test_low_relevance_abstains_with_suggestions_and_no_citations():
    answer = compose_answer(evidence(sims=(0.2, 0.1, 0.1), dense=0.3), T)
    assert answer.mode == "abstain" and answer.abstained
    assert answer.citations == ()
    assert answer.suggestions == ("Does it work?",)
    assert answer.text.startswith(ABSTAIN_TEXT) and "- Does it work?" in answer.text


def test_missing_content_words_lower_relevance():
    assert relevance(evidence(coverage=1.0), T) - relevance(
        evidence(coverage=0.0), T
    ) == pytest.approx(0.3)
    assert compose_answer(evidence(sims=(0.5, 0.1, 0.1), dense=0.5, coverage=0.2), T).abstained


def test_verification_drops_a_quote_that_is_not_at_its_offsets():
    answer = compose_answer(evidence(sims=(0.3, 0.62, 0.58)), T)
    edited = {"a.md": SOURCE.replace("Pills help fast.", "Pills help slowly.")}
    checked = verify_citations(answer, edited)
    assert [c.n for c in checked.citations] == [1]
    assert "Pills" not in checked.text
    assert verify_citations(answer, {"a.md": ""}).abstained
    assert verify_citations(answer, {"a.md": SOURCE}) == answer


# --------------------------------------------------------------------------- answer kinds, bank


def test_a_sentence_carrying_the_kind_of_answer_asked_for_wins():
    bonus = dataclasses.replace(T, type_bonus=0.2)
    ev = evidence(sims=(0.6, 0.55, 0.2))  # "They last for years." carries a duration
    [(best, _)] = select_sentences(ev.sentences, (), bonus, "duration")
    assert best.span.text == "They last for years."
    assert select_sentences(ev.sentences, (), bonus, "other")[0][0].span.text == (
        "Therapy builds skills."
    )


def test_when_no_quote_carries_the_kind_asked_for_one_line_says_so_first():
    answer = compose_answer(evidence(sims=(0.6, 0.1, 0.5)), T, "frequency")
    assert answer.partial and answer.text.startswith(PARTIAL_TEXT.format(topic="“Help”"))
    assert answer.citations  # the quotes still follow, cited
    full = compose_answer(evidence(sims=(0.6, 0.1, 0.5)), T, "other")
    assert not full.partial and not full.text.startswith("The article")


def test_kinds_of_answer_must_agree_for_an_faq_to_answer():
    assert compose_answer(evidence(faq_score=0.9), T, "duration").mode == "faq"  # vague FAQ
    how_often = dataclasses.replace(FAQ, sentences=(Span(0, 0, "How long until it works?",
                                                         "question"), *FAQ.sentences[1:]))  # fmt: skip
    assert not kinds_agree("frequency", "duration") and kinds_agree("whether", "duration")
    assert matched_faq((Hit(how_often, 0.95),), T, "frequency") is None


def _bank_hit(chunk, score, question="does it really work?"):
    answer = chunk.answer or chunk.sentences[0]
    return BankHit(question, chunk, answer.start, answer.end, score)


def test_a_bank_question_routes_to_its_faq_but_never_to_an_affirming_one():
    no_faq = evidence(faq_score=0.1)
    bank = dataclasses.replace(T, faq_bank=0.7)
    affirming = dataclasses.replace(no_faq, bank=(_bank_hit(FAQ, 0.9), _bank_hit(PARA, 0.5)))
    assert affirms(FAQ) and routed_faq(affirming, bank) is None
    plain_faq = dataclasses.replace(FAQ, id="plain", text=FAQ.text.replace("Yes, it", "Now, it"))
    plain = dataclasses.replace(no_faq, bank=(_bank_hit(plain_faq, 0.9), _bank_hit(PARA, 0.5)))
    assert routed_faq(plain, bank).chunk is plain_faq
    assert routed_faq(plain, bank, exclude=frozenset({plain_faq.id})) is None
    close = dataclasses.replace(no_faq, bank=(_bank_hit(plain_faq, 0.9), _bank_hit(PARA, 0.88)))
    assert routed_faq(close, bank) is None  # not clearly ahead of another passage


def test_a_bank_match_lifts_the_sentences_of_its_quote():
    offset = dataclasses.replace(T, bank_offset=0.1)
    weak = SentenceHit(PARA.sentences[2], PARA, 0.3, 0.0, bank=0.9)
    strong = SentenceHit(PARA.sentences[0], PARA, 0.6, 0.0)
    [(best, score)] = select_sentences((strong, weak), (), offset)
    assert best is weak and score == pytest.approx(0.8)


def test_an_affirming_faq_answer_is_quoted_only_for_a_question_close_to_its_faq():
    # "Yes, it works well." is the best sentence for a question about something else.
    yes = SentenceHit(FAQ.sentences[1], FAQ, 0.7, 0.0)
    other = SentenceHit(PARA.sentences[0], PARA, 0.6, 0.0)
    guarded = dataclasses.replace(T, affirm=0.65)
    far = dataclasses.replace(evidence(faq_score=0.5), sentences=(yes, other))
    answer = compose_answer(far, guarded)
    assert answer.mode == "passages"
    assert [c.quote for c in answer.citations] == ["Therapy builds skills."]
    # Unguarded, or close enough to the FAQ (its own question or one of its bank questions),
    # the yes is quoted.
    assert compose_answer(far, T).citations[0].quote == "Yes, it works well."
    near_bank = dataclasses.replace(far, bank=(_bank_hit(FAQ, 0.66),))
    assert compose_answer(near_bank, guarded).citations[0].quote == "Yes, it works well."
    # With nothing else to quote, the guarded answer abstains rather than say yes.
    alone = dataclasses.replace(far, sentences=(yes,))
    assert compose_answer(alone, guarded).mode == "abstain"


def test_among_several_articles_an_abstention_names_each_suggestions_article():
    other = dataclasses.replace(FAQ, id="other-faq", source="b.md", title="B", date="")
    faqs = (Hit(FAQ, 0.3), Hit(other, 0.2))
    one = abstain(faqs)
    assert one.text.startswith(ABSTAIN_TEXT) and "- Does it work?\n" in one.text + "\n"
    many = abstain(faqs, articles=2)
    assert many.text.startswith(ABSTAIN_TEXT_MANY)
    assert many.text.endswith("- Does it work? (A, 2024-01-01)\n- Does it work? (B)")
    assert many.suggestions == ("Does it work?", "Does it work?")  # the buttons: questions only


def test_a_name_no_article_has_means_the_question_is_not_covered():
    covered = evidence(faq_score=0.9)  # would be routed to the FAQ
    assert compose_answer(covered, T, names=("tms",)).mode == "faq"  # the article has it
    missing = dataclasses.replace(covered, missing=frozenset({"tms", "better"}))
    answer = compose_answer(missing, T, names=("tms",))
    assert answer.mode == "abstain" and answer.text.startswith(ABSTAIN_TEXT)
    # a missing everyday word is no name: the question is answered as before
    assert compose_answer(missing, T, names=()).mode == "faq"


def test_a_name_the_closest_bank_question_uses_is_one_its_editor_said_is_covered():
    bank = (BankHit("is talkspace ok for therapy", PARA, PARA.start, PARA.end, 0.9),)
    e = dataclasses.replace(evidence(), missing=frozenset({"talkspac"}), bank=bank)
    assert unknown_names(("talkspace",), e) == ()
    assert unknown_names(("talkspace",), dataclasses.replace(e, bank=())) == ("talkspace",)
