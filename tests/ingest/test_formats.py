"""Every format a maintainer may add gives its sections and FAQs, with exact offsets."""

import re
import shutil
import textwrap
from pathlib import Path

from ingest.chunking import chunk_document
from ingest.loading import load_corpus, load_document
from tests.conftest import ARTICLE, CORPUS, DATA, SEED, pdf_file

FORMATS = DATA / "formats"


def load(path: Path, corpus: Path | None = None):
    doc = load_document(path, corpus or path.parent)
    chunks = chunk_document(doc)
    assert_exact(doc, chunks)
    return doc, chunks


def assert_exact(doc, chunks) -> None:
    assert chunks
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.start >= doc.body_start
        assert chunk.sentences
        for span in chunk.sentences:
            assert doc.text[span.start : span.end] == span.text
            assert chunk.start <= span.start < span.end <= chunk.end


def assert_nothing_lost(doc, chunks) -> None:
    """Every word of the body is in a chunk, or is a section title or a Q:/A:/#/** mark."""
    text = list(doc.text)
    for chunk in chunks:
        text[chunk.start : chunk.end] = " " * (chunk.end - chunk.start)
    left = "".join(text)[doc.body_start :]
    titles = {w for c in chunks for w in c.section.split()}
    marks = re.compile(r"(?:#+|\*\*|__|\*\*[QA]:\*\*|[QA]:|Question:|Answer:|\d+[.)])")
    lost = [w for w in left.split() if w not in titles and not marks.fullmatch(w)]
    assert lost == []


def summary(chunks, title: str = "") -> list[tuple]:
    """What a reader sees of each chunk, with the document title written as "<title>"."""
    return [
        (
            c.kind,
            "<title>" if c.section == title else c.section,
            c.faq,
            c.question,
            c.answer.text if c.answer else c.text,
        )
        for c in chunks
    ]


def test_the_seed_as_delivered_chunks_exactly_like_the_markdown_article():
    seed, seed_chunks = load(SEED)
    article, article_chunks = load(ARTICLE, CORPUS)
    # Sources, titles (the seed's comes from its file name) and offsets differ; all else agrees.
    assert summary(seed_chunks, seed.title) == summary(article_chunks, article.title)
    assert [c.text for c in seed_chunks] == [c.text for c in article_chunks]
    assert [[s.text for s in c.sentences] for c in seed_chunks] == [
        [s.text for s in c.sentences] for c in article_chunks
    ]
    sections = list(dict.fromkeys(c.section for c in seed_chunks))
    assert sections[1:7] == [
        "Medication and Therapy Together",
        "Is Medication or Therapy Better?",
        "Benefits of Combining Medication and Therapy",
        "How to Get Started and What to Expect",
        "Your Path to Lasting Wellness",
        "Frequently Asked Questions > 1. Do medication and therapy work better together?",
    ]
    faqs = [c for c in seed_chunks if c.kind == "faq"]
    assert [c.faq for c in faqs] == list(range(1, 9))
    assert faqs[7].question == "Can I stop medication once therapy starts?"
    assert faqs[7].answer.text.startswith("Not without guidance")
    assert_nothing_lost(seed, seed_chunks)


def test_the_seed_date_line_is_the_document_date_and_not_text():
    seed, chunks = load(SEED)
    assert seed.date == "2026-02-25"
    assert seed.text[seed.body_start :].lstrip().startswith("Medication and therapy address")
    assert chunks[0].text.startswith("Medication and therapy address")
    assert not any("2026" in c.text for c in chunks)


def test_plain_text_with_title_date_q_and_a_pairs_and_a_one_line_answer():
    doc, chunks = load(FORMATS / "anxiety-faq.txt")
    assert (doc.title, doc.date) == ("Living With Anxiety", "2025-03-03")
    assert summary(chunks, doc.title) == [
        (
            "paragraph",
            "<title>",
            None,
            None,
            "Anxiety is common and treatable. Most people improve with the right support.",
        ),
        (
            "paragraph",
            "What Helps",
            None,
            None,
            "Regular sleep and exercise lower everyday anxiety.",
        ),
        ("paragraph", "What Helps", None, None, "Talking therapies teach skills that last."),
        (
            "faq",
            "FAQ > Is anxiety a sign of weakness?",
            None,
            "Is anxiety a sign of weakness?",
            "No. Anxiety is a health condition, not a character flaw.",
        ),
        (
            "faq",
            "FAQ > Can anxiety go away on its own?",
            None,
            "Can anxiety go away on its own?",
            "Sometimes mild anxiety fades.\n\nLasting anxiety usually needs support.",
        ),
        ("faq", "FAQ > Can I drink coffee?", None, "Can I drink coffee?", "Not usually"),
        (
            "paragraph",
            "Getting Help",
            None,
            None,
            "Talk to your doctor if anxiety stops you doing things.",
        ),
    ]
    assert chunks[3].text.startswith("Q: Is anxiety")
    assert_nothing_lost(doc, chunks)


