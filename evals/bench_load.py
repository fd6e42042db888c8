"""Load and fault test: `python -m evals.bench_load` runs two apps on one Chroma server, stops
the server midway and starts it again, and reports what clients saw.

Everything runs on 127.0.0.1 and is bounded in count and time:

1. `chroma run` on a free port over a temporary folder, then `python -m ingest` into it;
2. two `python app.py` processes (MEDFAQ_CHROMA_URL, GRADIO_SERVER_PORT), awaited on /healthz;
3. `--clients` threads (100) for `--seconds` (60), each calling Gradio's `/chat` API over
   plain HTTP (`/gradio_api/call/chat`), or with `--api answer` the app's JSON API
   (`POST /api/answer`), alternating between the apps, with questions from the
   eval cases (FAQs, paraphrases, typed messages, follow-ups and a few crisis messages);
4. at `--fault-at` seconds the server is stopped, and after `--down` seconds started again on
   the same port and folder.

It reports throughput, latency p50/p95, and outcomes before, during and after the outage
(a reply is "unavailable" when it carries the bot's unavailable message, an "error" when the
call failed); that crisis messages got resources during it; /healthz during and after it; and
that the index (its collections' record counts and the active generation) is intact after the
restart. The exit status is 1 when a call failed outside the outage, an outage reply lacked
the message, or the index changed. Every child process is ended on exit, also on Ctrl-C.
How replies are judged, the windows and the report are in evals/load_report.py (pure);
this module runs the processes and the clients.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.settings import MIN_VECTOR_CACHE
from evals.load_report import Outcome, classify, log_findings, report_lines, summarize

PROJECT = Path(__file__).resolve().parent.parent
CASES = PROJECT / "evals" / "cases"
CALL_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url: str, timeout: float = 2.0) -> tuple[int, dict | None]:
    """(status, JSON body) of a GET; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"null")
        except ValueError:
            return exc.code, None
    except (OSError, ValueError):
        return 0, None


def stop_process(process: subprocess.Popen | None, timeout: float = 20.0) -> None:
    """Terminate, then kill if it does not end in time."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


class ChromaServer:
    """`chroma run` on 127.0.0.1 over one folder; stopped and started again on the same port
    and folder, as a restarted or redeployed server would be."""

    def __init__(self, path: Path, port: int | None = None, log: Path | None = None):
        self.path, self.port = Path(path), port or free_port()
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        chroma = Path(sys.executable).parent / "chroma"
        command = [str(chroma if chroma.exists() else "chroma"), "run", "--path", str(self.path)]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        out = self.log.open("a") if self.log else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(command, stdout=out, stderr=out)
        finally:
            if self.log:
                out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if http_status(f"{self.url}/api/v2/heartbeat", timeout=1)[0] == 200:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"chroma run did not answer on {self.url} within {timeout:.0f} s")

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def __enter__(self) -> ChromaServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass(frozen=True)
class Message:
    text: str
    history: tuple[str, ...] = ()
    risky: bool = False  # a crisis message: its reply must carry the resources


def load_messages(seed: int = 12) -> list[Message]:
    """Realistic traffic, shuffled: FAQ questions and paraphrases, messages typed the way
    people type (with their follow-ups), conversations, and about 5% crisis messages."""

    def cases(name: str, key: str) -> list:
        return yaml.safe_load((CASES / name).read_text(encoding="utf-8"))[key]

    messages = [Message(c["question"]) for c in cases("faqs.yaml", "faqs")]
    messages += [Message(c["question"]) for c in cases("paraphrases.yaml", "paraphrases")]
    messages += [
        Message(c["text"], tuple(c.get("history", ()))) for c in cases("typed.yaml", "questions")
    ]
    for c in cases("conversations.yaml", "conversations"):
        messages.append(Message(c["turns"][-1], tuple(c["turns"][:-1])))
    rng = random.Random(seed)
    crisis = rng.sample([c["text"] for c in cases("crisis.yaml", "cases")], len(messages) // 19)
    messages += [Message(text, risky=True) for text in crisis]
    rng.shuffle(messages)
    return messages


def ask_chat(client, base: str, message: Message) -> str:
    """One call of the app's `/chat` API through Gradio's HTTP API: post, then read the event
    stream until its `complete` (or `error`) event."""
    posted = client.post(
        f"{base}gradio_api/call/chat", json={"data": [message.text, list(message.history)]}
    )
    posted.raise_for_status()
    event_id = posted.json()["event_id"]
    event = None
    with client.stream("GET", f"{base}gradio_api/call/chat/{event_id}") as stream:
        stream.raise_for_status()
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = json.loads(line.split(":", 1)[1])
                if event == "error":
                    raise RuntimeError(f"error event: {str(data)[:80]}")
                return data[0]
    raise RuntimeError("stream ended without a result")


def ask_answer(client, base: str, message: Message) -> str:
    """One call of the app's JSON API, `POST /api/answer`: no queue, no event stream."""
    posted = client.post(
        f"{base}api/answer", json={"message": message.text, "history": list(message.history)}
    )
    posted.raise_for_status()
    return posted.json()["answer"]


