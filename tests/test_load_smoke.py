"""The load and fault test's own logic (evals/bench_load.py): how calls are split around the
outage and judged, and the traffic it sends. The run itself is `python -m evals.bench_load`."""

from __future__ import annotations

from evals.bench_load import load_messages
from evals.load_report import UNAVAILABLE_MARK, Outcome, classify, summarize


def outcome(started, ended, kind="ok", message=0, reply="r0", risky=False, resources=False):
    return Outcome(started, ended, 0, kind, message, reply, risky, resources)


def test_calls_are_split_around_the_outage_and_outage_replies_are_judged():
    outcomes = [
        outcome(0.0, 1.0, message=1, reply="usual"),  # before
        outcome(1.5, 2.5, kind="error"),  # overlaps the stop: during
        outcome(3.0, 3.5, kind="unavailable", message=1),  # inside, with the message
        outcome(3.0, 3.6, message=1, reply="usual"),  # inside, the usual reply (no index needed)
        outcome(3.1, 3.7, message=1, reply="other"),  # inside, a reply never seen: wrong
        outcome(3.2, 3.8, message=9, reply="x"),  # inside, message not seen outside: unverified
        outcome(4.5, 5.5, message=2, reply="after"),  # after
    ]
    report = summarize(outcomes, stopped=2.0, ready=4.0, seconds=10.0)
    assert [report[w]["requests"] for w in ("before", "during", "after")] == [1, 5, 1]
    assert report["during"]["errors"] == 1 and report["before"]["errors"] == 0
    assert report["inside_outage"] == 4
    assert report["inside_outage_with_message"] == 1
    assert report["inside_outage_as_usual"] == 1
    assert report["inside_outage_unverified"] == 1
    assert report["inside_outage_wrong"] == 1
    assert report["after_success_rate"] == 1.0
    assert report["throughput_rps"] == 0.6  # 6 answered calls in 10 s


def test_a_crisis_message_losing_its_resources_in_the_outage_is_counted():
    outcomes = [
        outcome(0.0, 1.0, message=3, risky=True, resources=True),  # helped with the index up
        outcome(0.0, 1.0, message=4, risky=True, resources=False),  # a classifier miss
        outcome(3.0, 3.5, message=3, risky=True, resources=False),  # lost in the outage
        outcome(3.0, 3.5, message=4, risky=True, resources=False),  # missed anyway
    ]
    report = summarize(outcomes, stopped=2.0, ready=4.0, seconds=10.0)
    assert report["crisis_resources_lost_in_outage"] == 1


def test_replies_are_classified_by_the_unavailable_message_and_the_resources():
    from bot.replies import UNAVAILABLE_REPLY
    from bot.service import unavailable_answer

    kind, _, resources = classify(unavailable_answer("Is CBT useful?", None, None).text)
    assert UNAVAILABLE_MARK in UNAVAILABLE_REPLY and (kind, resources) == ("unavailable", True)
    assert classify("Therapy helps. [1]")[0::2] == ("ok", False)


def test_the_traffic_is_realistic_and_holds_a_few_crisis_messages():
    messages = load_messages()
    risky = [m for m in messages if m.risky]
    assert len(messages) > 300 and 0.03 < len(risky) / len(messages) < 0.08
    assert any(m.history for m in messages)  # follow-ups with their earlier messages
    assert load_messages() == messages  # the same traffic every run
