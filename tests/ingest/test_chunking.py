"""Chunking: structure, FAQ chunks, sentence spans and exact offsets."""

from bot.types import SourceDocument
from ingest.chunking import chunk_document, split_sentences
from ingest.loading import load_corpus
from tests.conftest import CORPUS


def _doc(text: str, title: str = "Doc") -> SourceDocument:
    return SourceDocument("doc.md", title, "2024-01-01", "", text)


def real_chunks():
    docs, problems = load_corpus(CORPUS)
    assert problems == []
    return docs, [c for d in docs for c in chunk_document(d)]


def test_every_chunk_and_sentence_of_the_real_corpus_slices_its_source_exactly():
    docs, chunks = real_chunks()
    texts = {d.source: d.text for d in docs}
    assert len(chunks) > 20
    for chunk in chunks:
        assert texts[chunk.source][chunk.start : chunk.end] == chunk.text
        assert chunk.sentences, chunk
        for span in chunk.sentences:
            assert texts[chunk.source][span.start : span.end] == span.text
            assert chunk.start <= span.start < span.end <= chunk.end


def test_each_faq_is_one_numbered_chunk_with_question_and_answer():
    _, chunks = real_chunks()
    faqs = [c for c in chunks if c.kind == "faq"]
    assert [c.faq for c in faqs] == list(range(1, 9))
    five = faqs[4]
    assert five.section == (
        "Frequently Asked Questions > 5. How long until I see results from medication and therapy?"
    )
    assert five.question == "How long until I see results from medication and therapy?"
    assert five.answer.text.startswith("Medication may ease symptoms in 2-6 weeks;")
    assert five.answer.text.endswith("with full benefits emerging steadily.")
    assert five.text.startswith("5. How long until") and "#" not in five.text


def test_chunks_never_cross_sections_and_headings_are_not_chunk_text():
    _, chunks = real_chunks()
    assert all("\n#" not in c.text and not c.text.startswith("#") for c in chunks)
    intro = chunks[0]
    assert intro.section == "Combining Medication and Therapy for Mental Health"
    assert intro.text.startswith("Medication and therapy address mental health")
    sections = [c.section for c in chunks if c.kind == "paragraph"]
    assert "Benefits of Combining Medication and Therapy" in sections
    assert "Your Path to Lasting Wellness" in sections


def test_long_paragraphs_split_at_sentence_boundaries_only():
    sentence = "Therapy builds lasting skills over many weeks of practice. "
    doc = _doc("## Long\n\n" + sentence * 10)
    chunks = chunk_document(doc, max_chars=150)
    assert len(chunks) == 5
    for chunk in chunks:
        assert len(chunk.text) <= 150
        assert chunk.text.endswith("practice.") and chunk.text.startswith("Therapy")
        assert doc.text[chunk.start : chunk.end] == chunk.text


def test_a_sentence_longer_than_the_limit_stays_whole():
    doc = _doc("word " * 100 + "end.")
    [chunk] = chunk_document(doc, max_chars=50)
    assert chunk.text == doc.text


def test_nested_sections_make_a_path_and_faq_numbers_fall_back_to_order():
    doc = _doc(
        "Intro line.\n\n# Guide\n\n## Part A\nText under a heading line.\n\n"
        "## FAQ\n\n### Is it safe?\n\nYes. Mostly.\n\n### Why?\n\nBecause.\n\n## After\n\nEnd."
    )
    chunks = chunk_document(doc)
    assert [(c.kind, c.section, c.faq) for c in chunks] == [
        ("paragraph", "Doc", None),
        ("paragraph", "Guide > Part A", None),
        ("faq", "Guide > FAQ > Is it safe?", None),
        ("faq", "Guide > FAQ > Why?", None),
        ("paragraph", "Guide > After", None),
    ]
    assert chunks[1].text == "Text under a heading line."
    assert chunks[2].question == "Is it safe?" and chunks[2].answer.text == "Yes. Mostly."


def test_ids_are_content_hashes():
    a = chunk_document(_doc("## S\n\nSame text."))[0]
    b = chunk_document(_doc("## S\n\nSame text."))[0]
    c = chunk_document(_doc("## S\n\nOther text."))[0]
    d = chunk_document(_doc("## S\n\nSame text.", title="Renamed"))[0]
    assert a.id == b.id and len({a.id, c.id, d.id}) == 3


def test_sentence_splitting_respects_abbreviations_and_numbers():
    text = "Dr. Smith prescribes SSRIs, e.g. sertraline. It takes 2-6 weeks! Why? See no. 5."
    spans = split_sentences(text, offset=10)
    assert [s.text for s in spans] == [
        "Dr. Smith prescribes SSRIs, e.g. sertraline.",
        "It takes 2-6 weeks!",
        "Why?",
        "See no. 5.",
    ]
    assert all(text[s.start - 10 : s.end - 10] == s.text for s in spans)
