"""Pure: misspelt words of a question -> the articles' own words ("anxeity" -> "anxiety"),
and the words of a question that name something ("tms", "acupuncture": `names_in`).

The sentence embedding and the keyword search both miss a word that is typed wrong: to the
model "pyschiatrist" is a few word pieces with little meaning. A word is corrected only when
it is neither one of the articles' words (or the lexicon's) nor an English word in everyday
use (by wordfreq's word frequencies), and exactly one of the articles' words is within one
edit of it (two for long words). Everything else is left as typed: a rare real word
("queasy") is never turned into a different one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein
from wordfreq import top_n_list, zipf_frequency

from bot.evidence import STOPWORDS
from bot.lexicon import load_lexicon

MIN_LENGTH = 6  # shorter words ("appts", "theyd") have too many neighbours to guess from
LONG = 8  # from this length, two edits are allowed
EVERYDAY = 2.5  # wordfreq's Zipf scale: a word at least this frequent in English is real
# Rarer than this, a word that is no typo, shorthand or derived word names something: a
# treatment, a test, a product ("tms", "emdr", "acupuncture").
NAME = 3.2
COMMON = 3.5  # at least this frequent: a word a rare one may be a typo or a part of
# Endings of words that describe rather than name ("foggy", "nauseous", "doomscrolling").
_DESCRIBES = re.compile(r"(?:y|ous|ness|ly|ed|ing|ish|ful|less|ic|al|ive|able|ise|ize)$")
_WORD = re.compile(r"[A-Za-z]+")


@functools.lru_cache(maxsize=65536)
def everyday_english(word: str) -> bool:
    return zipf_frequency(word, "en") >= EVERYDAY


@functools.cache
def _common_words() -> tuple[str, ...]:
    return tuple(
        w for w in top_n_list("en", 40000) if w.isalpha() and zipf_frequency(w, "en") >= COMMON
    )


@functools.lru_cache(maxsize=65536)
def is_name(word: str) -> bool:
    """True when a lower-case word names something rather than being an everyday word typed
    as people type: rare in English, and not chat shorthand ("appt"), a word with its
    apostrophe left out ("hasnt"), a derived word ("foggy"), the plural of an everyday word
    ("acronyms"), two everyday words run together ("timeframe") or a typo of an everyday
    word.

    >>> [w for w in ["tms", "acupuncture", "appt", "hasnt", "foggy", "bandaid", "therapy"] if is_name(w)]
    ['tms', 'acupuncture']
    """
    if len(word) < 3 or not word.isalpha() or zipf_frequency(word, "en") >= NAME:
        return False
    if word in load_lexicon().words["shorthand"] or _DESCRIBES.search(word):
        return False
    if len(word) > 4 and word.endswith("s") and zipf_frequency(word[:-1], "en") >= NAME:
        return False  # the plural of an everyday word ("acronyms")
    if any(zipf_frequency(f"{word[:i]}'{word[i:]}", "en") >= NAME for i in range(1, len(word))):
        return False
    halves = ((word[:i], word[i:]) for i in range(3, len(word) - 2))
    if any(
        zipf_frequency(a, "en") >= COMMON and zipf_frequency(b, "en") >= COMMON for a, b in halves
    ):
        return False
    if len(word) < MIN_LENGTH:
        return True
    # A typo keeps its first letter; two edits only in a long word ("ketamine" is two from
    # "examine").
    edits = 2 if len(word) >= 10 else 1
    near = process.extract(
        word, _common_words(), scorer=DamerauLevenshtein.distance, score_cutoff=edits, limit=5
    )
    return not any(w[0] == word[0] for w, _, _ in near)


def names_in(text: str) -> tuple[str, ...]:
    """The words of a text that name something (`is_name`), lower case, in order.

    >>> names_in("is TMS better than therapy, ngl")
    ('tms',)
    """
    words = re.findall(r"[a-z]+", text.lower().replace("'", "").replace("’", ""))
    return tuple(dict.fromkeys(w for w in words if w not in STOPWORDS and is_name(w)))


def words_in(texts: Iterable[str]) -> set[str]:
    """The lower-case words of `texts` long enough to be corrected to."""
    words = {w.lower() for text in texts for w in _WORD.findall(text)}
    return {w for w in words if len(w) >= MIN_LENGTH - 1}


@dataclass(frozen=True)
class Speller:
    """The vocabulary the corrections may lead to: lower-case words of the articles, their
    question banks and the lexicon."""

    words: tuple[str, ...]

    @classmethod
    def of(cls, texts: Iterable[str]) -> Speller:
        return cls(tuple(sorted(words_in(texts))))

    @functools.cached_property
    def _known(self) -> frozenset[str]:
        return frozenset(self.words)

    def correct_word(self, word: str) -> str | None:
        """The article word meant by a misspelt `word`, or None."""
        lower = word.lower()
        if len(lower) < MIN_LENGTH or lower in self._known or everyday_english(lower):
            return None
        edits = 2 if len(lower) >= LONG else 1
        found = process.extract(
            lower, self.words, scorer=DamerauLevenshtein.distance, score_cutoff=edits, limit=2
        )
        if not found:
            return None
        best = found[0][1]
        close = [w for w, d, _ in found if d == best]
        return close[0] if len(close) == 1 else None

    def correct(self, text: str) -> str:
        """The text with each misspelt word replaced by the article word it stands for.

        >>> Speller.of(["Anxiety and a psychiatrist"]).correct("does it help anxeity? pyschiatrist")
        'does it help anxiety? psychiatrist'
        """

        def fix(m: re.Match) -> str:
            word = m.group()
            meant = self.correct_word(word)
            if meant is None:
                return word
            return meant.capitalize() if word[0].isupper() else meant

        return _WORD.sub(fix, text)
