"""Pure: a SourceDocument -> structure-aware chunks and sentence spans with exact offsets."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import PurePosixPath

from bot.types import Chunk, SourceDocument, Span
from ingest.structure import Faq, outline, strip_span

# Bump when chunk boundaries or stored fields change: every id changes with it.
SCHEMA_VERSION = 3
SECTION_SEPARATOR = " > "
# Markdown marks its headings, and HTML is extracted as Markdown; plain text and PDF text
# do not, so there headings are recognised by their shape.
PLAIN_TEXT_SUFFIXES = (".txt", ".pdf")

# A sentence ends at . ! or ? (plus closing quotes/brackets) followed by whitespace.
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)\]]*(?=\s+\S)")
_ABBREVIATION = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|vs|dr|mr|mrs|ms|prof|st|no|approx|fig|u\.s|u\.k)|\b[A-Z]|\b\d+)\.$",
    re.IGNORECASE,
)


def chunk_document(doc: SourceDocument, max_chars: int = 700) -> list[Chunk]:
    """Split a document into chunks that never cross a section boundary.

    Each FAQ (question + answer) becomes one chunk; other text becomes one chunk per
    paragraph, and a paragraph longer than `max_chars` is split at sentence boundaries.
    Sections and FAQs are found by `ingest.structure.outline`.
    Invariant: `doc.text[c.start:c.end] == c.text` for every chunk and every sentence.

    >>> doc = SourceDocument("a.md", "A", "", "", "## Intro\\n\\nHello there. Bye now.")
    >>> [(c.section, c.text) for c in chunk_document(doc)]
    [('Intro', 'Hello there. Bye now.')]
    """
    plain = PurePosixPath(doc.source).suffix.lower() in PLAIN_TEXT_SUFFIXES
    chunks: list[Chunk] = []
    for part in outline(doc.text, doc.body_start, plain):
        section = SECTION_SEPARATOR.join(part.path) or doc.title
        if isinstance(part, Faq):
            chunks.append(_faq_chunk(doc, part, section))
        else:
            chunks.extend(_paragraph_chunks(doc, part.start, part.end, section, max_chars))
    return chunks


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


def _faq_chunk(doc: SourceDocument, faq: Faq, section: str) -> Chunk:
    question = _span(doc.text, *faq.question)
    answer = [s for b in faq.answer for s in split_sentences(doc.text[b[0] : b[1]], b[0])]
    spans = (Span(question.start, question.end, question.text, "question"), *answer)
    # An "A:" label moves only where the answer starts, which the other hashed fields do not
    # show: hash it, so an index built before labels were recognised re-embeds the answer.
    extra = {"answer_start": faq.answer[0][0]} if faq.answer_labelled else {}
    return _make_chunk(doc, "faq", section, faq.start, faq.end, spans, faq.number, **extra)


def _make_chunk(doc, kind, section, start, end, sentences, faq=None, **hashed) -> Chunk:
    text = doc.text[start:end]
    fields = dict(
        source=doc.source, title=doc.title, date=doc.date, section=section, kind=kind,
        start=start, end=end, text=text, faq=faq,
    )  # fmt: skip
    return Chunk(id=chunk_id(**fields, **hashed), sentences=tuple(sentences), **fields)


def _span(text: str, start: int, end: int, offset: int = 0) -> Span:
    trimmed = strip_span(text, start, end) or (start, start)
    return Span(offset + trimmed[0], offset + trimmed[1], text[trimmed[0] : trimmed[1]])
