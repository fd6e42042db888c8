"""Pure: chunks and bank questions <-> the records stored in Chroma (ids, documents, metadata)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from bot.types import BankQuestion, Chunk, Span

PASSAGE_KINDS = ("paragraph", "faq")
BANK = "bank"  # a question-bank question, stored with the sentences


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def embedding_text(chunk: Chunk) -> str:
    """What gets embedded for a passage: its section title gives short paragraphs context."""
    if chunk.kind == "faq":
        return chunk.text
    leaf = chunk.section.split(" > ")[-1]
    return f"{leaf}\n{chunk.text}"


@dataclass(frozen=True)
class Record:
    """One Chroma record: a passage, or one of its sentences."""

    id: str
    document: str
    meta: dict
    embed_text: str

    @property
    def chunk_id(self) -> str:
        return self.meta.get("chunk", self.id)


def chunk_records(chunks: Iterable[Chunk]) -> list[Record]:
    """A record for each chunk and each of its sentences, in chunk order.

    `slot` names a chunk's place (source, section, kind, ordinal) so that an edited chunk
    can be told from an added one.
    """
    records = []
    ordinals: Counter = Counter()
    for chunk in chunks:
        slot_key = (chunk.source, chunk.section, chunk.kind)
        ordinals[slot_key] += 1
        text = embedding_text(chunk)
        meta = {
            "kind": chunk.kind,
            "source": chunk.source,
            "title": chunk.title,
            "date": chunk.date,
            "section": chunk.section,
            "start": chunk.start,
            "end": chunk.end,
            "faq": chunk.faq or 0,
            "slot": "|".join(map(str, (*slot_key, ordinals[slot_key]))),
            "embed_hash": content_hash(text),
        }
        records.append(Record(chunk.id, chunk.text, meta, text))
        for seq, span in enumerate(chunk.sentences):
            span_meta = {
                "kind": span.role,
                "chunk": chunk.id,
                "seq": seq,
                "source": chunk.source,
                "section": chunk.section,
                "start": span.start,
                "end": span.end,
                "embed_hash": content_hash(span.text),
            }
            records.append(Record(f"{chunk.id}-s{seq}", span.text, span_meta, span.text))
    return records


def bank_records(questions: Iterable[BankQuestion]) -> list[Record]:
    """A record for each bank question; its id changes with the question, its chunk or the
    place of its quote, so an edit rewrites it (re-embedding only a changed question)."""
    records = []
    for q in questions:
        meta = {
            "kind": BANK,
            "chunk": q.chunk,
            "source": q.source,
            "start": q.start,
            "end": q.end,
            "embed_hash": content_hash(q.question),
        }
        id_ = "q" + content_hash(json.dumps([q.question, q.chunk, q.start, q.end]))
        records.append(Record(id_, q.question, meta, q.question))
    return records


def bank_from_records(
    ids: list[str], documents: list[str], metadatas: list[dict]
) -> list[BankQuestion]:
    """The bank questions among stored records, in the order given."""
    return [
        BankQuestion(doc, meta["source"], meta["chunk"], meta["start"], meta["end"])
        for doc, meta in zip(documents, metadatas, strict=True)
        if meta["kind"] == BANK
    ]


def chunks_from_records(ids: list[str], documents: list[str], metadatas: list[dict]) -> list[Chunk]:
    """Rebuild Chunks (with their sentences) from what chunk_records stored."""
    spans: dict[str, list[tuple[int, Span]]] = {}
    passages = []
    for id_, doc, meta in zip(ids, documents, metadatas, strict=True):
        if meta["kind"] in PASSAGE_KINDS:
            passages.append((id_, doc, meta))
        elif meta["kind"] != BANK:
            span = Span(meta["start"], meta["end"], doc, meta["kind"])
            spans.setdefault(meta["chunk"], []).append((meta["seq"], span))
    chunks = [
        Chunk(
            id=id_,
            source=meta["source"],
            title=meta["title"],
            date=meta["date"],
            section=meta["section"],
            kind=meta["kind"],
            text=doc,
            start=meta["start"],
            end=meta["end"],
            faq=meta["faq"] or None,
            sentences=tuple(s for _, s in sorted(spans.get(id_, []))),
        )
        for id_, doc, meta in passages
    ]
    return sorted(chunks, key=lambda c: (c.source, c.start))
