"""Gradio chat over one article on combining medication and therapy: streamed, cited answers."""

from __future__ import annotations

import html
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

# Before Gradio is imported: it reads this once, for its usage analytics and version check.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
import anyio
import gradio as gr
from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from bot.__main__ import answer_record
from bot.answer import SUGGESTIONS_HEADING, article
from bot.feedback import save_vote
from bot.replies import load_resources
from bot.service import BotService
from bot.settings import SettingsError
from bot.types import Answer, Citation
from ingest.loading import LoadError
from ingest.store import IndexNotReady

log = logging.getLogger("medfaq")  # never given chat text
if __name__ == "__main__":  # served: show the index build/update messages of start-up
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)

try:  # the serving Bot, swapped for a new one when the index gets a new generation
    BOT = BotService.start()
# No index, an unreachable server, a bad setting, a corpus folder that is not there.
except (IndexNotReady, SettingsError, LoadError) as exc:
    if __name__ != "__main__":
        raise
    sys.exit(f"error: {exc}")  # one line, no traceback
# (title, date) of each article, oldest first.
ARTICLES = list(dict.fromkeys((a.title, a.date) for a in BOT.retriever.articles))
FAQS = [c.question for c in BOT.retriever.faq_chunks]
CSS = (Path(__file__).parent / "assets" / "app.css").read_text(encoding="utf-8")
# Gradio's bundled semibold face lacks glyphs; map bold text to the full bold face instead.
THEME = gr.themes.Default(font=[gr.themes.LocalFont("Source Sans Pro", (400, 700)), "sans-serif"])
DISCLAIMER = (
    "This is an automated assistant answering from "
    + (
        f"one article (dated {ARTICLES[0][1]})"
        if len(ARTICLES) == 1
        else f"{len(ARTICLES)} articles"
    )
    + ". It is not medical advice or therapy, and no one monitors this chat. In an emergency, "
    "call your local emergency number."
)
# Inline markup anywhere, block markup (headings, lists, quotes, code) at the start of a line.
_MARKUP = re.compile(r"[\\`*_\[\]<>&$|~:]|^[ \t]+|^(?:[#+>=-]|\d+(?=[.)]))", re.M)
esc = html.escape


def plain(text: str) -> str:
    """A person's message as literal text: characters that would start HTML or Markdown become
    character references (`html.unescape` gives the message back exactly).

    >>> plain("<b>1 *or* 2?</b>")
    '&#60;b&#62;1 &#42;or&#42; 2?&#60;/b&#62;'
    """
    return _MARKUP.sub(lambda m: "".join(f"&#{ord(c)};" for c in m[0]), text)


def questions(history: list[dict]) -> list[str]:
    """The person's messages in a chat `history`, as typed, oldest first."""
    texts = [m["content"] for m in history if m["role"] == "user"]
    return [html.unescape(t if isinstance(t, str) else t[0]["text"]) for t in texts]


def stream_words(text: str, words: int = 3) -> Iterator[str]:
    """Longer and longer prefixes of `text`, a few words at a time; the last one is `text`."""
    pieces = re.split(r"(\s+)", text)
    for end in range(2 * words, len(pieces) + 2 * words, 2 * words):
        yield "".join(pieces[:end])


def format_reply(answer: Answer, text: str, first: bool) -> str:
    """Chat Markdown for (a prefix of) an answer's text: notices above, markers linked to their
    source, crisis resources in bold, the disclaimer under a conversation's first reply."""
    sections = {str(c.n): esc(f"Source {c.n}: {c.section}") for c in answer.citations}
    # Gradio's sanitizer keeps `title` on links but drops aria-* attributes.
    link = r' <a href="#source-\1" title="{}">[\1]</a>'
    body = re.sub(
        r" \[(\d+)\]",
        lambda m: m.expand(link.format(sections.get(m[1], ""))),
        esc(text, quote=False),
    )
    if answer.risk is not None:  # the resources of a risk reply stand out
        body = re.sub(r"^- (.+)$", r"- **\1**", body, flags=re.M)
    if answer.suggestions:  # they are shown as buttons under the reply instead
        body = re.sub(rf"\n\n{re.escape(SUGGESTIONS_HEADING)}(?:\n- .*)+", "", body)
    notices = "".join(f"*{esc(n)}*\n\n" for n in answer.notices)
    return notices + body + (f"\n\n*{esc(DISCLAIMER)}*" if first else "")


