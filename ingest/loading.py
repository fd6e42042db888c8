"""Read corpus files into SourceDocuments: the only reader of corpus/."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.types import SourceDocument
from ingest.extraction import extract_html, join_pdf_lines
from ingest.structure import FAQ_TITLE, is_heading_line, iter_blocks, parse_question

TEXT_SUFFIXES = (".md", ".markdown", ".txt")
EXTRACTED_SUFFIXES = (".html", ".htm", ".pdf")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + EXTRACTED_SUFFIXES
# A question bank beside an article (`<name>.questions.yaml`, read by ingest.questions) is
# not an article.
SIDECAR_SUFFIX = ".questions.yaml"

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
# "date 2026-02-25" (the rest of the line may be text) or a whole "Date: 25 February 2026" line.
_DATE_LINE = re.compile(
    r"[ \t]*(?:date|published)(?:[ \t]*:?[ \t]*(?P<iso>\d{4}-\d{2}-\d{2})(?=\s|\Z)"
    r"|[ \t]*:[ \t]*(?P<line>[^\r\n]*?)[ \t]*(?=\r?\n|\Z))",
    re.IGNORECASE,
)
_DATE_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y")


class LoadError(ValueError):
    """A corpus file that cannot be used; the message says why, for a person."""


@dataclass(frozen=True)
class LoadProblem:
    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


def find_corpus_files(corpus_dir: Path) -> list[Path]:
    """Every non-hidden file under corpus_dir, sorted, whatever its type, except sidecars."""
    return sorted(
        p
        for p in Path(corpus_dir).rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts)
        and not _is_sidecar(p)
    )


def _is_sidecar(path: Path) -> bool:
    return path.name.endswith(SIDECAR_SUFFIX) and len(path.name) > len(SIDECAR_SUFFIX)


def load_corpus(corpus_dir: Path) -> tuple[list[SourceDocument], list[LoadProblem]]:
    """Load every supported file; files that cannot be used are reported, not raised."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise LoadError(f"corpus folder not found: {corpus_dir}")
    documents, problems = [], []
    for path in find_corpus_files(corpus_dir):
        try:
            documents.append(load_document(path, corpus_dir))
        except LoadError as exc:
            problems.append(LoadProblem(relative_source(path, corpus_dir), str(exc)))
    return documents, problems


class CorpusTexts(Mapping[str, str]):
    """source -> the text its offsets point into, each file read when first asked for (and
    kept: at most `size` of them), so a large corpus is not read whole at start-up. A file
    that is missing, outside the folder or cannot be loaded is not in it."""

    def __init__(self, corpus_dir: Path, size: int = 1024):
        self.corpus_dir = Path(corpus_dir).resolve()
        self._load = functools.lru_cache(maxsize=size)(self._read)

    def _read(self, source: str) -> str | None:
        path = (self.corpus_dir / source).resolve()
        if not path.is_relative_to(self.corpus_dir) or not path.is_file():
            return None
        try:
            return load_document(path, self.corpus_dir).text
        except LoadError:
            return None

    def __getitem__(self, source: str) -> str:
        text = self._load(source) if isinstance(source, str) else None
        if text is None:
            raise KeyError(source)
        return text

    def __iter__(self) -> Iterator[str]:
        return (relative_source(p, self.corpus_dir) for p in find_corpus_files(self.corpus_dir))

    def __len__(self) -> int:
        return len(find_corpus_files(self.corpus_dir))


def relative_source(path: Path, corpus_dir: Path) -> str:
    return Path(path).relative_to(corpus_dir).as_posix()


