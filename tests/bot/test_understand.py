"""Understanding a message (pure): answer types, answer carriers, questions in long posts,
follow-ups and their rewriting, lay-term expansion, and the whole `understand` step."""

import dataclasses
import re

import pytest
import yaml

from bot.lexicon import ANSWER_TYPES, LEXICON_PATH, expand_lay_terms, load_lexicon
from bot.understand import (
    Understood,
    answer_type,
    asks_something,
    carries_answer,
    extract_questions,
    is_follow_up,
    is_long,
    rewrite_follow_up,
    stands_alone,
    understand,
    without_acknowledgements,
)

# ------------------------------------------------------------------------------ answer types

ANSWER_TYPE_CASES = [
    # duration: how long / how soon / when will it work / kick in / how many weeks
    ("started sertraline and cbt, when will i notice any change", "duration"),
    ("when do people usually get some relief", "duration"),
    ("how long until i see results from medication and therapy", "duration"),
    ("hw long does zoloft take to kick in", "duration"),
    ("how lon does therapy take", "duration"),
    ("hww long for therapy to work", "duration"),
    ("how lnog does cbt take", "duration"),
    ("when will lexapro start working", "duration"),
    ("when does wellbutrin kick in", "duration"),
    ("how many weeks till meds work", "duration"),
    ("how soon will i feel better", "duration"),
    ("does lexapro take long to work", "duration"),
    ("so how long does it take", "duration"),
    ("i was wondering how long it takes for meds to kick in", "duration"),
    # frequency
    ("how often should i see my therapist", "frequency"),
    ("how ofen should i go", "frequency"),
    ("how many times a week is therapy", "frequency"),
    ("therapy every week?", "frequency"),
    ("do i need therapy every week", "frequency"),
    ("how many sessions of cbt do i need", "frequency"),
    # who
    ("who prescribes antidepressants", "who"),
    ("who can prescribe adderall", "who"),
    ("which doctor should i see for meds", "who"),
    ("what kind of professional should i talk to", "who"),
    ("what type of doctor treats bipolar", "who"),
    ("should i see a psychiatrist or a therapist", "who"),
    # where
    ("where can i get therapy online", "where"),
    ("how do i find a therapist", "where"),
    ("How do I find providers for medication and therapy?", "where"),
    ("how to find a cheap therapist", "where"),
    ("any good therapists near me", "where"),
    ("any advice on finding a psychiatrist", "where"),
    # safety
    ("is it safe to take meds and do therapy at the same time", "safety"),
    ("is it ok to drink on lexapro", "safety"),
    ("can i drink alcohol on zoloft", "safety"),
    ("is zoloft dangerous", "safety"),
    ("is prozac safe during pregnancy", "safety"),
    ("is it bad to skip my meds", "safety"),
    # risks
    ("what are the side effects", "risks"),
    ("are there side affects when using both", "risks"),
    ("wht r the side effects", "risks"),
    ("any downsides to combining them", "risks"),
    ("what can go wrong with meds", "risks"),
    ("what are the risks of ssris", "risks"),
    # definition
    ("what is cbt", "definition"),
    ("wat is dbt", "definition"),
    ("whats erp", "definition"),
    ("what's an SSRI?", "definition"),
    ("what does psychodynamic mean", "definition"),
    ("wat does erp stand for", "definition"),
    ("explain dbt to me", "definition"),
    ("whats the difference between cbt and dbt", "definition"),
    # how
    ("how do i cope with panic attacks", "how"),
    ("how can i help my anxiety", "how"),
    ("how does therapy help with ptsd", "how"),
    ("tips for panic attacks", "how"),
    ("what's the best way to cope with stress", "how"),
    # whether (yes/no)
    ("Do medication and therapy work better together?", "whether"),
    ("will therapy help", "whether"),
    ("is therapy worth it", "whether"),
    ("should i try cbt", "whether"),
    ("can medication and therapy be used at the same time", "whether"),
    ("does anyone know if therapy helps ocd", "whether"),
    ("i want to know if counseling helps", "whether"),
    ("will meds change my personality", "whether"),
    # which
    ("which conditions benefit most from both", "which"),
    ("what conditions benefit most from both", "which"),
    ("Is medication or therapy more effective?", "which"),
    ("meds or therapy which is better", "which"),
    ("which one is better", "which"),
    ("which antidepressant is best", "which"),
    ("cbt vs dbt", "which"),
    # why
    ("why pair them", "why"),
    ("why do i need both", "why"),
    ("y do i need both", "why"),
    ("how come therapy takes so long", "why"),
    # other
    ("hello", "other"),
    ("my cat is cute", "other"),
    ("what are the benefits of combining medication and therapy", "other"),
    ("", "other"),
]


