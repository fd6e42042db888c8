"""Pure: what a generation's chunks give the search besides their vectors, as records of its
third collection, so that a process that searches the index in Chroma (bot/index_search.py)
never reads the whole corpus:

- one record per keyword term: its BM25 postings (the chunks holding it, their order and the
  term's weight in each, as `bot.keywords.KeywordIndex` computes them) and in how many
  sentences it occurs (for the sentence-overlap weights);
- one catalog record: the articles (title, date, source), the articles' words for the
  speller, and the counts the weights need.

A term held by more than `POSTINGS_CAP` chunks keeps the `POSTINGS_CAP` where it weighs most
(its best chunks for BM25, the usual impact-ordered cut): exact below that, and a common word
weighs little in any one chunk above it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.evidence import articles_of, passage_tokens, sentence_counts, sentence_idf
from bot.keywords import KeywordIndex
from bot.spelling import words_in
from bot.types import Article, Chunk

# A change to these records' fields needs ingest/chunking.py's SCHEMA_VERSION bumped: an
# index of an older schema is then rewritten at the next ingest (ingest/indexing.py).
TERMS = "-terms"  # a generation's term collection: its name plus this
CATALOG_ID = "~catalog"  # no term has "~": tokenize keeps letters and digits only
TERM_PREFIX = "t:"
POSTINGS_CAP = 1000


@dataclass(frozen=True)
class Postings:
    """One term's postings: chunk ordinals (ascending), chunk ids, BM25 weights."""

    ords: tuple[int, ...]
    ids: tuple[str, ...]
    weights: tuple[float, ...]
    sentences: int  # how many sentences hold the term


@dataclass(frozen=True)
class Catalog:
    articles: tuple[Article, ...]  # oldest first
    words: tuple[str, ...]  # the articles' words (bot.spelling.words_in)
    chunks: int
    sentences: int  # every sentence of every chunk, FAQ question lines included
    rarest: float  # the largest sentence idf: what a word no sentence holds weighs
    most_sentences: int  # the most sentences one chunk has


def term_rows(chunks: Sequence[Chunk], cap: int = POSTINGS_CAP) -> list[tuple[str, str, dict]]:
    """(id, document, metadata) of every term record and of the catalog record. `chunks` must
    be in the search's order (source, then start), which the ordinals follow."""
    index = KeywordIndex.build([passage_tokens(c) for c in chunks])
    counts, n = sentence_counts(chunks)
    rows = []
    for term, (where, weights) in index.postings.items():
        if len(where) > cap:
            keep = np.sort(np.argsort(-weights, kind="stable")[:cap])
            where, weights = where[keep], weights[keep]
        document = json.dumps(
            [[int(i), chunks[i].id, float(w)] for i, w in zip(where, weights, strict=True)]
        )
        rows.append((TERM_PREFIX + term, document, {"sentences": counts.get(term, 0)}))
    rarest = max((sentence_idf(n, df) for df in counts.values()), default=1.0)
    catalog = {
        "articles": [[a.title, a.date, a.source] for a in articles_of(chunks)],
        "words": sorted(words_in(f"{c.title} {c.section} {c.text}" for c in chunks)),
        "chunks": len(chunks),
        "sentences": n,
        "rarest": rarest,
        "most_sentences": max((len(c.sentences) for c in chunks), default=0),
    }
    rows.append((CATALOG_ID, json.dumps(catalog), {"sentences": 0}))
    return rows


def read_postings(document: str, meta: dict) -> Postings:
    rows = json.loads(document)
    return Postings(
        tuple(r[0] for r in rows),
        tuple(r[1] for r in rows),
        tuple(r[2] for r in rows),
        int(meta.get("sentences", 0)),
    )


def read_catalog(document: str) -> Catalog:
    data = json.loads(document)
    return Catalog(
        tuple(Article(*a) for a in data["articles"]),
        tuple(data["words"]),
        int(data["chunks"]),
        int(data["sentences"]),
        float(data["rarest"]),
        int(data["most_sentences"]),
    )
