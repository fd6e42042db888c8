"""Benchmark: `python -m evals.bench_ingest` times ingest from scratch and unchanged re-runs.

Each run is a fresh `python -m ingest` process (model load and imports included), against
a temporary index, so the figures are what a person sees at the command line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def time_ingest(index: Path, *extra: str) -> tuple[float, dict]:
    command = [sys.executable, "-m", "ingest", "--index", str(index), "--json", *extra]
    began = time.perf_counter()
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=True)
    return time.perf_counter() - began, json.loads(done.stdout)


def describe(name: str, seconds: list[float]) -> str:
    return (
        f"{name:<22} median {statistics.median(seconds):6.2f} s   "
        f"min {min(seconds):6.2f} s   max {max(seconds):6.2f} s   (n={len(seconds)})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.bench_ingest", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    scratch, unchanged = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            seconds, summary = time_ingest(Path(tmp) / "index")
            assert summary["added"] == summary["chunks"] > 0, summary
            scratch.append(seconds)
            seconds, summary = time_ingest(Path(tmp) / "index")
            assert summary["unchanged"] == summary["chunks"] and summary["added"] == 0, summary
            unchanged.append(seconds)
    print(describe("from scratch", scratch))
    print(describe("unchanged re-run", unchanged))
    return 0


if __name__ == "__main__":
    sys.exit(main())
