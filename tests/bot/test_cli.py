"""`python -m bot ask`: a readable answer for a person, and JSON lines for machines."""

import io
import json
import os
import subprocess
import sys

import pytest

from bot.__main__ import render, run_jsonl
from bot.settings import PROJECT_ROOT

KEYS = ["id", "answer", "mode", "citations", "abstained", "crisis", "risk", "ms"]
CITATION_KEYS = ["n", "source", "title", "section", "quote", "start", "end", "score"]


def test_render_shows_the_answer_and_numbered_sources(bot):
    text = render(bot.ask("What conditions benefit most from both?"))
    answer, sources = text.split("\n\nSources:\n")
    assert answer.endswith("[1]")
    assert sources.startswith("[1] Combining Medication and Therapy for Mental Health > ")
    assert '"Depression, anxiety, PTSD, bipolar disorder, OCD, and ADHD' in sources


def test_jsonl_answers_each_line_and_reports_bad_ones_without_stopping(bot):
    lines = [
        json.dumps({"id": "q1", "question": "Are there side effects when using both?"}),
        "{not json",
        json.dumps({"id": "q3"}),
        json.dumps(
            {"id": "q4", "turns": ["Should I track my mood?", "What tools help with that?"]}
        ),
        json.dumps({"id": "q5", "question": "I want to die"}),
        json.dumps({"id": "q6", "turns": []}),
        json.dumps({"id": "q7", "question": "What is the capital of France?"}),
    ]
    out = io.StringIO()
    failures = run_jsonl(bot, lines, out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert failures == 3 and len(records) == 7
    first, bad_json, missing, follow_up, crisis, empty_turns, oos = records
    assert list(first) == KEYS and list(first["citations"][0]) == CITATION_KEYS
    assert first["mode"] == "faq" and not first["abstained"] and not first["crisis"]
    assert (
        bot.sources[first["citations"][0]["source"]][
            first["citations"][0]["start"] : first["citations"][0]["end"]
        ]
        == first["citations"][0]["quote"]
    )
    assert bad_json["id"] == 2 and "line 2" in bad_json["error"]
    assert missing["id"] == "q3" and "question" in missing["error"]
    assert empty_turns["id"] == "q6" and "turns" in empty_turns["error"]
    assert "apps or journals" in follow_up["citations"][0]["quote"]
    assert crisis["crisis"] and crisis["mode"] == "crisis" and not crisis["abstained"]
    assert crisis["risk"] in ("urgent", "concern") and first["risk"] is None
    assert oos["abstained"] and oos["citations"] == [] and oos["mode"] == "abstain"


def test_the_command_builds_a_missing_index_and_answers(tmp_path):
    command = [sys.executable, "-m", "bot", "ask", "--jsonl", "--index", str(tmp_path / "index")]
    stdin = json.dumps(
        {"id": 1, "question": "How long until I see results from medication and therapy?"}
    )
    done = subprocess.run(
        command, input=stdin, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "No index at" in done.stderr and "building it" in done.stderr
    [record] = [json.loads(line) for line in done.stdout.splitlines()]
    assert record["mode"] == "faq" and "2-6 weeks" in record["answer"]


@pytest.mark.parametrize(
    "variable, value, says",
    [
        ("MEDFAQ_BACKGROUND_FILE", "no/such/background.yaml", "background questions file"),
        ("MEDFAQ_TOP_K", "four", "MEDFAQ_TOP_K='four'"),
    ],
)
def test_a_bad_setting_stops_the_command_with_one_line(tmp_path, variable, value, says):
    env = {**os.environ, variable: value, "MEDFAQ_INDEX_PATH": str(tmp_path / "index")}
    command = [sys.executable, "-m", "bot", "ask", "hello"]
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 2 and done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and says in line and "Traceback" not in done.stderr


def test_a_missing_corpus_folder_stops_the_command_with_a_clear_line(tmp_path):
    env = {
        **os.environ,
        "MEDFAQ_CORPUS_DIR": str(tmp_path / "no-such-corpus"),
        "MEDFAQ_INDEX_PATH": str(tmp_path / "index"),
    }
    command = [sys.executable, "-m", "bot", "ask", "hello"]
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == f"error: corpus folder not found: {tmp_path / 'no-such-corpus'}"