APIS = {"chat": ask_chat, "answer": ask_answer}


def run_load(
    bases: list[str],
    messages: list[Message],
    clients: int,
    seconds: float,
    began: float,
    ask=ask_chat,
) -> list[Outcome]:
    """`clients` threads asking until `seconds` have passed, each alternating between apps."""
    import httpx

    outcomes: list[Outcome] = []
    lock = threading.Lock()
    deadline = began + seconds

    def client_loop(n: int) -> None:
        i = n
        with httpx.Client(timeout=CALL_TIMEOUT_S) as client:
            while time.monotonic() < deadline:
                app, m = i % len(bases), (i * 7 + n) % len(messages)
                i += 1
                start, detail = time.monotonic(), ""
                try:
                    kind, reply, resources = classify(ask(client, bases[app], messages[m]))
                except Exception as exc:  # the call failed: count it, go on
                    kind, reply, resources = "error", "", False
                    detail = f"{type(exc).__name__}: {exc}"[:120]
                fields = (kind, m, reply, messages[m].risky, resources, detail)
                outcome = Outcome(start - began, time.monotonic() - began, app, *fields)
                with lock:
                    outcomes.append(outcome)

    threads = [threading.Thread(target=client_loop, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + CALL_TIMEOUT_S + 5)
    with lock:
        return sorted(outcomes, key=lambda o: o.started)


def index_snapshot(url: str, name: str = "medfaq") -> dict:
    """The alias's pointers and every collection's record count, read from the server."""
    from urllib.parse import urlparse

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    where = urlparse(url)
    client = chromadb.HttpClient(
        host=where.hostname, port=where.port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    counts = {c.name: c.count() for c in client.list_collections()}
    pointers = dict(client.get_collection(name).metadata or {})
    return {"pointers": pointers, "counts": dict(sorted(counts.items()))}


def start_app(port: int, chroma_url: str, log: Path, vector_cache: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "MEDFAQ_CHROMA_URL": chroma_url,
        "MEDFAQ_VECTOR_CACHE": str(vector_cache),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
    }
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "app.py"], cwd=PROJECT, env=env, stdout=out, stderr=out
        )


def wait_healthy(base: str, process: subprocess.Popen, timeout: float) -> dict | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        status, body = http_status(f"{base}healthz")
        if status == 200:
            return body
        time.sleep(0.25)
    return None


