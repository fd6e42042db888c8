"""Train the risk classifier: `python -m evals.train_risk [--data DIR] [--no-write]`.

Builds bot/data/risk_model.npz, three linear heads over the bot's sentence embedding and,
for the risk head, a small network over it too (see bot/risk.py), from the public labelled
messages in ../shared/data/safety/ (sources, licences and caveats in its README) and the
project's own messages in evals/training/. The data is never committed; only the weights are. Prints its evaluation:

- a grouped hold-out (rows of one author or post stay together, by `group`);
- cross-source results: for each source, trained on all the others, tested on it;
- the project's calibration set, evals/cases/risk_dev.yaml (never trained on).

The heads:
  risk    suicide, self-harm and abuse rows and the project's risk messages against benign
          and distress rows and look-alikes; a linear model over the embedding and hashed
          words, its probability averaged with that of a network of 128 hidden units over the
          embedding (on the calibration set it lets the same false-positive limits take more
          risk messages). The C-SSRS file is left out of training: its
          labels belong to users, not posts (README: AUC 0.54 per post); it is reported
          per user instead.
  urgent  the project's urgent messages against its concern ones (no public set says how
          urgent a message is).
  kind    self / other / abuse: the project's messages by kind, plus public suicide and
          self-harm rows (self) and abuse rows.
Every source weighs the same in the risk head whatever its size, and the project's
chat-style messages weigh as much as all public sources of their label together, so
neither Reddit's long posts nor one big file decide alone.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import warnings
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.neural_network import MLPClassifier

from bot.risk import HEADS, KINDS, LEX_DIM, MODEL_PATH, lexical_counts
from bot.settings import Settings
from evals.risk_data import (
    CASES,
    DEFAULT_DATA,
    OWN,
    EmbeddingCache,
    Example,
    load_labelled_yaml,
    load_own_training,
    load_product_texts,
    load_public,
    treatment_statements,
)

NOISY = {"cssrs_reddit500_gaur2019"}  # per-user labels: evaluated per user, not trained on
HOLDOUT_SHARE = 0.2
C = 4.0
OWN_WEIGHT = 1.0
HIDDEN = 128  # the risk network's hidden units
NETWORK_EPOCHS = 60
ALPHA = 0.01  # the network's L2 penalty
# Public "distress" rows (sadness, stress, depression posts) count less as negatives: some hold
# the hopelessness that the concern tier answers with resources.
DISTRESS_WEIGHT = 0.3


def holdout(example: Example) -> bool:
    """A stable grouped split: a group's rows are all in or all out."""
    digest = hashlib.sha256(f"{example.source}|{example.group}".encode()).digest()
    return digest[0] < 256 * HOLDOUT_SHARE


def source_of(example: Example) -> str:
    return example.source


def risk_weights(examples: Sequence[Example]) -> np.ndarray:
    """Each (source, label) cell weighs the same in total; the project's messages weigh as
    much as all public cells of their label together."""
    cells = Counter((source_of(e), e.risk) for e in examples)
    public_cells = Counter(risk for (source, risk) in cells if source != OWN)
    weights = []
    for e in examples:
        source = source_of(e)
        share = OWN_WEIGHT * public_cells[e.risk] if source == OWN else 1.0
        if e.label == "distress":
            share *= DISTRESS_WEIGHT
        weights.append(share / cells[source, e.risk])
    w = np.asarray(weights, dtype=np.float64)
    return w * len(w) / w.sum()


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, c: float = C):
    model = LogisticRegression(
        C=c, max_iter=2000, class_weight=None if w is not None else "balanced"
    )
    model.fit(x, y, sample_weight=w)
    return model


def lexical_matrix(texts: Sequence[str], idf: np.ndarray | None = None):
    """Rows of hashed word counts (bot.risk.lexical_counts), weighted by `idf` and scaled to
    unit length, as the bot computes them; and the idf (computed here when not given)."""
    rows, cols, vals = [], [], []
    for i, text in enumerate(texts):
        counts = lexical_counts(text)
        rows += [i] * len(counts)
        cols += list(counts)
        vals += list(counts.values())
    m = sparse.csr_matrix((vals, (rows, cols)), shape=(len(texts), LEX_DIM), dtype=np.float64)
    if idf is None:
        df = np.bincount(m.indices, minlength=LEX_DIM)
        idf = np.log((1 + len(texts)) / (1 + df)) + 1.0
    m = m @ sparse.diags(idf)
    norms = np.sqrt(m.multiply(m).sum(axis=1)).A1
    m = sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ m
    return m.tocsr(), idf