@pytest.mark.parametrize(("question", "kind"), ANSWER_TYPE_CASES)
def test_answer_type(question, kind):
    assert answer_type(question) == kind


def test_answer_type_cases_cover_every_type():
    assert {kind for _, kind in ANSWER_TYPE_CASES} == set(ANSWER_TYPES)


def test_answer_type_ignores_case_and_punctuation():
    assert answer_type("HOW LONG DOES ZOLOFT TAKE???") == "duration"
    assert answer_type("Is It Safe,,, to combine them!!") == "safety"


def test_answer_type_reads_the_frame_not_the_topic():
    # Side effects are the topic; how long they last is what is asked.
    assert answer_type("how long do side effects last") == "duration"
    assert answer_type("how often do side effects happen") == "frequency"


# ------------------------------------------------------------------------ answer carriers

CARRIES = [
    # durations, from articles on other topics too
    ("Most people feel a difference after 3-4 weeks of daily practice.", "duration"),
    ("Benefits usually show within a month.", "duration"),
    ("It can take several months to find the right dose.", "duration"),
    ("Improvement is gradual over 8-12 weeks.", "duration"),
    ("Grief often softens over months rather than days.", "duration"),
    ("A short course of sleep therapy lasts about six weeks.", "duration"),
    ("Many notice calmer evenings in a few weeks.", "duration"),
    ("Stimulants act within an hour.", "duration"),
    ("A 10-week program is typical.", "duration"),
    # frequencies
    ("Sessions are usually held every two weeks.", "frequency"),
    ("Most clients attend weekly at first.", "frequency"),
    ("Take it daily with food.", "frequency"),
    ("Walk three times a week for the best effect.", "frequency"),
    ("Regular check-ins help keep the plan on track.", "frequency"),
    ("Blood levels are tested once a month.", "frequency"),
    # professions
    ("A psychiatrist can prescribe and adjust medication.", "who"),
    ("Your primary care provider is a good first stop.", "who"),
    ("Ask a licensed psychologist or counselor.", "who"),
    ("A nurse practitioner may also prescribe.", "who"),
    ("Your prescriber decides the dose.", "who"),
    ("A dietitian and a pediatrician work together on eating disorders.", "who"),
    ("See your doctor if sleep does not improve.", "who"),
    # places and ways to find
    ("Search the Open Path Collective for low-cost sessions.", "where"),
    ("Many people start with BetterHelp.", "where"),
    ("Look on Psychology Today for someone near you.", "where"),
    ("NAMI runs free support groups.", "where"),
    ("Your insurer keeps a list of in-network clinicians.", "where"),
    ("Ask for referrals or use telehealth.", "where"),
    ("Sessions can also happen online.", "where"),
    ("Therapist directories let you filter by specialty.", "where"),
    ("Visit nimh.nih.gov for more.", "where"),
    # risks
    ("Common side effects include nausea and headaches.", "risks"),
    ("Stopping suddenly raises the risk of relapse.", "risks"),
    ("Some people feel fatigue in the first weeks.", "risks"),
    ("Weight gain is a known downside of some mood stabilizers.", "risks"),
    ("Side-effects fade for most.", "risks"),
    # safety
    ("It is generally safe to combine the two under supervision.", "safety"),
    ("Your prescriber will monitor your blood levels.", "safety"),
    ("Doses should be lowered safely over several weeks.", "safety"),
    ("Mixing them raises the risk of serotonin syndrome.", "safety"),
    ("Tapering requires guidance from your doctor.", "safety"),
]

