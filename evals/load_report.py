"""The load and fault test's pure part (`python -m evals.bench_load` runs it): how a reply is
classified, how calls are split into the windows before, during and after the outage and
judged, and the report printed from them. Nothing here starts a process or opens a socket, so
it is tested on its own (tests/test_load_smoke.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

UNAVAILABLE_MARK = "can't reach the articles right now"  # bot.replies.UNAVAILABLE_REPLY
RESOURCE_MARK = "988"  # every crisis reply lists the 988 line


@dataclass(frozen=True)
class Outcome:
    started: float  # seconds since the load began
    ended: float
    app: int
    kind: str  # "ok", "unavailable" or "error"
    message: int = 0  # which message (index into the traffic)
    reply: str = ""  # a digest of the reply, to compare answers to the same message
    risky: bool = False
    resources: bool = False  # the reply lists crisis resources
    detail: str = ""  # for errors: what failed


def classify(text: str) -> tuple[str, str, bool]:
    """(kind, digest, resources) of a reply."""
    kind = "unavailable" if UNAVAILABLE_MARK in text else "ok"
    return kind, hashlib.sha1(text.encode()).hexdigest()[:12], RESOURCE_MARK in text


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def window_stats(outcomes: list[Outcome]) -> dict:
    done = [o for o in outcomes if o.kind != "error"]
    risky = [o for o in outcomes if o.risky and o.kind != "error"]
    return {
        "requests": len(outcomes),
        "ok": sum(o.kind == "ok" for o in outcomes),
        "unavailable": sum(o.kind == "unavailable" for o in outcomes),
        "errors": sum(o.kind == "error" for o in outcomes),
        "risky": len(risky),
        "risky_with_resources": sum(o.resources for o in risky),
        "p50_ms": round(1000 * percentile([o.ended - o.started for o in done], 0.5), 1),
        "p95_ms": round(1000 * percentile([o.ended - o.started for o in done], 0.95), 1),
    }


def summarize(outcomes: list[Outcome], stopped: float, ready: float, seconds: float) -> dict:
    """Split calls by the outage [stopped, ready] (seconds since the load began): "before"
    ended before it, "during" overlaps it, "after" started once the server answered again.
    Pure, so the split is tested."""
    before = [o for o in outcomes if o.ended < stopped]
    after = [o for o in outcomes if o.started >= ready]
    during = [o for o in outcomes if o.ended >= stopped and o.started < ready]
    # Calls wholly inside the outage carry the unavailable message, or the very reply the
    # same message got while the index answered: crisis and prescriber replies need no index.
    inside = [o for o in during if o.started >= stopped and o.ended <= ready]
    usual: dict[int, set[str]] = {}
    for o in before + after:
        if o.kind == "ok":
            usual.setdefault(o.message, set()).add(o.reply)
    as_usual = [o for o in inside if o.kind == "ok" and o.reply in usual.get(o.message, ())]
    unverified = [o for o in inside if o.kind == "ok" and o.message not in usual]
    wrong = [o for o in inside if o.kind == "ok" and o not in as_usual and o not in unverified]
    # Crisis messages whose reply lacked resources during the outage though the same message
    # gets them while the index answers (the classifier's own misses are not the outage's).
    helped = {o.message for o in before + after if o.risky and o.resources}
    lost = [o for o in during if o.risky and not o.resources and o.message in helped]
    done = [o for o in outcomes if o.kind != "error"]
    latencies = [o.ended - o.started for o in done]
    return {
        "seconds": seconds,
        "requests": len(outcomes),
        "throughput_rps": round(len(done) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(1000 * percentile(latencies, 0.5), 1),
        "p95_ms": round(1000 * percentile(latencies, 0.95), 1),
        "outage": {"stopped_at": round(stopped, 2), "answering_again_at": round(ready, 2)},
        "before": window_stats(before),
        "during": window_stats(during),
        "after": window_stats(after),
        "inside_outage": len(inside),
        "inside_outage_with_message": sum(o.kind == "unavailable" for o in inside),
        "inside_outage_as_usual": len(as_usual),
        "inside_outage_unverified": len(unverified),
        "inside_outage_wrong": len(wrong),
        "crisis_resources_lost_in_outage": len(lost),
        "after_success_rate": (
            round(sum(o.kind == "ok" for o in after) / len(after), 4) if after else None
        ),
        "error_samples": sorted({o.detail for o in outcomes if o.kind == "error"})[:5],
    }


def log_findings(log: Path) -> dict:
    text = log.read_text(errors="replace")
    return {
        "tracebacks": text.count("Traceback"),
        "unreachable_warnings": text.count("index unreachable at"),
        "reachable_again": text.count("index reachable again"),
    }


def report_lines(r: dict) -> list[str]:
    lines = [
        f"{r['clients']} clients for {r['seconds']:.0f} s against 2 apps: {r['requests']} calls,"
        f" {r['throughput_rps']} answered/s, latency p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms"
        + (
            f" (each app remembers {r['vector_cache']} message vectors)"
            if "vector_cache" in r
            else ""
        ),
        f"outage: Chroma stopped at {r['outage']['stopped_at']} s, answering again at"
        f" {r['outage']['answering_again_at']} s",
    ]
    for name in ("before", "during", "after"):
        w = r[name]
        lines.append(
            f"  {name:<6} {w['requests']:>5} calls: {w['ok']} answered, {w['unavailable']}"
            f" unavailable message, {w['errors']} errors; p50 {w['p50_ms']} ms, p95"
            f" {w['p95_ms']} ms; crisis messages with resources {w['risky_with_resources']}/"
            f"{w['risky']}"
        )
    lines += [
        f"calls wholly inside the outage: {r['inside_outage']}: {r['inside_outage_with_message']}"
        f" carried the unavailable message, {r['inside_outage_as_usual']} got the reply they get"
        f" with the index up (needing none: crisis, prescriber replies),"
        f" {r['inside_outage_unverified']} answered but not seen outside the outage,"
        f" {r['inside_outage_wrong']} neither",
        f"crisis messages that lost their resources in the outage: "
        f"{r['crisis_resources_lost_in_outage']}",
        f"calls after the restart answered: {r['after_success_rate']:.2%}"
        if r["after_success_rate"] is not None
        else "no calls after the restart",
        f"/healthz during the outage: {r['health_during']}; after: {r['health_after']}",
        f"index after the restart: {'intact' if r['index_intact'] else 'CHANGED'}"
        f" (generation {r['index_before']['pointers'].get('active')},"
        f" {sum(r['index_before']['counts'].values())} records)",
        f"app logs: {r['app_logs']}",
    ]
    lines += [f"  error: {e}" for e in r["error_samples"]]
    return lines