def train_heads(examples: Sequence[Example], x: np.ndarray) -> dict[str, np.ndarray]:
    """The heads in HEADS order, fitted on `examples` (rows of `x`): `weights` and `bias`
    over the embedding, `lexical` and `idf` for the risk and urgency heads' word features."""
    words, idf = lexical_matrix([e.text for e in examples])
    both = sparse.hstack([sparse.csr_matrix(x), words]).tocsr()
    d = x.shape[1]
    risk = np.array([e.risk for e in examples])
    head_risk = fit(both, risk, risk_weights(examples))
    weights, bias = np.zeros((len(HEADS), d)), np.zeros(len(HEADS))
    lexical = np.zeros((2, LEX_DIM))
    coef = head_risk.coef_[0]
    weights[0], lexical[0], bias[0] = coef[:d], coef[d:], head_risk.intercept_[0]
    network = fit_network(x, risk, risk_weights(examples))
    own = np.array([source_of(e) == OWN and e.risk for e in examples])
    if own.any():  # left out when "own" is the source under test: only the risk head matters
        urgent = np.array([e.tier == "urgent" for e in examples])
        head_urgent = fit(both[own], urgent[own])
        weights[1], lexical[1] = head_urgent.coef_[0, :d], head_urgent.coef_[0, d:]
        bias[1] = head_urgent.intercept_[0]
        kind_rows = np.array(
            [e.risk and (source_of(e) == OWN or e.kind == "abuse" or _sampled(e)) for e in examples]
        )
        kinds = np.array([e.kind or "self" for e in examples])[kind_rows]
        head_kind = fit(x[kind_rows], kinds)
        order = [list(head_kind.classes_).index(k) for k in KINDS]
        weights[2:], bias[2:] = head_kind.coef_[order], head_kind.intercept_[order]
    return {
        "weights": weights.astype(np.float32),
        "bias": bias.astype(np.float32),
        "lexical": lexical.astype(np.float16),
        "idf": idf.astype(np.float16),
        "hidden": network.coefs_[0].astype(np.float16),
        "hidden_bias": network.intercepts_[0].astype(np.float32),
        "out": network.coefs_[1][:, 0].astype(np.float32),
        "out_bias": np.float32(network.intercepts_[1][0]),
    }