CARRIES_NOT = [
    ("Sessions are usually held every two weeks.", "duration"),
    ("Meet once a month with your counselor.", "duration"),
    ("Your doctor will check in regularly.", "duration"),
    ("Therapy builds coping skills.", "duration"),
    ("Most people feel a difference after 3-4 weeks.", "frequency"),
    ("Exercise improves mood.", "frequency"),
    ("Sleep improves with a regular routine at night.", "who"),
    ("Patience rewards those who persist.", "who"),
    ("CBT teaches people to notice unhelpful thoughts.", "where"),
    ("SSRIs are the most common antidepressants.", "where"),
    ("Exercise lifts mood for many people.", "where"),
    ("Therapy builds coping skills.", "risks"),
    ("Journaling helps people notice patterns.", "risks"),
    ("Yoga is relaxing.", "safety"),
    ("Most people feel better within a month.", "safety"),
]


@pytest.mark.parametrize(("sentence", "kind"), CARRIES)
def test_carries_answer(sentence, kind):
    assert carries_answer(sentence, kind)


@pytest.mark.parametrize(("sentence", "kind"), CARRIES_NOT)
def test_does_not_carry_answer(sentence, kind):
    assert not carries_answer(sentence, kind)


@pytest.mark.parametrize("kind", ["whether", "how", "definition", "which", "why", "other"])
def test_kinds_without_a_carrier_accept_any_sentence(kind):
    assert carries_answer("The sky is blue.", kind)
    assert carries_answer("", kind)


def test_carries_answer_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown answer type 'length'"):
        carries_answer("Two weeks.", "length")


# ------------------------------------------------------------------- questions in a message

POST = (
    "So I've been struggling with anxiety for about two years now and my GP finally put me "
    "on sertraline last month. My sister says therapy is a waste of time but my friend swears "
    "by it. How long does it usually take for sertraline to start working? I'm also really "
    "busy with work and can barely find time to eat lunch. Anyway thanks for reading this, "
    "it's been a rough few weeks honestly."
)
POST_NO_MARKS = (
    "hi everyone. ive been on lexapro for 3 weeks and i dont feel any different yet. my "
    "therapist is nice but we only meet every other week and i dont know if thats enough. "
    "i was wondering if i should ask to go weekly. also does anyone know if the tiredness "
    "goes away. sorry for the long post lol"
)


def test_a_long_post_yields_its_question_from_the_middle():
    assert len(POST) > 300
    assert extract_questions(POST) == (
        "How long does it usually take for sertraline to start working?",
    )


def test_questions_without_question_marks_are_found_by_their_asks():
    assert extract_questions(POST_NO_MARKS) == (
        "i was wondering if i should ask to go weekly.",
        "also does anyone know if the tiredness goes away.",
    )


def test_a_question_mark_outranks_an_ask_and_the_limit_holds():
    post = (
        "My therapist is great and I like her a lot. I want to know more about the science. "
        "Is it normal to feel worse before feeling better? My partner has been supportive "
        "throughout all of this. What should I tell my psychiatrist about the side effects? "
        "We have a session on Thursday."
    )
    assert extract_questions(post) == (
        "Is it normal to feel worse before feeling better?",
        "What should I tell my psychiatrist about the side effects?",
    )
    assert extract_questions(post, limit=3)[2] == "I want to know more about the science."
    assert extract_questions(post, limit=1) == (
        "Is it normal to feel worse before feeling better?",
    )


def test_a_rhetorical_one_word_question_ranks_below_a_real_one():
    post = (
        "Why me? I started therapy for ptsd in the spring and it has been hard. My counselor "
        "wants to add exposure work. I keep going back and forth on it and I am tired of "
        "thinking about it. How often should exposure sessions happen?"
    )
    assert extract_questions(post)[0] == "How often should exposure sessions happen?"


def test_a_run_on_post_is_cut_at_its_ask():
    runon = (
        "i have been on meds for a long time and my doctor keeps changing them and my mom "
        "thinks i should stop and my boyfriend thinks i should keep going and honestly i dont "
        "know what to think anymore because nothing seems to work and i was wondering how "
        "long i should give a new medication before deciding it doesnt work for me"
    )
    assert extract_questions(runon) == (
        "i was wondering how long i should give a new medication before deciding it doesnt "
        "work for me",
    )


