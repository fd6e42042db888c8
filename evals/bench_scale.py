"""Scale benchmark: `python -m evals.bench_scale` measures how today's costs grow with the
corpus (1, 100, 1,000 and 10,000 articles), over a local index folder and over a Chroma server
(`chroma run` on 127.0.0.1). Corpora go to a temporary folder (or --keep DIR):

- 1: corpus/medication-and-therapy.md alone, without its question bank (no size has a bank, so
  sizes compare; the seed's bank would add 711 records to its 105);
- 100 and 1,000: the seed's paragraphs recombined, article n the same in every corpus: its
  opening paragraph, 3 of its 5 sections (a shuffled subset of each one's paragraphs, under its
  `##` heading) and 4 of its 8 FAQs, renumbered, with a unique title and a date. Built with
  `python -m ingest`, which embeds each distinct text once ("texts embedded"): sentences repeat;
- 10,000: the same recombined files, whose records (`chunk_records` of the real chunks, in a
  generation that `ChromaIndex` creates and activates) are written directly with seeded random
  unit vectors: only the index's cost matters there, and the answers mean nothing.

Per size and mode: build time (ingest's own `seconds`, or the direct write) per 1,000 chunks;
start-up to serving: a fresh process runs `Bot.build(settings, sync=False)` and answers one
question, timed from its launch; its RSS after that answer and its peak (VmHWM); the Chroma
server's RSS; `bot.ask` p50/p95 over 50 questions from evals/cases/paraphrases.yaml and
typed.yaml, after 5 warm-up FAQ questions; and how it searched (MEDFAQ_SEARCH, or by size:
bot/settings.py, `--search` to choose). The measured process runs one torch thread
(OMP_NUM_THREADS=1 unless set): on a busy 2-core machine a second one's spin-waiting makes
embedding a question 10-50 times slower and would hide what the index costs.

Bounded: a build over --build-limit (or set to be, at its pace so far), a start-up or query
phase over --startup-limit, a process over --max-rss-mb, or the machine nearly out of memory:
that step is stopped and reported, and the run goes on. Children end on exit, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from evals.bench_load import ChromaServer, stop_process
from evals.load_report import percentile

PROJECT = Path(__file__).resolve().parent.parent
SEED = PROJECT / "corpus" / "medication-and-therapy.md"
CASES = PROJECT / "evals" / "cases"
RANDOM_FROM = 10_000  # sizes from here on get random vectors, written directly
DIM = 384  # the bundled all-MiniLM-L6-v2's vectors
BATCH = 1000  # records per Chroma write, as ingest writes them
WARMUP, TIMED = 5, 50
MIN_AVAILABLE_MB = 2048  # stop a measured process before the shared machine runs out
FAQ_HEADING = "Frequently Asked Questions"
_FRONT = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.DOTALL)


class Stopped(RuntimeError):
    """A step went over a limit: the message says which."""


@dataclass(frozen=True)
class SeedArticle:
    title: str
    date: str
    description: str
    intro: tuple[str, ...]
    sections: tuple[tuple[str, tuple[str, ...]], ...]  # (heading, paragraphs)
    faqs: tuple[tuple[str, str], ...]  # (question without its number, answer)


def parse_seed(text: str) -> SeedArticle:
    """The seed's front matter, opening paragraphs, `##` sections and `###` FAQs."""
    import yaml

    head, body = _FRONT.match(text).groups()
    meta = yaml.safe_load(head)
    intro, sections, faqs, in_faq = [], [], [], False
    for block in (b.strip() for b in re.split(r"\n[ \t]*\n", body.strip())):
        if block.startswith("## "):
            in_faq = block[3:].strip() == FAQ_HEADING
            sections += [] if in_faq else [(block[3:].strip(), [])]
        elif block.startswith("### ") and in_faq:
            faqs.append((re.sub(r"^\d+\.\s*", "", block[4:].strip()), []))
        else:
            (faqs[-1][1] if in_faq else sections[-1][1] if sections else intro).append(block)
    sections = tuple((h, tuple(p)) for h, p in sections)
    faqs = tuple((q, "\n\n".join(a)) for q, a in faqs)
    meta = (str(meta["title"]), str(meta["date"]), str(meta.get("description", "")))
    return SeedArticle(*meta, tuple(intro), sections, faqs)


