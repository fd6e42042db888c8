"""The chat app: its handlers called directly, its API through gradio_client, its start-up as
`python app.py`, and what Hugging Face Spaces reads from the README."""

from __future__ import annotations

import dataclasses
import html
import itertools
import os
import re
import socket
import subprocess
import sys
import time
import types
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import gradio as gr
import pytest
import yaml

from bot import feedback as votes
from bot.replies import load_resources
from bot.settings import PROJECT_ROOT
from evals import feedback

FAQ_QUESTION = "How long until I see results from medication and therapy?"
CRISIS_MESSAGE = "I want to kill myself"
MARKUP = "<img src=x onerror=alert(1)> **bold** [link](javascript:alert(1)) what is DBT?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def url(app):
    """`demo` served in this process on a free loopback port."""
    _, local_url, _ = app.demo.launch(
        server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True
    )
    yield local_url
    app.demo.close()


def run(app, message: str, history: list | None = None) -> list[tuple]:
    """Everything `respond` yields for a message, each chat checked against the Chatbot's format."""
    outputs = list(app.respond(message, history or [], delay=0))
    for _, chat, _ in outputs:
        app.chatbot.postprocess(chat)  # raises if a message is not a valid Chatbot message
    return outputs


def faq_answer(app, question: str) -> str:
    """The verbatim answer of the FAQ whose question is `question`."""
    [chunk] = [c for c in app.BOT.retriever.faq_chunks if c.question == question]
    return chunk.answer.text


# --------------------------------------------------------------------------- handlers


def test_a_reply_streams_in_growing_steps_and_ends_with_the_cited_answer(app):
    outputs = run(app, FAQ_QUESTION)
    replies = [chat[-1]["content"] for _, chat, _ in outputs]
    assert len(replies) >= 5
    assert all(len(a) < len(b) for a, b in itertools.pairwise(replies))
    assert all(box == "" for box, _, _ in outputs)  # the box is cleared as the reply starts
    user, reply = outputs[-1][1]
    assert user == {"role": "user", "content": app.plain(FAQ_QUESTION)}
    final = reply["content"]
    assert html.escape(faq_answer(app, FAQ_QUESTION), quote=False) in final
    assert re.search(r'<a href="#source-1" title="Source 1: [^"]+">\[1\]</a>', final)
    assert app.DISCLAIMER in final  # the first reply of a conversation carries it


def test_only_the_first_reply_of_a_conversation_carries_the_disclaimer(app):
    history = run(app, FAQ_QUESTION)[-1][1]
    later = run(app, "Are there side effects when using both?", history)[-1][1]
    assert len(later) == 4
    assert app.DISCLAIMER in later[1]["content"]
    assert app.DISCLAIMER not in later[3]["content"]


def test_the_sources_panel_highlights_the_quote_inside_its_paragraph(app):
    answer = app.BOT.ask("What is DBT used for?")
    assert answer.mode == "passages" and answer.citations
    panel = app.sources_html(answer)
    [(title, date)] = app.ARTICLES
    assert html.escape(title) in panel and date == "2026-02-25" and date in panel
    for c in answer.citations:
        chunk = app.BOT.passage_for(c)
        assert chunk.text[c.start - chunk.start : c.end - chunk.start] == c.quote
        item = re.search(rf'<details id="source-{c.n}" open>.*?</details>', panel, re.S)[0]
        assert f'aria-label="Source {c.n}: {html.escape(c.section)}"' in item
        assert f"<mark>{html.escape(c.quote)}</mark>" in item
        passage = re.search(r'<p class="passage">(.*?)</p>', item, re.S)[1]
        assert passage.replace("<mark>", "").replace("</mark>", "") == html.escape(chunk.text)
        assert len(chunk.text) > len(c.quote)  # the quote is shown within more of its paragraph