def source_item(c: Citation) -> str:
    """One citation: its section, and the quote highlighted inside its paragraph."""
    chunk = BOT.passage_for(c)
    text, i = (chunk.text, c.start - chunk.start) if chunk else (c.quote, 0)
    dated = f", dated {esc(chunk.date)}" if chunk and chunk.date else ""
    article = f'<p class="article">From “{esc(c.title)}”{dated}.</p>'
    before, quote, after = text[:i], text[i : i + len(c.quote)], text[i + len(c.quote) :]
    return (
        f'<details id="source-{c.n}" open><summary aria-label="Source {c.n}: {esc(c.section)}">'
        f'<span class="n">[{c.n}]</span> {esc(c.section)}</summary>{article}<p class="passage">'
        f"{esc(before)}<mark>{esc(quote)}</mark>{esc(after)}</p></details>"
    )


def sources_html(answer: Answer | None) -> str:
    """The Sources panel for an answer (None: before the first one)."""
    if answer is not None and answer.citations:
        body = "".join(map(source_item, answer.citations))
    elif answer is not None and answer.mode == "crisis":
        items = "".join(f"<li>{esc(s[2:])}</li>" for s in answer.text.splitlines() if s[:2] == "- ")
        body = f'<div class="help" role="note"><strong>Please reach out now:</strong><ul>{items}'
        body += '</ul></div><p class="empty">No sources for this reply.</p>'
    elif answer is not None:
        body = "No sources: the article doesn't cover this question." if answer.abstained else ""
        body = f'<p class="empty">{body or "No sources for this reply."}</p>'
    else:
        body = '<p class="empty">The sources of each answer appear here, quoted in context.</p>'
    return f'<div class="sources"><h2>Sources</h2>{body}</div>'


def respond(message: str, history: list[dict], delay: float = 0.02) -> Iterator[tuple]:
    """Stream the reply to `message`: yields (the box's text, the chat, the Sources panel)."""
    if not message or not message.strip():
        gr.Warning("Please type a question first.")
        yield gr.skip(), gr.skip(), gr.skip()
        return
    earlier = questions(history)
    try:
        answer = BOT.ask(message, earlier)
    except Exception as exc:  # a bug: say so plainly; the log gets its type, never the message
        log.error("answering failed: %s", type(exc).__name__)
        raise gr.Error("Sorry, something went wrong. Please try again.") from None
    history, panel = [*history, {"role": "user", "content": plain(message)}], sources_html(answer)

    def shown(text: str, **extra) -> list[dict]:
        reply = {"role": "assistant", "content": format_reply(answer, text, not earlier)}
        return [*history, {**reply, **extra}]

    *partial, full = stream_words(answer.text)
    for text in partial:
        yield "", shown(text), panel
        time.sleep(delay)
    yield "", shown(full, options=suggestion_options(answer)), panel


def suggestion_options(answer: Answer) -> list[dict]:
    """The suggested questions as buttons; among several articles each names its article."""
    faqs = BOT.retriever.faq_chunks
    if len({c.source for c in faqs}) < 2:
        return [{"value": q} for q in answer.suggestions]
    named = {c.question: article(c) for c in faqs}
    return [
        {"value": q, "label": f"{q} ({named[q]})"} if q in named else {"value": q}
        for q in answer.suggestions
    ]


def selected_text(selected: gr.SelectData) -> str:
    """The question of a clicked example or suggestion, put in the box for `respond`."""
    return selected.value["text"] if isinstance(selected.value, dict) else selected.value


def record_vote(history: list[dict], vote: gr.LikeData) -> None:
    """Store a like/dislike with its question and answer, only when a feedback folder is set."""
    asked = questions(history[: vote.index if isinstance(vote.index, int) else vote.index[0]])
    folder = BOT.settings.feedback_dir  # read once: the check and the write see the same folder
    if folder and asked:
        answer = BOT.ask(asked[-1], asked[:-1])  # deterministic: the answer that was shown
        save_vote(folder, asked, answer, vote.liked is True)


API_SHAPE = (
    "Send `message` as a string and `history` as a list of strings: the person's earlier "
    "messages, oldest first."
)


def well_formed(message, history) -> bool:
    """Whether an API call's `message` and `history` (None: none) have the right types."""
    return isinstance(message, str) and (
        history is None or (isinstance(history, list) and all(isinstance(h, str) for h in history))
    )


def chat(message: str, history: list[str] | None = None) -> str:
    """Answer a question from the article; the text carries citation markers such as [1].
    `history`: the person's earlier messages, oldest first."""
    if not well_formed(message, history):
        # The caller's mistake: no traceback in the log.
        raise gr.Error(API_SHAPE, print_exception=False)
    answer = BOT.ask(message, history or [])
    return "\n\n".join([*answer.notices, answer.text])


