"""Loading corpus files: formats, metadata, and files that cannot be used."""

from pathlib import Path

import pytest

from ingest.loading import CorpusTexts, LoadError, load_corpus, load_document
from tests.conftest import CORPUS, pdf_file


def test_markdown_keeps_the_file_text_exactly_and_reads_front_matter():
    doc = load_document(CORPUS / "medication-and-therapy.md", CORPUS)
    assert doc.text == (CORPUS / "medication-and-therapy.md").read_bytes().decode("utf-8")
    assert doc.source == "medication-and-therapy.md"
    assert doc.title == "Combining Medication and Therapy for Mental Health"
    assert doc.date == "2026-02-25"
    assert doc.text[doc.body_start :].startswith("\nMedication and therapy address")


def test_windows_line_endings_are_kept_so_offsets_stay_exact(tmp_path):
    (tmp_path / "a.md").write_bytes(b"---\r\ntitle: A\r\n---\r\n\r\nOne.\r\n\r\nTwo.\r\n")
    doc = load_document(tmp_path / "a.md", tmp_path)
    assert "\r\n" in doc.text and doc.title == "A"


def test_plain_text_takes_its_title_from_the_file_name(tmp_path):
    (tmp_path / "sleep-and-mood.txt").write_text("Sleep matters.\n")
    doc = load_document(tmp_path / "sleep-and-mood.txt", tmp_path)
    assert (doc.title, doc.date, doc.text) == ("Sleep and mood", "", "Sleep matters.\n")


def test_html_becomes_headings_and_paragraphs_with_its_metadata(tmp_path):
    (tmp_path / "page.html").write_text(
        "<html><head><title>Talk Therapy</title><meta name='date' content='2024-05-01'>"
        "<script>var x = 1;</script></head><body><h1>Talk Therapy</h1>"
        "<h2>What is CBT?</h2><p>CBT challenges <b>unhelpful</b> thoughts.</p>"
        "<ul><li>Weekly sessions.</li></ul></body></html>"
    )
    doc = load_document(tmp_path / "page.html", tmp_path)
    assert doc.title == "Talk Therapy" and doc.date == "2024-05-01"
    assert doc.text == "## What is CBT?\n\nCBT challenges unhelpful thoughts.\n\nWeekly sessions."