def test_a_post_without_a_question_falls_back_to_its_last_sentence():
    post = (
        "I just wanted to say that this article helped me a lot. I started therapy and "
        "medication together in the spring. It was hard at first. My therapist and "
        "psychiatrist talk to each other. Things are better now."
    )
    assert extract_questions(post) == ("Things are better now.",)


def test_a_short_message_is_its_own_question():
    assert extract_questions("  how long does zoloft take  ") == ("how long does zoloft take",)
    assert extract_questions("I take lexapro. It makes me tired. Is that normal?") == (
        "I take lexapro. It makes me tired. Is that normal?",
    )
    assert extract_questions("   ") == ()


def test_long_means_many_characters_or_many_sentences():
    assert is_long(POST)
    assert is_long("Hi. I am new. I take meds. Do they work?")
    assert not is_long("I take meds. Do they work?")


# ------------------------------------------------------------------------------ follow-ups

FOLLOW_UPS = [
    "And what about side effects?",
    "and for therapy?",
    "what about ocd",
    "and zoloft?",
    "how about talk therapy instead",
    "what if i stop",
    "but is it safe",
    "so how long then",
    "also for teens?",
    "ok and for kids?",
    "thanks, what about cbt",
    "same for anxiety",
    "with therapy too?",
    "for how long?",
    "how long until that works?",
    "is it safe?",
    "does it work",
    "are they addictive",
    "side effects?",
    "which is better?",
    "why?",
    "zoloft?",
    "how big of a difference tho",
    "like roughly a month or way longer?",
    "ok and which one is cheaper then",
]
NOT_FOLLOW_UPS = [
    "What are the side effects of therapy?",
    "who prescribes zoloft",
    "what is cbt",
    "how long does zoloft take to work",
    "is therapy worth it for anxiety",
    "how do i find a therapist near me",
    "Can medication and therapy be used at the same time?",
    "does cbt help with panic attacks",
    "what conditions benefit most from both",
    "is cbt better for ocd though",
    "",
]


@pytest.mark.parametrize("question", FOLLOW_UPS)
def test_is_follow_up(question):
    assert is_follow_up(question)


@pytest.mark.parametrize("question", NOT_FOLLOW_UPS)
def test_a_full_question_is_not_a_follow_up(question):
    assert not is_follow_up(question)


SWAPS = [
    ("and for therapy?", "what are the side effects of medication?", "what are the side effects of therapy?"),
    ("what about ocd", "how does therapy help with ptsd", "how does therapy help with ocd"),
    ("and zoloft?", "how long does therapy take to work", "how long does zoloft take to work"),
    ("And Zoloft?", "How long does therapy take to work?", "How long does Zoloft take to work?"),
    ("and prozac?", "how long does zoloft take to work", "how long does prozac take to work"),
    ("what about cbt", "can i do therapy while on medication", "can i do cbt while on medication"),
    ("what about zoloft", "can i do therapy while on medication", "can i do therapy while on zoloft"),
    ("same for anxiety", "which therapy works best for depression?", "which therapy works best for anxiety?"),
    ("what about for teens", "is therapy good for adults?", "is therapy good for teens?"),
    ("and at night?", "should i take my meds in the morning", "should i take my meds in the night"),
    ("and a psychologist?", "can a psychiatrist prescribe medication?", "can a psychologist prescribe medication?"),
    ("ok and for my gp?", "what should i tell my therapist", "what should i tell my gp"),
    ("how about talk therapy instead", "how long do meds take to kick in", "how long do talk therapy take to kick in"),
    ("What about PTSD and OCD?", "Does CBT help with depression?", "Does CBT help with PTSD and OCD?"),
    ("what about cbt for ocd?", "how does medication help with ptsd", "how does cbt help with ocd"),
    ("and bipolar?", "Which conditions respond to lithium, like depression?", "Which conditions respond to lithium, like bipolar?"),
]  # fmt: skip