def recombine(seed: SeedArticle, n: int) -> str:
    """Article n (0-based) of a recombined corpus: the same text for the same n, always."""
    rng = random.Random(f"bench-scale:{n}")
    date = dt.date.fromisoformat(seed.date) - dt.timedelta(days=n % 1000)
    title = json.dumps(f"{seed.title}, part {n + 1}")
    front = f"---\ntitle: {title}\ndate: {date}\ndescription: {json.dumps(seed.description)}\n---"
    parts = [front, *seed.intro]
    for heading, paragraphs in rng.sample(seed.sections, 3):
        parts += [f"## {heading}", *rng.sample(paragraphs, rng.randint(1, len(paragraphs)))]
    parts.append(f"## {FAQ_HEADING}")
    for k, (question, answer) in enumerate(rng.sample(seed.faqs, 4), 1):
        parts += [f"### {k}. {question}", answer]
    return "\n\n".join(parts) + "\n"


def write_corpus(folder: Path, size: int) -> Path:
    """1: the seed article alone (no bank); more: `size` recombined articles."""
    folder.mkdir(parents=True, exist_ok=True)
    if size == 1:
        shutil.copy(SEED, folder / SEED.name)
        return folder
    seed = parse_seed(SEED.read_text(encoding="utf-8"))
    for n in range(size):
        (folder / f"article-{n:05d}.md").write_text(recombine(seed, n), encoding="utf-8")
    return folder


def corpus_records(folder: Path, max_chars: int = 700):
    """(documents, chunks, records) of a corpus folder, as ingest makes them."""
    from ingest.chunking import chunk_document
    from ingest.loading import load_corpus
    from ingest.records import chunk_records

    documents, _ = load_corpus(folder)
    chunks = [c for d in documents for c in chunk_document(d, max_chars)]
    return documents, chunks, chunk_records(chunks)


def check_pace(elapsed: float, done: int, total: int, limit: float) -> None:
    """Raise Stopped when a write is over `limit` seconds, or will be at its pace so far
    (judged once 5% is written)."""
    if elapsed > limit or (done >= 0.05 * total and elapsed * total / done > limit):
        raise Stopped(
            f"build stopped after {elapsed:.0f} s, {done:,} of {total:,} records written: at"
            f" that pace all would take {elapsed * total / done:.0f} s (limit {limit:.0f} s)"
        )