def test_an_abstention_offers_the_closest_faqs_and_no_sources(app):
    _, chat, panel = run(app, "What's the weather in Paris tomorrow?")[-1]
    reply = chat[-1]
    answer = app.BOT.ask("What's the weather in Paris tomorrow?")
    assert answer.abstained and answer.suggestions
    assert [o["value"] for o in reply["options"]] == list(answer.suggestions)
    assert set(answer.suggestions) <= set(app.FAQS)
    assert "<details" not in panel and "<mark>" not in panel
    assert "No sources" in panel
    assert "[1]" not in reply["content"]
    assert "Questions it does answer include" not in reply["content"]  # buttons, not a list


def test_a_flagged_conversation_keeps_no_empty_suggestions_heading(app):
    answer = app.BOT.ask("What's the weather in Paris tomorrow?", [CRISIS_MESSAGE])
    assert answer.abstained and answer.crisis and answer.suggestions
    shown = app.format_reply(answer, answer.text, first=False)
    assert "Questions it does answer include" not in shown and "988" in shown


def test_a_crisis_message_gets_the_resources_prominently_and_no_sources(app):
    _, chat, panel = run(app, CRISIS_MESSAGE)[-1]
    reply = chat[-1]["content"]
    for resource in load_resources("crisis"):
        assert f"- **{html.escape(resource.line, quote=False)}**" in reply
        assert f"<li>{html.escape(resource.line)}</li>" in panel
    assert "988" in reply and "988" in panel
    assert 'class="help"' in panel and "<details" not in panel


def test_markup_in_a_message_is_shown_as_text_and_never_as_html(app):
    outputs = run(app, MARKUP)
    _, chat, panel = outputs[-1]
    shown = chat[0]["content"]
    assert not re.search(r"[<>*\[\]]", shown)  # no tag, emphasis or link survives
    assert html.unescape(shown) == MARKUP  # ... yet the person's text is intact
    for _, chat, panel in outputs:
        assert "<img" not in chat[-1]["content"] and "<img" not in panel
        assert "javascript:" not in chat[-1]["content"]
    assert app.questions(chat) == [MARKUP]


@pytest.mark.parametrize(
    "text",
    [
        "plain question?",
        "# heading\n  - item\n1. step\n    code",
        "&amp; &#60; &copy \\ `x`",
        "a|b",
    ],
)
def test_plain_gives_back_exactly_what_was_typed(app, text):
    shown = app.plain(text)
    assert html.unescape(shown) == text
    assert not re.search(r"^(?:[ \t]|[#+>=-]|\d+[.)])", shown, re.M)  # no block markup left


def test_an_empty_message_warns_and_changes_nothing(app):
    with pytest.warns(UserWarning, match="type a question"):
        outputs = list(app.respond("   ", [], delay=0))
    assert outputs == [(gr.skip(), gr.skip(), gr.skip())]


def test_a_failure_is_a_plain_message_for_the_person_and_keeps_their_text_out_of_logs(
    app, monkeypatch, caplog
):
    def broken(message, history=()):
        raise RuntimeError(f"index unreadable while answering {message!r}")

    monkeypatch.setattr(app.BOT, "ask", broken)
    with pytest.raises(gr.Error, match="Sorry, something went wrong") as raised:
        list(app.respond("my private worry about sertraline", [], delay=0))
    assert raised.value.__suppress_context__  # no chained traceback carrying the message
    assert "RuntimeError" in caplog.text and "sertraline" not in caplog.text


def test_the_footer_shows_the_disclaimer_and_every_crisis_resource(app):
    assert "not medical advice or therapy" in app.DISCLAIMER
    assert "not monitor" in app.DISCLAIMER or "no one monitors" in app.DISCLAIMER
    assert "emergency" in app.DISCLAIMER and app.ARTICLES[0][1] in app.DISCLAIMER
    assert html.escape(app.DISCLAIMER) in app.FOOTER
    for resource in load_resources("crisis"):
        assert f"<li>{html.escape(resource.line)}</li>" in app.FOOTER


def test_the_eight_faq_questions_are_the_examples(app):
    examples = [e["text"] for e in app.chatbot.examples]
    assert examples == app.FAQS and len(examples) == 8
    assert FAQ_QUESTION in examples


