"""Benchmark: `python -m evals.bench_answers` measures per-question latency side by side.

Three contenders over the same questions, after warm-up, interleaved so that machine noise
hits them alike:
  floor     one query embedding with the bundled model, as the bot computes it (with ONNX
            Runtime unless MEDFAQ_EMBEDDING_BACKEND=torch), and for comparison with torch, as
            sentence-transformers and the recipe compute it;
  recipe    LangChain's default recipe: RecursiveCharacterTextSplitter(1000, 200) chunks,
            HuggingFaceEmbeddings (same bundled model), a Chroma vector store,
            similarity_search(k=4);
  bot       this project's full answer: safety checks, hybrid retrieval, FAQ routing,
            sentence selection and citation verification;
and the risk classifier alone, on a vector computed beforehand (its cost per message).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

DEV_SET = Path(__file__).parent / "cases" / "dev.yaml"
TYPED_SET = Path(__file__).parent / "cases" / "dev_typed.yaml"


def questions() -> list[str]:
    """The development questions: close to the article's words, and typed as people type
    (long posts included); none of the gate's."""
    dev = yaml.safe_load(DEV_SET.read_text())
    typed = yaml.safe_load(TYPED_SET.read_text())
    return (
        [c["question"] for c in dev["faq_paraphrases"]]
        + [c["question"] for c in dev["body_questions"]]
        + list(dev["out_of_scope"])
        + [q["text"] for q in typed["questions"] if not q.get("history")]
    )


def build_recipe(settings, folder: str):
    """LangChain's default RAG recipe over the same corpus and the same embedding model."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from ingest.embedding import resolve_model
    from ingest.loading import load_corpus

    embedder = HuggingFaceEmbeddings(
        model_name=resolve_model(settings.embedding_model),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    documents, _ = load_corpus(settings.corpus_dir)
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = splitter.split_documents(
        [Document(d.text[d.body_start :], metadata={"source": d.source}) for d in documents]
    )
    client = chromadb.PersistentClient(folder, settings=ChromaSettings(anonymized_telemetry=False))
    return Chroma.from_documents(
        chunks, embedding=embedder, client=client, collection_name="recipe"
    )


def ask_uncached(bot, question: str):
    """The bot remembers message vectors (for the history checks); every timed question here
    must pay for its embedding like the other contenders do."""
    bot.forget_vectors()
    return bot.ask(question)


def score_risk(bot, vectors: dict[str, object], question: str):
    """The risk classifier alone, on the vector the bot computes for retrieval anyway."""
    return bot.risk_model.score(vectors[question], [question])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.bench_answers", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="passes over the question set")
    args = parser.parse_args(argv)

    from bot.chat import Bot
    from ingest.embedding import Embedder

    bot = Bot.build()
    embedder = bot.retriever.embedder
    with_torch = Embedder(bot.settings.embedding_model, backend="torch")
    with tempfile.TemporaryDirectory() as folder:
        recipe = build_recipe(bot.settings, folder)
        qs = questions()
        vectors = {q: embedder.embed([q])[0] for q in qs}
        contenders: dict[str, Callable[[str], object]] = {
            "floor (one embedding)": lambda q: embedder.embed([q]),
            "one embedding with torch": lambda q: with_torch.embed([q]),
            "LangChain default recipe": lambda q: recipe.similarity_search(q, k=4),
            "this bot (full answer)": lambda q: ask_uncached(bot, q),
            "risk classifier alone": lambda q: score_risk(bot, vectors, q),
        }
        for run in contenders.values():  # warm-up
            for q in qs[:5]:
                run(q)
        timings: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.rounds):
            for q in qs:
                for name, run in contenders.items():
                    began = time.perf_counter()
                    run(q)
                    timings[name].append((time.perf_counter() - began) * 1000)
    floor = statistics.median(timings["floor (one embedding)"])
    backend = "ONNX Runtime" if embedder.runs_onnx else "torch"
    print(f"{len(qs)} questions x {args.rounds} rounds, milliseconds per question")
    print(f"the bot embeds with {backend}; the floor is one embedding as the bot computes it")
    print(f"{'':28}{'p50':>8}{'p95':>8}{'p50 / floor':>14}")
    for name, values in timings.items():
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        print(f"{name:28}{p50:8.1f}{p95:8.1f}{p50 / floor:14.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