@pytest.mark.parametrize(("question", "earlier", "rewritten"), SWAPS)
def test_rewrite_follow_up_swaps_the_subject(question, earlier, rewritten):
    assert rewrite_follow_up(question, earlier) == rewritten


NO_SWAPS = [
    ("how long until that works?", "should i try cbt"),  # a new thing about the same subject
    ("And what about side effects?", "How long does medication take to work?"),
    ("and what about zoloft side effects?", "how long does therapy take"),
    ("is it safe?", "what is dbt"),
    ("and for kids?", "is zoloft safe"),  # no population in the earlier question
    ("and pills?", "how long does medication take to work"),  # the same subject, other words
    ("and for therapy?", "do medication and therapy work better together?"),  # already there
    ("what about ocd", "do medication and therapy help depression and anxiety"),  # which one?
    ("and zoloft?", "how do i find a psychiatrist"),  # no treatment to swap
]


@pytest.mark.parametrize(("question", "earlier"), NO_SWAPS)
def test_rewrite_follow_up_declines(question, earlier):
    assert rewrite_follow_up(question, earlier) is None


# ---------------------------------------------------------------------------- lay terms


def test_expand_lay_terms_appends_canonical_words():
    assert expand_lay_terms("do meds or zoloft kick in fast") == (
        "do meds or zoloft kick in fast medication SSRI antidepressant work weeks"
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("my shrink wants me on wellbutrin", {"psychiatrist", "therapist", "antidepressant"}),
        ("is counseling enough", {"therapy"}),
        ("does counselling help", {"therapy"}),
        ("how long do pills take", {"medication"}),
        ("lexapro vs prozac", {"SSRI", "antidepressant", "medication"}),
        ("cymbalta side affects", {"SNRI", "effects"}),
        ("my GP said so", {"primary", "care", "provider", "doctor"}),
        ("Post-traumatic stress disorder and therapy", {"ptsd"}),
        ("when does adderall start working", {"stimulant", "ADHD", "medication", "weeks"}),
        ("im so anxious", {"anxiety"}),
        ("xanax and klonopin", {"benzodiazepine", "anxiety", "medication"}),
        ("this med leaves me so queasy", {"nausea", "side", "effects"}),
        ("i feel groggy every morning", {"fatigue", "side", "effects"}),
    ],
)
def test_expand_lay_terms(text, words):
    expanded = expand_lay_terms(text)
    assert expanded.startswith(text)
    assert words <= set(expanded[len(text) :].split())


def test_expand_lay_terms_adds_nothing_already_there_or_unknown():
    assert expand_lay_terms("how long does therapy take") == "how long does therapy take"
    assert expand_lay_terms("is talk therapy enough") == "is talk therapy enough"
    assert expand_lay_terms("do ssri medications work") == "do ssri medications work"
    assert expand_lay_terms("is ptsd treatable") == "is ptsd treatable"  # kept, not spelled out
    assert expand_lay_terms("") == ""
    # each word once, however many lay terms bring it
    assert expand_lay_terms("meds pills tablets").split().count("medication") == 1


# --------------------------------------------------------------------------- understand


def test_understand_a_short_question():
    assert understand("hw long does zoloft take to kick in") == Understood(
        "hw long does zoloft take to kick in",
        ("hw long does zoloft take to kick in",),
        "duration",
        follow_up=False,
        rewritten=False,
        contexts=("",),
    )


def test_understand_a_long_post_retrieves_with_its_question():
    got = understand(POST, ["what is cbt"])
    assert got.query == "How long does it usually take for sertraline to start working?"
    assert got.answer_type == "duration"
    assert not got.follow_up  # a long post carries its own context


def test_understand_rewrites_a_follow_up():
    got = understand("and zoloft?", ["how long does therapy take to work?"])
    assert got == Understood(
        "how long does zoloft take to work?", ("and zoloft?",), "duration", True, True, ("",)
    )


def test_understand_keeps_a_follow_up_it_cannot_rewrite_for_blending():
    got = understand("And what about side effects?", ["How long does medication take to work?"])
    assert (got.query, got.answer_type, got.follow_up, got.rewritten) == (
        "And what about side effects?",
        "risks",
        True,
        False,
    )


