"""Votes on answers, stored as JSON lines only where a feedback folder is configured."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, datetime
from pathlib import Path

from bot.types import Answer

VOTES_FILE = "votes.jsonl"
_WRITING = threading.Lock()


def save_vote(folder: str | Path, asked: list[str], answer: Answer, liked: bool) -> Path:
    """Append a vote on `answer`, the reply to the last of `asked` (the person's messages, oldest
    first), to FOLDER/votes.jsonl as one JSON object."""
    if not str(folder):
        raise ValueError("no feedback folder configured: votes are not stored")
    record = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "vote": "like" if liked else "dislike",
        "question": asked[-1],
        "history": list(asked[:-1]),
        "answer": answer.text,
        "mode": answer.mode,
        "citations": [dataclasses.asdict(c) for c in answer.citations],
    }
    path = Path(folder) / VOTES_FILE
    with _WRITING:  # one line per vote, even when several people vote at once
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def read_votes(folder: str | Path) -> list[dict]:
    """Every vote stored in FOLDER's *.jsonl files, oldest first (unreadable lines skipped)."""
    votes = []
    for path in sorted(Path(folder).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and record.get("question") and record.get("vote"):
                votes.append(record)
    return sorted(votes, key=lambda v: str(v.get("time", "")))
