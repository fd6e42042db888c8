"""Health and faults of the served app: GET /healthz, and start-up against a Chroma server
that does not answer (one clear line, no traceback, for the app and the CLI)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from bot.settings import BUNDLED_MODEL, PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def served(app):
    """`demo` served as `python app.py` serves it (launch_options: /healthz and the theme)."""
    _, local_url, _ = app.demo.launch(
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
        **app.launch_options(),
    )
    yield local_url
    app.demo.close()


class Unreachable:
    where = "http://127.0.0.1:1"

    def active_name(self):
        raise ConnectionError("[Errno 111] Connection refused")


def test_healthz_reports_what_is_served_and_503_while_the_index_is_unreachable(
    app, served, monkeypatch
):
    status, body = get(f"{served}healthz")
    assert status == 200
    assert body == {
        "status": "ok",
        "generation": app.BOT.generation,
        "model": BUNDLED_MODEL,
        "articles": [
            {
                "title": "Combining Medication and Therapy for Mental Health",
                "date": "2026-02-25",
                "source": "medication-and-therapy.md",
            }
        ],
    }
    assert body["generation"].startswith(f"{app.BOT.settings.collection}-g")

    monkeypatch.setattr(app.BOT, "index", Unreachable())
    status, body = get(f"{served}healthz")
    assert status == 503
    assert body["status"] == "unavailable" and body["generation"] == app.BOT.generation


def test_the_chat_api_still_answers_beside_healthz(app, served):
    from gradio_client import Client

    answer = Client(served, verbose=False).predict("What is DBT used for?", api_name="/chat")
    assert "[1]" in answer


def post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_json_api_answers_as_the_bot_does_and_refuses_other_shapes(app, served):
    question, history = "and for therapy?", ["what are the side effects of meds"]
    status, body = post(
        f"{served}api/answer", json.dumps({"message": question, "history": history}).encode()
    )
    expected = app.BOT.ask(question, history)
    assert status == 200
    assert body["answer"] == "\n\n".join([*expected.notices, expected.text])
    assert (body["mode"], body["risk"], body["crisis"]) == (
        expected.mode,
        expected.risk,
        expected.crisis,
    )
    assert [c["start"] for c in body["citations"]] == [c.start for c in expected.citations]
    status, body = post(f"{served}api/answer", b'{"message": "i took all my pills"}')
    assert status == 200 and body["risk"] == "urgent" and body["crisis"] is True
    for bad in (b"not json", b"[1]", b'{"message": 3}', b'{"message": "hi", "history": "x"}'):
        status, body = post(f"{served}api/answer", bad)
        assert status == 422 and "list of strings" in body["error"]


def start_against_nothing(command: list[str]) -> subprocess.CompletedProcess:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {**os.environ, "MEDFAQ_CHROMA_URL": url, "GRADIO_SERVER_PORT": str(free_port())}
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    done.url = url
    return done


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "bot", "ask", "Is CBT useful?"],
        [sys.executable, "app.py"],
    ],
    ids=["cli", "app"],
)
def test_start_up_fails_at_once_with_one_line_when_the_chroma_server_is_unreachable(command):
    done = start_against_nothing(command)
    assert done.returncode != 0 and done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: Cannot reach the Chroma server at " + done.url)
    assert "chroma run" in line and "MEDFAQ_CHROMA_URL" in line