def write_random_index(settings, records, *, seed: int = 0, limit: float = float("inf")) -> dict:
    """Write `records` as one new generation with seeded random unit vectors, laid out as
    ingest lays them (passages, sentences, terms, then the alias flipped); its write time."""
    import numpy as np

    from ingest.indexing import add_terms
    from ingest.records import chunks_from_records
    from ingest.store import ChromaIndex

    rng, index = np.random.default_rng(seed), ChromaIndex.from_settings(settings)
    began = time.perf_counter()
    generation = index.create_generation(settings.embedding_model)
    batches = [
        (c, part[i : i + BATCH])
        for c, part in generation.grouped(records)
        for i in range(0, len(part), BATCH)
    ]
    try:
        done = 0
        for collection, batch in batches:
            vectors = rng.standard_normal((len(batch), DIM), dtype=np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            add = dict(ids=[r.id for r in batch], documents=[r.document for r in batch])
            collection.add(**add, embeddings=vectors, metadatas=[r.meta for r in batch])
            done += len(batch)
            check_pace(time.perf_counter() - began, done, len(records), limit)
        if generation.count() != len(records):
            raise RuntimeError(f"wrote {generation.count()} of {len(records)} records")
        columns = (
            [r.id for r in records],
            [r.document for r in records],
            [r.meta for r in records],
        )
        add_terms(generation, chunks_from_records(*columns))
        index.activate(generation)
    except BaseException:
        index.drop(generation.name)
        raise
    return {"records": len(records), "seconds": round(time.perf_counter() - began, 3)}


def load_questions() -> list[dict]:
    """5 FAQ questions to warm up with, then 25 paraphrases and 25 typed messages (not the
    ones sent to a prescriber, which never touch the index), spread over their files."""
    import yaml

    def cases(name: str, key: str, field: str) -> list[dict]:
        found = yaml.safe_load((CASES / name).read_text(encoding="utf-8"))[key]
        found = [c for c in found if c.get("expect") != "boundary"]
        return [{"text": c[field], "history": list(c.get("history", ()))} for c in found]

    def spread(items: list, k: int) -> list:
        return [items[i * len(items) // k] for i in range(k)]

    warm = cases("faqs.yaml", "faqs", "question")[:WARMUP]
    paraphrases = cases("paraphrases.yaml", "paraphrases", "question")
    typed = cases("typed.yaml", "questions", "text")
    return warm + spread(paraphrases, TIMED // 2) + spread(typed, TIMED - TIMED // 2)


def child_measure(questions_file: str) -> int:
    """The measured process: build the bot, answer one question, report, time the rest."""
    import psutil

    from bot.chat import Bot
    from bot.index_search import IndexRetriever
    from bot.settings import Settings

    imported = time.time()
    questions = json.loads(Path(questions_file).read_text(encoding="utf-8"))
    bot = Bot.build(Settings.from_env(), sync=False, say=lambda _: None)
    built = time.time()
    search = "index" if isinstance(bot.retriever, IndexRetriever) else "memory"
    first = bot.ask(questions[0]["text"], questions[0]["history"])
    answered, rss = time.time(), psutil.Process().memory_info().rss / 2**20
    status = Path("/proc/self/status").read_text().splitlines()  # VmHWM: the kernel's peak
    peak = next((int(s.split()[1]) / 1024 for s in status if s.startswith("VmHWM:")), rss)
    times = dict(imported_at=imported, built_at=built, answered_at=answered)
    _emit("ready", **times, search=search, first_mode=first.mode, rss_mb=round(rss),
          peak_mb=round(peak))  # fmt: skip
    for q in questions[1:WARMUP]:
        bot.ask(q["text"], q["history"])
    latencies, modes = [], Counter()
    for q in questions[WARMUP:]:
        began = time.perf_counter()
        modes[bot.ask(q["text"], q["history"]).mode] += 1
        latencies.append(1000 * (time.perf_counter() - began))
    _emit("done", latencies_ms=latencies, modes=dict(modes))
    return 0


def _emit(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def _events(text: str) -> dict:
    found = [json.loads(s) for s in text.splitlines() if s.startswith('{"event"')]
    return {e["event"]: e for e in found}


def last_line(text: str) -> str:
    """The last line of a log (a traceback's error), for a one-line reason."""
    return next((s.strip() for s in reversed(text.splitlines()) if s.strip()), "")[:300]


def child_env(corpus: Path, index: Path, url: str = "", search: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDFAQ_")}
    env.update(MEDFAQ_CORPUS_DIR=str(corpus), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.update({"MEDFAQ_SEARCH": search} if search else {})
    env.update({"MEDFAQ_CHROMA_URL": url} if url else {"MEDFAQ_INDEX_PATH": str(index)})
    return env


def build_index(env: dict, corpus: Path, direct: bool, limit: float, chunks: int) -> dict:
    """Ingest the corpus, or write it with random vectors, in a child process: its timings."""
    command = ["-m", "ingest", "--corpus", str(corpus), "--json"]
    if direct:
        command = ["-m", "evals.bench_scale", "--write-random", str(corpus), "--limit", str(limit)]
    began = time.perf_counter()
    try:  # a hard bound too: the child is killed a minute past the limit
        done = subprocess.run(
            [sys.executable, *command], cwd=PROJECT, env=env, capture_output=True, text=True,
            timeout=limit + 60,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise Stopped(f"build stopped after {limit + 60:.0f} s") from None
    events = _events(done.stdout)
    if "stopped" in events:
        raise Stopped(events["stopped"]["reason"])
    if done.returncode != 0:
        raise RuntimeError(f"build failed ({done.returncode}): {last_line(done.stderr)}")
    summary = events["written"] if direct else json.loads(done.stdout.splitlines()[-1])
    wall, seconds = time.perf_counter() - began, summary["seconds"]
    per_1000 = round(1000 * seconds / chunks, 2)
    return dict(build_s=round(seconds, 1), build_wall_s=round(wall, 1), s_per_1000_chunks=per_1000)


def tree_rss_mb(pid: int) -> float:
    import psutil

    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20
    except psutil.Error:
        return 0.0


def measure(env: dict, work: Path, name: str, limit: float, max_rss_mb: float, server=None):
    """Launch the measured process and watch its time and memory until it has reported."""
    import psutil

    env = {"OMP_NUM_THREADS": "1", **env}  # see the module's docstring
    out, log = work / f"measure-{name}.jsonl", work / f"measure-{name}.log"
    command = [sys.executable, "-m", "evals.bench_scale", "--measure", str(work / "questions.json")]
    launched = time.time()
    with out.open("w") as stdout, log.open("w") as stderr:
        process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=stdout, stderr=stderr)
    events, server_mb, deadline = {}, None, time.monotonic() + limit
    try:
        while "done" not in events:
            time.sleep(0.2)
            ended, got = process.poll() is not None, _events(out.read_text())
            if "ready" in got and "ready" not in events:  # start-up is over: time the queries
                deadline = time.monotonic() + limit
                server_mb = tree_rss_mb(server.process.pid) if server else None
            if "done" in (events := got):
                break
            if ended:
                raise RuntimeError(f"the process ended: {last_line(log.read_text())}")
            rss, phase = tree_rss_mb(process.pid), "queries" if "ready" in events else "start-up"
            if rss > max_rss_mb:
                raise Stopped(f"{phase} stopped: the process reached {rss:.0f} MB")
            if psutil.virtual_memory().available < MIN_AVAILABLE_MB * 2**20:
                raise Stopped(f"{phase} stopped at {rss:.0f} MB: the machine ran low on memory")
            if time.monotonic() > deadline:
                raise Stopped(f"{phase} stopped after {limit:.0f} s (at {rss:.0f} MB)")
    finally:
        stop_process(process)
    r, latencies = events["ready"], events["done"]["latencies_ms"]
    imported, built, answered = r["imported_at"], r["built_at"], r["answered_at"]
    return dict(
        startup_s=round(answered - launched, 2), imports_s=round(imported - launched, 2),
        bot_build_s=round(built - imported, 2), first_answer_s=round(answered - built, 2),
        search=r["search"], first_mode=r["first_mode"], rss_mb=r["rss_mb"],
        peak_mb=r["peak_mb"],
        server_rss_mb=round(server_mb) if server_mb is not None else None,
        p50_ms=round(percentile(latencies, 0.5), 1), p95_ms=round(percentile(latencies, 0.95), 1),
        modes=events["done"]["modes"],
    )  # fmt: skip


def measure_size(size: int, modes: list[str], work: Path, args, say) -> list[dict]:
    corpus = write_corpus(work / f"corpus-{size}", size)
    documents, chunks, records = corpus_records(corpus)
    direct, rows = size >= RANDOM_FROM, []
    for mode in modes:
        row = dict(articles=len(documents), mode=mode, chunks=len(chunks), records=len(records))
        row["build"] = "random vectors" if direct else "ingest"
        row["embedded"] = 0 if direct else len({r.meta["embed_hash"] for r in records})
        index, server, began = work / f"index-{size}-{mode}", None, time.monotonic()
        try:
            if mode == "server":
                server = ChromaServer(index, log=work / f"chroma-{size}.log")
                server.start()
            env = child_env(corpus, index, server.url if server else "", args.search)
            row.update(build_index(env, corpus, direct, args.build_limit, len(chunks)))
            limits = (args.startup_limit, args.max_rss_mb)
            row.update(measure(env, work, f"{size}-{mode}", *limits, server))
        except Stopped as exc:
            row["skipped"] = str(exc)
        except (RuntimeError, OSError, ValueError, KeyError) as exc:
            row["skipped"] = f"{type(exc).__name__}: {exc}"
        finally:
            if server is not None:
                server.stop()
            if not args.keep:
                shutil.rmtree(index, ignore_errors=True)
        row["seconds"] = round(time.monotonic() - began)
        say(f"{size} articles, {mode}: {row.get('skipped', 'measured')} ({row['seconds']} s)")
        rows.append(row)
    if not args.keep:
        shutil.rmtree(corpus, ignore_errors=True)
    return rows


COLUMNS = {
    "articles": "articles", "mode": "mode", "search": "search", "chunks": "chunks",
    "records": "records",
    "build": "build", "embedded": "texts embedded", "build_s": "build s",
    "s_per_1000_chunks": "build s / 1,000 chunks", "startup_s": "start-up to 1st answer s",
    "bot_build_s": "of which Bot.build s", "rss_mb": "RSS MB", "peak_mb": "peak MB",
    "server_rss_mb": "Chroma server MB", "p50_ms": "p50 ms", "p95_ms": "p95 ms",
}  # fmt: skip


def table(rows: list[dict]) -> str:
    def cell(value) -> str:
        return "—" if value is None else f"{value:,}" if isinstance(value, int) else str(value)

    lines = ["| " + " | ".join(COLUMNS.values()) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(r.get(k)) for k in COLUMNS) + " |" for r in rows]
    lines += [f"- {r['articles']:,} {r['mode']}: {r['skipped']}" for r in rows if "skipped" in r]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.bench_scale", description=__doc__)
    parser.add_argument("--sizes", default="1,100,1000,10000", help="articles, comma-separated")
    parser.add_argument("--modes", default="local,server", help="local, server or both")
    parser.add_argument("--search", default="", choices=["", "index", "memory"],
                        help="how the measured app searches (MEDFAQ_SEARCH; default: by size)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--keep", metavar="DIR", help="build in DIR and keep everything there")
    parser.add_argument("--build-limit", type=float, default=900.0, help="seconds per build")
    parser.add_argument("--startup-limit", type=float, default=900.0, help="seconds per phase")
    parser.add_argument("--max-rss-mb", type=float, default=8000.0, help="per measured process")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the measured child process
    parser.add_argument("--write-random", help=argparse.SUPPRESS)  # the random-vector writer
    parser.add_argument("--limit", type=float, default=float("inf"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        return child_measure(args.measure)
    if args.write_random:  # a process of its own, so its Chroma client is closed before reads
        from bot.settings import Settings

        records = corpus_records(Path(args.write_random))[2]
        try:
            _emit("written", **write_random_index(Settings.from_env(), records, limit=args.limit))
        except Stopped as exc:
            _emit("stopped", reason=str(exc))
            return 3
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not sizes or min(sizes) < 1 or max(sizes) > 100_000 or set(modes) - {"local", "server"}:
        parser.error("--sizes must be 1-100000 and --modes local and/or server")
    say = (lambda m: print(m, file=sys.stderr, flush=True)) if args.json else print
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    began, load = time.monotonic(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        (work / "questions.json").write_text(json.dumps(load_questions()), encoding="utf-8")
        rows = [row for size in sizes for row in measure_size(size, modes, work, args, say)]
    report = {
        "rows": rows,
        "seconds": round(time.monotonic() - began),
        "cpus": os.cpu_count(),
        "load_average": [[round(x, 2) for x in load], [round(x, 2) for x in os.getloadavg()]],
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(table(rows))
        before, after = report["load_average"]
        print(f"\n{report['seconds']} s in all on {report['cpus']} cores; load average {before}"
              f" before, {after} after")  # fmt: skip
    return 1 if any("skipped" in r for r in rows) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the children are already ended
        sys.exit("interrupted")
