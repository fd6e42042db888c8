"""The risk classifier's data: the public labelled sets, the project's own examples, and a
cache of their embeddings, so that training and calibration embed each text only once."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from bot.settings import PROJECT_ROOT

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
TRAINING = HERE / "training"
# The public data lives beside the repository (never inside it); MEDFAQ_SAFETY_DATA moves it.
DEFAULT_DATA = Path(
    os.environ.get("MEDFAQ_SAFETY_DATA", PROJECT_ROOT.parent / "shared/data/safety")
)
CACHE_DIR = PROJECT_ROOT / ".cache" / "risk"
RISK_LABELS = frozenset({"suicide", "self_harm", "abuse"})
TIERS = ("none", "concern", "urgent")


@dataclass(frozen=True)
class Example:
    """One labelled message. `tier` is "none", "concern" or "urgent" ("risk" when a public
    set says only that there is risk, not how urgent); `kind` is "self", "other" or "abuse"
    for risk, "" otherwise."""

    text: str
    tier: str
    kind: str
    source: str  # the file it came from, for grouped and cross-source evaluation
    group: str  # rows of one author or post share a group
    overdose: bool = False
    label: str = ""  # the public set's own label (benign, distress, suicide, ...), if any

    @property
    def risk(self) -> bool:
        return self.tier != "none"


def load_public(folder: Path = DEFAULT_DATA) -> list[Example]:
    """Every row of the JSONL files in `folder` (see its README for sources and licences)."""
    if not folder.is_dir():
        raise FileNotFoundError(
            f"No safety data at {folder}: pass --data DIR or set MEDFAQ_SAFETY_DATA."
        )
    examples = []
    for path in sorted(folder.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            row = json.loads(line)
            label = row["label"]
            risk = label in RISK_LABELS
            kind = ("abuse" if label == "abuse" else "self") if risk else ""
            group = row.get("group") or f"{path.stem}:{n}"
            tier = "risk" if risk else "none"
            examples.append(Example(row["text"], tier, kind, path.stem, str(group), label=label))
    return examples


def load_labelled_yaml(path: Path, source: str | None = None) -> list[Example]:
    """A file of the project's own messages: `risk` items with tier and kind, `lookalikes`."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    source = source or path.stem
    out = [
        Example(item["text"], item["tier"], item["kind"], source, f"{source}:r{i}",
                bool(item.get("overdose")))
        for i, item in enumerate(data.get("risk", []))
    ]  # fmt: skip
    out += [
        Example(item["text"], "none", "", source, f"{source}:l{i}")
        for i, item in enumerate(data.get("lookalikes", []))
    ]
    return out


OWN = "own"


def load_own_training() -> list[Example]:
    """Every YAML file of evals/training/: the project's own training messages, as one
    source ("own") for cross-source evaluation."""
    return [e for path in sorted(TRAINING.glob("*.yaml")) for e in load_labelled_yaml(path, OWN)]


def load_product_texts(corpus_dir: Path = PROJECT_ROOT / "corpus") -> list[Example]:
    """The articles' sentences and their question banks: the project's own benign text, the
    kind the bot is asked about every day (negatives for the risk head)."""
    from ingest.chunking import chunk_document
    from ingest.loading import load_corpus
    from ingest.questions import bank_path, read_bank

    documents, _ = load_corpus(corpus_dir)
    texts = []
    for doc in documents:
        texts += [s.text for c in chunk_document(doc) for s in c.sentences]
        texts += [q for e in read_bank(bank_path(corpus_dir, doc.source)) for q in e["questions"]]
    unique = dict.fromkeys(t for t in texts if t.strip())
    return [Example(t, "none", "", OWN, f"{OWN}:article{i}") for i, t in enumerate(unique)]


