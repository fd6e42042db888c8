"""Benchmark: `python -m evals.bench_keywords` times keyword search as the corpus grows.

The keyword index of bot/keywords.py (postings) beside rank_bm25's BM25Okapi, which it
replaced and whose scores it reproduces, over corpora of 1 to 10,000 articles made by
recombining the article's chunks (each chunk's words shuffled with a fixed seed, so that
chunks differ), with the development questions as queries. Prints build seconds and query
p50 / p95 in milliseconds for each.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

from bot.evidence import tokenize
from bot.keywords import KeywordIndex
from evals.bench_answers import percentile, questions
from ingest.chunking import chunk_document
from ingest.loading import load_corpus


def corpus(articles: int, base: list[list[str]], seed: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    out = [list(doc) for doc in base]
    while len(out) < articles * len(base):
        doc = list(rng.choice(base))
        rng.shuffle(doc)
        out.append(doc[: rng.randint(max(1, len(doc) // 2), len(doc))])
    return out


def timed(run, queries: list[list[str]]) -> tuple[float, float]:
    times = []
    for q in queries:
        began = time.perf_counter()
        run(q)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), percentile(times, 0.95)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.bench_keywords", description=__doc__)
    parser.add_argument("--sizes", default="1,100,1000,10000", help="articles per corpus")
    parser.add_argument("--queries", type=int, default=60, help="questions timed per corpus")
    args = parser.parse_args(argv)
    from rank_bm25 import BM25Okapi

    from bot.settings import Settings

    docs, _ = load_corpus(Settings.from_env().corpus_dir)
    base = [tokenize(f"{c.section} {c.text}") for d in docs for c in chunk_document(d)]
    queries = [tokenize(q) for q in questions()][: args.queries]
    print(f"{'articles':>9}{'chunks':>9}  {'index':<10}{'build s':>9}{'p50 ms':>9}{'p95 ms':>9}")
    for size in (int(s) for s in args.sizes.split(",")):
        documents = corpus(size, base)
        for name, build, query in (
            ("postings", KeywordIndex.build, lambda index, q: index.top(q, 10)),
            ("BM25Okapi", BM25Okapi, lambda index, q: index.get_scores(q).argsort()[-10:]),
        ):
            began = time.perf_counter()
            index = build(documents)
            seconds = time.perf_counter() - began
            p50, p95 = timed(lambda q, index=index, query=query: query(index, q), queries)
            print(
                f"{size:>9,}{len(documents):>9,}  {name:<10}{seconds:>9.2f}{p50:>9.2f}{p95:>9.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
