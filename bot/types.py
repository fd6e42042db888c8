"""Frozen dataclasses that flow between the pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SourceDocument:
    """One corpus file as loaded: `text` is what every offset points into."""

    source: str  # path relative to the corpus folder, with forward slashes
    title: str
    date: str  # ISO date, or "" when unknown
    description: str
    text: str  # the file's exact text (Markdown/plain) or its extracted text (HTML/PDF)
    body_start: int = 0  # offset where the content starts (after any front matter)


@dataclass(frozen=True)
class Article:
    title: str
    date: str
    source: str


@dataclass(frozen=True)
class Span:
    """A sentence inside a chunk; `text == document.text[start:end]`."""

    start: int
    end: int
    text: str
    role: str = "sentence"  # "sentence", or "question" for an FAQ's question line


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: a paragraph (or part of one) or a whole FAQ."""

    id: str  # content hash: changes whenever anything stored about the chunk changes
    source: str
    title: str
    date: str
    section: str  # e.g. "Frequently Asked Questions > 5. How long until ...?"
    kind: str  # "paragraph" or "faq"
    text: str
    start: int
    end: int
    faq: int | None = None  # the FAQ's number, for kind == "faq"
    sentences: tuple[Span, ...] = ()

    @property
    def answer(self) -> Span | None:
        """An FAQ's answer as one span (everything after the question)."""
        if self.kind != "faq":
            return None
        body = [s for s in self.sentences if s.role != "question"]
        if not body:
            return None
        start, end = body[0].start, body[-1].end
        return Span(start, end, self.text[start - self.start : end - self.start], "answer")

    @property
    def question(self) -> str | None:
        spans = [s.text for s in self.sentences if s.role == "question"]
        return spans[0] if spans else None


@dataclass(frozen=True)
class BankQuestion:
    """A question of an article's question bank, tied to the quote that answers it
    (`start`/`end` in the article's text, inside the chunk `chunk`)."""

    question: str
    source: str  # the article's source name
    chunk: str  # id of the chunk holding the quote
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float


@dataclass(frozen=True)
class Citation:
    n: int
    source: str
    title: str
    section: str
    quote: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Answer:
    text: str
    mode: str  # "faq", "passages", "abstain", "crisis", "boundary", "notice", "unavailable"
    citations: tuple[Citation, ...] = ()
    suggestions: tuple[str, ...] = ()  # closest FAQ questions, offered when abstaining
    crisis: bool = False  # crisis resources are shown (risk now, or earlier in the chat)
    notices: tuple[str, ...] = field(default=())
    risk: str | None = None  # "urgent" or "concern" (this message or an earlier one), or None
    partial: bool = False  # the article only partly answers: the reply says so first

    @property
    def abstained(self) -> bool:
        return self.mode == "abstain"
