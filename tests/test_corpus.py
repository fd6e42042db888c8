"""The article is in corpus/ verbatim, with its structure marked."""

import re

import yaml

from tests.conftest import ARTICLE, SEED

SEED_DATE_PREFIX = re.compile(r"\A\s*date (\d{4}-\d{2}-\d{2}) ")


def seed_paragraphs() -> list[str]:
    text = SEED.read_text(encoding="utf-8")
    text = SEED_DATE_PREFIX.sub("", text)
    return [p.strip() for p in text.split("\n\n") if p.strip()]


def test_every_seed_paragraph_is_in_the_corpus_unchanged():
    corpus = ARTICLE.read_text(encoding="utf-8")
    body_lines = {line.lstrip("#").strip() for line in corpus.splitlines()}
    paragraphs = seed_paragraphs()
    assert len(paragraphs) == 42
    missing = [p for p in paragraphs if p not in corpus.split("\n\n") and p not in body_lines]
    assert missing == []


def test_front_matter_has_title_date_and_description():
    text = ARTICLE.read_text(encoding="utf-8")
    front = yaml.safe_load(text.split("---")[1])
    assert str(front["date"]) == "2026-02-25"
    assert "Medication" in front["title"] and "Therapy" in front["title"]
    assert len(front["description"]) > 40 and "\n" not in front["description"]


def test_sections_and_faqs_are_marked_as_headings():
    text = ARTICLE.read_text(encoding="utf-8")
    h2 = re.findall(r"^## (.+)$", text, re.M)
    h3 = re.findall(r"^### (.+)$", text, re.M)
    assert h2[-1] == "Frequently Asked Questions" and len(h2) == 6
    assert [q.split(".")[0] for q in h3] == [str(n) for n in range(1, 9)]
    assert text.index("## Frequently Asked Questions") < text.index("### 1.")
