"""Read corpus files into SourceDocuments: the only reader of corpus/."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.types import SourceDocument

TEXT_SUFFIXES = (".md", ".markdown", ".txt")
EXTRACTED_SUFFIXES = (".html", ".htm", ".pdf")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + EXTRACTED_SUFFIXES

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


class LoadError(ValueError):
    """A corpus file that cannot be used; the message says why, for a person."""


@dataclass(frozen=True)
class LoadProblem:
    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


def find_corpus_files(corpus_dir: Path) -> list[Path]:
    """Every non-hidden file under corpus_dir, sorted, whatever its type."""
    return sorted(
        p
        for p in Path(corpus_dir).rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts)
    )


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
    return SourceDocument(
        source=source,
        title=str(meta.get("title") or _title_from_name(path)),
        date=_iso_date(meta.get("date")),
        description=str(meta.get("description") or ""),
        text=text,
        body_start=body_start,
    )


def _load_html(html: str, source: str, path: Path) -> SourceDocument:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    date = ""
    for key in ("date", "article:published_time", "dc.date", "pubdate"):
        tag = soup.find("meta", attrs={"name": key}) or soup.find("meta", attrs={"property": key})
        if tag and tag.get("content"):
            date = _iso_date(tag["content"][:10])
            break
    description = soup.find("meta", attrs={"name": "description"})
    blocks_tags = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "dt", "dd"]
    blocks = []
    for el in soup.find_all(blocks_tags):
        if el.find_parent(blocks_tags):
            continue  # nested inside a block already taken whole
        words = " ".join(el.get_text(" ", strip=True).split())
        if not words:
            continue
        if el.name[0] == "h":
            if el.name == "h1" and not title:
                title = words
            if el.name == "h1" and words == title:
                continue
            words = "#" * int(el.name[1]) + " " + words
        blocks.append(words)
    text = "\n\n".join(blocks)
    if not text.strip():
        raise LoadError("HTML page has no readable text")
    return SourceDocument(
        source=source,
        title=title or _title_from_name(path),
        date=date,
        description=str(description.get("content", "")) if description else "",
        text=text,
    )


def _load_pdf(path: Path, source: str) -> SourceDocument:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        pages = [" ".join((page.extract_text() or "").split()) for page in reader.pages]
        info = reader.metadata
    except (PyPdfError, ValueError, KeyError, OSError) as exc:
        raise LoadError(f"cannot read PDF ({exc.__class__.__name__}: {exc})") from None
    text = "\n\n".join(p for p in pages if p)
    if not text:
        raise LoadError("PDF has no extractable text (scanned images are not supported)")
    created = info.creation_date if info else None
    return SourceDocument(
        source=source,
        title=(info.title if info and info.title else "") or _title_from_name(path),
        date=created.date().isoformat() if created else "",
        description=(info.subject if info and info.subject else "") or "",
        text=text,
    )


def _title_from_name(path: Path) -> str:
    words = re.sub(r"[-_]+", " ", Path(path).stem).strip()
    return words[:1].upper() + words[1:]


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
