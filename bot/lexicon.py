"""Pure: the vocabulary of bot/data/lexicon.yaml, compiled once, and the lookups on it: the
subject terms of a text, its lay terms and brand names in the articles' words."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.evidence import tokenize

LEXICON_PATH = Path(__file__).parent / "data" / "lexicon.yaml"
ANSWER_TYPES = ("duration", "frequency", "who", "where", "safety", "risks", "definition", "how", "whether", "which", "why", "other")  # fmt: skip


@dataclass(frozen=True)
class Term:
    """A lexicon term found in a text, as typed (`text[start:end]`), with its class."""

    text: str
    start: int
    end: int
    key: str  # the lexicon entry it matched
    cls: str
    group: str


@dataclass(frozen=True)
class Lexicon:
    """bot/data/lexicon.yaml, compiled: the words, and the English phrasing as regexes."""

    typos: dict[str, str]
    classes: dict[str, tuple[str, str]]  # term -> (class, group), lay terms included
    lay_terms: dict[str, str]  # lay term -> canonical words
    terms: re.Pattern  # every class term and lay term
    people: str  # a regex of the people terms
    carriers: dict[str, re.Pattern]
    answer_types: tuple[tuple[str, re.Pattern], ...]  # in order: the first match wins
    phrases: dict[str, re.Pattern]  # lead_ins, asks, opens_ask, follow_up_openers, ...
    words: dict[str, frozenset[str]]  # verbs, fillers, after_how

    def key(self, found: str) -> str | None:
        """The entry a match stands for: "Talk-Therapies" -> "talk therapy"."""
        word = " ".join(re.split(r"[\s-]+", found.lower()))
        plural_y = word[:-3] + "y" if word.endswith("ies") else word
        for stem in (word, word.removesuffix("s"), word.removesuffix("es"), plural_y):
            if stem in self.classes or stem in self.lay_terms:
                return stem
        return None

    def find(self, text: str) -> list[Term]:
        """The subject terms (those with a class) in `text`, in order."""
        found = []
        for m in self.terms.finditer(text):
            key = self.key(m.group())
            if key in self.classes:
                found.append(Term(m.group(), m.start(), m.end(), key, *self.classes[key]))
        return found

    def meaning(self, key: str) -> str:
        """What a term means for telling subjects apart: "meds" and "pills" -> "medication",
        but "zoloft" stays "zoloft" (its canonical words name a kind, not the drug)."""
        canonical = self.lay_terms.get(key, key).lower()
        return canonical if canonical in self.classes else key


def _alternation(words) -> str:
    """One regex for whole words, longest first, with plurals; a space also matches "-"."""
    parts = []
    for word in sorted(set(words), key=len, reverse=True):
        body = r"[\s-]+".join(re.escape(w) for w in word.split())
        parts.append(body[:-1] + "(?:y|ies)" if word.endswith("y") else body + "(?:e?s)?")
    return r"\b(?:" + "|".join(parts) + r")\b"


@functools.cache
def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    """Read bot/data/lexicon.yaml once; lay terms take the class of their canonical words."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    classes: dict[str, tuple[str, str]] = {}
    for cls, groups in data["classes"].items():
        for group, words in groups.items() if isinstance(groups, dict) else [(cls, groups)]:
            classes.update({w: (cls, group) for w in words if w not in classes})
    lay = {w: canonical for canonical, words in data["lay_terms"].items() for w in words}
    for word, canonical in lay.items():
        owner = next((c for c in [canonical, *canonical.split()] if c.lower() in classes), None)
        if owner and word not in classes:
            classes[word] = classes[owner.lower()]
    people = _alternation(w for w, c in classes.items() if c[0] == "people")
    macros = {**data["macros"], "PEOPLE": people}

    def compile_(alternatives, flags=0) -> re.Pattern:
        pattern = "|".join(alternatives)
        while re.search(r"%[A-Z]+%", pattern):  # macros may use macros
            pattern = re.sub(r"%([A-Z]+)%", lambda m: macros[m[1]], pattern)
        return re.compile(pattern, flags)

    carriers = {}
    for kind in ANSWER_TYPES:  # word lists and patterns, as one regex per kind
        words = [_alternation(data["carriers"][kind])] if kind in data["carriers"] else []
        if alternatives := [*data["carrier_patterns"].get(kind, ()), *words]:
            carriers[kind] = compile_(alternatives, re.I)
    acks, openers = _alternation(data["acknowledgements"]), _alternation(data["follow_up_openers"])
    return Lexicon(
        typos=data["typos"],
        classes=classes,
        lay_terms=lay,
        terms=re.compile(_alternation([*classes, *lay]), re.I),
        people=people,
        carriers=carriers,
        answer_types=tuple((r["kind"], compile_(r["match"])) for r in data["answer_types"]),
        phrases={
            "lead_ins": compile_(data["lead_ins"]),
            "asks": compile_(data["asks"], re.I),
            "opens_ask": compile_(data["opens_ask"], re.I),
            "follow_up_openers": re.compile(rf"^(?:{acks} (?:, )?)*{openers}"),
            "follow_up_closers": re.compile(rf"{_alternation(data['follow_up_closers'])}$"),
            "acknowledgement": re.compile(rf"^(?:(?:{acks}) ?,? ?)+$"),
            "every": compile_(["%EVERY%"], re.I),
            "place_names": compile_(data["place_names"]),
        },
        words={k: frozenset(data[k]) for k in ("verbs", "fillers", "after_how", "shorthand")},
    )


