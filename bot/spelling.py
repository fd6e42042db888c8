"""Pure: misspelt words of a question -> the articles' own words ("anxeity" -> "anxiety").

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
from wordfreq import zipf_frequency

MIN_LENGTH = 6  # shorter words ("appts", "theyd") have too many neighbours to guess from
LONG = 8  # from this length, two edits are allowed
EVERYDAY = 2.5  # wordfreq's Zipf scale: a word at least this frequent in English is real
_WORD = re.compile(r"[A-Za-z]+")


@functools.lru_cache(maxsize=65536)
def everyday_english(word: str) -> bool:
    return zipf_frequency(word, "en") >= EVERYDAY


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