def fit_network(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> MLPClassifier:
    """The risk head's one-hidden-layer network over the embedding (fixed seed and epochs, so
    a rerun gives the same weights; it stops before it has fully converged, on purpose)."""
    network = MLPClassifier(
        hidden_layer_sizes=(HIDDEN,), alpha=ALPHA, max_iter=NETWORK_EPOCHS, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        network.fit(x, y, sample_weight=w)
    return network


def _sampled(e: Example) -> bool:
    """A fifth of the public self rows for the kind head, so "self" does not swamp the rest."""
    return hashlib.sha256(e.text.encode()).digest()[1] < 52


def p_risk(heads: dict[str, np.ndarray], x: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """p(risk) of each row, as bot.risk computes it."""
    words, _ = lexical_matrix(texts, heads["idf"].astype(np.float64))
    logit = x @ heads["weights"][0] + heads["bias"][0]
    logit += words @ heads["lexical"][0].astype(np.float64)
    hidden = np.maximum(x @ heads["hidden"].astype(np.float64) + heads["hidden_bias"], 0.0)
    net = hidden @ heads["out"] + heads["out_bias"]
    return (1.0 / (1.0 + np.exp(-logit)) + 1.0 / (1.0 + np.exp(-net))) / 2


def auc(y: np.ndarray, p: np.ndarray) -> str:
    return f"{roc_auc_score(y, p):.3f}" if 0 < y.sum() < len(y) else "  -  "


def report_rows(name: str, y: np.ndarray, p: np.ndarray, at: float = 0.5) -> str:
    flagged = p >= at
    pos, neg = y.sum(), (~y).sum()
    recall = f"{flagged[y].mean():6.1%}" if pos else "     -"
    fpr = f"{flagged[~y].mean():6.1%}" if neg else "     -"
    return f"{name:<34} {len(y):>6} {pos:>6} {auc(y, p):>6} {recall:>7} {fpr:>7}"


def evaluate(examples: list[Example], x: np.ndarray, dev: list[Example], xdev: np.ndarray) -> None:
    header = f"{'set':<34} {'rows':>6} {'risk':>6} {'AUC':>6} {'recall':>7} {'flagged':>7}"
    texts = [e.text for e in examples]
    y = np.array([e.risk for e in examples])
    trainable = np.array([e.source not in NOISY for e in examples])
    held = np.array([holdout(e) for e in examples])

    def train_on(rows: np.ndarray) -> dict:
        return train_heads([e for e, t in zip(examples, rows, strict=True) if t], x[rows])

    print("\nGrouped hold-out (20% of groups; recall and benign flag rate at p >= 0.5)")
    print(header)
    p = p_risk(train_on(trainable & ~held), x, texts)
    test = trainable & held
    print(report_rows("all sources", y[test], p[test]))
    for source in sorted({source_of(e) for e in examples} - NOISY):
        rows = test & np.array([source_of(e) == source for e in examples])
        print(report_rows(f"  {source}", y[rows], p[rows]))

    print("\nCross-source (trained on every other source, tested on this one)")
    print(header)
    for source in sorted({source_of(e) for e in examples}):
        rows = np.array([source_of(e) == source for e in examples])
        p = p_risk(train_on(trainable & ~rows), x, texts)
        print(report_rows(source, y[rows], p[rows]))
        if source in NOISY:  # per user: the user's most alarming post
            users: dict[str, list[int]] = defaultdict(list)
            for i in np.flatnonzero(rows):
                users[examples[i].group].append(i)
            uy = np.array([y[idx[0]] for idx in users.values()])
            up = np.array([p[idx].max() for idx in users.values()])
            print(report_rows(f"  {source} per user (max)", uy, up))

    print("\nCalibration set evals/cases/risk_dev.yaml, with the final weights (p >= 0.5)")
    print(header)
    ydev = np.array([e.risk for e in dev])
    print(report_rows("risk_dev", ydev, p_risk(train_on(trainable), xdev, [e.text for e in dev])))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the public labelled data")
    parser.add_argument("--no-write", action="store_true", help="evaluate only")
    parser.add_argument("--no-eval", action="store_true", help="write the weights only")
    args = parser.parse_args(argv)

    from pathlib import Path

    from ingest.embedding import Embedder

    settings = Settings.from_env()
    public = load_public(Path(args.data))
    own = load_own_training() + load_product_texts() + treatment_statements()
    dev = load_labelled_yaml(CASES / "risk_dev.yaml")
    examples = public + own
    counts = Counter((source_of(e), e.tier) for e in examples)
    print(f"{len(public)} public rows, {len(own)} own rows; by source and tier:")
    for (source, tier), n in sorted(counts.items()):
        print(f"  {source:<34} {tier:<8} {n:>6}")

    embedder = Embedder.from_settings(settings, batch_size=64)
    cache = EmbeddingCache(settings.embedding_model)
    x = cache.embed([e.text for e in examples], lambda t: embedder.embed(t, progress=True))
    xdev = cache.embed([e.text for e in dev], embedder.embed)
    if not args.no_eval:
        evaluate(examples, x, dev, xdev)
    if not args.no_write:
        trainable = np.array([e.source not in NOISY for e in examples])
        heads = train_heads([e for e, t in zip(examples, trainable, strict=True) if t],
                            x[trainable])  # fmt: skip
        np.savez_compressed(
            MODEL_PATH,
            heads=np.array(HEADS),
            model_name=np.array(settings.embedding_model),
            **heads,
        )
        print(f"\nwrote {MODEL_PATH} ({MODEL_PATH.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
