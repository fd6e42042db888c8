"""Pure: HTML pages and PDF page text -> extracted text with headings and FAQs marked."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ingest.structure import (
    A_LABEL,
    FAQ_TITLE,
    Q_LABEL,
    Faq,
    is_heading_line,
    outline,
    parse_question,
)

_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# Taken whole, as one block: what is nested inside them is flattened into their text.
_BLOCKS = ("p", "li", "pre", "blockquote", "dt", "dd", "summary", "figcaption", "caption")
_SKIPPED = (
    "script", "style", "nav", "header", "footer", "noscript", "template", "head", "title",
    "button", "select", "svg", "iframe",
)  # fmt: skip
_INLINE = (
    "a", "abbr", "b", "bdi", "bdo", "br", "cite", "code", "data", "del", "dfn", "em", "font",
    "i", "img", "ins", "kbd", "label", "mark", "q", "s", "samp", "small", "span", "strong",
    "sub", "sup", "time", "u", "var", "wbr",
)  # fmt: skip
_STRUCTURAL = (
    *_HEADINGS, *_BLOCKS, "div", "section", "article", "main", "aside", "details", "dl",
    "ul", "ol", "table", "figure", "form",
)  # fmt: skip
_BOLD = ("b", "strong")
_FAQ_HEADING = "Frequently Asked Questions"
_PAGE_NUMBER = re.compile(r"(?:page[ ]?)?\d{1,4}(?:[ ]?(?:/|of)[ ]?\d{1,4})?", re.IGNORECASE)


@dataclass(frozen=True)
class ExtractedPage:
    title: str
    date: str  # as the page gives it, e.g. "2024-05-01T09:00:00Z"; "" when it gives none
    description: str
    text: str


def extract_html(html: str) -> ExtractedPage:
    """An HTML page -> its metadata and its readable text as Markdown-style blocks.

    Headings become `#` lines; FAQ markup (`<details>`/`<summary>`, `<dl>` terms and bold
    questions under an FAQ heading) becomes "Q:"/"A:" lines; the questions of schema.org
    FAQPage JSON-LD that the visible text does not already ask are added at the end under
    "Frequently Asked Questions". Blocks are separated by blank lines.

    >>> extract_html("<h2>FAQ</h2><details><summary>Why?</summary>Because.</details>").text
    '## FAQ\\n\\nQ: Why?\\n\\nA: Because.'
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    schema_faqs = _schema_faqs(soup)
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    date = ""
    for key in ("date", "article:published_time", "dc.date", "pubdate"):
        tag = soup.find("meta", attrs={"name": key}) or soup.find("meta", attrs={"property": key})
        if tag and tag.get("content"):
            date = tag["content"]
            break
    description = soup.find("meta", attrs={"name": "description"})
    description = str(description.get("content", "")) if description else ""
    for tag in soup(list(_SKIPPED)):
        tag.decompose()
    page = _Page(title)
    page.walk(soup)
    page.add_schema_faqs(schema_faqs)
    return ExtractedPage(
        title=page.title,
        date=date,
        description=description,
        text="\n\n".join(page.blocks),
    )