def lay_term_words(text: str) -> frozenset[str]:
    """The stemmed words of the lay terms and brand names in the text ("zoloft", "meds"):
    words the lexicon knows, so their absence from an article says nothing of its coverage.

    >>> sorted(lay_term_words("do meds or zoloft kick in fast"))
    ['kick', 'med', 'zoloft']
    """
    lex = load_lexicon()
    words: set[str] = set()
    for m in lex.terms.finditer(re.sub(r"['’`]", "", text)):
        if lex.lay_terms.get(lex.key(m.group()) or ""):
            words |= set(tokenize(m.group()))
    return frozenset(words)


def lexicon_words() -> list[str]:
    """The subject terms, lay terms, brand names and canonical words of the lexicon (what a
    misspelt word may be corrected to, besides the articles' words)."""
    lex = load_lexicon()
    return [*lex.classes, *lex.lay_terms, *lex.lay_terms.values()]


def in_article_words(text: str) -> str:
    """The text with its lay terms and brand names replaced by the canonical words, for a
    second embedding: "combine pills and counseling" reads as the articles would say it.

    >>> in_article_words("is it better to do pills and counseling")
    'is it better to do medication and therapy'
    """
    lex = load_lexicon()

    def canonical(m: re.Match) -> str:
        return lex.lay_terms.get(lex.key(m.group()) or "", "") or m.group()

    return lex.terms.sub(canonical, re.sub(r"['’`]", "", text))


def expand_lay_terms(text: str) -> str:
    """The text plus the canonical words of the lay terms and brand names in it.

    >>> expand_lay_terms("do meds or zoloft kick in fast")
    'do meds or zoloft kick in fast medication SSRI antidepressant work weeks'
    """
    lex = load_lexicon()
    have, added = set(tokenize(text)), []
    for m in lex.terms.finditer(re.sub(r"['’`]", "", text)):
        for word in lex.lay_terms.get(lex.key(m.group()) or "", "").split():
            stems = set(tokenize(word))
            if stems and not stems <= have:
                have |= stems
                added.append(word)
    return " ".join([text, *added])


SPECIFIC_CLASSES = ("conditions", "populations")


@functools.lru_cache(maxsize=4096)  # FAQ chunks are asked about again and again
def specifics(text: str) -> frozenset[str]:
    """The specific subjects a text names: conditions and groups of people, in the lexicon's
    canonical words ("im so anxious" and "anxiety" both name "anxiety").

    >>> sorted(specifics("can teens with ptsd or anxious kids do both"))
    ['anxiety', 'kid', 'ptsd', 'teen']
    """
    lex = load_lexicon()
    found = lex.find(re.sub(r"['’`]", "", text))
    return frozenset(lex.meaning(t.key) for t in found if t.cls in SPECIFIC_CLASSES)


def subjects_agree(asked: frozenset[str], offered: frozenset[str]) -> bool:
    """True when every specific subject asked about is one the offered text names ("bipolar"
    agrees with "bipolar disorder"): an answer about depression and anxiety says nothing of
    insomnia, however close the rest of the question is.

    >>> subjects_agree(frozenset({"bipolar"}), frozenset({"bipolar disorder", "ocd"}))
    True
    >>> subjects_agree(frozenset({"insomnia"}), frozenset({"depression", "anxiety"}))
    False
    """
    words = [set(o.split()) for o in offered]
    return all(any(set(a.split()) <= w or w <= set(a.split()) for w in words) for a in asked)
