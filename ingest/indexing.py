"""Embed chunks and write them to Chroma: the only writer of the index.

The index is a set of Chroma collections. Each ingest that changes anything builds a new
*generation* collection (copying unchanged records, embeddings included) and then flips an
alias collection's metadata to point at it, in one write. Readers always follow the alias,
so a crash halfway through leaves them on the previous, complete generation. The same
scheme works unchanged against a Chroma server.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlparse

import numpy as np

from bot.settings import Settings
from bot.types import BankQuestion, Chunk, SourceDocument
from ingest.catalog import TERMS, term_rows
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

# A generation's parts: the passages' collection name, plus these.
SENTENCES, QUESTIONS, BANK_PART = "-sentences", "-questions", "-bank"
PARTS = ("", SENTENCES, QUESTIONS, BANK_PART, TERMS)
QUESTION = "question"  # the kind of an FAQ's question line
_BATCH = 1000
# A generation that is neither active nor previous and older than this is a crashed
# ingest's leftover; younger ones may belong to an ingest still running elsewhere.
ORPHAN_AGE_SECONDS = 600.0


def _generation_of(collection: str) -> str:
    """The generation a collection is part of."""
    for suffix in PARTS[1:]:
        if collection.endswith(suffix):
            return collection.removesuffix(suffix)
    return collection


class IndexNotReady(RuntimeError):
    """No usable index: the message tells a person what to run."""


class IndexMismatch(IndexNotReady):
    """The index was built with another embedding model or schema version."""


class IndexUnreachable(IndexNotReady):
    """The Chroma server does not answer: the message names it and says what to do."""


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


def open_client(settings: Settings):
    """One Chroma client: the local folder, or a server when settings.chroma_url is set."""
    import chromadb
    import httpx
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        try:
            # chromadb's client waits for ever on a server that accepts and never answers:
            # say hello first with a time limit, then give its requests the same limit.
            base = settings.chroma_url.rstrip("/")
            httpx.get(f"{base}/api/v2/heartbeat", timeout=settings.chroma_timeout)
            client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or 8000,
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:  # chromadb raises ValueError, httpx its own errors
            raise IndexUnreachable(
                f"Cannot reach the Chroma server at {settings.chroma_url}: start it (chroma "
                f"run --path DIR --port {url.port or 8000}), or unset MEDFAQ_CHROMA_URL to use "
                "the local index folder."
            ) from exc
        # chromadb has no setting for it; tests/ingest/test_chroma_server.py checks that this
        # still reaches the client's HTTP session.
        session = getattr(getattr(client, "_server", None), "_session", None)
        if session is not None:
            session.timeout = httpx.Timeout(settings.chroma_timeout)
        return client
    settings.index_path.mkdir(parents=True, exist_ok=True)
    try:
        return chromadb.PersistentClient(path=str(settings.index_path), settings=chroma_settings)
    except Exception as exc:  # chromadb raises its own errors for a damaged folder
        raise IndexNotReady(
            f"The index at {settings.index_path} cannot be opened ({exc}). Move it aside or "
            "delete it, then run: python -m ingest"
        ) from exc


@dataclass(frozen=True)
class Generation:
    """One complete index, built and dropped together (each part a Chroma collection named
    after the passages' one): passages (searched by meaning), their sentences, the FAQs'
    question lines, the question-bank questions, and the keyword terms with the catalog
    (ingest/catalog.py). Each part is searched whole, never through a metadata filter: a
    filtered search costs what the whole collection costs. A part is None in a generation of
    an older schema, which is only read to be upgraded."""

    passages: Any
    sentences: Any
    questions: Any = None  # FAQ question lines
    bank: Any = None
    terms: Any = None

    @property
    def name(self) -> str:
        return self.passages.name

    @property
    def metadata(self) -> dict:
        return dict(self.passages.metadata or {})

    @property
    def records(self) -> tuple:
        """The parts that hold passage, sentence and bank records (not terms)."""
        parts = (self.passages, self.sentences, self.questions, self.bank)
        return tuple(p for p in parts if p is not None)

    def part_for(self, meta: dict):
        """The part a record belongs in, by its kind."""
        kind = meta["kind"]
        if kind in PASSAGE_KINDS:
            return self.passages
        if kind == BANK:
            return self.bank
        return self.questions if kind == QUESTION else self.sentences

    def grouped(self, records: Sequence) -> list[tuple[Any, list]]:
        """(part, its records) for records (anything with a `meta`), in their order."""
        parts: dict[int, tuple[Any, list]] = {}
        for r in records:
            collection = self.part_for(r.meta)
            parts.setdefault(id(collection), (collection, []))[1].append(r)
        return list(parts.values())

    def count(self) -> int:
        """Passage, sentence and bank records (not terms)."""
        return sum(p.count() for p in self.records)

    def get(self, include: list[str], page: int = 5000) -> dict:
        """Every record, as one Chroma `get` result, read `page` records at a time (one `get`
        of a large collection exceeds SQLite's limit on variables)."""
        out: dict[str, list] = {key: [] for key in ["ids", *include]}
        for collection in self.records:
            offset = 0
            while True:
                got = collection.get(include=include, limit=page, offset=offset)
                for key in out:
                    out[key] += [] if got[key] is None else list(got[key])
                if len(got["ids"]) < page:
                    break
                offset += page
        return out


class ChromaIndex:
    """Generations of one logical index, behind an alias collection named `name`."""

    def __init__(self, client, name: str = "medfaq", where: str = ""):
        self.client = client
        self.name = name
        self.where = where or name

    @classmethod
    def from_settings(cls, settings: Settings) -> ChromaIndex:
        where = settings.chroma_url or str(settings.index_path)
        return cls(open_client(settings), settings.collection, where)

    def _alias(self):
        return self.client.get_or_create_collection(self.name, embedding_function=None)

    def pointers(self) -> dict:
        return dict(self._alias().metadata or {})

    def active_name(self) -> str | None:
        """The active generation's name: one read of the alias, cheap enough to poll (a
        running app compares it with the generation it serves). Raises when unreachable."""
        return self.pointers().get("active")

    def active(
        self, model_name: str | None = None, *, missing_ok: bool = False
    ) -> Generation | None:
        """The active generation, checked against the expected model and schema version."""
        generation = self.active_any(missing_ok=missing_ok)
        if generation is not None and model_name is not None:
            self.check(generation, model_name)
        return generation

    def active_any(self, *, missing_ok: bool = False) -> Generation | None:
        """The active generation, whatever its model and schema."""
        name = self.pointers().get("active")
        generation = None
        if name:
            try:
                generation = Generation(
                    self.client.get_collection(name, embedding_function=None),
                    self.client.get_collection(name + SENTENCES, embedding_function=None),
                    *(self._part(name + suffix) for suffix in (QUESTIONS, BANK_PART, TERMS)),
                )
            except Exception:  # NotFoundError: the alias points at a dropped collection
                generation = None
        if generation is None and not missing_ok:
            raise IndexNotReady(f"No index at {self.where}. Build it with: python -m ingest")
        return generation

    def check(self, generation: Generation, model_name: str, schema: bool = True) -> None:
        """Raise IndexMismatch unless `generation` was built with `model_name` (and, with
        `schema`, this code's schema version)."""
        found = (
            generation.metadata.get("embedding_model"),
            generation.metadata.get("schema_version"),
        )
        if found[0] != model_name or (schema and found[1] != SCHEMA_VERSION):
            raise IndexMismatch(
                f"The index at {self.where} was built with embedding model {found[0]!r} and "
                f"schema v{found[1]}, but this code uses {model_name!r} and schema "
                f"v{SCHEMA_VERSION}. "
                + (
                    "Bring it up to date with: python -m ingest"
                    if found[0] == model_name
                    else "Rebuild it with: python -m ingest --rebuild"
                )
            )

    def _part(self, name: str):
        try:
            return self.client.get_collection(name, embedding_function=None)
        except Exception:  # NotFoundError: a generation of an older schema
            return None

    def create_generation(self, model_name: str) -> Generation:
        name = f"{self.name}-g{uuid.uuid4().hex[:12]}"
        meta = {
            "embedding_model": model_name,
            "schema_version": SCHEMA_VERSION,
            "created": time.time(),
        }
        config = {"hnsw": {"space": "cosine"}}

        def make(suffix: str, searched: bool = True):
            extra = {"configuration": config} if searched else {}
            return self.client.create_collection(
                name + suffix, embedding_function=None, metadata=meta, **extra
            )

        return Generation(
            make(""), make(SENTENCES), make(QUESTIONS), make(BANK_PART), make(TERMS, False)
        )

    def activate(self, generation: Generation) -> None:
        """Point readers at `generation` in one metadata write, keeping one previous
        generation so processes still reading it keep working until they reload."""
        current = self.pointers().get("active")
        pointers = {"active": generation.name, "schema_version": SCHEMA_VERSION}
        if current and current != generation.name:
            pointers["previous"] = current
        self._alias().modify(metadata=pointers)
        self.drop_stale()

    def drop_stale(self, min_age: float = 0.0) -> None:
        """Drop generations that are neither active nor previous (and at least min_age old)."""
        keep = {self.name, *self.pointers().values()}
        names = {getattr(c, "name", c) for c in self.client.list_collections()}
        stale = {_generation_of(n) for n in names if n.startswith(f"{self.name}-g")} - keep
        for name in stale:
            part = next(name + p for p in PARTS if name + p in names)
            created = (self.client.get_collection(part).metadata or {}).get("created", 0)
            if time.time() - float(created) >= min_age:
                self.drop(name)

    def drop(self, name: str) -> None:
        for collection in (name + p for p in PARTS):
            with contextlib.suppress(Exception):  # already gone: nothing to drop
                self.client.delete_collection(collection)


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
