"""Semantic crisis check: a message's embedding compared with example crisis and safe messages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from bot.safety import Verdict

EXEMPLARS_PATH = Path(__file__).resolve().parent / "data" / "crisis_exemplars.yaml"


# eq=False: numpy arrays have no single truth value, so field-wise equality would raise.
@dataclass(frozen=True, eq=False)
class ExemplarBank:
    crisis: np.ndarray  # (n, d) unit vectors of crisis exemplars
    safe: np.ndarray  # (m, d) unit vectors of harmless look-alikes (idioms, article questions, ...)
    threshold: float  # min cosine to the nearest crisis exemplar
    margin: float  # how much nearer a crisis exemplar must be than the nearest safe one
    kinds: tuple[str, ...] = ()  # verdict kind of each crisis row; () means all "crisis"


@dataclass(frozen=True)
class SemanticScore:
    crisis: float  # cosine to the nearest crisis exemplar
    safe: float  # cosine to the nearest safe exemplar (-1.0 when there are none)
    kind: str  # kind of the nearest crisis exemplar: "crisis" or "abuse"


@functools.lru_cache(maxsize=1)
def _exemplar_data() -> dict:
    return yaml.safe_load(EXEMPLARS_PATH.read_text(encoding="utf-8"))


def load_exemplars() -> tuple[tuple[str, ...], tuple[str, ...], float, float]:
    """(crisis texts, safe texts, threshold, margin) from bot/data/crisis_exemplars.yaml (cached)."""
    data = _exemplar_data()
    crisis = tuple(t for group in data["crisis"] for t in group["texts"])
    safe = tuple(t for group in data["safe"] for t in group["texts"])
    return crisis, safe, float(data["threshold"]), float(data["margin"])


def load_exemplar_kinds() -> tuple[str, ...]:
    """The verdict kind of each crisis text of load_exemplars(), in the same order."""
    return tuple(g["kind"] for g in _exemplar_data()["crisis"] for _ in g["texts"])


def build_exemplar_bank(embed: Callable[[list[str]], np.ndarray]) -> ExemplarBank:
    """embed: a callable list[str] -> np.ndarray (unit rows). Called once at start-up, e.g.
    `build_exemplar_bank(embedder.embed)`: about 2 s for the ~610 exemplars on two CPU cores."""
    crisis, safe, threshold, margin = load_exemplars()
    vectors = np.asarray(embed([*crisis, *safe]), dtype=np.float32)  # one batch: one model pass
    return ExemplarBank(
        crisis=vectors[: len(crisis)],
        safe=vectors[len(crisis) :],
        threshold=threshold,
        margin=margin,
        kinds=load_exemplar_kinds(),
    )


def score_message(vector: np.ndarray, bank: ExemplarBank) -> SemanticScore:
    """Nearest-exemplar cosines of a message vector (the evidence semantic_crisis decides on)."""
    v = np.asarray(vector, dtype=np.float32).ravel()
    norm = float(np.linalg.norm(v))
    if norm == 0.0 or len(bank.crisis) == 0:
        return SemanticScore(crisis=-1.0, safe=-1.0, kind="crisis")
    # The caller may pass a blend of vectors (question plus context); cosine needs unit length.
    v = v / norm
    crisis_sims = bank.crisis @ v
    best = int(np.argmax(crisis_sims))
    safe_sim = float(np.max(bank.safe @ v)) if len(bank.safe) else -1.0
    kind = bank.kinds[best] if bank.kinds else "crisis"
    return SemanticScore(crisis=float(crisis_sims[best]), safe=safe_sim, kind=kind)


def semantic_crisis(vector: np.ndarray, bank: ExemplarBank) -> Verdict | None:
    """Verdict('crisis', 'crisis.semantic') when the message is near a crisis exemplar and clearly
    nearer to it than to any safe one; Verdict('abuse', 'abuse.semantic') when that exemplar is an
    abuse disclosure. Pure: takes the vector the bot already computed for retrieval.

    "i keep thinking everyone is better off if i just disappear for good" -> crisis.semantic
    "this commute is murdering me" -> None (nearest to the safe idiom "this commute is killing me")
    """
    score = score_message(vector, bank)
    if score.crisis >= bank.threshold and score.crisis - score.safe >= bank.margin:
        return Verdict(kind=score.kind, rule=f"{score.kind}.semantic")
    return None
