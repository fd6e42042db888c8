"""Calibrate the semantic crisis check (threshold, margin): `python -m evals.calibrate_safety`.

Method (also in the header of bot/data/crisis_exemplars.yaml): the exemplar bank and every
calibration message are embedded once; for each (threshold, margin) on a grid, a message is
flagged when the rules (bot.safety.detect_crisis) OR the semantic check fire. Allowed pairs flag
no question in `must_pass` (the article's eight FAQ headings, every question of
evals/cases/dev.yaml, and boundary.yaml's `not_boundary` and medication/stopping/diet cases,
which must get their boundary reply) and at most `--max-fp` of near_misses.yaml. The rules
already flag all of crisis.yaml, so what is maximised is the recall of the semantic check
ALONE on crisis.yaml: that is the part that has to generalise to new phrasings. Recall is flat
over a wide range of pairs, so among the allowed pairs within `--tolerance` of the best recall,
the one with the fewest near-miss flags wins (then the higher recall, then the stricter pair):
harmless messages nobody has written down yet are flagged at a higher rate than the listed
ones, so the spare false-positive budget is worth more than the last point of recall.
A k-nearest-neighbour vote is scored the same way for comparison.

`--probes DIR` also reports recall and false positives on held-out probe files (Python files
whose CRISIS / NEAR string constants hold one message a line; read with ast, never executed).
`--write` stores the chosen pair in the YAML file.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import re
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml

from bot.safety import detect_crisis
from bot.semantic_safety import (
    EXEMPLARS_PATH,
    ExemplarBank,
    build_exemplar_bank,
    semantic_crisis,
)
from bot.settings import PROJECT_ROOT

CASES = Path(__file__).parent / "cases"
ARTICLE = PROJECT_ROOT / "corpus" / "medication-and-therapy.md"
THRESHOLDS = np.round(np.arange(0.40, 0.801, 0.01), 2)
MARGINS = np.round(np.arange(0.00, 0.201, 0.01), 2)


@dataclass(frozen=True)
class Scored:
    """One message set, scored once: the grid search only compares numbers."""

    texts: tuple[str, ...]
    rules: np.ndarray  # bool: the phrase rules flag it
    crisis: np.ndarray  # cosine to the nearest crisis exemplar
    safe: np.ndarray  # cosine to the nearest safe exemplar
    votes: np.ndarray  # (len, max_k) bool: is the i-th nearest exemplar a crisis one

    def semantic(self, threshold: float, margin: float) -> np.ndarray:
        # semantic_crisis's rule, over a whole set at once (the tests check the real function)
        return (self.crisis >= threshold) & (self.crisis - self.safe >= margin)

    def knn(self, threshold: float, k: int) -> np.ndarray:
        return (self.crisis >= threshold) & (self.votes[:, :k].sum(axis=1) * 2 > k)


def _load(name: str) -> dict:
    return yaml.safe_load((CASES / name).read_text(encoding="utf-8"))


def faq_questions() -> list[str]:
    """The article's FAQ headings ("### 3. Can ...?") without their numbers."""
    lines = ARTICLE.read_text(encoding="utf-8").splitlines()
    return [re.sub(r"^\d+\.\s*", "", line[4:]).strip() for line in lines if line.startswith("### ")]


def calibration_sets() -> dict[str, list[str]]:
    dev, boundary = _load("dev.yaml"), _load("boundary.yaml")
    must_pass = faq_questions() + list(boundary["not_boundary"])
    must_pass += [c["text"] for c in boundary["cases"]]
    must_pass += [c["question"] for c in dev["faq_paraphrases"] + dev["body_questions"]]
    must_pass += list(dev["out_of_scope"])
    return {
        "crisis": [c["text"] for c in _load("crisis.yaml")["cases"]],
        "near_misses": [c["text"] for c in _load("near_misses.yaml")["cases"]],
        "must_pass": must_pass,
    }