def cycle_server(
    server: ChromaServer, bases: list[str], began: float, at: float, down: float, marks: dict
) -> None:
    """At `at` seconds stop the server; after `down` seconds (reading /healthz halfway) start
    it again. `marks` gets the times (seconds since `began`) and the health codes."""
    time.sleep(max(0.0, began + at - time.monotonic()))
    marks["stopped"] = time.monotonic() - began  # it stops answering from here on
    server.stop()
    time.sleep(down / 2)
    marks["health_during"] = [http_status(f"{b}healthz")[0] for b in bases]
    time.sleep(down / 2)
    server.start()
    marks["ready"] = time.monotonic() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.bench_load", description=__doc__)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fault-at", type=float, help="seconds into the load (default: 40%%)")
    parser.add_argument("--down", type=float, default=5.0, help="seconds the server stays down")
    parser.add_argument("--timeout", type=float, default=240.0, help="start-up limit, seconds")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--vector-cache", type=int, default=MIN_VECTOR_CACHE,
        help="message vectors each app remembers (MEDFAQ_VECTOR_CACHE). The default, the "
        "fewest allowed, is far below the texts of the traffic's 800 or so messages, each "
        "asked again and again: every message is embedded afresh, as fresh traffic is. With "
        "the apps' own default (4096) they remember them all, and after the first pass "
        "the run measures answering without the model",
    )  # fmt: skip
    parser.add_argument(
        "--api", choices=sorted(APIS), default="chat",
        help="chat: Gradio's /chat API (queue and event stream); answer: POST /api/answer",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not (1 <= args.clients <= 500 and 5 <= args.seconds <= 600):
        parser.error("--clients must be 1-500 and --seconds 5-600")
    fault_at = args.fault_at if args.fault_at is not None else 0.4 * args.seconds
    say = (lambda m: print(m, file=sys.stderr)) if args.json else print
    # Ctrl-C (even when started where SIGINT is ignored) and SIGTERM end the run through the
    # finally block below, which ends every child.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    apps: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        folder = Path(tmp)
        server = ChromaServer(folder / "chroma", log=folder / "chroma.log")
        try:
            server.start()
            say(f"chroma run on {server.url}; ingesting the corpus ...")
            env = {**os.environ, "MEDFAQ_CHROMA_URL": server.url}
            subprocess.run(
                [sys.executable, "-m", "ingest"],
                cwd=PROJECT,
                env=env,
                check=True,
                capture_output=True,
                timeout=600,
            )
            before = index_snapshot(server.url)
            ports = [free_port(), free_port()]
            logs = [folder / f"app{n}.log" for n in range(2)]
            apps = [
                start_app(p, server.url, log, args.vector_cache)
                for p, log in zip(ports, logs, strict=True)
            ]
            bases = [f"http://127.0.0.1:{p}/" for p in ports]
            for base, app, log in zip(bases, apps, logs, strict=True):
                if wait_healthy(base, app, args.timeout) is None:
                    say(f"{base} did not become healthy:\n{log.read_text()[-2000:]}")
                    return 1
            say(
                f"apps healthy on {', '.join(bases)}; {args.clients} clients for {args.seconds:g} s"
            )

            marks: dict = {}
            began = time.monotonic()
            fault = (server, bases, began, fault_at, args.down, marks)
            faulter = threading.Thread(target=cycle_server, args=fault, daemon=True)
            faulter.start()
            outcomes = run_load(
                bases, load_messages(), args.clients, args.seconds, began, APIS[args.api]
            )
            faulter.join(timeout=120)
            if "ready" not in marks:
                say("the Chroma server did not come back")
                return 1
            health_after = [http_status(f"{b}healthz")[0] for b in bases]
            after = index_snapshot(server.url)
        finally:
            for app in apps:
                stop_process(app)
            server.stop()
        report = summarize(outcomes, marks["stopped"], marks["ready"], args.seconds)
        report.update(
            clients=args.clients,
            api=args.api,
            vector_cache=args.vector_cache,
            health_during=marks["health_during"],
            health_after=health_after,
            index_before=before,
            index_after=after,
            index_intact=before == after,
            app_logs=[log_findings(log) for log in logs],
        )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print("\n".join(report_lines(report)))
    failed = (
        report["before"]["errors"]
        or report["after"]["errors"]
        or report["after_success_rate"] != 1.0
        or report["inside_outage_wrong"]
        or report["crisis_resources_lost_in_outage"]
        or not report["index_intact"]
    )
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the children are already ended
        sys.exit("interrupted")