# --------------------------------------------------------------------------- feedback


def like(index: int, liked: bool = True) -> gr.LikeData:
    return gr.LikeData(None, {"index": index, "value": ["..."], "liked": liked})


def test_votes_are_stored_only_when_a_feedback_folder_is_configured(app, tmp_path, monkeypatch):
    chat = run(app, FAQ_QUESTION)[-1][1]

    def configure(folder: str) -> None:
        settings = dataclasses.replace(app.BOT.settings, feedback_dir=folder)
        monkeypatch.setattr(app.BOT, "settings", settings)

    saved = []
    monkeypatch.setattr(app, "save_vote", lambda *args: saved.append(args))
    configure("")
    app.record_vote(chat, like(1))
    assert saved == []

    monkeypatch.setattr(app, "save_vote", votes.save_vote)
    configure(str(tmp_path / "feedback"))
    app.record_vote(chat, like(1, liked=False))
    [record] = votes.read_votes(tmp_path / "feedback")
    assert record["vote"] == "dislike" and record["question"] == FAQ_QUESTION
    assert record["history"] == []
    assert record["answer"] == app.BOT.ask(FAQ_QUESTION).text
    [citation] = record["citations"]
    assert citation["quote"] == faq_answer(app, FAQ_QUESTION)
    assert {"n", "source", "section", "start", "end"} <= set(citation)
    assert abs(time.time() - datetime.fromisoformat(record["time"]).timestamp()) < 120


def test_feedback_turns_into_draft_eval_cases(app, tmp_path):
    folder = tmp_path / "feedback"
    liked = app.BOT.ask(FAQ_QUESTION)
    disliked = app.BOT.ask("What is DBT used for?")
    abstained = app.BOT.ask("What's the weather in Paris tomorrow?")
    votes.save_vote(folder, [FAQ_QUESTION], liked, True)
    votes.save_vote(folder, ["What is DBT used for?"], disliked, False)
    votes.save_vote(folder, ["What's the weather in Paris tomorrow?"], abstained, True)
    votes.save_vote(folder, ["hello", CRISIS_MESSAGE], app.BOT.ask(CRISIS_MESSAGE), True)
    out = tmp_path / "drafts.yaml"

    assert feedback.main([str(folder), "--out", str(out)]) == 0
    drafts = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert drafts["to_fix"] == [
        {
            "question": "What is DBT used for?",
            "expected": "TODO",
            "got": disliked.text,
            "mode": "passages",
            "cited": [c.quote for c in disliked.citations],
        }
    ]
    assert drafts["regression"] == [
        {"question": FAQ_QUESTION, "faq": 5, "gold": faq_answer(app, FAQ_QUESTION)},
        {"question": "What's the weather in Paris tomorrow?", "answerable": False},
    ]
    assert out.read_text(encoding="utf-8").startswith("# Draft eval cases")


def test_the_latest_vote_on_a_question_wins():
    votes = [
        {"time": "2026-03-01T10:00:00+00:00", "vote": "like", "question": "Q?", "mode": "abstain"},
        {"time": "2026-03-01T11:00:00+00:00", "vote": "dislike", "question": "Q?", "answer": "A"},
    ]
    drafts = feedback.draft_cases(votes)
    assert drafts["regression"] == []
    assert [c["question"] for c in drafts["to_fix"]] == ["Q?"]


# --------------------------------------------------------------------------- API and serving


def test_the_chat_api_refuses_wrong_types_with_a_clear_message(app):
    import gradio as gr

    for message, history in [(None, []), ("hi", [1, 2]), ("hi", "not a list"), (["x"], None)]:
        with pytest.raises(gr.Error, match="list of strings") as raised:
            app.chat(message, history)
        assert raised.value.print_exception is False  # Gradio logs no traceback for it
    assert "[1]" in app.chat(FAQ_QUESTION, [])


