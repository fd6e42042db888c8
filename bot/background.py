"""Background questions: questions people ask a health chatbot that no article answers.

A question clearly closer to one of them than to anything the articles answer asks about
something else ("how much does therapy cost?" shares words and topic with an article on
combining treatments, and similarity to the article alone cannot tell). Those that an
article does answer are set aside when an index generation is loaded, so listing a topic in
bot/data/background.yaml never hides an article about it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import yaml

from bot.settings import SettingsError

BACKGROUND_PATH = Path(__file__).parent / "data" / "background.yaml"
_BACKGROUND_CACHE: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
_BACKGROUND_LOCK = threading.Lock()


def read_background(path: str | Path = BACKGROUND_PATH) -> tuple[str, ...]:
    """The background questions of a file (`questions:`, a list); none for an empty path.
    Raises SettingsError, naming the file, when it is missing or not such a list."""
    if not str(path):
        return ()
    where = f"the background questions file {path} (MEDFAQ_BACKGROUND_FILE)"
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else type(exc).__name__
        raise SettingsError(f"{where} cannot be read: {reason}") from None
    questions = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise SettingsError(f"{where} needs a `questions:` list of strings")
    return tuple(dict.fromkeys(" ".join(q.split()) for q in questions if q.strip()))


def embed_background(embedder, questions: tuple[str, ...]) -> list[tuple[str, np.ndarray]]:
    """The background questions with their vectors, embedded once per model and process (a
    new index generation reuses them)."""
    if not questions:
        return []
    key = (getattr(embedder, "model_name", repr(embedder)), questions)
    with _BACKGROUND_LOCK:
        if key not in _BACKGROUND_CACHE:
            vectors = np.asarray(embedder.embed(list(questions)), dtype=np.float32)
            _BACKGROUND_CACHE[key] = vectors
        vectors = _BACKGROUND_CACHE[key]
    return list(zip(questions, vectors, strict=True))


# A sentence that answers a question is less similar to it than another wording of the
# question is: its similarity counts this much more when it is compared with questions.
SENTENCE_LIFT = 0.15


def unanswered(
    background: Sequence[tuple[str, np.ndarray]],
    answered: tuple[np.ndarray | None, Iterable[np.ndarray]],
    mask: float,
) -> tuple[list[str], np.ndarray | None]:
    """Pure: the background questions that the articles do not answer, with their vectors.

    A background question is set aside when a question the articles answer (`answered[0]`:
    bank and FAQ questions) is at least `mask` similar to it, or one of their sentences
    (`answered[1]`, blocks of vectors) is at least `mask - SENTENCE_LIFT`: listing a topic in
    the background never hides an article about it.

    >>> v = np.eye(3, dtype=np.float32)
    >>> unanswered([("a", v[0]), ("b", v[1]), ("c", v[2])], (v[:1], [v[1:2]]), 0.7)[0]
    ['c']
    """
    if not background:
        return [], None
    vectors = np.stack([v for _, v in background])
    support = np.full(len(background), -1.0, dtype=np.float32)
    questions, sentences = answered
    if questions is not None:
        support = np.maximum(support, (vectors @ questions.T).max(axis=1))
    for block in sentences:
        support = np.maximum(support, (vectors @ block.T).max(axis=1) + SENTENCE_LIFT)
    keep = support < mask
    kept = [q for (q, _), k in zip(background, keep, strict=True) if k]
    return kept, (vectors[keep] if kept else None)
