"""Votes on the chat's answers: stored by the app as JSON lines, turned into draft eval cases.

`python -m evals.feedback FEEDBACK_DIR --out evals/cases/drafts.yaml` reads every `*.jsonl`
file in FEEDBACK_DIR (the app writes `votes.jsonl` there when MEDFAQ_FEEDBACK_DIR is set) and
writes draft cases for a person to review before moving them into the case files:

- a disliked answer becomes a case to fix: the question (and earlier messages, if any), what
  the bot said, and `expected: TODO`;
- a liked answer becomes a regression case: the question and the cited quote as `gold` (with
  the FAQ's number when it quotes an FAQ), or `answerable: false` for a liked abstention.

When the same question (in the same context) was voted on more than once, the latest vote wins.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import yaml

from bot.feedback import read_votes

TODO = "TODO"
_FAQ_SECTION = re.compile(r"^Frequently Asked Questions > (\d+)\.")


def draft_cases(votes: Iterable[dict]) -> dict[str, list[dict]]:
    """Draft cases from votes: {"regression": [...liked...], "to_fix": [...disliked...]}.

    >>> vote = {"vote": "dislike", "question": "Q?", "answer": "A [1]", "mode": "faq"}
    >>> draft_cases([vote])["to_fix"]
    [{'question': 'Q?', 'expected': 'TODO', 'got': 'A [1]', 'mode': 'faq'}]
    """
    latest = {}
    for vote in votes:
        latest[(vote["question"], tuple(vote.get("history") or ()))] = vote
    drafts: dict[str, list[dict]] = {"regression": [], "to_fix": []}
    for (question, history), vote in latest.items():
        case: dict = {"question": question}
        if history:
            case["history"] = list(history)
        citations = vote.get("citations") or []
        if vote["vote"] == "dislike":
            case.update(expected=TODO, got=vote.get("answer", ""), mode=vote.get("mode", ""))
            if citations:
                case["cited"] = [c["quote"] for c in citations]
            drafts["to_fix"].append(case)
        elif citations:
            faq = _FAQ_SECTION.match(citations[0].get("section", ""))
            if faq:
                case["faq"] = int(faq[1])
            case["gold"] = citations[0]["quote"]
            drafts["regression"].append(case)
        elif vote.get("mode") == "abstain":
            case["answerable"] = False
            drafts["regression"].append(case)
        # A liked reply that cites nothing and is no abstention (crisis, boundary, notice)
        # has no gold passage to keep: the crisis and boundary case files cover those replies.
    return drafts


def write_drafts(drafts: dict[str, list[dict]], out: Path, source: str) -> None:
    header = (
        f"# Draft eval cases from votes in {source} (python -m evals.feedback).\n"
        "# Review each one before moving it into a case file: `to_fix` cases need their\n"
        "# `expected` answer written (or `answerable: false`); `regression` cases keep a liked\n"
        "# answer working (`gold`: the quote it cited).\n"
    )
    body = yaml.safe_dump(drafts, sort_keys=False, allow_unicode=True, width=100)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + body, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evals.feedback", description=__doc__.split("\n")[0]
    )
    parser.add_argument("feedback_dir", type=Path, help="the folder the app stored votes in")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "cases" / "drafts.yaml")
    args = parser.parse_args(argv)
    if not args.feedback_dir.is_dir():
        parser.error(f"no feedback folder at {args.feedback_dir}")
    votes = read_votes(args.feedback_dir)
    drafts = draft_cases(votes)
    write_drafts(drafts, args.out, str(args.feedback_dir))
    print(
        f"{len(votes)} votes -> {len(drafts['to_fix'])} cases to fix, "
        f"{len(drafts['regression'])} regression cases in {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