def load_document(path: Path, corpus_dir: Path) -> SourceDocument:
    """One file -> SourceDocument. Raises LoadError for empty, binary or undecodable files.

    For Markdown and plain text, `text` is the file decoded as UTF-8 with nothing changed
    (line endings included), so offsets into it are offsets into the file. HTML and PDF
    carry their extracted text instead, which this function reproduces exactly each time.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(
            f"unsupported file type {suffix or '(none)'}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"cannot read file ({exc.strerror or exc})") from None
    if not data.strip():
        raise LoadError("file is empty")
    source = relative_source(path, corpus_dir)
    if suffix == ".pdf":
        return _load_pdf(path, source)
    if b"\x00" in data:
        raise LoadError("file looks binary (it contains NUL bytes), not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(f"not valid UTF-8 text (bad byte at position {exc.start})") from None
    if suffix in (".html", ".htm"):
        return _load_html(text, source, path)
    return _load_text(text, source, path)


def _load_text(text: str, source: str, path: Path) -> SourceDocument:
    body_start = 1 if text.startswith("\ufeff") else 0
    meta: dict = {}
    match = _FRONT_MATTER.match(text, body_start)
    if match and path.suffix.lower() != ".txt":
        try:
            meta = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise LoadError(f"front matter is not valid YAML ({exc.__class__.__name__})") from None
        if not isinstance(meta, dict):
            raise LoadError("front matter must be a YAML mapping (key: value lines)")
        body_start = match.end()
    if not text[body_start:].strip():
        raise LoadError("file has no text besides its front matter")
    title, date = meta.get("title"), _iso_date(meta.get("date"))
    if path.suffix.lower() == ".txt":
        title, date, body_start = read_header(text, body_start)
        if not text[body_start:].strip():
            raise LoadError("file has no text besides its date line")
    return SourceDocument(
        source=source,
        title=str(title or _title_from_name(path)),
        date=date,
        description=str(meta.get("description") or ""),
        text=text,
        body_start=body_start,
    )


def read_header(text: str, start: int = 0, title: str = "") -> tuple[str, str, int]:
    """(title, ISO date, where the body starts) from the head of a plain text.

    A leading "date 2026-02-25" or "Date: ..." line gives the date, and a first heading-like
    line gives the title (or is dropped when it repeats `title`); neither is body text.

    >>> read_header("Sleep and Mood\\n\\nDate: 10 January 2025\\n\\nSleep restores.")
    ('Sleep and Mood', '2025-01-10', 37)
    """
    date, found_title = "", ""
    for _ in range(2):  # the date and the title, in either order
        at = next(iter_blocks(text, start), (len(text), len(text)))[0]
        match = _DATE_LINE.match(text, at)
        value = match and _parse_date(match.group("iso") or match.group("line"))
        if value and not date:
            date, start = value, match.end()
            continue
        line_end = text.find("\n", at)
        line_end = len(text) if line_end == -1 else line_end
        line = text[at:line_end].strip()
        question = parse_question(text, at, line_end)
        if (
            not found_title
            and is_heading_line(line)
            and not match  # "Date: sometime soon" is a label, not a title
            and not FAQ_TITLE.search(line)
            and not (question and question.mark in ("q", "number"))
            and (not title or _same_words(line, title))
            and text[line_end:].strip()
        ):
            found_title, start = line, line_end
            continue
        break
    return found_title or title, date, start


def _load_html(html: str, source: str, path: Path) -> SourceDocument:
    page = extract_html(html)
    if not page.text.strip():
        raise LoadError("HTML page has no readable text")
    return SourceDocument(
        source=source,
        title=page.title or _title_from_name(path),
        date=_iso_date(page.date[:10]),
        description=page.description,
        text=page.text,
    )


def _load_pdf(path: Path, source: str) -> SourceDocument:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except (PyPdfError, ValueError, KeyError, OSError) as exc:
        raise LoadError(f"cannot read PDF ({exc.__class__.__name__}: {exc})") from None
    text = join_pdf_lines(pages)
    if not text:
        raise LoadError("PDF has no extractable text (scanned images are not supported)")
    created = info.creation_date if info else None
    # A date printed in the text is the article's; the PDF's creation date is the fallback.
    title, date, body_start = read_header(text, 0, (info.title if info else "") or "")
    return SourceDocument(
        source=source,
        title=title or _title_from_name(path),
        date=date or (created.date().isoformat() if created else ""),
        description=(info.subject if info and info.subject else "") or "",
        text=text,
        body_start=body_start,
    )


def _title_from_name(path: Path) -> str:
    words = re.sub(r"[-_]+", " ", Path(path).stem).strip()
    return words[:1].upper() + words[1:]


def _same_words(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _parse_date(value: str | None) -> str:
    """An ISO date from "2026-02-25", "25 February 2026" or "February 25, 2026"; else ""."""
    value = " ".join((value or "").split())
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    return _iso_date(value) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else ""


def _iso_date(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value).strip()[:10]).isoformat()
    except ValueError:
        return ""
