"""Pure: the sections and FAQs of Markdown or plain text, found with exact character offsets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

FAQ_TITLE = re.compile(r"\b(frequently asked questions|faqs?)\b", re.IGNORECASE)
HEADING_MAX_CHARS = 80
HEADING_MAX_WORDS = 12
PLAIN_HEADING_LEVEL = 2  # a plain-text heading is a section; the title line is metadata

_HEADING = re.compile(r"(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_NUMBER = re.compile(r"(\d+)[.)][ \t]+")
Q_LABEL = re.compile(r"(?:\*\*|__)?(?:Q|Question)[ \t]*:(?:\*\*|__)?[ \t]*", re.IGNORECASE)
A_LABEL = re.compile(r"(?:\*\*|__)?(?:A|Answer)[ \t]*:(?:\*\*|__)?[ \t]*", re.IGNORECASE)
# List items, quotes, tables and Markdown headings are never plain-text headings.
_NOT_A_HEADING = re.compile(r"[-*+•>|#]")
_CLOSING = "\"'\u201d\u2019)]"


@dataclass(frozen=True)
class Paragraph:
    """A run of body text under a section path."""

    path: tuple[str, ...]
    start: int
    end: int


@dataclass(frozen=True)
class Faq:
    """A question with its answer; `path` ends with the question as a section title."""

    path: tuple[str, ...]
    start: int  # where the question line starts (after any Markdown heading marks)
    question: tuple[int, int]  # the question alone: no number, "Q:" label or ** marks
    answer: tuple[tuple[int, int], ...]  # the answer's blocks, any "A:" label left out
    number: int | None
    answer_labelled: bool = False  # the answer began with an "A:" label, left out

    @property
    def end(self) -> int:
        return self.answer[-1][1]


@dataclass(frozen=True)
class QuestionLine:
    """A line read as a question: where its question text is, and how it was marked."""

    label: str  # as shown in a section path: the number kept, "Q:" and ** marks dropped
    start: int
    end: int
    number: int | None
    mark: str  # "q" (a Q: label), "number", "bold", or "" (nothing marks it)

    @property
    def asks(self) -> bool:
        return self.label.rstrip(_CLOSING).endswith("?")


def outline(text: str, start: int = 0, plain: bool = False) -> list[Paragraph | Faq]:
    """Paragraphs and FAQs of `text[start:]`, in order.

    Markdown `#` headings open sections everywhere; with `plain`, so do short lines set off
    by blank lines (see `is_heading_line`). Under a heading like "Frequently Asked Questions",
    each sub-heading, numbered or bold question line ("1. Can I ...?", "**Can I ...?**"),
    "Q:" line, or (plain or not) short line ending in "?" starts an FAQ whose answer is what
    follows up to the next question or heading. A "Q:" line followed by "A:" is an FAQ
    anywhere.

    >>> [(type(p).__name__, p.path) for p in outline("Hi.\\n\\nFAQ\\n\\n1. Why?\\n\\nSo.", plain=True)]
    [('Paragraph', ()), ('Faq', ('FAQ', '1. Why?'))]
    """
    return _Outliner(text, plain).run(start)


def iter_blocks(text: str, offset: int = 0) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of non-blank lines, trimmed of surrounding whitespace."""
    for match in re.finditer(r"(?:[^\n]*\S[^\n]*(?:\n|$))+", text[offset:]):
        span = strip_span(text, offset + match.start(), offset + match.end())
        if span:
            yield span


def is_heading_line(line: str) -> bool:
    """A short line that reads as a title: no final . , ; or :, not a list item, not lowercase.

    >>> is_heading_line("Is Medication or Therapy Better?"), is_heading_line("See below.")
    (True, False)
    """
    line = line.strip()
    if not line or "\n" in line or len(line) > HEADING_MAX_CHARS:
        return False
    if len(line.split()) > HEADING_MAX_WORDS or _NOT_A_HEADING.match(line):
        return False
    if line.rstrip(_CLOSING)[-1:] in (".", ",", ";", ":", ""):
        return False
    first = next((c for c in line if c.isalpha()), "")  # a page number is no heading
    return bool(first) and not first.islower()


def parse_question(text: str, start: int, end: int) -> QuestionLine | None:
    """Read `text[start:end]` (one line) as a question, taking off ** marks, "Q:" and a number.

    >>> q = parse_question("**Q: 3. Can I?**", 0, 16)
    >>> (q.label, q.start, q.end, q.number, q.mark)
    ('3. Can I?', 8, 14, 3, 'q')
    """
    span = strip_span(text, start, end)
    if span is None:
        return None
    span, bold = _unbold(text, *span)
    label = Q_LABEL.match(text, *span)
    if label:
        span = strip_span(text, label.end(), span[1]) or (span[1], span[1])
        span, inner = _unbold(text, *span)
        bold = bold or inner
    number = _NUMBER.match(text, *span)
    if number:
        span, inner = _unbold(text, number.end(), span[1])
        bold = bold or inner
    if span[0] >= span[1]:
        return None
    prefix = text[number.start() : number.end()] if number else ""
    mark = "q" if label else "number" if number else "bold" if bold else ""
    return QuestionLine(
        prefix + text[span[0] : span[1]],
        span[0],
        span[1],
        int(number.group(1)) if number else None,
        mark,
    )