def test_an_elliptic_follow_up_asks_what_the_earlier_question_asked():
    got = understand("and for kids?", ["is zoloft safe?"])
    assert (got.query, got.answer_type, got.follow_up, got.rewritten) == (
        "and for kids?",
        "safety",
        True,
        False,
    )


def test_understand_resolves_a_chain_of_follow_ups():
    history = ["what are the side effects of zoloft?", "and prozac?"]
    got = understand("and for therapy?", history)
    assert got.query == "what are the side effects of therapy?"
    assert got.rewritten


def test_a_follow_up_that_was_not_rewritten_leaves_the_earlier_subject_in_place():
    got = understand("what about lexapro", ["how long does zoloft take to work", "is it safe?"])
    assert got.query == "how long does lexapro take to work"


@pytest.mark.parametrize(
    ("question", "earlier"),
    [
        ("how long before i feel anything", "my doc put me on lexapro"),
        ("where do i even start", "got diagnosed with depression yesterday"),
        ("how often should i be going", "been seeing a therapist for 2 months"),
    ],
)
def test_a_question_without_a_subject_leans_on_an_earlier_statement(question, earlier):
    got = understand(question, [earlier])
    assert (got.query, got.follow_up, got.rewritten) == (question, True, False)


@pytest.mark.parametrize(
    ("question", "earlier"),
    [
        ("how long before i feel anything", "hi, hope ur having a good day"),  # no subject
        ("which is cheaper, talkspace or betterhelp", "is online therapy ok"),  # names its own
        ("how long does it take to feel better after starting cbt", "im on lexapro"),
        # Longer than a follow-up is: it carries its own context.
        ("what should i do if i still feel nothing after a couple of months", "im on lexapro"),
    ],
)
def test_a_question_with_its_own_subject_or_nothing_to_lean_on_is_not_a_follow_up(
    question, earlier
):
    assert not understand(question, [earlier]).follow_up


def test_without_history_nothing_is_a_follow_up():
    got = understand("and for ocd?")
    assert (got.query, got.follow_up, got.rewritten) == ("and for ocd?", False, False)


def test_a_new_full_question_is_not_a_follow_up_even_with_history():
    got = understand("What are the side effects of therapy?", ["how long do meds take?"])
    assert (got.query, got.answer_type, got.follow_up) == (
        "What are the side effects of therapy?",
        "risks",
        False,
    )


def test_an_empty_message():
    assert understand("  ") == Understood("", (), "other", False, False)


def test_understood_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        understand("what is cbt").query = "x"  # type: ignore[misc]


# ------------------------------------------------------------------------------ lexicon


def test_lexicon_yaml_holds_only_strings():
    # A bare yes/no/on/off in YAML becomes a boolean and silently drops out of a word list.
    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                assert isinstance(key, str), key
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        else:
            assert isinstance(node, str), node

    walk(yaml.safe_load(LEXICON_PATH.read_text(encoding="utf-8")))


def test_lay_terms_expand_to_plain_words_and_brand_names_inherit_a_class():
    lex = load_lexicon()
    assert all(re.fullmatch(r"[A-Za-z ]+", canonical) for canonical in lex.lay_terms.values())
    assert lex.classes["zoloft"] == ("treatments", "medication")
    assert lex.classes["talk therapy"] == ("treatments", "therapy")
    assert lex.classes["shrink"][0] == "people"
    assert lex.classes["ptsd"][0] == "conditions"
    assert "kick in" not in lex.classes  # slang for a frame, not a subject


def test_pasted_markup_is_not_part_of_the_question():
    plain = understand("does therapy help with anxiety?")
    pasted = understand("<script>alert(1)</script><p>does <b>therapy</b> help with anxiety?</p>")
    assert pasted.query == plain.query and pasted.answer_type == plain.answer_type
    assert understand("is 5 < 10 mg ok?").query == "is 5 < 10 mg ok?"  # not a tag


# ------------------------------------------------------ acknowledgements, questions in full

ACKNOWLEDGED = [
    ("ok cool. how long before i see a difference tho", "how long before i see a difference tho"),
    ("Thanks! Got it. And for therapy?", "And for therapy?"),
    ("great, thanks! is therapy safe?", "is therapy safe?"),
    ("I see. Does it help?", "Does it help?"),
]


