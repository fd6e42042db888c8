"""Deterministic safety layer: input hygiene, crisis/abuse/boundary detection, fixed replies."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"
PATTERNS_PATH = DATA_DIR / "safety_patterns.yaml"

# Detection reads at most this much text (bounded regex cost); clean_input cuts far earlier.
MAX_SCAN_CHARS = 20_000
_FUZZY_MAX = 30  # longest token worth checking for a typo of a key word


@dataclass(frozen=True)
class CleanInput:
    text: str  # control characters stripped (keep \n and \t), whitespace trimmed, cut to max_chars
    truncated: bool  # True when the input was longer than max_chars
    empty: bool  # True when nothing but whitespace/control chars was given


@dataclass(frozen=True)
class Verdict:
    kind: str  # "crisis" | "abuse" | "medication" | "stopping" | "diet"
    rule: str  # short id of the rule/pattern group that matched, safe to log (never user text)
    tier: str = "concern"  # crisis rules: "urgent" for plans, means, attempts, danger now
    who: str = ""  # "self", "other" (someone else), "abuse", or "" when the rule does not say
    weak: bool = False  # a bare keyword: counts only when the classifier agrees (bot/risk.py)


# --------------------------------------------------------------------------- input hygiene


def _is_stripped(ch: str) -> bool:
    """Control (Cc, except \\n and \\t), format (Cf: zero-width, bidi, soft hyphen) or surrogate."""
    if ch in "\n\t":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs")


def clean_input(text: str | None, max_chars: int = 2000) -> CleanInput:
    """Strip control/format characters, trim, and cut to `max_chars` characters."""
    if not text:
        return CleanInput(text="", truncated=False, empty=True)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if not _is_stripped(ch)).strip()
    if not text:
        return CleanInput(text="", truncated=False, empty=True)
    truncated = len(text) > max_chars
    if truncated:
        text = text[:max_chars].rstrip()
    return CleanInput(text=text, truncated=truncated, empty=False)


# --------------------------------------------------------------------------- normalisation

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc\u0060\u00b4\u2032]")
_OD_PAST = re.compile(r"\bOD(?:['\u2019-]?(?:d|ed|ing|s))\b")
_OD_PAST_ANY_CASE = re.compile(r"\bo\.?d\.?['\u2019-](?:d|ed|ing)\b")
_LEET_RUN = re.compile(r"[a-z0-9@$]+")  # runs; fix() leaves those without a digit alone
_NUMBER_UNIT = re.compile(r"\d+(?:[.,]\d+)?[a-z]{0,4}")
_LEET_I = str.maketrans("013457@$", "oieastas")  # k1ll -> kill
_LEET_L = str.maketrans("013457@$", "oleastas")  # ki11 -> kill
_INNER_BANG = re.compile(r"(?<=[a-z])[!|](?=[a-z])")
# Runs of letters and stars; one with both may be a starred-out word ("k*ll"). A simpler pattern
# than "letters around a star" keeps matching linear on long runs of letters.
_STARRED = re.compile(r"[a-z*]+")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_SPACED_LETTERS = re.compile(r"\b(?:[a-z] ){3,}[a-z]\b")
# Cyrillic/Greek look-alikes, mapped only inside tokens that also hold ASCII letters ("kіll").
_HOMOGLYPHS = str.maketrans("аеорсухіјѕԁοαιεκνρτυ", "aeopcyxijsdoaiekvptu")


@functools.lru_cache(maxsize=1)
def _patterns() -> dict:
    """Load and compile bot/data/safety_patterns.yaml once."""
    data = yaml.safe_load(PATTERNS_PATH.read_text(encoding="utf-8"))
    macros = data["macros"]

    def expand(pattern: str) -> str:
        for _ in range(10):  # macros may nest; ten levels is plenty
            new = re.sub(r"%([A-Z]+)%", lambda m: macros[m.group(1)], pattern)
            if new == pattern:
                return new
            pattern = new
        raise ValueError(f"macro expansion does not terminate: {pattern[:80]}")

    def rules(entries: list[dict]) -> list[tuple[Verdict, re.Pattern]]:
        join = "|".join
        return [
            (
                Verdict(
                    kind=e["kind"],
                    rule=e["id"],
                    tier=e.get("tier", "concern"),
                    who=e.get("who", "abuse" if e["kind"] == "abuse" else ""),
                    weak=bool(e.get("weak", False)),
                ),
                re.compile(join(f"(?:{expand(p)})" for p in e["patterns"])),
            )
            for e in entries
        ]

    fuzzy = data["fuzzy"]
    return {
        "typos": {str(k): str(v) for k, v in data["typos"].items()},
        "fuzzy_targets": tuple(fuzzy["targets"]),
        "fuzzy_cutoff": float(fuzzy["cutoff"]),
        "fuzzy_min": int(fuzzy["min_length"]),
        "fuzzy_keep": frozenset(fuzzy["keep"]),
        "wildcards": tuple(data["wildcard_words"]),
        "english": frozenset(data["language"]["english"]),
        "foreign": frozenset(data["language"]["foreign"]),
        "compound_words": frozenset(data["compounds"]["words"]),
        "merge_targets": frozenset(data["merge_targets"]),
        "compound_strong": frozenset(data["compounds"]["strong"]),
        "emoji": str.maketrans({k: f" {v} " for k, v in data["emoji"].items()}),
        "exclusions": [re.compile(expand(p)) for p in data["exclusions"]],
        # Strong rules first: a weak one (a bare keyword) names the verdict only when no
        # strong one matches.
        "crisis": sorted(rules(data["rules"]), key=lambda rule: rule[0].weak),
        "boundary": rules(data["boundary"]),
        "ingestion": re.compile("|".join(f"(?:{expand(p)})" for p in data["ingestion"])),
        "taken": re.compile("|".join(f"(?:{expand(p)})" for p in data["taken"])),
        "imminent": re.compile("|".join(f"(?:{expand(p)})" for p in data["imminent"])),
        "distress": re.compile("|".join(f"(?:{expand(p)})" for p in data["distress"])),
    }


def _strip_latin_accents(text: str) -> str:
    """Drop combining marks that follow an ASCII letter (é -> e) but keep other scripts intact."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.combining(ch) and out and out[-1].isascii():
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def _mixed_script(token: str) -> str:
    return token.translate(_HOMOGLYPHS) if re.search(r"[a-z]", token) else token