def test_plain_text_with_windows_line_endings_finds_the_same_structure(tmp_path):
    source = (FORMATS / "anxiety-faq.txt").read_text(encoding="utf-8")
    (tmp_path / "anxiety-faq.txt").write_bytes(source.replace("\n", "\r\n").encode())
    doc, chunks = load(tmp_path / "anxiety-faq.txt")
    _, unix = load(FORMATS / "anxiety-faq.txt")
    assert "\r\n" in doc.text
    assert [(c.section, c.question) for c in chunks] == [(c.section, c.question) for c in unix]


def test_markdown_bold_questions_and_q_and_a_pairs():
    doc, chunks = load(FORMATS / "sleep-variants.md")
    assert summary(chunks) == [
        ("paragraph", "Sleep basics", None, None, "Most adults need seven to nine hours."),
        (
            "faq",
            "Sleep basics > How much sleep do teenagers need?",
            None,
            "How much sleep do teenagers need?",
            "Around eight to ten hours a night.",
        ),
        ("paragraph", "FAQs", None, None, "Short answers to common questions."),
        (
            "faq",
            "FAQs > 1. Can I catch up on sleep at weekends?",
            1,
            "Can I catch up on sleep at weekends?",
            "A little, but a regular schedule works better.",
        ),
        (
            "faq",
            "FAQs > Do screens keep me awake?",
            None,
            "Do screens keep me awake?",
            "Bright screens late at night can delay sleep.\n\nTry dimming them an hour before bed.",
        ),
        (
            "faq",
            "FAQs > Is melatonin safe?",
            None,
            "Is melatonin safe?",
            "Ask a pharmacist before taking any supplement.",
        ),
        (
            "faq",
            "FAQs > Should I nap?",
            None,
            "Should I nap?",
            "Short naps before 3 pm are fine for most people.",
        ),
        ("paragraph", "Related reading", None, None, "See the sleep hygiene guide."),
    ]
    assert_nothing_lost(doc, chunks)


def test_html_faq_markup_becomes_faqs_and_json_ld_adds_only_what_the_page_lacks():
    doc, chunks = load(FORMATS / "therapy-faq.html")
    assert (doc.title, doc.date) == ("Starting Therapy", "2025-04-02")
    assert summary(chunks, doc.title) == [
        ("paragraph", "<title>", None, None, "A first session is mostly a conversation."),
        ("paragraph", "Before you go", None, None, "Write down what you want to change."),
        (
            "faq",
            "Before you go > Do I need a referral?",
            None,
            "Do I need a referral?",
            "Not always.\nCheck with your insurer first.",
        ),
        ("paragraph", "Before you go", None, None, "CBT"),  # a glossary <dl> stays text
        ("paragraph", "Before you go", None, None, "Cognitive behavioural therapy."),
        (
            "faq",
            "Frequently asked questions > How long is a session?",
            None,
            "How long is a session?",
            "Most sessions last 50 minutes.",
        ),
        (
            "faq",
            "Frequently asked questions > What should I bring?",
            None,
            "What should I bring?",
            "A list of medicines you take.",
        ),
        (
            "faq",
            "Frequently asked questions > Will my therapist give advice?",
            None,
            "Will my therapist give advice?",
            "Therapists help you find your own answers.\nSome also suggest exercises to try.",
        ),
        (
            "faq",
            "Frequently asked questions > Can I bring a friend?",
            None,
            "Can I bring a friend?",
            "Ask your therapist; many allow it for the first session.",
        ),
        # from the JSON-LD only; its "How long is a session?" is on the page already
        (
            "faq",
            "Frequently asked questions > Can I switch therapists?",
            None,
            "Can I switch therapists?",
            "Yes. A good fit matters more than anything.",
        ),
        (
            "faq",
            "Frequently asked questions > Is therapy confidential?",
            None,
            "Is therapy confidential?",
            "Yes, with a few legal limits.",
        ),
    ]
    assert "Home" not in doc.text and "Copyright" not in doc.text
    assert_nothing_lost(doc, chunks)


def test_html_json_ld_faqs_are_added_under_their_own_heading_when_the_page_has_none(tmp_path):
    (tmp_path / "page.html").write_text(
        "<html><head><title>Grief</title><script type='application/ld+json'>"
        '{"@type": "FAQPage", "mainEntity": [{"@type": "Question", "name": "Is grief normal?",'
        ' "acceptedAnswer": {"@type": "Answer", "text": "Yes, <em>very</em>."}},'
        ' {"@type": "Question", "name": "Is grief normal?",'
        ' "acceptedAnswer": {"@type": "Answer", "text": "Duplicate."}}]}'
        "</script></head><body><h2>About grief</h2><p>Grief comes in waves.</p></body></html>"
    )
    doc, chunks = load(tmp_path / "page.html")
    assert doc.text == (
        "## About grief\n\nGrief comes in waves.\n\n"
        "## Frequently Asked Questions\n\nQ: Is grief normal?\n\nA: Yes, very ."
    )
    assert summary(chunks) == [
        ("paragraph", "About grief", None, None, "Grief comes in waves."),
        (
            "faq",
            "Frequently Asked Questions > Is grief normal?",
            None,
            "Is grief normal?",
            "Yes, very .",
        ),
    ]


