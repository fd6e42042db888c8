"""`python -m evals`: run the real pipeline over every eval case and gate on thresholds.yaml."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from evals.report import (
    export_ragas,
    format_failures,
    format_summary,
    render_markdown,
    write_report,
)
from evals.runner import run_evals


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m evals",
        description="Score the real pipeline on evals/cases/ and exit 1 when any metric is "
        "under its threshold in evals/thresholds.yaml.",
    )
    parser.add_argument("--out", type=Path, help="write report.json, report.md and scores.png here")
    parser.add_argument("--export", type=Path, help="write RAGAS rows (JSON lines) to this file")
    parser.add_argument("--index", type=Path, help="index folder (default from settings: .index/)")
    return parser.parse_args(argv)


def limit_threads() -> None:
    """One torch thread unless OMP_NUM_THREADS says otherwise: queries are embedded one short
    sentence at a time, where a second thread gains nothing, and on a busy 2-core machine its
    spin-waiting made the whole run over ten times slower (measured: 2.5 s vs 30-44 s for 100
    questions)."""
    if "OMP_NUM_THREADS" not in os.environ:
        import torch

        torch.set_num_threads(1)


def main(argv: list[str] | None = None) -> int:
    began = time.perf_counter()
    args = parse_args(argv)
    limit_threads()
    from bot.chat import Bot
    from bot.settings import Settings

    def say(message: str) -> None:
        print(message, file=sys.stderr)

    bot = Bot.build(Settings.from_env(index_path=args.index), say=say)
    run = run_evals(bot)
    print(format_summary(run))
    if not run.passed:
        print(format_failures(run))
    if args.out:
        for path in write_report(run, args.out):
            say(f"wrote {path}")
    if args.export:
        say(f"wrote {export_ragas(run, args.export)} rows to {args.export}")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(render_markdown(run))
    say(f"total {time.perf_counter() - began:.1f} s including model load and index sync")
    return 0 if run.passed else 1


if __name__ == "__main__":
    sys.exit(main())