def _unleet(text: str, table: dict) -> str:
    def fix(m: re.Match) -> str:
        run = m.group()
        if run.isalpha() or not re.search(r"[a-z]", run) or _NUMBER_UNIT.fullmatch(run):
            return run  # plain numbers and "50mg", "2nd", "5kms" stay as they are
        return run.translate(table)

    return _LEET_RUN.sub(fix, text)


def _unstar(text: str) -> str:
    words = _patterns()["wildcards"]

    def fix(m: re.Match) -> str:
        token = m.group()
        if "*" not in token or token.strip("*") == "" or len(token) > _FUZZY_MAX:
            return token
        rx = re.compile(re.sub(r"\*+", "[a-z]{1,3}", re.escape(token).replace(r"\*", "*")))
        return next((w for w in words if rx.fullmatch(w)), token)

    return _STARRED.sub(fix, text)


def _split_compound(token: str) -> str:
    """'killmyself' -> 'kill myself' when the token is only known words, one of them strong."""
    words = _patterns()["compound_words"]
    best: list[list[str] | None] = [[]] + [None] * len(token)
    for end in range(1, len(token) + 1):
        for start in range(max(0, end - 12), end):
            if best[start] is not None and token[start:end] in words:
                best[end] = [*best[start], token[start:end]]
                break
    parts = best[-1]
    if parts and len(parts) > 1 and _patterns()["compound_strong"].intersection(parts):
        return " ".join(parts)
    return token


@functools.lru_cache(maxsize=8192)
def _fix_token(token: str) -> str:
    p = _patterns()
    if token in p["typos"]:
        return p["typos"][token]
    if len(token) >= 6 and token not in p["compound_words"]:
        split = _split_compound(token)
        if split != token:
            return " ".join(_fix_token(t) for t in split.split())
    # A typo'd word is short; comparing a long run of junk with every target costs seconds.
    too_long = len(token) > _FUZZY_MAX
    if too_long or len(token) < p["fuzzy_min"] or token in p["fuzzy_keep"] or not token.isascii():
        return token
    targets = [t for t in p["fuzzy_targets"] if t[0] == token[0]]
    if token in targets:
        return token
    close = difflib.get_close_matches(token, targets, n=1, cutoff=p["fuzzy_cutoff"])
    return close[0] if close else token


def _merge_fragments(tokens: list[str]) -> list[str]:
    """Join 2-4 short neighbouring tokens that together spell a key word ("sui c ide")."""
    targets, out, i = _patterns()["merge_targets"], [], 0
    while i < len(tokens):
        for span in (4, 3, 2):
            part = tokens[i : i + span]
            # "my self" is left to the patterns, so "my self harm" never becomes "myself harm"
            if len(part) == span and "".join(part) in targets and part[-1] != "self":
                out.append("".join(part))
                i += span
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


def _words_only(text: str) -> str:
    """Every character that is not a letter, digit or combining mark becomes a space."""
    kept = (ch if ch.isalnum() or unicodedata.category(ch) in ("Mn", "Mc") else " " for ch in text)
    return " ".join("".join(kept).replace("_", " ").split())


