"""Benchmark: `python -m evals.bench_app` serves `python app.py` and measures it from outside.

It makes sure the index is present (`python -m ingest`, a no-op when it is up to date), starts
`python app.py` on a free loopback port, and reports:

- start-up: seconds from launching the process until its URL answers (budget: 15 s);
- peak memory: the largest resident set of the app process and its children (budget: 1.5 GB);
- 20 clients: that many gradio_client predictions fired at once from threads, each asking one
  of the article's FAQ questions (in turn), and whether every answer quotes and cites that FAQ
  (the answers in evals/cases/faqs.yaml), with the wall time and latencies. The first burst
  meets a freshly started app; the next ones (`--rounds`) a warm one.

Figures are printed, not asserted; the exit status is 1 only when the app does not start or an
answer is wrong.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import yaml

PROJECT = Path(__file__).resolve().parent.parent
FAQS = PROJECT / "evals" / "cases" / "faqs.yaml"
STARTUP_BUDGET_S = 15.0
MEMORY_BUDGET_MB = 1536.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PeakMemory:
    """Samples the resident set of a process tree in the background; `peak_mb` is the largest."""

    def __init__(self, pid: int, every: float = 0.05):
        self.process, self.every, self.peak_mb = psutil.Process(pid), every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in tree if p.is_running())
            except psutil.Error:
                continue
            self.peak_mb = max(self.peak_mb, rss / 2**20, self._high_water_mb())

    def _high_water_mb(self) -> float:
        """The kernel's own peak for the main process (Linux), which sampling can miss."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0.0
        line = next((s for s in status.splitlines() if s.startswith("VmHWM:")), "")
        return int(line.split()[1]) / 1024 if line else 0.0

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mb


def verdict(value: float, budget: float, unit: str) -> str:
    return f"{'within' if value <= budget else 'OVER'} the {budget:g} {unit} budget"


def wait_until_serving(url: str, process: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def ask_at_once(url: str, questions: list[str]) -> tuple[list[str], list[float], float]:
    """Each question from its own thread and client, released together; answers, latencies, wall."""
    from gradio_client import Client

    clients = [Client(url, verbose=False) for _ in questions]
    start = threading.Barrier(len(questions) + 1)

    def ask(i: int) -> tuple[str, float]:
        start.wait()
        began = time.perf_counter()
        answer = clients[i].predict(questions[i], api_name="/chat")
        return answer, time.perf_counter() - began

    with ThreadPoolExecutor(max_workers=len(questions)) as pool:
        futures = [pool.submit(ask, i) for i in range(len(questions))]
        start.wait()
        began = time.perf_counter()
        results = [f.result(timeout=120) for f in futures]
        wall = time.perf_counter() - began
    return [a for a, _ in results], [s for _, s in results], wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.bench_app", description=__doc__)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument(
        "--rounds", type=int, default=2, help="bursts of clients, one after another"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for start-up")
    args = parser.parse_args(argv)
    faqs = yaml.safe_load(FAQS.read_text(encoding="utf-8"))["faqs"]
    cases = [faqs[i % len(faqs)] for i in range(args.clients)]

    subprocess.run([sys.executable, "-m", "ingest"], cwd=PROJECT, check=True, capture_output=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    with tempfile.TemporaryFile("w+") as log:
        began = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=PROJECT, env=env, stdout=log, stderr=log
        )
        memory = PeakMemory(process.pid)
        try:
            if not wait_until_serving(url, process, args.timeout):
                log.seek(0)
                print(f"app.py did not serve {url} within {args.timeout:.0f} s:\n{log.read()}")
                return 1
            startup = time.perf_counter() - began
            bursts = [ask_at_once(url, [c["question"] for c in cases]) for _ in range(args.rounds)]
        finally:
            peak_mb = memory.stop()
            process.terminate()
            process.wait(timeout=30)

    print(f"start-up to serving: {startup:.2f} s ({verdict(startup, STARTUP_BUDGET_S, 's')})")
    print(f"peak memory (RSS):   {peak_mb:.0f} MB ({verdict(peak_mb, MEMORY_BUDGET_MB, 'MB')})")
    wrong = []
    for n, (answers, latencies, wall) in enumerate(bursts, 1):
        missed = [
            (case["question"], answer)
            for case, answer in zip(cases, answers, strict=True)
            if f"{case['answer']} [1]" not in answer
        ]
        p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else latencies[0]
        print(
            f"burst {n}: {len(cases)} clients at once, {len(cases) - len(missed)}/{len(cases)} cited"
            f" the right FAQ; wall {wall:.2f} s, latency p50 {statistics.median(latencies):.2f} s,"
            f" p95 {p95:.2f} s, max {max(latencies):.2f} s"
        )
        wrong += missed
    for question, answer in wrong:
        print(f"  WRONG: {question!r} -> {answer[:120]!r}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