@pytest.mark.parametrize(("message", "question"), ACKNOWLEDGED)
def test_a_short_message_is_read_without_its_acknowledgements(message, question):
    assert without_acknowledgements(message) == question
    assert extract_questions(message) == (question,)


@pytest.mark.parametrize("message", ["ok.", "thanks so much", "I'm on zoloft. Is therapy safe?"])
def test_a_message_that_is_not_only_an_acknowledgement_is_kept_whole(message):
    assert without_acknowledgements(message) == message


def test_an_acknowledged_question_is_answered_as_asked():
    got = understand(
        "ok cool. how long before i see a difference", ["can i see a therapist on lexapro"]
    )
    # It names no subject of its own: it leans on the earlier question, without rewriting it.
    assert (got.query, got.answer_type, got.follow_up, got.rewritten) == (
        "how long before i see a difference",
        "duration",
        True,
        False,
    )


@pytest.mark.parametrize(
    "question",
    [
        "and how often does the med doctor check on u",
        "then what does therapy help with",
        "but is zoloft safe for teens?",
    ],
)
def test_a_question_in_full_after_an_opener_stands_alone(question):
    assert stands_alone(question)
    assert not understand(question, ["how often do people go to therapy"]).follow_up


@pytest.mark.parametrize(
    "question",
    [
        "and for the long run?",
        "but can i stop it once therapy starts?",
        "and zoloft?",
        "what about kids",
    ],
)
def test_a_question_leaning_on_the_earlier_one_does_not_stand_alone(question):
    assert not stands_alone(question)
    assert understand(question, ["is therapy or medication better for anxiety"]).follow_up


@pytest.mark.parametrize(
    ("message", "asks"),
    [
        ("been on two ssris and nothing changed, what now", True),
        ("therapist moved away. so what should i do next", True),
        ("does cbt help w panic", True),
        ("wondering if meds would help", True),
        ("started zoloft today", False),
        ("i know what now means", False),
    ],
)
def test_asks_something_reads_a_question_without_its_question_mark(message, asks):
    assert asks_something(message) is asks


POST_WITH_A_BARE_QUESTION = (
    "my psychiatrist wants me on lexapro and my therapist wants to try cbt first. my mom "
    "thinks both are a waste of money and im stuck in the middle. honestly i dont know who to "
    "listen to anymore. is one of them actually better than the other?"
)


def test_a_question_of_a_post_without_a_subject_leans_on_the_sentences_before_it():
    got = understand(POST_WITH_A_BARE_QUESTION)
    assert got.query == "is one of them actually better than the other?"
    # back to the nearest sentence that names a subject, which is kept
    assert got.context == (
        "my psychiatrist wants me on lexapro and my therapist wants to try cbt first. my mom "
        "thinks both are a waste of money and im stuck in the middle. honestly i dont know who "
        "to listen to anymore."
    )


@pytest.mark.parametrize(
    "message",
    [
        # the question names its own subject
        "my psychiatrist wants me on lexapro and my therapist wants to try cbt first. my mom "
        "thinks both are a waste of money and im stuck in the middle. honestly i dont know who "
        "to listen to anymore. is therapy actually better than lexapro?",
        # nothing within reach before it names one
        "i keep going back and forth. my mom says one thing and my sister says another and im "
        "stuck in the middle of it all every single day. honestly i dont know who to listen to "
        "anymore. is one of them actually better than the other?",
        # a short message is its own context
        "my gp mentioned zoloft. is one of them better?",
    ],
)
def test_a_question_that_names_its_subject_or_has_none_in_reach_leans_on_nothing(message):
    assert understand(message).context == ""


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (
            "been on meds a year and therapy every other week. is that what they usually do?",
            "whether",
        ),
        ("we talk every few weeks, i didnt know that was a thing. why would they do it?", "why"),
        ("i see her every monday. how long until i notice anything?", "duration"),
    ],
)
def test_the_kind_of_answer_is_read_from_the_sentences_that_ask_not_those_that_tell(message, kind):
    assert understand(message).answer_type == kind
