"""Embed the project's own risk messages: `python -m evals.build_exemplars`.

Writes bot/data/risk_exemplars.npz: the messages of evals/training/*.yaml (risk messages
and look-alikes, written for this project; none of the public data sets) embedded with the
embedding model of the settings (MEDFAQ_EMBEDDING_MODEL), as float16 unit vectors, with
whether each is a risk message. The classifier (bot/risk.py) flags a message that is close
to one of them and clearly closer to it than to any look-alike; how close is calibrated by
`python -m evals.calibrate_safety`. Re-run after editing evals/training/ or changing the
model, then calibrate again.

A long risk message (a post about medication with one risky sentence in it) is left out:
its embedding is the post's topic, so a benign question on the same topic ("how much
screen time is ok for a child") would sit close to it. The classifier reads such posts in
parts; the exemplars are for short phrasings.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from bot.risk import EXEMPLARS_PATH, message_parts
from bot.settings import Settings
from evals.risk_data import EmbeddingCache, Example, load_own_training


def exemplar_messages(examples: list[Example]) -> list[Example]:
    """The training messages the exemplars remember: every look-alike, and the risk
    messages short enough to be read whole."""
    return [e for e in examples if e.tier == "none" or not message_parts(e.text)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.build_exemplars", description=__doc__)
    parser.parse_args(argv)
    from ingest.embedding import Embedder

    settings = Settings.from_env()
    examples = exemplar_messages(load_own_training())
    embedder = Embedder.from_settings(settings)
    cache = EmbeddingCache(settings.embedding_model)
    vectors = cache.embed([e.text for e in examples], embedder.embed)
    risky = np.array([e.tier != "none" for e in examples], dtype=bool)
    np.savez_compressed(
        EXEMPLARS_PATH,
        vectors=np.asarray(vectors, dtype=np.float16),
        risky=risky,
        model=np.array(settings.embedding_model),
    )
    size = EXEMPLARS_PATH.stat().st_size // 1024
    print(f"{len(examples)} messages ({int(risky.sum())} risk, {int((~risky).sum())} look-alikes)")
    print(f"wrote {EXEMPLARS_PATH} ({size} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
