"""Embed chunks and write them to Chroma (ingest/store.py): the only writer of the index.

Each ingest that changes anything builds a new generation, copying unchanged records with
their embeddings, and then flips the alias to it; an unchanged corpus writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from bot.settings import Settings
from bot.types import BankQuestion, Chunk, SourceDocument
from ingest.catalog import term_rows
from ingest.chunking import SCHEMA_VERSION, chunk_document
from ingest.loading import LoadProblem
from ingest.questions import load_banks
from ingest.records import (
    BANK,
    PASSAGE_KINDS,
    Record,
    bank_records,
    chunk_records,
    chunks_from_records,
    content_hash,
)
from ingest.store import ChromaIndex, Generation, IndexNotReady

_BATCH = 1000
# A generation that is neither active nor previous and older than this is a crashed
# ingest's leftover; younger ones may belong to an ingest still running elsewhere.
ORPHAN_AGE_SECONDS = 600.0


@dataclass(frozen=True)
class IngestSummary:
    files: int
    chunks: int
    questions: int  # question-bank questions indexed
    added: int
    updated: int
    unchanged: int
    deleted: int
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def sync_index(
    documents: list[SourceDocument],
    problems: list[LoadProblem],
    index: ChromaIndex,
    embedder,
    *,
    bank: Sequence[BankQuestion] = (),
    bank_unreadable: Collection[str] = (),
    chunks: list[Chunk] | None = None,
    max_chars: int = 700,
    rebuild: bool = False,
    progress: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> IngestSummary:
    """Bring the index in line with the corpus, writing only what changed.

    An unchanged corpus writes nothing and never loads the model. Files that failed to load
    keep their previous chunks, and articles whose question bank failed to load keep their
    previous questions: a broken file never deletes what was indexed from it.
    Counts are per chunk: `updated` is a chunk whose place in its file (source, section,
    position) existed before with other content or offsets.
    """
    began = clock()
    if chunks is None:
        chunks = [c for doc in documents for c in chunk_document(doc, max_chars)]
    active = index.active_any(missing_ok=True)
    if active is not None and not rebuild:
        index.check(active, embedder.model_name, schema=False)
    # An index of an older schema is rewritten whole, with the vectors it has.
    upgrade = (
        active is not None
        and not rebuild
        and (active.metadata.get("schema_version") != SCHEMA_VERSION or active.terms is None)
    )
    rows = _read_rows(active) if active is not None else []
    old = {r.id: r.meta for r in rows if r.meta["kind"] in PASSAGE_KINDS}
    failed = {p.source for p in problems}
    carried = {i for i, meta in old.items() if meta["source"] in failed}
    wanted = {c.id for c in chunks} | carried
    fresh = {c.id for c in chunks} - set(old)
    gone = set(old) - wanted
    records = chunk_records(chunks)
    slots = {r.id: r.meta["slot"] for r in records if r.id in fresh}
    updated = len(set(slots.values()) & {old[i]["slot"] for i in gone})
    old_bank = {r.id: r for r in rows if r.meta["kind"] == BANK}
    keep_sources = failed | set(bank_unreadable)
    carried_bank = [
        r
        for r in old_bank.values()
        if r.meta["source"] in keep_sources and r.meta["chunk"] in wanted
    ]
    questions = bank_records(bank)
    wanted_bank = {r.id for r in questions} | {r.id for r in carried_bank}

    def summary(**counts) -> IngestSummary:
        seconds = round(clock() - began, 3)
        return IngestSummary(
            len(documents), len(chunks), len(wanted_bank), seconds=seconds, **counts
        )

    unchanged = wanted == set(old) and wanted_bank == set(old_bank)
    if active is not None and not rebuild and not upgrade and unchanged:
        index.drop_stale(min_age=ORPHAN_AGE_SECONDS)
        return summary(added=0, updated=0, unchanged=len(old), deleted=0)

    if rebuild or upgrade:  # rewrite everything, including what is carried from broken files
        keep_rows: list[_Row] = []
        carried_rows = [r for r in rows if (r.id in carried or r.meta.get("chunk") in carried)]
        carried_rows = [r for r in carried_rows if r.meta["kind"] != BANK]
        carried_chunks = chunks_from_records(*_columns(carried_rows))
        write = records + chunk_records(carried_chunks) + questions
        write += [Record(r.id, r.document, r.meta, r.document) for r in carried_bank]
        # A rebuild embeds everything afresh; an upgrade keeps the vectors it has.
        reuse = {r.meta["embed_hash"]: r.embedding for r in rows} if upgrade else {}
    else:
        keep_rows = [
            r
            for r in rows
            if (r.meta["kind"] != BANK and (r.id in wanted or r.meta.get("chunk") in wanted))
            or (r.meta["kind"] == BANK and r.id in wanted_bank)
        ]
        write = [r for r in records if r.chunk_id in fresh]
        write += [r for r in questions if r.id not in old_bank]
        reuse = {r.meta["embed_hash"]: r.embedding for r in rows}

    generation = index.create_generation(embedder.model_name)
    try:
        vectors = _embed_missing([r.embed_text for r in write], reuse, embedder, progress)
        new_rows = [_Row(r.id, vectors[r.meta["embed_hash"]], r.document, r.meta) for r in write]
        _add(generation, keep_rows)
        _add(generation, new_rows)
        rows_in = [r for r in keep_rows + new_rows if r.meta["kind"] != BANK]
        add_terms(generation, chunks_from_records(*_columns(rows_in)))
        expected = len(keep_rows) + len(write)
        if generation.count() != expected:
            raise RuntimeError(
                f"index write incomplete: {generation.count()} of {expected} records"
            )
        index.activate(generation)
    except BaseException:
        index.drop(generation.name)
        raise
    return summary(
        added=len(fresh) - updated,
        updated=updated,
        unchanged=len(wanted & set(old)),
        deleted=len(gone) - updated,
    )


@dataclass(frozen=True)
class _Row:
    id: str
    embedding: np.ndarray
    document: str
    meta: dict


def _read_rows(generation: Generation) -> list[_Row]:
    got = generation.get(include=["embeddings", "documents", "metadatas"])
    columns = (got["ids"], got["embeddings"], got["documents"], got["metadatas"])
    return [
        _Row(i, np.asarray(e, dtype=np.float32), d, m) for i, e, d, m in zip(*columns, strict=True)
    ]


def _columns(rows: list[_Row]) -> tuple[list, list, list]:
    return [r.id for r in rows], [r.document for r in rows], [r.meta for r in rows]


def _embed_missing(texts: list[str], reuse: dict, embedder, progress: bool) -> dict:
    vectors = dict(reuse)
    missing = list(dict.fromkeys(t for t in texts if content_hash(t) not in vectors))
    if missing:
        for text, vector in zip(missing, embedder.embed(missing, progress=progress), strict=True):
            vectors[content_hash(text)] = vector
    return vectors


def _add(generation: Generation, rows: list[_Row]) -> None:
    for collection, part in generation.grouped(rows):
        for i in range(0, len(part), _BATCH):
            batch = part[i : i + _BATCH]
            collection.add(
                ids=[r.id for r in batch],
                embeddings=np.stack([r.embedding for r in batch]),
                documents=[r.document for r in batch],
                metadatas=[r.meta for r in batch],
            )


def add_terms(generation: Generation, chunks: list[Chunk]) -> None:
    """Write the term and catalog records of the generation's passages (ingest/catalog.py),
    `chunks` in the search's order. Chroma stores a vector with every record; terms are only
    ever read by id, so each gets the same one-number vector."""
    rows = term_rows(chunks)
    for i in range(0, len(rows), _BATCH):
        batch = rows[i : i + _BATCH]
        generation.terms.add(
            ids=[r[0] for r in batch],
            documents=[r[1] for r in batch],
            metadatas=[r[2] for r in batch],
            embeddings=np.ones((len(batch), 1), dtype=np.float32),
        )


def ingest_corpus(
    settings: Settings,
    index: ChromaIndex,
    embedder,
    *,
    rebuild: bool = False,
    progress: bool = False,
) -> tuple[IngestSummary, list[LoadProblem]]:
    """Load the corpus folder and sync the index with it (one ingest at a time per folder)."""
    from filelock import FileLock

    from ingest.loading import load_corpus

    documents, problems = load_corpus(settings.corpus_dir)
    if not documents and not problems:
        raise IndexNotReady(f"The corpus folder {settings.corpus_dir} has no documents.")
    chunks = [c for doc in documents for c in chunk_document(doc, settings.max_chunk_chars)]
    banks = load_banks(settings.corpus_dir, documents, chunks)
    lock = None
    if not settings.chroma_url:
        settings.index_path.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(settings.index_path / ".ingest.lock"))
        lock.acquire(timeout=600)
    try:
        summary = sync_index(
            documents,
            problems,
            index,
            embedder,
            bank=banks.questions,
            bank_unreadable=banks.unreadable,
            chunks=chunks,
            rebuild=rebuild,
            progress=progress,
        )
    finally:
        if lock is not None:
            lock.release()
    return summary, problems + banks.problems