def strip_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """`(start, end)` without surrounding whitespace, or None when nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _unbold(text: str, start: int, end: int) -> tuple[tuple[int, int], bool]:
    for mark in ("**", "__"):
        if (
            end - start > 4
            and text.startswith(mark, start)
            and text.endswith(mark, start, end)
            and mark not in text[start + 2 : end - 2]  # "**a** and **b**" is not one bold line
        ):
            return strip_span(text, start + 2, end - 2) or (start, end), True
    return (start, end), False


class _Outliner:
    """The state of one pass over a text: open headings, FAQ section and FAQ."""

    def __init__(self, text: str, plain: bool):
        self.text, self.plain = text, plain
        self.headings: list[tuple[int, str]] = []  # (level, title) of the open sections
        self.faq_level: int | None = None  # level of the open "Frequently Asked Questions"
        self.faq: dict | None = None  # the FAQ being collected
        self.parts: list[Paragraph | Faq] = []

    def run(self, start: int) -> list[Paragraph | Faq]:
        text = self.text
        blocks = list(iter_blocks(text, start))
        for i, (start, end) in enumerate(blocks):
            newline = text.find("\n", start, end)
            line_end = strip_span(text, start, end if newline == -1 else newline)[1]
            heading = _HEADING.fullmatch(text, start, line_end)
            following = blocks[i + 1][0] if i + 1 < len(blocks) else None
            if heading:
                self.heading(len(heading.group(1)), heading.start(2), heading.end(2))
            elif self.question(start, line_end, end, following):
                pass
            elif (
                self.plain
                and line_end == end
                and is_heading_line(text[start:end])
                and not self.awaiting_answer()  # a one-line answer such as "Not usually"
            ):
                self.heading(PLAIN_HEADING_LEVEL, start, end)
            else:
                self.body(start, end)
                continue
            rest = strip_span(text, line_end, end)
            if rest:  # text right under a heading or question line, with no blank line between
                self.body(*rest)
        self.close_faq()
        return self.parts

    def path(self) -> tuple[str, ...]:
        return tuple(title for _, title in self.headings)

    def awaiting_answer(self) -> bool:
        return self.faq is not None and not self.faq["answer"]

    def heading(self, level: int, start: int, end: int) -> None:
        self.close_faq()
        title = self.text[start:end]
        while self.headings and self.headings[-1][0] >= level:
            self.headings.pop()
        if self.faq_level is not None and level <= self.faq_level:
            self.faq_level = None
        question = parse_question(self.text, start, end) if self.faq_level is not None else None
        if question:  # a sub-heading of the FAQ section is a question
            self.headings.append((level, question.label))
            self.open_faq(start, end, question, self.path(), heading=self.headings[-1])
            return
        self.headings.append((level, title))
        if self.faq_level is None and FAQ_TITLE.search(title):
            self.faq_level = level

    def question(self, start: int, line_end: int, end: int, following: int | None) -> bool:
        """Start an FAQ at this block if its first line is a question here."""
        question = parse_question(self.text, start, line_end)
        if question is None:
            return False
        in_faq = self.faq_level is not None
        if question.mark == "q":
            answer_at = strip_span(self.text, line_end, end)
            answer_at = answer_at[0] if answer_at else following
            found = in_faq or bool(answer_at is not None and A_LABEL.match(self.text, answer_at))
        elif question.mark:
            found = in_faq and question.asks
        else:
            found = (
                in_faq
                and question.asks
                and line_end == end
                and is_heading_line(self.text[start:end])
                and not self.awaiting_answer()
            )
        if not found:
            return False
        self.close_faq()
        # Outside an FAQ section a Q:/A: pair stands alone: what follows its A: paragraph is
        # the section's text again.
        self.open_faq(start, line_end, question, (*self.path(), question.label), pair=not in_faq)
        return True

    def open_faq(self, start, line_end, question, path, heading=None, pair=False) -> None:
        self.faq = {
            "heading": heading,  # (level, title) when a heading asks it, else a line does
            "pair": pair,
            "path": path,
            "start": start,
            "line_end": line_end,
            "question": (question.start, question.end),
            "number": question.number,
            "answer": [],
            "labelled": False,
        }

    def body(self, start: int, end: int) -> None:
        if self.faq is not None and self.faq["pair"] and self.faq["answer"]:
            self.close_faq()
        faq = self.faq
        if faq is None:
            self.parts.append(Paragraph(self.path(), start, end))
            return
        if not faq["answer"]:
            label = A_LABEL.match(self.text, start, end)
            if label:
                faq["labelled"] = True
                span = strip_span(self.text, label.end(), end)
                if span is None:
                    return  # a bare "A:" line: the answer is in the next block
                start, end = span
        faq["answer"].append((start, end))

    def close_faq(self) -> None:
        faq, self.faq = self.faq, None
        if faq is None:
            return
        if faq["answer"] and faq["heading"] and self.headings[-1:] == [faq["heading"]]:
            # An answered question heading is over; a topic heading with no answer of its
            # own ("### Sleep" above "**Q: ...?**" lines) stays in the path of what follows.
            self.headings.pop()
        if faq["answer"]:
            self.parts.append(
                Faq(
                    faq["path"],
                    faq["start"],
                    faq["question"],
                    tuple(faq["answer"]),
                    faq["number"],
                    faq["labelled"],
                )
            )
        elif not faq["heading"]:  # a question line with no answer is still text
            self.parts.append(Paragraph(faq["path"][:-1], faq["start"], faq["line_end"]))
