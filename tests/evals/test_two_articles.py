"""Two articles in one corpus (evals/two_articles.py): every FAQ of each, asked verbatim, is
answered from its own FAQ and cites its own article, the second article's HTML structure is
found with exact offsets, its paraphrases' golds are verbatim passages of it, and the checks
(an acceptable first cited passage; a stopping question answered from either article's stopping
FAQ) score as they say."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
import yaml

from bot.types import Answer, Citation
from evals import runner
from evals import two_articles as two
from evals.metrics import Reply
from ingest.chunking import SECTION_SEPARATOR, chunk_document
from ingest.loading import load_corpus, load_document
from tests.conftest import ARTICLE, load_cases

SEED_TITLE = "Combining Medication and Therapy for Mental Health"
SECOND_TITLE = "Depression: Signs, Treatment and Getting Help"
TITLES = {two.SEED_SOURCE: SEED_TITLE, two.SECOND_SOURCE: SECOND_TITLE}
SECOND_FAQS = yaml.safe_load((two.SECOND_CASES / "faqs.yaml").read_text(encoding="utf-8"))["faqs"]
SEED_FAQS = load_cases("faqs.yaml")["faqs"]
FAQS = [(two.SEED_SOURCE, f["question"], f["answer"]) for f in SEED_FAQS] + [
    (two.SECOND_SOURCE, f["question"], f["answer"]) for f in SECOND_FAQS
]
FAQ_SECTION = "Frequently Asked Questions"
SECTIONS = [
    "What is depression?",
    "Types of depression",
    "Signs and symptoms",
    "Risk factors",
    "Treatment",
    "Treatment > Psychotherapies",
    "Treatment > Medications",
    "Treatment > Brain stimulation therapies",
    "Treatment > Natural products",
    "How can I help myself if I am depressed?",
    "How can I help a loved one who is depressed?",
    "Finding help",
]


@pytest.fixture(scope="module")
def doc():
    return load_document(two.SECOND_ARTICLE, two.SECOND_ARTICLE.parent)


@pytest.fixture(scope="module")
def two_bot(tmp_path_factory, embedder):
    """The real bot over a copy of corpus/ plus the second article, indexed in a temp folder."""
    tmp = tmp_path_factory.mktemp("two-articles")
    corpus = two.make_corpus(tmp / "corpus", "two")
    return two.build_bot(corpus, tmp / "index", embedder, say=lambda _: None)


def test_the_second_article_has_its_title_date_and_no_source_note_in_its_text(doc):
    assert (doc.source, doc.title, doc.date) == (two.SECOND_SOURCE, SECOND_TITLE, "2026-12-01")
    assert doc.description.startswith("What depression is")
    # The credit line sits in <header> and an HTML comment: visible on the page, never quoted.
    assert "Adapted from" not in doc.text
    assert "Adapted from the National Institute of Mental Health" in two.SECOND_ARTICLE.read_text(
        encoding="utf-8"
    )


def test_the_second_articles_sections_and_faqs_are_found_with_exact_offsets(doc):
    chunks = chunk_document(doc)
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert all(doc.text[s.start : s.end] == s.text for s in chunk.sentences)
    paragraphs = [c.section for c in chunks if c.kind == "paragraph"]
    assert list(dict.fromkeys(paragraphs)) == SECTIONS
    faqs = [c for c in chunks if c.kind == "faq"]
    assert [c.question for c in faqs] == [f["question"] for f in SECOND_FAQS]
    for chunk, faq in zip(faqs, SECOND_FAQS, strict=True):
        assert chunk.section == SECTION_SEPARATOR.join((FAQ_SECTION, faq["question"]))
        question = chunk.sentences[0]
        assert question.role == "question"
        assert doc.text[question.start : question.end] == faq["question"]
        answer = chunk.answer
        assert doc.text[answer.start : answer.end] == answer.text == faq["answer"]
        assert faq["gold"] in answer.text
        assert all(fact in answer.text for fact in faq["key_facts"])


PARAPHRASES = yaml.safe_load((two.SECOND_CASES / "paraphrases.yaml").read_text(encoding="utf-8"))


def test_the_second_articles_eval_cases_are_complete_and_new():
    paraphrases = PARAPHRASES
    per_faq = [p["faq"] for p in paraphrases["paraphrases"]]
    assert sorted(set(per_faq)) == [f["faq"] for f in SECOND_FAQS]
    assert all(per_faq.count(n) == 4 for n in set(per_faq))
    old = set(load_cases("out_of_scope.yaml")["out_of_scope"])
    assert set(two.ANSWERED_BY_SECOND) <= old
    new = [c.text for c in two.out_of_scope_cases() if c.text not in old]
    assert len(new) >= 25 and not old & set(new)


@pytest.mark.parametrize(("source", "question", "reference"), FAQS, ids=[q for _, q, _ in FAQS])
def test_each_faq_asked_verbatim_is_answered_from_its_own_faq(two_bot, source, question, reference):
    answer = two_bot.ask(question)
    assert answer.mode == "faq", answer.text
    assert answer.citations, answer.text
    first = answer.citations[0]
    assert first.source == source, f"cited {first.source} > {first.section}"
    chunk = two.faq_chunk(two_bot, source, question)
    assert chunk is not None and two.from_own_faq(answer, chunk)
    assert first.quote == reference
    for citation in answer.citations:
        assert citation.title == TITLES[citation.source]
        assert two_bot.sources[citation.source][citation.start : citation.end] == citation.quote


# --------------------------------------------------------------------------- golds


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """The second article as the corpus loader extracts it, from a folder holding only it."""
    folder = tmp_path_factory.mktemp("second-alone")
    shutil.copy2(two.SECOND_ARTICLE, folder / two.SECOND_SOURCE)
    docs, problems = load_corpus(folder)
    assert not problems and [d.source for d in docs] == [two.SECOND_SOURCE]
    return docs[0]


@pytest.mark.parametrize("item", PARAPHRASES["paraphrases"], ids=lambda p: p["question"])
def test_each_paraphrase_gold_is_one_verbatim_passage_of_the_article(loaded, item):
    chunks = chunk_document(loaded)
    golds = item["golds"]
    # The first gold is from the FAQ's own answer.
    assert golds[0] in SECOND_FAQS[item["faq"] - 1]["answer"]
    holders = []
    for gold in golds:
        assert gold in loaded.text, gold
        holding = [i for i, c in enumerate(chunks) if gold in c.text]
        assert len(holding) == 1, f"{gold!r} is in {len(holding)} passages"
        holders += holding
    assert len(set(holders)) == len(holders), "two golds from one passage"


def test_the_second_articles_paraphrases_carry_their_golds():
    paraphrases = [c.case for c in two.second_cases() if c.case.category == "paraphrases"]
    assert [p.golds for p in paraphrases] == [tuple(p["golds"]) for p in PARAPHRASES["paraphrases"]]
    assert all(not c.case.golds for c in two.second_cases() if c.case.category == "faqs")


# --------------------------------------------------------------------------- the checks


@pytest.fixture(scope="module")
def chunks(doc):
    """Every chunk of both articles, as ingest chunks them: no bot needed."""
    seed = load_document(ARTICLE, ARTICLE.parent)
    return [*chunk_document(seed), *chunk_document(doc)]


def chunk_with(chunks, source: str, text: str):
    return next(c for c in chunks if c.source == source and text in c.text)


def cite(chunk, quote: str) -> Answer:
    """An answer whose first citation quotes `quote` from `chunk`."""
    start = chunk.start + chunk.text.index(quote)
    citation = Citation(1, chunk.source, "", chunk.section, quote, start, start + len(quote), 1.0)
    return Answer(quote, "faq", (citation,))


CBT = "Evidence-based approaches include cognitive behavioral therapy (CBT) and interpersonal therapy (IPT)."
CBT_FAQ = "What kind of psychotherapy helps with depression?"


def test_a_paraphrase_is_right_from_its_faqs_answer_or_a_passage_holding_a_gold(chunks):
    faq = chunk_with(chunks, two.SECOND_SOURCE, CBT_FAQ)
    body = chunk_with(chunks, two.SECOND_SOURCE, CBT)
    golds = (SECOND_FAQS[4]["gold"], CBT)

    def ok(answer, passage, source=two.SECOND_SOURCE, golds=golds):
        return two.first_citation_ok(answer, passage, source, faq, golds)

    assert ok(cite(faq, faq.answer.text[:60]), faq.text, golds=())  # the FAQ's answer itself
    assert ok(cite(body, "Psychotherapy can take place in person or virtually"), body.text)
    # A passage on the same topic without a gold, the FAQ's question, or the same passage
    # claimed for another file, is a miss; so is an answer citing nothing.
    therapy = chunk_with(chunks, two.SECOND_SOURCE, "commonly treated with psychotherapy")
    assert not ok(
        cite(therapy, "Depression, even the most severe cases, can be treated."), therapy.text
    )
    assert not ok(cite(faq, CBT_FAQ), faq.text, golds=())
    assert not ok(cite(body, CBT), body.text, source=two.SEED_SOURCE)
    assert not ok(Answer("", "abstain"), "") and not ok(None, "")


def test_article_check_rescores_the_faq_metrics(chunks):
    cases = {c.case.text: c for c in two.second_cases()}
    faq = chunk_with(chunks, two.SECOND_SOURCE, CBT_FAQ)
    body = chunk_with(chunks, two.SECOND_SOURCE, CBT)
    verbatim = cases[CBT_FAQ]
    answer = cite(faq, faq.answer.text)
    metric, ok, _ = two.article_check(
        verbatim, faq, answer, Reply("", "faq"), {"faq_routing_verbatim": (1.0,)}
    )
    assert (metric, ok) == ("faq_routing_verbatim", True)
    # The runner's mode check still counts: right passage, wrong mode.
    assert not two.article_check(
        verbatim, faq, answer, Reply("", "passages"), {"faq_routing_verbatim": (0.0,)}
    )[1]
    paraphrase = cases["what sort of talk therapy is good for depression"]
    metric, ok, what = two.article_check(
        paraphrase, faq, cite(body, CBT), Reply("", "passages", passages=(body.text,)), {}
    )
    assert (metric, ok) == ("faq_paraphrase_first_citation", True) and "2 golds" in what


STOP_SEED = "Can I stop medication once therapy starts?"
STOP_NEW = "Can I stop taking my antidepressant when I feel better?"


@pytest.fixture(scope="module")
def product():
    return runner.product_texts()


def test_the_stopping_faqs_are_those_whose_question_is_a_stopping_question(chunks):
    bot = SimpleNamespace(
        retriever=SimpleNamespace(faq_chunks=[c for c in chunks if c.kind == "faq"])
    )
    found = {(c.source, c.question) for c in two.stopping_faqs(bot)}
    assert found == {(two.SEED_SOURCE, STOP_SEED), (two.SECOND_SOURCE, STOP_NEW)}


def test_a_stopping_question_is_right_from_the_stopping_faq_of_either_article(chunks, product):
    faqs = [
        chunk_with(chunks, two.SEED_SOURCE, STOP_SEED),
        chunk_with(chunks, two.SECOND_SOURCE, STOP_NEW),
    ]
    lead = product.boundary_leads["stopping"][0]

    def problems(chunk, mode="boundary", lead=lead):
        answer = cite(chunk, chunk.answer.text.split(". ")[0])
        quote = answer.citations[0].quote
        reply = Reply(f"{lead}\n\n> {quote} [1]", mode, quotes=(quote,), passages=(chunk.text,))
        return two.stopping_problems(reply, answer, product, faqs)

    for chunk in faqs:
        assert problems(chunk) == [] and problems(chunk, mode="faq") == []
    assert "mode boundary, not passages" in problems(faqs[1], mode="passages")
    assert any(
        "stopping reply" in p for p in problems(faqs[1], lead="Here is what the article says:")
    )
    # Any other passage, even the new article's paragraph on stopping, is not a stopping FAQ.
    paragraph = chunk_with(chunks, two.SECOND_SOURCE, "do not stop taking them without the help")
    answer = cite(paragraph, "do not stop taking them without the help of a health care provider")
    reply = Reply(
        f"{lead}\n\n> {answer.citations[0].quote}", "boundary", quotes=(answer.citations[0].quote,)
    )
    assert any("stopping FAQ" in p for p in two.stopping_problems(reply, answer, product, faqs))
    assert two.stopping_problems(Reply("boom", "error"), None, product, faqs) == [
        "an answer, not an exception (boom)"
    ]


def test_the_stopping_faq_of_either_article_asked_verbatim_scores_as_a_stopping_question(two_bot):
    cases = [runner.Case("boundary", q, kind="stopping") for q in (STOP_SEED, STOP_NEW)]
    measured = two.measure(two_bot, [], [], cases)
    for outcome in measured.outcomes["stopping"]:
        assert outcome.values["boundary_compliance"] == (1.0,), outcome.expected[
            "boundary_compliance"
        ]