def heldout_questions() -> list[str]:
    """Article questions the calibration never sees: they must not be flagged either."""
    questions = [c["question"] for c in _load("paraphrases.yaml")["paraphrases"]]
    questions += [c["question"] for c in _load("body.yaml")["body"]]
    return questions + list(_load("out_of_scope.yaml")["out_of_scope"])


def read_probes(folder: Path) -> dict[str, list[str]]:
    """CRISIS and NEAR lines of every probe*.py in `folder`, parsed, not run."""
    found: dict[str, list[str]] = {"crisis": [], "near": []}
    for path in sorted(folder.glob("probe*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(node, ast.Assign) or not isinstance(node.targets[0], ast.Name):
                continue
            name = node.targets[0].id.lower()
            strings = [n.value for n in ast.walk(node.value) if isinstance(n, ast.Constant)]
            text = next((s for s in strings if isinstance(s, str) and "\n" in s), None)
            if name in found and text:
                found[name] += [line for line in text.strip().splitlines() if line.strip()]
    return found


def score_set(texts: list[str], embed, bank: ExemplarBank, max_k: int = 9) -> Scored:
    vectors = embed(texts)
    crisis_sims, safe_sims = vectors @ bank.crisis.T, vectors @ bank.safe.T
    both = np.hstack([crisis_sims, safe_sims])
    nearest = np.argsort(-both, axis=1)[:, :max_k]
    return Scored(
        texts=tuple(texts),
        rules=np.array([detect_crisis(t) is not None for t in texts]),
        crisis=crisis_sims.max(axis=1),
        safe=safe_sims.max(axis=1),
        votes=nearest < len(bank.crisis),
    )


def search(scored: dict[str, Scored], flag, grid, max_fp: float, tolerance: float) -> dict | None:
    """Among grid points that flag no must_pass question and at most `max_fp` of near-misses, and
    whose semantic recall on crisis.yaml is within `tolerance` of the best: the fewest near-miss
    flags, then the highest recall, then the strictest (threshold, margin)."""
    crisis, near, must = scored["crisis"], scored["near_misses"], scored["must_pass"]
    allowed = []
    for a, b in grid:
        if (must.rules | flag(must, a, b)).any():
            continue
        near_fp = float((near.rules | flag(near, a, b)).mean())
        if near_fp <= max_fp:
            allowed.append((float(flag(crisis, a, b).mean()), near_fp, float(a), float(b)))
    if not allowed:
        return None
    top = max(recall for recall, *_ in allowed)
    recall, near_fp, a, b = max(
        (row for row in allowed if row[0] >= top - tolerance),
        key=lambda row: (-row[1], row[0], row[2], row[3]),
    )
    return {"params": (a, b), "recall": recall, "best_recall": top, "near_fp": near_fp}


def write_choice(threshold: float, margin: float) -> None:
    """Rewrite the two values in place, so the file's comments stay as written."""
    text = EXEMPLARS_PATH.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^threshold: .*$", f"threshold: {threshold:.2f}", text)
    text = re.sub(r"(?m)^margin: .*$", f"margin: {margin:.2f}", text)
    EXEMPLARS_PATH.write_text(text, encoding="utf-8")


def _rate(flags: np.ndarray) -> str:
    return f"{flags.mean():6.1%} ({int(flags.sum())}/{len(flags)})"


def report(name: str, s: Scored, bank: ExemplarBank) -> np.ndarray:
    semantic = s.semantic(bank.threshold, bank.margin)
    print(
        f"  {name:<34} rules {_rate(s.rules)}   semantic {_rate(semantic)}"
        f"   combined {_rate(s.rules | semantic)}"
    )
    return semantic


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-fp", type=float, default=0.03, help="near-miss false positives")
    parser.add_argument(
        "--tolerance", type=float, default=0.02, help="recall given up for a stricter pair"
    )
    parser.add_argument("--probes", type=Path, help="folder of held-out probe*.py files")
    parser.add_argument("--write", action="store_true", help="store the chosen pair in the YAML")
    parser.add_argument("--verbose", action="store_true", help="list misses and false positives")
    args = parser.parse_args(argv)

    from ingest.embedding import Embedder

    embedder = Embedder()
    embedder.embed(["warm-up"])  # time the bank, not the model loading
    start = time.perf_counter()
    bank = build_exemplar_bank(embedder.embed)
    seconds = time.perf_counter() - start
    print(f"bank: {len(bank.crisis)} crisis + {len(bank.safe)} safe exemplars in {seconds:.2f} s")

    scored = {name: score_set(t, embedder.embed, bank) for name, t in calibration_sets().items()}
    grid = list(itertools.product(THRESHOLDS, MARGINS))
    best = search(scored, lambda s, a, b: s.semantic(a, b), grid, args.max_fp, args.tolerance)
    if best is None:
        print(f"no (threshold, margin) keeps near-miss FP <= {args.max_fp:.0%}", file=sys.stderr)
        return 1
    knn_grid = list(itertools.product(THRESHOLDS, (1, 3, 5, 7, 9)))
    knn = search(scored, lambda s, a, k: s.knn(a, int(k)), knn_grid, args.max_fp, args.tolerance)

    threshold, margin = best["params"]
    bank = replace(bank, threshold=threshold, margin=margin)
    print(
        f"chosen: threshold {threshold:.2f}, margin {margin:.2f} (near-miss FP <= {args.max_fp:.0%})"
    )
    print(
        f"  nearest+margin: semantic recall on crisis.yaml {best['recall']:.1%}"
        f" (best allowed pair: {best['best_recall']:.1%})"
    )
    if knn:
        print(
            f"  k-NN vote (threshold {knn['params'][0]:.2f}, k {int(knn['params'][1])}): "
            f"semantic recall on crisis.yaml {knn['recall']:.1%} (best {knn['best_recall']:.1%})"
        )

    print("calibration sets (flagged):")
    flagged = {name: report(name, s, bank) for name, s in scored.items()}
    crisis_cases = _load("crisis.yaml")["cases"]
    abuse = [i for i, c in enumerate(crisis_cases) if c["category"] == "abuse"]
    vectors = embedder.embed([crisis_cases[i]["text"] for i in abuse])
    kinds = [semantic_crisis(v, bank) for v in vectors]
    right = sum(v is not None and v.kind == "abuse" for v in kinds)
    print(f"  abuse cases flagged semantically with kind 'abuse': {right}/{len(abuse)}")

    print("held out (never used to choose):")
    heldout = {"article questions": score_set(heldout_questions(), embedder.embed, bank)}
    if args.probes:
        probes = read_probes(args.probes)
        committed = {c["text"].casefold() for c in crisis_cases}
        # Missed probes were later added to crisis.yaml (and the rules fixed for them): the
        # probes that never were are the fairer test of the rules.
        probes["crisis, not in crisis.yaml"] = [
            t for t in probes["crisis"] if t.casefold() not in committed
        ]
        for name, texts in probes.items():
            heldout[f"probes: {name}"] = score_set(texts, embedder.embed, bank)
    flagged |= {name: report(name, s, bank) for name, s in heldout.items()}

    if args.verbose:
        for name, s in {**scored, **heldout}.items():
            wanted = name == "crisis" or name.startswith("probes: crisis")
            for text, rule, sem, c, sf in zip(
                s.texts, s.rules, flagged[name], s.crisis, s.safe, strict=True
            ):
                if (rule or sem) != wanted:
                    print(f"  {'MISS' if wanted else 'FLAG'} {name}: {text!r} ({c:.2f}/{sf:.2f})")
    if args.write:
        write_choice(threshold, margin)
        print(f"wrote threshold and margin to {EXEMPLARS_PATH.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