@functools.lru_cache(maxsize=256)
def _variants(text: str) -> tuple[str, ...]:
    """Normalised forms of `text`; a rule fires when it matches any of them."""
    text = unicodedata.normalize("NFKC", text[:MAX_SCAN_CHARS])
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cs"))
    text = _OD_PAST.sub(" overdosed ", text.translate(_patterns()["emoji"])).lower()
    text = re.sub(r"\S+", lambda m: _mixed_script(m.group()), text.replace("\ufe0f", ""))
    text = _OD_PAST_ANY_CASE.sub(" overdosed ", text)
    text = re.sub(r"\bw/(?!o\b)", " with ", re.sub(r"\bw/o\b", " without ", text))
    text = _APOSTROPHES.sub("", _strip_latin_accents(text))
    text = _unstar(_INNER_BANG.sub(lambda m: "i" if m.group() == "!" else "l", text))
    leet = {_unleet(text, _LEET_I), _unleet(text, _LEET_L)}
    out: dict[str, None] = {}
    for form in leet:
        base = _SPACED_LETTERS.sub(lambda m: m.group().replace(" ", ""), _words_only(form))
        for squeezed in (_REPEATS.sub(r"\1\1", base), _REPEATS.sub(r"\1", base)):
            fixed = " ".join(_fix_token(t) for t in _merge_fragments(squeezed.split()))
            out[fixed] = None
    return tuple(out)


def _first_match(rules: list, forms: tuple[str, ...]) -> Verdict | None:
    for verdict, rx in rules:
        if any(rx.search(form) for form in forms):
            return verdict
    return None


# --------------------------------------------------------------------------- detection


def detect_crisis(text: str) -> Verdict | None:
    """kind 'crisis' (self, including passive wishes, method-seeking, slang, typos, and worry
    about someone else) or 'abuse' (abuse/sexual abuse/safeguarding disclosures). Runs before
    anything else.

    Idioms ("killing time", "die of embarrassment") are removed before the rules run; when in doubt
    the rules flag. Crisis rules win over abuse rules when a message has both.
    """
    if not text or not text.strip():
        return None
    p = _patterns()
    forms = []
    for form in _variants(text):
        for rx in p["exclusions"]:
            form = rx.sub(" ~ ", form)
        forms.append(form)
    verdict = _first_match(p["crisis"], tuple(forms))
    # A question about means beside a distressing event or feeling ("got dumped today. how
    # tall does a building need to be") needs no classifier to back it.
    if (
        verdict is not None
        and verdict.weak
        and verdict.tier == "urgent"
        and any(p["distress"].search(form) for form in forms)
    ):
        return dataclasses.replace(verdict, weak=False)
    return verdict


def mentions_ingestion(text: str) -> bool:
    """True when the message says something has been taken or swallowed (pills, poison): an
    urgent reply then adds poison help."""
    rx = _patterns()["ingestion"]
    return bool(text and text.strip()) and any(rx.search(form) for form in _variants(text))


def tells_danger_now(text: str) -> bool:
    """True when the message tells of danger now: means at hand, an attempt just made, a plan
    with its time. Read only for a message already flagged as at risk."""
    rx = _patterns()["imminent"]
    return bool(text and text.strip()) and any(rx.search(form) for form in _variants(text))


def asks_about_medication(text: str) -> bool:
    """True when the message asks about managing medication (a boundary question: "can I
    just stop my meds?") and does not report something already taken ("took all of them
    with vodka"), which is an event, not a question."""
    if detect_boundary(text) is None:
        return False
    rx = _patterns()["taken"]
    return not any(rx.search(form) for form in _variants(text))


def detect_boundary(text: str) -> Verdict | None:
    """kind 'medication' (doses, missed doses, doubling up, mixing, switching), 'stopping'
    (stopping/tapering/coming off meds) or 'diet' (weight loss, calories, purging).

    Call detect_crisis first and only call this when it returned None: medication plus death intent
    ("how many of my pills would kill me", "lethal dose", "overdose") is a crisis, not a boundary.
    The rule id "boundary.diet_purging" marks purging/restriction (the reply then adds support).
    """
    if not text or not text.strip():
        return None
    return _first_match(_patterns()["boundary"], _variants(text))


def looks_non_english(text: str) -> bool:
    """True when the message is clearly not English (other scripts, or Latin-script text with no
    English function words and several foreign ones). Short or ambiguous text (e.g. 'SSRIs?',
    'CBT vs DBT', 'ok') counts as English."""
    if not text:
        return False
    text = unicodedata.normalize("NFKC", text)
    letters = [ch for ch in text if ch.isalpha()]
    other = [ch for ch in letters if not unicodedata.name(ch, "").startswith("LATIN")]
    if len(other) >= 2 and len(other) * 2 > len(letters):
        return True
    words = _APOSTROPHES.sub("", _strip_latin_accents(text.lower()))
    tokens = re.findall(r"[a-z]+", words)
    p = _patterns()
    if len(tokens) < 3 or any(t in p["english"] for t in tokens):
        return False
    return sum(t in p["foreign"] for t in tokens) >= 2