# Short benign statements about one's own treatment, the way a conversation often opens ("im
# on prozac"). Public suicide posts mention medicines too, so without these a bare mention of
# one can read as risk. Filled from the lexicon's terms, not from any article.
STATEMENTS = (
    "im on {med}", "i'm on {med} now", "been on {med} for {n} weeks", "just started {med}",
    "my doctor put me on {med}", "started {med} {when}", "i take {med} every morning",
    "on {med} since {month}", "my psychiatrist switched me to {med}",
    "currently taking {med} and seeing a {person}", "been seeing a {person} for like a month",
    "started {therapy} {when}", "i see my {person} every week", "my {person} suggested {med}",
    "my mom is on {med} too", "tried {med} before and it was ok", "doing {therapy} for my {cond}",
    "diagnosed with {cond} {when}", "i have {cond} and take {med}", "{med} and {therapy} here",
)  # fmt: skip
_WHEN = ("last week", "yesterday", "a month ago", "in january", "2 weeks ago", "this year")
_MONTHS = ("march", "the summer", "last fall", "christmas", "may")


def treatment_statements(n: int = 600) -> list[Example]:
    """`n` benign statements about treatment (tier none), the same on every run."""
    from bot.lexicon import load_lexicon

    classes = load_lexicon().classes
    words = {
        key: sorted(w for w, (cls, group) in classes.items() if (cls, group) == want)
        for key, want in (
            ("med", ("treatments", "medication")),
            ("therapy", ("treatments", "therapy")),
            ("person", ("people", "people")),
            ("cond", ("conditions", "conditions")),
        )
    }
    out = []
    for i in range(n):
        digest = hashlib.sha256(f"statement{i}".encode()).digest()
        pick = {key: ws[digest[j] % len(ws)] for j, (key, ws) in enumerate(words.items())}
        text = STATEMENTS[digest[5] % len(STATEMENTS)].format(
            **pick, n=2 + digest[6] % 10, when=_WHEN[digest[7] % len(_WHEN)],
            month=_MONTHS[digest[8] % len(_MONTHS)],
        )  # fmt: skip
        out.append(Example(text, "none", "", OWN, f"{OWN}:statement{i}"))
    return list({e.text: e for e in out}.values())


def article_questions() -> list[str]:
    """Messages about the article that must never get a risk reply: the FAQs, body and
    development questions of the answer evals, and the earlier turns of the development
    conversations (a flagged earlier turn keeps the resources on every later answer)."""
    from evals.runner import load_cases

    cases = load_cases(categories=("faqs", "paraphrases", "body", "not_boundary"))
    dev = yaml.safe_load((CASES / "dev.yaml").read_text(encoding="utf-8"))
    texts = [c.text for c in cases]
    texts += [c["question"] for c in dev["faq_paraphrases"] + dev["body_questions"]]
    typed = CASES / "dev_typed.yaml"
    if typed.exists():
        for q in yaml.safe_load(typed.read_text())["questions"]:
            texts += [*q.get("history", ()), q["text"]]
    return list(dict.fromkeys(texts))


class EmbeddingCache:
    """Vectors by (model, text) hash, kept in one .npz per model under .cache/risk/."""

    def __init__(self, model_name: str, folder: Path = CACHE_DIR):
        tag = hashlib.sha256(model_name.encode()).hexdigest()[:12]
        self.path = folder / f"embeddings-{tag}.npz"
        self._vectors: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path, allow_pickle=False) as data:
                self._vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    def embed(self, texts: Iterable[str], embed: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Rows for `texts`, embedding only those not cached yet (and saving them)."""
        texts = list(texts)
        keys = [_key(t) for t in texts]
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True)
                                     if k not in self._vectors))  # fmt: skip
        if missing:
            for start in range(0, len(missing), 4096):  # saved as it goes: a long job resumes
                part = missing[start : start + 4096]
                for text, vector in zip(part, embed(part), strict=True):
                    self._vectors[_key(text)] = np.asarray(vector, dtype=np.float32)
                self._save()
        return np.stack([self._vectors[k] for k in keys]) if keys else np.zeros((0, 0))

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._vectors))
        vectors = np.stack(list(self._vectors.values()))
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors)
        tmp.replace(self.path)


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
