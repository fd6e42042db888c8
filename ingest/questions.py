"""Question banks: `<article>.questions.yaml` beside an article -> questions tied to its quotes.

A bank lists, for passages of its article, the questions they answer in the words people
use. The embedding model matches a question to a question far better than to the prose that
answers it, so the bot searches these too. Each entry names a verbatim quote; an entry whose
quote is no longer in the article (it was edited) is stale: reported, never used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.types import BankQuestion, Chunk, SourceDocument
from ingest.loading import LoadProblem

SUFFIX = ".questions.yaml"


def bank_path(corpus_dir: Path, source: str) -> Path:
    """Where the bank of an article lives: corpus/a.md -> corpus/a.questions.yaml."""
    path = Path(corpus_dir) / source
    return path.with_name(path.stem + SUFFIX)


def is_bank(path: Path) -> bool:
    return Path(path).name.endswith(SUFFIX)


def read_bank(path: Path) -> list[dict]:
    """The entries of a bank file ([] when there is none). Raises ValueError when the file
    is not a bank: it must hold `entries:`, each with a `quote` and a list of `questions`."""
    if not path.exists():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot be read ({type(exc).__name__}: {exc})") from None
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError("has no `entries:` list")
    for n, entry in enumerate(entries, 1):
        ok = isinstance(entry, dict) and isinstance(entry.get("quote"), str)
        questions = entry.get("questions") if ok else None
        if not (isinstance(questions, list) and all(isinstance(q, str) for q in questions)):
            raise ValueError(f"entry {n} needs a `quote` string and a `questions` list")
    return entries


def locate_bank(
    entries: Sequence[dict], doc: SourceDocument, chunks: Sequence[Chunk], bank_name: str
) -> tuple[list[BankQuestion], list[LoadProblem]]:
    """Pure: tie each entry's questions to its quote's place in the article.

    The quote must appear verbatim in the article's body; it is tied to the chunk that holds
    its first character (clipped to that chunk when it runs on). A stale entry is reported
    with its number and the start of its quote.

    >>> doc = SourceDocument("a.md", "A", "", "", "Weekly sessions help.")
    >>> from ingest.chunking import chunk_document
    >>> found, stale = locate_bank([{"quote": "Weekly sessions", "questions": ["how often?"]}],
    ...                            doc, chunk_document(doc), "a.questions.yaml")
    >>> [(q.question, q.start, q.end) for q in found], stale
    ([('how often?', 0, 15)], [])
    """
    found, problems, seen = [], [], set()
    for n, entry in enumerate(entries, 1):
        quote = entry["quote"].strip()
        start = doc.text.find(quote, doc.body_start) if quote else -1
        chunk = next((c for c in chunks if c.start <= start < c.end), None) if start >= 0 else None
        if chunk is None:
            problems.append(
                LoadProblem(
                    bank_name,
                    f"entry {n} is stale: its quote is not in {doc.source} word for word "
                    f"(was the article edited?): {_shorten(quote)!r}",
                )
            )
            continue
        end = min(start + len(quote), chunk.end)
        for question in entry["questions"]:
            question = " ".join(question.split())
            if question and question.lower() not in seen:
                seen.add(question.lower())
                found.append(BankQuestion(question, doc.source, chunk.id, start, end))
    return found, problems


@dataclass(frozen=True)
class Banks:
    questions: list[BankQuestion]
    problems: list[LoadProblem]  # unreadable banks and stale entries
    unreadable: set[str]  # articles whose bank could not be read: their old questions stay


def load_banks(
    corpus_dir: Path, documents: Sequence[SourceDocument], chunks: Sequence[Chunk]
) -> Banks:
    """Every article's bank (articles without one have none), with the problems found."""
    by_source: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_source.setdefault(chunk.source, []).append(chunk)
    banks = Banks([], [], set())
    for doc in documents:
        path = bank_path(corpus_dir, doc.source)
        name = Path(doc.source).with_name(path.name).as_posix()
        try:
            entries = read_bank(path)
        except ValueError as exc:
            banks.problems.append(LoadProblem(name, str(exc)))
            banks.unreadable.add(doc.source)
            continue
        found, stale = locate_bank(entries, doc, by_source.get(doc.source, []), name)
        banks.questions.extend(found)
        banks.problems.extend(stale)
    return banks


def _shorten(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."
