"""The keyword index scores as rank_bm25's BM25Okapi does (the reference it replaced), over the
real article's chunks, and costs only the postings of the query's terms."""

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from bot.evidence import tokenize
from bot.keywords import KeywordIndex
from ingest.chunking import chunk_document
from ingest.loading import load_corpus
from tests.conftest import CORPUS

QUERIES = [
    "how long until zoloft works",
    "side effects side effects nausea",  # a term asked twice counts twice
    "medication therapy",  # terms found in most chunks
    "quantum chromodynamics",  # nothing known
    "",
    "therapy insurance cost psychiatrist referral",
]


@pytest.fixture(scope="module")
def documents():
    docs, _ = load_corpus(CORPUS)
    chunks = [c for d in docs for c in chunk_document(d)]
    assert len(chunks) > 20
    return [tokenize(f"{c.section} {c.text}") for c in chunks]


@pytest.mark.parametrize("query", QUERIES)
def test_scores_are_bm25okapis(documents, query):
    tokens = tokenize(query)
    expected = BM25Okapi(documents).get_scores(tokens)
    chunks, scores = KeywordIndex.build(documents).scores(tokens)
    got = np.zeros(len(documents))
    got[chunks] = scores
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("n", [1, 3, 10, 100])
def test_top_is_the_best_positive_scores_ties_in_chunk_order(documents, query, n):
    tokens = tokenize(query)
    scores = BM25Okapi(documents).get_scores(tokens)
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    expected = [i for i in order if scores[i] > 0][:n]
    assert KeywordIndex.build(documents).top(tokens, n) == expected


def test_a_query_reads_only_its_terms_postings():
    docs = [["apple", "pear"], ["pear"], ["plum", "plum", "kiwi"], ["fig"]] * 3
    index = KeywordIndex.build(docs)
    chunks, _ = index.scores(["plum", "unknown"])
    assert chunks.tolist() == [2, 6, 10]
    assert index.top(["plum"], 2) == [2, 6]  # equal scores: chunk order
    assert index.top(["nothing"], 5) == []
    assert KeywordIndex.build([]).top(["plum"], 3) == []
