"""Pure: a SourceDocument -> structure-aware chunks and sentence spans with exact offsets."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator

from bot.types import Chunk, SourceDocument, Span

# Bump when chunk boundaries or stored fields change: every id changes with it.
SCHEMA_VERSION = 2
SECTION_SEPARATOR = " > "

_HEADING = re.compile(r"(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_FAQ_SECTION = re.compile(r"\b(frequently asked questions|faqs?)\b", re.IGNORECASE)
_FAQ_NUMBER = re.compile(r"(\d+)[.)][ \t]+")
# A sentence ends at . ! or ? (plus closing quotes/brackets) followed by whitespace.
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)\]]*(?=\s+\S)")
_ABBREVIATION = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|vs|dr|mr|mrs|ms|prof|st|no|approx|fig|u\.s|u\.k)|\b[A-Z]|\b\d+)\.$",
    re.IGNORECASE,
)


def chunk_document(doc: SourceDocument, max_chars: int = 700) -> list[Chunk]:
    """Split a document into chunks that never cross a section boundary.

    Each FAQ (question heading + answer) becomes one chunk; other text becomes one chunk per
    paragraph, and a paragraph longer than `max_chars` is split at sentence boundaries.
    Invariant: `doc.text[c.start:c.end] == c.text` for every chunk and every sentence.

    >>> doc = SourceDocument("a.md", "A", "", "", "## Intro\\n\\nHello there. Bye now.")
    >>> [(c.section, c.text) for c in chunk_document(doc)]
    [('Intro', 'Hello there. Bye now.')]
    """
    chunks: list[Chunk] = []
    headings: list[tuple[int, str]] = []  # (level, title) of the open sections
    faq_level: int | None = None  # level of the open "Frequently Asked Questions" heading
    faq: dict | None = None  # the FAQ being collected: question span and answer blocks

    def close_faq() -> None:
        nonlocal faq
        if faq and faq["blocks"]:
            chunks.append(_faq_chunk(doc, faq, section_path()))
        faq = None

    def section_path() -> str:
        return SECTION_SEPARATOR.join(t for _, t in headings) or doc.title

    for start, end in iter_blocks(doc.text, doc.body_start):
        first_line_end = doc.text.find("\n", start, end)
        first_line_end = end if first_line_end == -1 else first_line_end
        heading = _HEADING.fullmatch(doc.text, start, first_line_end)
        if heading:
            close_faq()
            level, title = len(heading.group(1)), heading.group(2)
            while headings and headings[-1][0] >= level:
                headings.pop()
            headings.append((level, title))
            if faq_level is not None and level <= faq_level:
                faq_level = None
            if faq_level is not None and level > faq_level:
                faq = {"title": title, "start": heading.start(2), "blocks": []}
            elif _FAQ_SECTION.search(title):
                faq_level = level
            rest = _strip_span(doc.text, first_line_end, end)
            if rest is None:
                continue
            start, end = rest  # text right under a heading line, with no blank line between
        if faq is not None:
            faq["blocks"].append((start, end))
        else:
            chunks.extend(_paragraph_chunks(doc, start, end, section_path(), max_chars))
    close_faq()
    return chunks


def iter_blocks(text: str, offset: int = 0) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of non-blank lines, trimmed of surrounding whitespace."""
    for match in re.finditer(r"(?:[^\n]*\S[^\n]*(?:\n|$))+", text[offset:]):
        span = _strip_span(text, offset + match.start(), offset + match.end())
        if span:
            yield span


def split_sentences(text: str, offset: int = 0) -> list[Span]:
    """Sentence spans of `text`, with offsets shifted by `offset`.

    >>> [s.text for s in split_sentences("Dr. Lee said so. Really? Yes, e.g. SSRIs.")]
    ['Dr. Lee said so.', 'Really?', 'Yes, e.g. SSRIs.']
    """
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        if _ABBREVIATION.search(text, max(0, match.start() - 6), match.start() + 1):
            continue
        spans.append(_span(text, start, match.end(), offset))
        start = match.end()
    spans.append(_span(text, start, len(text), offset))
    return [s for s in spans if s.text]


def chunk_id(**fields) -> str:
    """A content hash over everything stored about a chunk (and the schema version)."""
    payload = json.dumps([SCHEMA_VERSION, fields], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def _paragraph_chunks(doc, start: int, end: int, section: str, max_chars: int) -> list[Chunk]:
    sentences = split_sentences(doc.text[start:end], start)
    groups: list[list[Span]] = []
    for sentence in sentences:
        if groups and sentence.end - groups[-1][0].start <= max_chars:
            groups[-1].append(sentence)
        else:
            groups.append([sentence])
    return [_make_chunk(doc, "paragraph", section, g[0].start, g[-1].end, tuple(g)) for g in groups]


def _faq_chunk(doc: SourceDocument, faq: dict, section: str) -> Chunk:
    q_start, title = faq["start"], faq["title"]
    number = _FAQ_NUMBER.match(title)
    question = _span(doc.text, q_start + (number.end() if number else 0), q_start + len(title))
    answer = [s for b in faq["blocks"] for s in split_sentences(doc.text[b[0] : b[1]], b[0])]
    spans = (Span(question.start, question.end, question.text, "question"), *answer)
    return _make_chunk(
        doc,
        "faq",
        section,
        q_start,
        faq["blocks"][-1][1],
        spans,
        int(number.group(1)) if number else None,
    )


def _make_chunk(doc, kind, section, start, end, sentences, faq=None) -> Chunk:
    text = doc.text[start:end]
    fields = dict(
        source=doc.source, title=doc.title, date=doc.date, section=section, kind=kind,
        start=start, end=end, text=text, faq=faq,
    )  # fmt: skip
    return Chunk(id=chunk_id(**fields), sentences=tuple(sentences), **fields)


def _span(text: str, start: int, end: int, offset: int = 0) -> Span:
    trimmed = _strip_span(text, start, end) or (start, start)
    return Span(offset + trimmed[0], offset + trimmed[1], text[trimmed[0] : trimmed[1]])


def _strip_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None
