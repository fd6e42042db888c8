"""Command line: `python -m ingest` syncs the Chroma index with the corpus folder."""

from __future__ import annotations

import argparse
import gc
import json
import sys

from bot.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Chunk and embed the corpus into Chroma. Safe to re-run.",
    )
    parser.add_argument("--corpus", metavar="DIR", help="corpus folder (default: corpus/)")
    parser.add_argument("--index", metavar="PATH", help="index folder (default: .index/)")
    parser.add_argument("--rebuild", action="store_true", help="re-embed everything from scratch")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    args = parser.parse_args(argv)

    settings = Settings.from_env(corpus_dir=args.corpus, index_path=args.index)
    from ingest.embedding import Embedder
    from ingest.indexing import ingest_corpus
    from ingest.loading import LoadError
    from ingest.store import ChromaIndex, IndexNotReady

    try:
        index = ChromaIndex.from_settings(settings)
        summary, problems = ingest_corpus(
            settings,
            index,
            Embedder.from_settings(settings),
            rebuild=args.rebuild,
            progress=sys.stderr.isatty() and not args.json,
        )
    except (IndexNotReady, LoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"skipped {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary.as_dict()))
    else:
        s = summary
        print(
            f"{s.files} file{'s' if s.files != 1 else ''}, {s.chunks} chunks, {s.questions} bank "
            f"questions: {s.added} added, "
            f"{s.updated} updated, {s.unchanged} unchanged, {s.deleted} deleted "
            f"in {s.seconds:.1f} s -> {index.where}"
        )
    if problems:
        print(
            f"{len(problems)} problem(s): files that could not be ingested or stale "
            "question-bank entries; fix or remove them.",
            file=sys.stderr,
        )
        return 1
    return 0


def _exit(status: int) -> None:
    # Everything is written; skip the interpreter's final sweep over torch's huge object
    # graph, which otherwise adds over a second to every run that loaded the model.
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    _exit(main())
