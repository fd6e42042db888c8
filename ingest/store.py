"""The index in Chroma: the client (a local folder or a server), the generations of one index
behind an alias, and the parts of a generation. Read by the bot, written by ingest/indexing.py.

The index is a set of Chroma collections. Each ingest that changes anything builds a new
*generation* (copying unchanged records, embeddings included) and then flips an alias
collection's metadata to point at it, in one write. Readers always follow the alias, so a
crash halfway through leaves them on the previous, complete generation. The same scheme works
unchanged against a Chroma server.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from bot.settings import Settings
from ingest.catalog import TERMS
from ingest.chunking import SCHEMA_VERSION
from ingest.records import BANK, PASSAGE_KINDS

# A generation's parts: the passages' collection name, plus these.
SENTENCES, QUESTIONS, BANK_PART = "-sentences", "-questions", "-bank"
PARTS = ("", SENTENCES, QUESTIONS, BANK_PART, TERMS)
QUESTION = "question"  # the kind of an FAQ's question line


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

        def make(suffix: str, hnsw: dict | None = None):
            """`hnsw`: how Chroma's HNSW graph is built and searched (None: never searched)."""
            extra = {"configuration": {"hnsw": {"space": "cosine", **hnsw}}} if hnsw else {}
            return self.client.create_collection(
                name + suffix, embedding_function=None, metadata=meta, **extra
            )

        # The question collections are asked for their 10-50 nearest. A query far from all
        # of them (a question no article answers) missed some of its true nearest at Chroma's
        # defaults (ef_search 100), and at times still at ef_search 400 with a graph built
        # with Chroma's default 16 neighbours per node and ef_construction 100.
        passages = {"ef_search": 100}
        questions = {"ef_search": 400, "ef_construction": 400, "max_neighbors": 48}
        return Generation(
            make("", passages),
            make(SENTENCES, passages),
            make(QUESTIONS, questions),
            make(BANK_PART, questions),
            make(TERMS),
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
