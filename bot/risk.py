"""Pure: a message (its text and embedding) -> a risk tier, from a trained classifier and rules.

The classifier is three small linear heads over the sentence embedding the bot already
computes for retrieval (the risk head's probability averaged with that of a one-hidden-layer
network over the same embedding, which catches what no single direction of it does) (trained by `python -m evals.train_risk` on public labelled data and
the project's own examples; weights in bot/data/risk_model.npz):
  risk     is there a risk signal at all (suicide, self-harm, abuse)?
  urgent   given risk: a plan, means, an attempt or overdose, danger right now?
  kind     given risk: about the writer ("self"), about someone else ("other"), or abuse?
The phrase rules of bot/safety.py stay for what they do well: explicit phrases and
obfuscated spellings. A "weak" rule (a bare keyword such as "suicide" or "overdose", which
school questions and medication questions use too) only counts when the classifier also
leans towards risk.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot import safety

MODEL_PATH = Path(__file__).resolve().parent / "data" / "risk_model.npz"
EXEMPLARS_PATH = MODEL_PATH.with_name("risk_exemplars.npz")
HEADS = ("risk", "urgent", "self", "other", "abuse")
KINDS = ("self", "other", "abuse")


@dataclass(frozen=True)
class Risk:
    """A message's risk: `tier` "urgent" or "concern"; `kind` "self", "other" or "abuse";
    `overdose` when something has been (or is being) taken; `rule` names what decided,
    safe to log (never the person's words)."""

    tier: str
    kind: str
    overdose: bool = False
    rule: str = ""

    @property
    def urgent(self) -> bool:
        return self.tier == "urgent"


@dataclass(frozen=True)
class RiskThresholds:
    """Calibrated by `python -m evals.calibrate_safety` (see evals/SAFETY.md)."""

    concern: float  # p(risk) at or above which a message gets resources
    urgent: float  # p(urgent | risk) at or above which the reply is the urgent one
    keyword: float  # p(risk) that a weak rule (a bare keyword) needs to count
    # A message this similar to one of the project's own risk messages, and closer to it by
    # `neighbour_margin` than to any of its look-alikes, gets resources too (9.0: off).
    neighbour: float = 9.0
    neighbour_margin: float = 0.0
    # Below this p(risk), an urgent phrase rule in a medication question gives the concern
    # reply, not the urgent one ("can i drink one beer on prozac or will it kill me haha").
    rule_doubt: float = 0.0


@dataclass(frozen=True)
class RiskScores:
    risk: float
    urgent: float
    kind: str
    # Per row (the message, its parts): similarity of the closest risk exemplar and of the
    # closest look-alike.
    neighbours: tuple[tuple[float, float], ...] = ()

    def near_risk(self, t: RiskThresholds) -> bool:
        """True when some row is close to a risk exemplar and clearly closer than to any
        look-alike."""
        return any(r >= t.neighbour and r - b >= t.neighbour_margin for r, b in self.neighbours)


# eq=False: numpy arrays have no single truth value, so field-wise equality would raise.
@dataclass(frozen=True, eq=False)
class Exemplars:
    """The project's own labelled messages (evals/training/), embedded: the classifier's
    memory of phrasings it was taught, for messages a smooth boundary leaves just below
    its threshold ("nobody would notice for weeks if i vanished")."""

    vectors: np.ndarray  # (n, d), unit rows
    risky: np.ndarray  # (n,) bool: a risk message (urgent or concern), else a look-alike
    model_name: str

    def nearest(self, rows: np.ndarray) -> tuple[tuple[float, float], ...]:
        sims = np.atleast_2d(rows) @ self.vectors.T
        risk = np.where(self.risky, sims, -1.0).max(axis=1)
        benign = np.where(~self.risky, sims, -1.0).max(axis=1)
        return tuple((float(r), float(b)) for r, b in zip(risk, benign, strict=True))


def load_exemplars(path: Path = EXEMPLARS_PATH) -> Exemplars | None:
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        return Exemplars(
            data["vectors"].astype(np.float32), data["risky"].astype(bool), str(data["model"])
        )


LEX_DIM = 2**14  # hashed word and word-pair features
_WORD = re.compile(r"\w+")


def lexical_counts(text: str) -> dict[int, float]:
    """Hashed counts of the message's words and word pairs (lower case), sublinear:
    1 + log(count). crc32 is stable across processes and Python versions, unlike hash().

    >>> sorted(lexical_counts("took took pills")) == sorted(lexical_counts("Took TOOK pills!"))
    True
    """
    words = _WORD.findall(text.lower())
    grams = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
    counts: dict[int, int] = {}
    for gram in grams:
        slot = zlib.crc32(gram.encode("utf-8")) % LEX_DIM
        counts[slot] = counts.get(slot, 0) + 1
    return {slot: 1.0 + math.log(n) for slot, n in counts.items()}


# eq=False: numpy arrays have no single truth value, so field-wise equality would raise.
@dataclass(frozen=True, eq=False)
class RiskModel:
    """Linear heads over a unit sentence embedding and, for the risk and urgency heads,
    TF-IDF weighted hashed words: logits = vector @ weights.T + bias (+ words @ lexical.T);
    with a network, p(risk) is the mean of the linear head's and the network's."""

    weights: np.ndarray  # (len(HEADS), d)
    bias: np.ndarray  # (len(HEADS),)
    model_name: str  # the embedding model the heads were trained on
    lexical: np.ndarray | None = None  # (2, LEX_DIM): the risk and urgency heads' word weights
    idf: np.ndarray | None = None  # (LEX_DIM,)
    # The risk head's network: relu(vector @ hidden + hidden_bias) @ out + out_bias.
    hidden: np.ndarray | None = None  # (d, h)
    hidden_bias: np.ndarray | None = None  # (h,)
    out: np.ndarray | None = None  # (h,)
    out_bias: float = 0.0
    exemplars: Exemplars | None = None  # bot/data/risk_exemplars.npz, same embedding model

    def network(self, rows: np.ndarray) -> np.ndarray:
        """The risk network's logit for each row (0 when the model has none)."""
        if self.hidden is None:
            return np.zeros(len(rows), dtype=np.float32)
        return np.maximum(rows @ self.hidden + self.hidden_bias, 0.0) @ self.out + self.out_bias

    def words(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The message's lexical features as (slots, unit-length TF-IDF values)."""
        counts = lexical_counts(text)
        slots = np.fromiter(counts, dtype=np.int64, count=len(counts))
        values = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        if self.idf is not None and len(slots):
            values = values * self.idf[slots]
        norm = float(np.linalg.norm(values))
        return slots, (values / norm if norm else values)

    def score(self, vectors: np.ndarray, texts: Sequence[str] = ()) -> RiskScores:
        """Scores of a message: row 0 is the whole message, any further rows its parts (a long
        message); `texts`, when given, are the rows' texts, for the lexical features."""
        rows = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        logits = rows @ self.weights.T + self.bias
        if self.lexical is not None and texts:
            for i, text in enumerate(texts[: len(rows)]):
                slots, values = self.words(text)
                logits[i, :2] += self.lexical[:, slots] @ values
        if self.hidden is not None:
            logits[:, 0] = mean_of_probabilities(logits[:, 0], self.network(rows))
        # A part of a long message counts half, its whole the other half: out of its post, a
        # sentence such as "no more crying in the car every morning" reads as despair.
        if len(logits) > 1:
            logits = np.vstack([logits[:1], (logits[:1] + logits[1:]) / 2])
        worst = int(np.argmax(logits[:, 0]))
        kinds = logits[worst, 2:5]
        return RiskScores(
            risk=float(_sigmoid(logits[worst, 0])),
            urgent=float(_sigmoid(logits[worst, 1])),
            kind=KINDS[int(np.argmax(kinds))],
            neighbours=self.exemplars.nearest(rows) if self.exemplars is not None else (),
        )


def load_risk_model(
    path: Path = MODEL_PATH, exemplars_path: Path | None = EXEMPLARS_PATH
) -> RiskModel:
    """The trained heads, with the exemplars when their file exists and was embedded with
    the same model (otherwise the classifier works without them)."""
    exemplars = load_exemplars(exemplars_path) if exemplars_path is not None else None
    with np.load(path, allow_pickle=False) as data:
        heads = tuple(data["heads"].tolist())
        if heads != HEADS:
            raise ValueError(f"{path}: heads {heads}, expected {HEADS}; rebuild it")

        def optional(name: str) -> np.ndarray | None:
            return data[name].astype(np.float32) if name in data else None

        return RiskModel(
            weights=data["weights"].astype(np.float32),
            bias=data["bias"].astype(np.float32),
            model_name=str(data["model_name"]),
            lexical=optional("lexical"),
            idf=optional("idf"),
            hidden=optional("hidden"),
            hidden_bias=optional("hidden_bias"),
            out=optional("out"),
            out_bias=float(data["out_bias"]) if "out_bias" in data else 0.0,
            exemplars=(
                exemplars
                if exemplars is not None and exemplars.model_name == str(data["model_name"])
                else None
            ),
        )


def assess_risk(
    text: str,
    vectors: np.ndarray | None,
    model: RiskModel | None,
    t: RiskThresholds,
    texts: Sequence[str] = (),
) -> Risk | None:
    """The message's risk, or None. `vectors`: the message's embedding (one row, or several
    for a long message: the whole and its parts, whose texts are `texts`); without a model
    only the rules decide."""
    scores = None
    if model is not None and vectors is not None:
        scores = model.score(vectors, texts or [text])
    risk = decide(
        safety.detect_crisis(text),
        scores,
        t,
        lambda: safety.asks_about_medication(text),
        lambda: safety.tells_danger_now(text),
    )
    if risk is not None and risk.urgent and safety.mentions_ingestion(text):
        return dataclasses.replace(risk, overdose=True)
    return risk


def decide(
    rule: safety.Verdict | None,
    scores: RiskScores | None,
    t: RiskThresholds,
    medication: Callable[[], bool] = lambda: False,
    danger_now: Callable[[], bool] = lambda: False,
) -> Risk | None:
    """The rules and the classifier each may flag (a weak rule only with the classifier's
    support: p(risk) at least `t.keyword`, or a risk exemplar close by); the tier is urgent when a rule for plans, means or attempts fired or the urgency
    head says so; the kind comes from the rule when it names one, else from the kind head.
    `medication()` tells whether the message asks about managing medication ("can I just stop
    my meds?"): with no rule behind it, such a message is never urgent on the classifier's
    word alone, and with an urgent rule behind it, it is urgent only when the classifier's
    risk is at least `t.rule_doubt`. `danger_now()` tells whether it tells of danger now (means at hand, an attempt
    just made, a plan with its time): a flagged message that does is urgent. Both are asked
    only when they matter."""
    leans = scores is not None and (scores.risk >= t.keyword or scores.near_risk(t))
    if rule is not None and rule.weak and not leans:
        rule = None
    if rule is None and (scores is None or (scores.risk < t.concern and not scores.near_risk(t))):
        return None
    rule_urgent = rule is not None and rule.tier == "urgent"
    if rule_urgent and scores is not None and scores.risk < t.rule_doubt and medication():
        rule_urgent = False  # alarming words in a medication question the model reads as such
    urgent = (
        rule_urgent
        or (
            scores is not None
            and scores.risk >= t.keyword
            and scores.urgent >= t.urgent
            and (rule is not None or not medication())
        )
        or danger_now()
    )
    kind = (rule.who if rule is not None else "") or (scores.kind if scores else "self")
    return Risk(
        tier="urgent" if urgent else "concern",
        kind=kind,
        rule=rule.rule if rule is not None else "model",
    )


def message_parts(text: str, size: int = 280) -> list[str]:
    """A long message cut into parts of a few sentences, each embedded on its own so that one
    risky sentence in a long post about medication is not averaged away."""
    if len(text) <= size:
        return []
    sentences = [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]
    parts, current = [], ""
    for sentence in sentences:
        if current and len(current) + len(sentence) > size:
            parts.append(current)
            current = ""
        current = f"{current} {sentence}".strip()
    if current:
        parts.append(current)
    return parts if len(parts) > 1 else []


def strongest(verdicts: Sequence[Risk | None]) -> Risk | None:
    """The most serious of several verdicts (urgent before concern), the latest among equals."""
    found = [v for v in verdicts if v is not None]
    if not found:
        return None
    return max(reversed(found), key=lambda v: v.urgent)


@functools.lru_cache(maxsize=1)
def bundled_model() -> RiskModel | None:
    return load_risk_model() if MODEL_PATH.exists() else None


def mean_of_probabilities(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The logit of the mean of two probabilities given as logits: unlike the mean of the
    logits, one model's extreme score moves the result by half at most, so the network cannot
    overrule the linear head on a text unlike any it was trained on.

    >>> float(mean_of_probabilities(np.array([0.0]), np.array([0.0]))[0])
    0.0
    """
    p = (_sigmoid(a) + _sigmoid(b)) / 2
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
