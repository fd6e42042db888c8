"""Command line: `python -m bot ask "question"`, or `--jsonl` for batches of questions."""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from dataclasses import asdict

from bot.types import Answer


def render(answer: Answer) -> str:
    """The answer and its numbered sources, for a person at a terminal."""
    lines = [*answer.notices, answer.text]
    if answer.citations:
        lines += ["", "Sources:"]
        for c in answer.citations:
            lines.append(
                f"[{c.n}] {c.title} > {c.section} ({c.source}, characters {c.start}-{c.end})"
            )
            lines.append(f'    "{c.quote}"')
    return "\n".join(lines)


def answer_record(case_id, answer: Answer, ms: float) -> dict:
    text = "\n\n".join([*answer.notices, answer.text])
    return {
        "id": case_id,
        "answer": text,
        "mode": answer.mode,
        "citations": [asdict(c) for c in answer.citations],
        "abstained": answer.abstained,
        "crisis": answer.crisis,
        "risk": answer.risk,
        "ms": round(ms, 2),
    }


def run_jsonl(bot, lines, out) -> int:
    """One JSON line out per line in; a bad line yields an `error` line and the run goes on."""
    failures = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        case_id = None
        try:
            case = json.loads(line)
            if not isinstance(case, dict):
                raise ValueError("each line must be a JSON object")
            case_id = case.get("id", number)
            turns = case.get("turns")
            if turns is None:
                turns = [case["question"]]
                if not isinstance(turns[0], str):
                    raise ValueError('"question" must be a string')
            if (
                not isinstance(turns, list)
                or not turns
                or not all(isinstance(t, str) for t in turns)
            ):
                raise ValueError('"turns" must be a non-empty list of strings')
            began = time.perf_counter()
            answer = bot.ask(turns[-1], turns[:-1])
            record = answer_record(case_id, answer, (time.perf_counter() - began) * 1000)
        except (ValueError, KeyError, TypeError) as exc:
            failures += 1
            problem = (
                f'missing key {exc}: give "question" or "turns"'
                if isinstance(exc, KeyError)
                else str(exc)
            )
            record = {
                "id": case_id if case_id is not None else number,
                "error": f"line {number}: {problem}",
            }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Ask the article.")
    commands = parser.add_subparsers(dest="command", required=True)
    ask = commands.add_parser("ask", help="answer a question, with its sources")
    ask.add_argument("question", nargs="?", help="the question (omit with --jsonl)")
    ask.add_argument(
        "--jsonl", action="store_true", help="read JSON lines from stdin, write JSON lines"
    )
    ask.add_argument("--index", metavar="PATH", help="index folder (default: .index/)")
    args = parser.parse_args(argv)
    if not args.jsonl and not args.question:
        parser.error(
            'give a question, e.g. python -m bot ask "Can I stop medication once therapy starts?"'
        )

    from bot.service import BotService
    from bot.settings import Settings, SettingsError
    from ingest.loading import LoadError
    from ingest.store import IndexNotReady

    try:  # a Chroma server going down mid-run gets the unavailable reply, not a traceback
        settings = Settings.from_env(index_path=args.index)
        bot = BotService.start(
            settings,
            watch=False,  # one run answers from one generation (unless it is dropped)
            say=lambda m: print(m, file=sys.stderr),
        )
    # Also a server that does not answer, or a corpus folder that is not there: one line.
    except (IndexNotReady, SettingsError, LoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.jsonl:
        run_jsonl(bot, sys.stdin, sys.stdout)
        return 0
    print(render(bot.ask(args.question)))
    return 0


if __name__ == "__main__":
    status = main()
    gc.freeze()  # skip the interpreter's slow final sweep over torch's objects
    sys.exit(status)