def join_pdf_lines(pages: list[str]) -> str:
    """Text of PDF pages -> blocks separated by blank lines, for the plain-text rules.

    Wrapped lines are joined with a space; a heading-like line (`is_heading_line`) that
    follows the end of a sentence stands alone, and a "Q:" or "A:" line starts a block.

    >>> join_pdf_lines(["Sleep\\nRest helps. It\\nrestores you.\\nFAQ\\n1. Why?\\nBecause."])
    'Sleep\\n\\nRest helps. It restores you.\\n\\nFAQ\\n\\n1. Why?\\n\\nBecause.'
    """
    blocks: list[str] = []
    current: list[str] = []  # the lines of the paragraph being read
    for page in pages:
        lines = [" ".join(line.split()) for line in page.splitlines()]
        lines = [x for x in lines if x]
        for edge in (0, -1):  # a page number above or below the text is no part of it
            if lines and _PAGE_NUMBER.fullmatch(lines[edge]):
                del lines[edge]
        if current and _ends_sentence(current[-1]):  # else the paragraph goes on overleaf
            blocks.append(" ".join(current))
            current = []
        for i, line in enumerate(lines):
            following = lines[i + 1] if i + 1 < len(lines) else ""
            alone = (
                is_heading_line(line)
                and (not current or _ends_sentence(current[-1]))
                and not following[:1].islower()  # a wrapped sentence goes on in lower case
            )
            if alone or Q_LABEL.match(line) or _starts_answer(line):
                blocks.append(" ".join(current))
                current = []
            if alone:
                blocks.append(line)
            else:
                current.append(line)
    blocks.append(" ".join(current))
    return "\n\n".join(b for b in blocks if b)


def _ends_sentence(line: str) -> bool:
    return line.rstrip("\"')\u201d\u2019")[-1:] in (".", "!", "?", ":")


def _starts_answer(line: str) -> bool:
    return A_LABEL.match(line) is not None


def _words(el) -> str:
    return " ".join(el.get_text(" ", strip=True).split())


def _asks(words: str) -> bool:
    return words.rstrip("\"')\u201d\u2019").endswith("?")


class _Page:
    """The blocks of a page's text, collected in document order while walking its elements."""

    def __init__(self, title: str):
        self.title = title
        self.blocks: list[str] = []
        self.headings: list[tuple[int, str]] = []  # (level, title) of the open sections
        self.answer_next = False  # the next block answers the question just added

    def in_faq(self) -> bool:
        return any(FAQ_TITLE.search(title) for _, title in self.headings)

    def heading(self, level: int, words: str) -> None:
        if level == 1 and not self.title:
            self.title = words
        if level == 1 and words == self.title:
            return  # the page title is metadata, not a section
        self.section(level, words)

    def section(self, level: int, words: str) -> None:
        while self.headings and self.headings[-1][0] >= level:
            self.headings.pop()
        self.headings.append((level, words))
        self.answer_next = False
        self.blocks.append("#" * level + " " + words)

    def question(self, words: str) -> None:
        self.blocks.append(words if Q_LABEL.match(words) else "Q: " + words)
        self.answer_next = True

    def text(self, words: str) -> None:
        if not words:
            return
        if self.answer_next:
            words = words if _starts_answer(words) else "A: " + words
            self.answer_next = False
        self.blocks.append(words)

    def walk(self, node) -> None:
        from bs4.element import NavigableString, PreformattedString

        run: list[str] = []  # loose text and inline elements between blocks
        for child in list(node.children):
            if isinstance(child, NavigableString):
                if not isinstance(child, PreformattedString):  # comments, doctype, CDATA
                    run.append(child.strip())
                continue
            if child.name in _INLINE and not child.find(list(_STRUCTURAL)):
                run.append(child.get_text(" ", strip=True))
                continue
            self.text(" ".join(" ".join(run).split()))
            run = []
            if child.name in _HEADINGS:
                words = _words(child)
                if words:
                    self.heading(int(child.name[1]), words)
            elif child.name == "details":
                self.details(child)
            elif child.name == "dl":
                self.definitions(child)
            elif child.name in _BLOCKS:
                self.block(child)
            else:
                self.walk(child)
        self.text(" ".join(" ".join(run).split()))

    def block(self, el) -> None:
        words = _words(el)
        if self.in_faq() and el.name in ("p", "li"):
            first = next((c for c in el.children if str(c).strip()), None)
            bold = _words(first) if getattr(first, "name", None) in _BOLD else ""
            if bold and _asks(bold) and words.startswith(bold):
                self.question(bold)  # <p><strong>Can I ...?</strong> Answer</p>
                self.text(words[len(bold) :].strip())
                return
        self.text(words)

    def details(self, el) -> None:
        summary = el.find("summary")
        question = _words(summary) if summary else ""
        if summary:
            summary.extract()
        if question and (_asks(question) or self.in_faq()):
            self.question(question)
            self.answer(lambda: self.walk(el))
        else:
            self.text(question)
            self.walk(el)

    def definitions(self, dl) -> None:
        items = [i for i in dl.find_all(["dt", "dd"]) if i.find_parent("dl") is dl]
        n = 0
        while n < len(items):
            words, is_term = _words(items[n]), items[n].name == "dt"
            n += 1
            if not (is_term and words and (_asks(words) or self.in_faq())):
                self.text(words)
                continue
            self.question(words)
            answers = []
            while n < len(items) and items[n].name == "dd":
                answers.append(_words(items[n]))
                n += 1
            self.answer(lambda answers=answers: [self.text(w) for w in answers])

    def answer(self, emit) -> None:
        """Add an answer's blocks as one block, one paragraph a line, so that it ends here."""
        first = len(self.blocks)
        emit()
        self.answer_next = False  # a question with no answer does not lend it the next block
        added = self.blocks[first:]
        if len(added) > 1 and not any(b.startswith("#") for b in added):
            self.blocks[first:] = ["\n".join(added)]

    def add_schema_faqs(self, faqs: list[tuple[str, str]]) -> None:
        """Add the JSON-LD FAQs whose question the visible text does not already ask."""
        text = "\n\n".join(self.blocks)
        asked = {
            _question_key(text[f.question[0] : f.question[1]])
            for f in outline(text)
            if isinstance(f, Faq)
        }
        missing = []
        for question, answer in faqs:
            key = _question_key(question)
            if key not in asked:
                asked.add(key)
                missing.append((question, answer))
        if not missing:
            return
        if not self.in_faq():  # else they join the FAQ section the page ends with
            level = min(
                (len(b) - len(b.lstrip("#")) for b in self.blocks if b[:1] == "#"), default=2
            )
            self.section(level, _FAQ_HEADING)
        for question, answer in missing:
            self.question(question)
            self.text(answer)


