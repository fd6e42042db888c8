"""Pure: a message (and earlier ones) -> the question to retrieve with and the answer it wants."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.evidence import STOPWORDS, tokenize
from bot.lexicon import ANSWER_TYPES, load_lexicon
from bot.spelling import everyday_english

LONG_CHARS, LONG_SENTENCES = 250, 3  # a message past either is a post with questions inside
SHORT_WORDS = 5  # this short and without a verb, a question leans on the last
PRONOUN_WORDS = 8  # this short with a pronoun for the topic ("can i stop it once ..."), too


@dataclass(frozen=True)
class Understood:
    query: str  # what to retrieve with: the best question found, or a follow-up rewritten
    questions: tuple[str, ...]  # the question sentences found (a short message: itself)
    answer_type: str  # one of ANSWER_TYPES, for the query
    follow_up: bool  # the message leans on the earlier one
    rewritten: bool  # a follow-up was rewritten from the earlier question (subject swapped)
    # For each question of a long post, the sentences before it that it leans on ("is one of
    # them better?" after a sentence naming both treatments), or "".
    contexts: tuple[str, ...] = ()

    @property
    def context(self) -> str:
        """What the query leans on within its own message, or ""."""
        return self.contexts[0] if self.contexts else ""


def _normalise(text: str) -> str:
    """Lower case, apostrophes dropped, typos fixed, punctuation but "," and "?" dropped.

    >>> _normalise("Hw lnog til it kicks in??")
    'how long until it kicks in ? ?'
    """
    lex = load_lexicon()
    text = re.sub(r"[^a-z0-9,?]+", " ", re.sub(r"['’`]", "", text.lower()))
    words = " ".join(lex.typos.get(w, w) for w in re.sub(r"([,?])", r" \1 ", text).split()).split()
    for i in range(1, len(words)):  # after "how" comes one of a few words: "how lnog"
        if words[i - 1] == "how" and words[i] not in STOPWORDS:
            close = difflib.get_close_matches(words[i], lex.words["after_how"], 1, 0.75)
            words[i] = close[0] if close else words[i]
    return " ".join(words)


def answer_type(question: str) -> str:
    """The kind of answer a question wants, one of ANSWER_TYPES.

    >>> answer_type("hw lon til zoloft kicks in"), answer_type("wat is cbt")
    ('duration', 'definition')
    """
    lex = load_lexicon()
    text = " ".join(lex.phrases["lead_ins"].sub(" , ", _normalise(question)).split())
    text = re.sub(r"(?:^|, )(?:if|whether)\b", ", does", text)
    return next((kind for kind, rule in lex.answer_types if rule.search(text)), "other")


def carries_answer(sentence: str, kind: str) -> bool:
    """True when the sentence carries that kind of answer; kinds without a recognisable
    carrier (how, whether, definition, which, why, other) are always True.

    >>> carries_answer("Most people notice a change within a month.", "duration")
    True
    >>> carries_answer("Sessions are usually every two weeks.", "duration")
    False
    """
    if kind not in ANSWER_TYPES:
        raise ValueError(f"unknown answer type {kind!r}; expected one of {ANSWER_TYPES}")
    lex = load_lexicon()
    if kind == "duration":  # "every two weeks" tells how often, not how long
        sentence = lex.phrases["every"].sub(" ", sentence)
    if kind not in lex.carriers or lex.carriers[kind].search(sentence):
        return True
    names = lex.phrases["place_names"].finditer(sentence) if kind == "where" else ()
    return any(not m["acronym"] or lex.key(m.group()) is None for m in names)


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\s*\n+\s*")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def is_long(message: str) -> bool:
    """A post rather than a question: longer than LONG_CHARS or than LONG_SENTENCES."""
    return len(message.strip()) > LONG_CHARS or len(_sentences(message)) > LONG_SENTENCES


def extract_questions(message: str, limit: int = 2) -> tuple[str, ...]:
    """The sentences of a long message that ask something, most question-like first (a "?"
    and an ask, then either), then in order; a short message is itself the one question."""
    text = message.strip()
    if not text:
        return ()
    if not is_long(text):
        return (without_acknowledgements(text),)
    lex, sentences, found = load_lexicon(), _sentences(text), []
    for i, sentence in enumerate(sentences):
        score = _ask_score(sentence)
        ask = lex.phrases["asks"].search(sentence.replace("’", "'"))
        if score:
            if ask and len(sentence) > LONG_CHARS:  # a run-on post: the question starts at the ask
                sentence = sentence[ask.start() :]
            found.append((-score, len(tokenize(sentence)) < 2, i, sentence))
    return tuple(s for *_, s in sorted(found)[:limit]) or (sentences[-1],)


POST_CONTEXT_SENTENCES = 3  # a question leans on at most this many sentences before it


def post_context(message: str, question: str) -> str:
    """The sentences before a question of a long post that it leans on, when it names no
    subject of its own: back to the nearest one that names a subject, at most
    POST_CONTEXT_SENTENCES; "" when the question names its subject or nothing before it does.

    >>> post_context("my sister swears by therapy. my dad says zoloft saved him. who is right. "
    ...              "is one of them better?", "is one of them better?")
    'my dad says zoloft saved him. who is right.'
    """
    lex = load_lexicon()
    if not is_long(message) or lex.find(question):
        return ""
    sentences = _sentences(message)
    at = next((i for i, s in enumerate(sentences) if question in s), None)
    if not at:
        return ""
    for i in range(at - 1, max(at - POST_CONTEXT_SENTENCES, 0) - 1, -1):
        if lex.find(sentences[i]):
            return " ".join(sentences[i:at])
    return ""


def _ask_score(sentence: str) -> int:
    """How plainly a sentence asks: 2 for a "?", 1 more for an ask ("can i", "should i"),
    0 when it only tells."""
    lex = load_lexicon()
    plain = sentence.replace("’", "'")
    ask = lex.phrases["asks"].search(plain) or lex.phrases["opens_ask"].match(plain)
    return 2 * plain.rstrip(" )\"'!").endswith("?") + bool(ask)


def asking_part(text: str) -> str:
    """The sentences of a message that ask, without those that only tell: what the kind of
    answer is read from ("we meet every other week. is that what they usually do?" asks no
    frequency).

    >>> asking_part("been on meds a year, therapy every other week. why would they do that?")
    'why would they do that?'
    """
    asking = [s for s in _sentences(text) if _ask_score(s)]
    return " ".join(asking) if asking else text


def without_acknowledgements(text: str) -> str:
    """A short message without the sentences that only acknowledge the last reply: "ok cool.
    how long before i see a difference" asks "how long before i see a difference".

    >>> without_acknowledgements("Thanks! Got it. And for therapy?")
    'And for therapy?'
    """
    ack = load_lexicon().phrases["acknowledgement"]
    sentences = _sentences(text)
    kept = [s for s in sentences if not ack.match(_normalise(s).replace(" ?", "").strip())]
    return " ".join(kept) if kept and len(kept) < len(sentences) else text


def asks_something(message: str) -> bool:
    """True when some sentence of the message asks a question ("?" or an ask such as "can i",
    "should i", "does anyone know"), not only tells something.

    >>> asks_something("relapsed after two years"), asks_something("does therapy help w that")
    (False, True)
    """
    return any(_ask_score(sentence) for sentence in _sentences(message.strip()))


_PRONOUNS = frozenset(["that", "it", "they", "them", "those", "this", "these"])
_WH = frozenset(["how", "what", "who", "where", "when", "why", "which"])


def is_follow_up(question: str) -> bool:
    """True when the question leans on an earlier turn: it opens like a continuation ("and",
    "what about", "same for"), or it is short and has a pronoun for the topic or no verb.

    >>> is_follow_up("And what about side effects?"), is_follow_up("What are the side effects of therapy?")
    (True, False)
    >>> is_follow_up("how big of a difference tho"), is_follow_up("is cbt better for ocd though")
    (True, False)
    """
    lex, text = load_lexicon(), _normalise(question)
    if lex.phrases["follow_up_openers"].match(text.replace(" ,", "")):
        return not stands_alone(question)
    words = re.findall(r"[a-z0-9]+", text)
    if not words or len(words) > PRONOUN_WORDS:
        return False
    if lex.phrases["follow_up_closers"].search(" ".join(words)):
        return not stands_alone(question)  # "how big of a difference tho"
    if not tokenize(" ".join(words)):
        return True  # "is it safe?", "which is better?"
    if _PRONOUNS & set(words) and (len(words) <= SHORT_WORDS or len(lex.find(question)) <= 1):
        return True  # "what tools can i use for that?", "can i stop it once therapy starts?"
    if len(words) > SHORT_WORDS:
        return False
    verb = any(w in lex.words["verbs"] or (len(w) > 4 and w.endswith("ing")) for w in words)
    return not verb and not (words[0] in _WH and len(words) >= 3)  # "who prescribes zoloft"


def stands_alone(question: str) -> bool:
    """True when a question names its own subject, has a verb and no pronoun for an earlier
    topic: "and how often does the med doctor check on you" asks in full, however it opens.

    >>> stands_alone("and how often does the med doctor check on u"), stands_alone("and for kids?")
    (True, False)
    """
    lex = load_lexicon()
    words = re.findall(r"[a-z0-9]+", _normalise(question))
    return (
        bool(lex.find(question))
        and not _PRONOUNS & set(words)
        and any(w in lex.words["verbs"] for w in words)
        and len(tokenize(question)) >= 2
    )


def leans_on(question: str, earlier: str) -> bool:
    """True when a short question names no subject of its own and the earlier message names
    one: "how long before i feel anything" after "my doc put me on lexapro" asks about lexapro.
    A word that is not everyday English is a name the lexicon does not know ("talkspace"): the
    question has a subject of its own.

    >>> leans_on("how long before i feel anything", "my doc put me on lexapro")
    True
    >>> leans_on("is it cheaper on talkspace", "is online therapy ok"), leans_on("is zoloft safe", "i'm on lexapro")
    (False, False)
    """
    lex = load_lexicon()
    words = re.findall(r"[a-z]+", _normalise(question))
    return (
        0 < len(words) <= PRONOUN_WORDS
        and all(everyday_english(w) for w in words if w not in STOPWORDS)
        and not lex.find(question)
        and bool(lex.find(earlier))
    )


def rewrite_follow_up(question: str, earlier: str) -> str | None:
    """The earlier question with its subject swapped for the follow-up's, when the follow-up
    only names a new subject; None when it asks something new, or nothing matches.

    >>> rewrite_follow_up("and zoloft?", "how long does therapy take to work")
    'how long does zoloft take to work'
    """
    lex = load_lexicon()
    new = lex.find(question)
    rest = question
    for term in reversed(new):
        rest = rest[: term.start] + " " + rest[term.end :]
    asked = [w for w in _normalise(rest).split() if w.isalnum() and w not in STOPWORDS]
    if not new or any(w not in lex.words["fillers"] for w in asked):
        return None  # no new subject, or more than one: "and what about zoloft side effects?"
    old, swaps = lex.find(earlier), {}
    for cls in dict.fromkeys(t.cls for t in new):  # "what about ptsd and ocd?" swaps one for both
        terms = [t for t in new if t.cls == cls]
        same = [t for t in old if t.cls == cls]
        if any(lex.meaning(t.key) == lex.meaning(n.key) for t in same for n in terms):
            return None  # the same subject: nothing to swap
        pick = [t for t in same if t.group in {n.group for n in terms}] or same
        if len(pick) != 1:
            return None  # none, or no telling which one the follow-up replaces
        swaps[pick[0]] = " and ".join(t.text for t in terms)
    text = earlier
    for old_term in sorted(swaps, key=lambda t: -t.start):
        text = text[: old_term.start] + swaps[old_term] + text[old_term.end :]
    return text.strip()


def _earlier(history: Sequence[str]) -> str | None:
    """The question the latest earlier message asked, its own follow-ups resolved."""
    resolved = None
    for turn in history:
        asked = extract_questions(turn)
        if not asked:
            continue
        if resolved is not None and not is_long(turn) and is_follow_up(asked[0]):
            resolved = rewrite_follow_up(asked[0], resolved) or resolved
        else:
            resolved = asked[0]
    return resolved


_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?(?:</\1\s*>|$)", re.I | re.S)
_TAG = re.compile(r"</?[a-z][^<>]*>", re.I)


def without_markup(text: str) -> str:
    """The text without HTML tags, and without what a script or style element holds: pasted
    markup is not part of what is asked.

    >>> without_markup("<script>alert(1)</script> does <b>therapy</b> help?")
    ' does therapy help?'
    """
    return _TAG.sub("", _SCRIPT.sub("", text))


def understand(message: str, history: Sequence[str] = ()) -> Understood:
    """What a message asks: its best question, or a follow-up rewritten as a full question
    from the earlier messages in `history` (oldest first). A message with no earlier
    question to lean on is never a follow-up; a long post carries its own context."""
    text = without_markup(message)
    questions = extract_questions(text)
    contexts = tuple(post_context(text, q) for q in questions)
    query = questions[0] if questions else ""
    kind = answer_type(asking_part(query))
    earlier = _earlier(history)
    follow_up = (
        bool(query)
        and earlier is not None
        and not is_long(message)
        and (is_follow_up(query) or leans_on(query, earlier))
    )
    rewritten = None
    if follow_up:
        rewritten = rewrite_follow_up(query, earlier)
        if rewritten:
            query, kind = rewritten, answer_type(asking_part(rewritten))
        elif kind == "other":  # "and for kids?" keeps asking what the earlier question asked
            kind = answer_type(asking_part(earlier))
    return Understood(query, questions, kind, follow_up, bool(rewritten), contexts)