def test_pdf_text_is_extracted(tmp_path):
    (tmp_path / "note.pdf").write_bytes(_pdf("Therapy builds coping skills."))
    doc = load_document(tmp_path / "note.pdf", tmp_path)
    assert doc.text == "Therapy builds coping skills." and doc.title == "Note"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"", "empty"),
        ("blank.txt", b"  \n\n ", "empty"),
        ("binary.md", b"abc\x00\x01\x02def", "binary"),
        ("latin1.txt", "caf\xe9".encode("latin-1"), "UTF-8"),
        ("only-front-matter.md", b"---\ntitle: x\n---\n", "no text"),
        ("only-a-date.txt", b"Date: 2024-01-01\n", "no text"),
        ("bad-front-matter.md", b"---\ntitle: [unclosed\n---\nText.", "YAML"),
        ("notes.docx", b"PK\x03\x04", "unsupported"),
        ("broken.pdf", b"%PDF-1.4 garbage", "PDF"),
    ],
)
def test_unusable_files_raise_a_clear_message(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(LoadError, match=reason):
        load_document(tmp_path / name, tmp_path)


def test_unreadable_file_is_reported_with_its_name(tmp_path, monkeypatch):
    (tmp_path / "good.md").write_text("Fine text.")
    (tmp_path / "locked.md").write_text("Secret.")
    original = Path.read_bytes

    def read_bytes(self):
        if self.name == "locked.md":
            raise PermissionError(13, "Permission denied")
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    docs, problems = load_corpus(tmp_path)
    assert [d.source for d in docs] == ["good.md"]
    assert [(p.source, p.reason) for p in problems] == [
        ("locked.md", "cannot read file (Permission denied)")
    ]


def test_corpus_skips_hidden_files_and_reports_bad_ones_without_stopping(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.md").write_text("Alpha.")
    (tmp_path / ".hidden.md").write_text("Ignored.")
    (tmp_path / "b.txt").write_bytes(b"\xff\xfe\x00")
    docs, problems = load_corpus(tmp_path)
    assert [d.source for d in docs] == ["sub/a.md"]
    assert [p.source for p in problems] == ["b.txt"]


def _pdf(text: str) -> bytes:
    """A minimal one-page PDF showing `text` in Helvetica."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return pdf_file(objects)


def test_question_bank_sidecars_are_skipped_silently(tmp_path):
    (tmp_path / "sleep.md").write_text("Sleep matters.")
    (tmp_path / "sleep.questions.yaml").write_text("entries: []\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mood.questions.yaml").write_bytes(b"\x00 not even text")
    (tmp_path / "notes.yaml").write_text("a: 1\n")
    docs, problems = load_corpus(tmp_path)
    assert [d.source for d in docs] == ["sleep.md"]
    assert [p.source for p in problems] == ["notes.yaml"]  # other YAML is still reported
    assert "unsupported" in problems[0].reason


@pytest.mark.parametrize(
    ("head", "title", "date"),
    [
        ("date 2026-02-25 ", "Sleep and mood", "2026-02-25"),  # the seed's form
        ("Date: 2026-02-25\n\n", "Sleep and mood", "2026-02-25"),
        ("Date: 25 February 2026\n", "Sleep and mood", "2026-02-25"),
        ("Published: February 25, 2026\n\n", "Sleep and mood", "2026-02-25"),
        ("Sleep and Mood\n\nDate: 2026-02-25\n\n", "Sleep and Mood", "2026-02-25"),
        ("Date: 2026-02-25\n\nSleep and Mood\n\n", "Sleep and Mood", "2026-02-25"),
        ("\ufeffSleep and Mood\r\n\r\n", "Sleep and Mood", ""),
    ],
)
def test_plain_text_title_and_date_lines_are_metadata_not_text(tmp_path, head, title, date):
    (tmp_path / "sleep-and-mood.txt").write_text(head + "Sleep restores attention.\n")
    doc = load_document(tmp_path / "sleep-and-mood.txt", tmp_path)
    assert (doc.title, doc.date) == (title, date)
    assert doc.text[doc.body_start :].strip() == "Sleep restores attention."


@pytest.mark.parametrize(
    "text",
    [
        "Date: sometime soon\n\nText.\n",  # not a date: kept as text
        "Date night helps couples reconnect.\n",
        "Frequently Asked Questions\n\n1. Why?\n\nBecause.\n",  # an FAQ heading is no title
        "1. Is it safe?\n\nYes.\n",
        "Only A Heading\n",  # a title needs text below it
    ],
)
def test_plain_text_lines_that_are_not_title_or_date_stay_text(tmp_path, text):
    (tmp_path / "note.txt").write_text(text)
    doc = load_document(tmp_path / "note.txt", tmp_path)
    assert (doc.title, doc.date, doc.body_start) == ("Note", "", 0)


def test_pdf_title_line_repeating_its_metadata_title_is_not_text(tmp_path):
    from pypdf import PdfWriter

    (tmp_path / "plain.pdf").write_bytes(_pdf("Therapy builds coping skills."))
    writer = PdfWriter(clone_from=tmp_path / "plain.pdf")
    writer.add_metadata({"/Title": "Coping Skills"})
    writer.write(tmp_path / "titled.pdf")
    doc = load_document(tmp_path / "titled.pdf", tmp_path)
    assert doc.title == "Coping Skills" and doc.body_start == 0


def test_corpus_texts_read_each_file_when_first_asked_for(small_corpus, tmp_path):
    texts = CorpusTexts(small_corpus)
    assert sorted(texts) == ["exercise.txt", "sleep.md"] and len(texts) == 2
    assert texts["sleep.md"] == (small_corpus / "sleep.md").read_text(encoding="utf-8")
    (small_corpus / "exercise.txt").write_text("Walking helps.\n")  # read after the change
    assert texts["exercise.txt"] == "Walking helps.\n"
    (tmp_path / "outside.md").write_text("# Not in the corpus\n")
    for missing in ("nope.md", "../outside.md", "/etc/hostname", None):
        assert texts.get(missing) is None
    (small_corpus / "empty.md").write_text("")
    assert texts.get("empty.md") is None  # a file that cannot be loaded has no text