def _question_key(question: str) -> str:
    parsed = parse_question(question, 0, len(question))
    words = question[parsed.start : parsed.end] if parsed else question
    return " ".join(words.split()).casefold().rstrip("?").strip()


def _schema_faqs(soup) -> list[tuple[str, str]]:
    """(question, answer) pairs of schema.org FAQPage JSON-LD, in the order given."""
    pairs = []
    for script in soup.find_all("script"):
        if (script.get("type") or "").split(";")[0].strip().lower() != "application/ld+json":
            continue
        try:
            data = json.loads(script.get_text())
        except ValueError:
            continue  # a broken block of metadata is no reason to lose the page
        for node in _json_objects(data):
            if "FAQPage" not in _types(node):
                continue
            for entity in _as_list(node.get("mainEntity")):
                if not isinstance(entity, dict):
                    continue
                question = _plain(entity.get("name") or entity.get("text"))
                answers = _as_list(entity.get("acceptedAnswer")) or _as_list(
                    entity.get("suggestedAnswer")
                )
                answer = next((a for a in answers if isinstance(a, dict)), {})
                answer_text = _plain(answer.get("text"))
                if question and answer_text:
                    pairs.append((question, answer_text))
    return pairs


def _json_objects(data):
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _json_objects(value)
    elif isinstance(data, list):
        for value in data:
            yield from _json_objects(value)


def _types(node: dict) -> set[str]:
    # "FAQPage", "schema:FAQPage" and "https://schema.org/FAQPage" all name the same type.
    return {str(t).rsplit("/", 1)[-1].rsplit(":", 1)[-1] for t in _as_list(node.get("@type"))}


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _plain(value) -> str:
    """JSON-LD text, which may hold HTML, as one line of plain words."""
    if not isinstance(value, str):
        return ""
    from bs4 import BeautifulSoup

    return " ".join(BeautifulSoup(value, "html.parser").get_text(" ", strip=True).split())