# Answers take ~20 ms of CPU: more of them at once only contend for the cores (Gradio's queue
# runs as many, below), and the waiting ones wait in the event loop, not in threads.
ANSWERS_AT_ONCE = 8
_ANSWERING: anyio.CapacityLimiter | None = None  # made in the event loop, at the first call


async def answer_api(request: Request) -> JSONResponse:
    """POST /api/answer with JSON `{"message": "...", "history": [...]}`: the answer as JSON
    (the fields of `python -m bot --jsonl`), answered at once rather than through Gradio's
    queue and event stream; 422 with the expected shape for any other body."""
    try:
        body = await request.json()
    except ValueError:  # not JSON
        body = None
    if not isinstance(body, dict) or not well_formed(body.get("message"), body.get("history")):
        return JSONResponse({"error": API_SHAPE}, status_code=422)
    global _ANSWERING
    _ANSWERING = _ANSWERING or anyio.CapacityLimiter(ANSWERS_AT_ONCE)
    began = time.perf_counter()
    history = body.get("history") or []
    answer = await anyio.to_thread.run_sync(BOT.ask, body["message"], history, limiter=_ANSWERING)
    record = answer_record(None, answer, 1000 * (time.perf_counter() - began))
    del record["id"]
    return JSONResponse(record)


INTRO = (
    "# Medication and therapy FAQ\nAsk about combining medication and therapy for mental health."
    " Answers quote "
    + ", ".join(
        f"*{esc(title)}* ({date})" if date else f"*{esc(title)}*" for title, date in ARTICLES
    )
    + " and link to the passages"
    " they come from; when it doesn't cover a question, the assistant says so."
)
FOOTER = (
    '<aside class="footer" aria-label="Disclaimer and crisis resources"><p><strong>Please note:'
    f"</strong> {esc(DISCLAIMER)}</p><p><strong>If you are struggling or in danger, help is "
    "available now:</strong></p><ul>"
    + "".join(f"<li>{esc(r.line)}</li>" for r in load_resources("crisis"))
    + "</ul></aside>"
)

with gr.Blocks(title="Medication and therapy FAQ", analytics_enabled=False) as demo:
    gr.Markdown(INTRO)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            placeholder = "**Questions the article answers:** click one, or type your own."
            examples = [{"text": q} for q in FAQS]
            chatbot = gr.Chatbot(
                None,
                label="Chat",
                height=520,
                examples=examples,
                placeholder=placeholder,
                sanitize_html=True,
                latex_delimiters=[],
                buttons=["copy"],
            )
            box = gr.Textbox(
                label="Your question",
                show_label=False,
                submit_btn="Send",
                placeholder="Ask about medication and therapy, then press Enter",
            )
        with gr.Column(scale=2, min_width=280):
            sources = gr.HTML(sources_html(None), css_template=CSS, js_on_load=None)
    gr.HTML(FOOTER, css_template=CSS, js_on_load=None)

    private = {"api_visibility": "private"}  # the UI's events; `/chat` is the API
    chat_io = {"fn": respond, "inputs": [box, chatbot], "outputs": [box, chatbot, sources]}
    box.submit(**chat_io, **private)
    chatbot.example_select(selected_text, None, [box], **private).then(**chat_io, **private)
    chatbot.option_select(selected_text, None, [box], **private).then(**chat_io, **private)
    chatbot.like(record_vote, [chatbot], None, **private)
    chatbot.clear(lambda: sources_html(None), None, [sources], **private)
    gr.api(chat, api_name="chat")


def healthz() -> JSONResponse:
    """GET /healthz: 200 with the generation, model and articles served; 503 while the index
    cannot be reached (answers then say so)."""
    health = BOT.health()
    return JSONResponse(health.as_dict(), status_code=200 if health.ok else 503)


def launch_options() -> dict:
    """`demo.launch` arguments: the theme, and /healthz and /api/answer, passed as routes of the
    FastAPI app Gradio creates, so they come before Gradio's own (fresh each launch: Gradio
    edits them)."""
    routes = [
        APIRoute("/healthz", healthz, methods=["GET"], include_in_schema=False),
        APIRoute("/api/answer", answer_api, methods=["POST"], include_in_schema=False),
    ]
    return {"theme": THEME, "app_kwargs": {"routes": routes}}


# Answers take ~20 ms of CPU, and streaming one holds a worker for well under a second.
demo.queue(default_concurrency_limit=ANSWERS_AT_ONCE, max_size=200)

if __name__ == "__main__":
    demo.launch(**launch_options())