def test_every_source_names_its_article_and_date(app):
    answer = app.BOT.ask(FAQ_QUESTION)
    panel = app.sources_html(answer)
    chunk = app.BOT.passage_for(answer.citations[0])
    assert f"From “{chunk.title}”, dated {chunk.date}." in panel
    assert chunk.title in app.INTRO


def test_the_chat_api_answers_with_citation_markers(app, url):
    from gradio_client import Client

    client = Client(url, verbose=False)
    text = client.predict(FAQ_QUESTION, api_name="/chat")
    assert text == f"{faq_answer(app, FAQ_QUESTION)} [1]"
    follow_up = client.predict("And are there side effects?", [FAQ_QUESTION], api_name="/chat")
    assert "[1]" in follow_up
    assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == [
        "/chat"
    ]


def test_twenty_clients_asking_at_once_all_get_the_right_answer(app, url):
    from gradio_client import Client

    questions = [app.FAQS[i % len(app.FAQS)] for i in range(20)]

    def ask(question: str) -> str:
        return Client(url, verbose=False).predict(question, api_name="/chat")

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(ask, questions, timeout=120))
    for question, answer in zip(questions, answers, strict=True):
        assert f"{faq_answer(app, question)} [1]" in answer, question


def test_the_queue_bounds_concurrency_and_analytics_are_off(app):
    assert app.demo.analytics_enabled is False
    assert 1 < app.demo._queue.default_concurrency_limit <= 32


def test_python_app_py_builds_a_missing_index_logs_it_and_serves_on_the_given_port(tmp_path):
    """Start-up as on Spaces: a fresh index is built and said so; chat text never reaches logs."""
    from gradio_client import Client

    port, secret = free_port(), "zebra-marmalade question about therapy"
    env = {
        **os.environ,
        "MEDFAQ_INDEX_PATH": str(tmp_path / "index"),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
    }
    log = tmp_path / "app.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env, stdout=out, stderr=out
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline, answer = time.monotonic() + 180, None
        while answer is None and time.monotonic() < deadline and process.poll() is None:
            try:
                answer = Client(url, verbose=False).predict(secret, api_name="/chat")
            except Exception:  # not serving yet
                time.sleep(0.5)
        assert answer and process.poll() is None, log.read_text()
        assert (tmp_path / "index").exists()
    finally:
        process.terminate()
        process.wait(timeout=30)
    output = log.read_text()
    assert "No index at" in output and "building it" in output
    assert "Index updated" in output
    assert secret not in output and "zebra" not in output


# --------------------------------------------------------------------------- Spaces


def test_the_readme_front_matter_is_a_valid_spaces_card():
    from huggingface_hub import RepoCard

    card = RepoCard.load(PROJECT_ROOT / "README.md")
    data = card.data.to_dict()
    assert data["sdk"] == "gradio"
    assert data["sdk_version"] == gr.__version__
    assert (PROJECT_ROOT / data["app_file"]).is_file() and data["app_file"] == "app.py"
    assert data["python_version"].startswith("3.11")
    assert data["title"] and data["emoji"] and data["license"]


def test_importing_app_never_launches_it():
    source = (PROJECT_ROOT / "app.py").read_text(encoding="utf-8")
    main = source.index('if __name__ == "__main__":')
    assert source.count(".launch(") == 1 and source.index(".launch(") > main


def test_suggestion_buttons_name_their_article_only_among_several(app, monkeypatch):
    answer = app.BOT.ask("What's the weather in Paris tomorrow?")
    assert app.suggestion_options(answer) == [{"value": q} for q in answer.suggestions]
    faqs = app.BOT.retriever.faq_chunks
    other = dataclasses.replace(faqs[0], id="other", source="b.md", title="B", date="2026-01-02")
    two = types.SimpleNamespace(retriever=types.SimpleNamespace(faq_chunks=[*faqs[1:], other]))
    monkeypatch.setattr(app, "BOT", two)
    asked = dataclasses.replace(answer, suggestions=(other.question,))
    label = f"{other.question} (B, 2026-01-02)"
    assert app.suggestion_options(asked) == [{"value": other.question, "label": label}]