def test_html_bold_questions_and_loose_text_are_kept(tmp_path):
    (tmp_path / "page.html").write_text(
        "<body><h2>FAQ</h2><p><b>Can I exercise?</b> Gentle exercise helps most people.</p>"
        "<div>Loose text in a div is kept.</div>"
        "<table><tr><td>Table cells too.</td></tr></table></body>"
    )
    doc, chunks = load(tmp_path / "page.html")
    assert summary(chunks) == [
        (
            "faq",
            "FAQ > Can I exercise?",
            None,
            "Can I exercise?",
            "Gentle exercise helps most people.\n\nLoose text in a div is kept.\n\nTable cells too.",
        ),
    ]
    assert_nothing_lost(doc, chunks)


def test_pdf_of_the_seed_gives_the_articles_sections_and_faqs(tmp_path):
    paragraphs = [p.strip() for p in SEED.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    lines = [
        (22 if i == 0 else 14, line)
        for paragraph in paragraphs
        for i, line in enumerate(textwrap.wrap(paragraph, 95))
    ]
    (tmp_path / "seed.pdf").write_bytes(
        make_pdf([lines[i : i + 45] for i in range(0, len(lines), 45)])
    )
    doc, chunks = load(tmp_path / "seed.pdf")
    article, article_chunks = load(ARTICLE, CORPUS)
    assert doc.date == "2026-02-25"

    def sections(chunks, title):
        return list(dict.fromkeys("<title>" if c.section == title else c.section for c in chunks))

    assert sections(chunks, doc.title) == sections(article_chunks, article.title)
    faqs = [(c.faq, c.question, c.answer.text) for c in chunks if c.kind == "faq"]
    assert faqs == [(c.faq, c.question, c.answer.text) for c in article_chunks if c.kind == "faq"]
    # A paragraph broken across pages in mid-sentence is still one paragraph.
    assert not any(c.text[:1].islower() for c in chunks)
    assert_nothing_lost(doc, chunks)


def test_pdf_title_line_q_and_a_lines_and_page_numbers(tmp_path):
    page_one = [
        (0, "Coping With Stress"),
        (20, "Stress is a normal reaction to pressure."),
        (600, "1"),  # a page number, which is no text
    ]
    page_two = [
        (0, "Page 2 of 2"),
        (20, "Frequently Asked Questions"),
        (20, "Q: Can stress make me ill?"),
        (14, "A: Long-lasting stress can affect sleep, mood and"),
        (14, "appetite, so it is worth acting on."),
        (20, "Q: What helps?"),
        (14, "A: Regular breaks, exercise and talking to someone."),
    ]
    (tmp_path / "stress.pdf").write_bytes(make_pdf([page_one, page_two]))
    doc, chunks = load(tmp_path / "stress.pdf")
    assert doc.title == "Coping With Stress"
    assert summary(chunks, doc.title) == [
        ("paragraph", "<title>", None, None, "Stress is a normal reaction to pressure."),
        (
            "faq",
            "Frequently Asked Questions > Can stress make me ill?",
            None,
            "Can stress make me ill?",
            "Long-lasting stress can affect sleep, mood and appetite, so it is worth acting on.",
        ),
        (
            "faq",
            "Frequently Asked Questions > What helps?",
            None,
            "What helps?",
            "Regular breaks, exercise and talking to someone.",
        ),
    ]


def test_the_format_files_load_as_a_corpus_without_problems(tmp_path):
    shutil.copytree(FORMATS, tmp_path / "corpus")
    docs, problems = load_corpus(tmp_path / "corpus")
    assert problems == []
    assert [d.source for d in docs] == ["anxiety-faq.txt", "sleep-variants.md", "therapy-faq.html"]
    for doc in docs:
        assert_exact(doc, chunk_document(doc))


def make_pdf(pages: list[list[tuple[int, str]]]) -> bytes:
    """A PDF with one Helvetica line per (gap above in points, text), page by page."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, written once the pages are known
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    kids = []
    for lines in pages:
        y, ops = 760, []
        for gap, text in lines:
            y -= gap
            escaped = re.sub(rb"([\\()])", rb"\\\1", text.encode("cp1252"))
            ops.append(b"BT /F1 11 Tf 56 %d Td (%s) Tj ET" % (y, escaped))
        stream = b"\n".join(ops)
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % len(objects)
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    return pdf_file(objects)
