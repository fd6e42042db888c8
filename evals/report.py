"""Presents an eval run: console table, failing cases, report.json/.md, a PNG chart, RAGAS rows."""

from __future__ import annotations

import json
from pathlib import Path

from evals.runner import EvalRun, Outcome

# The report's sections, in order; a metric not listed lands in "other".
GROUPS = {
    "faqs": ("faq_routing_verbatim", "faq_citation_precision", "faq_hit1", "faq_hit3", "faq_mrr",
             "faq_key_fact_recall", "faq_similarity", "faq_token_f1"),
    "paraphrases": ("faq_paraphrase_first_citation", "faq_paraphrase_routing", "paraphrase_hit1",
                    "paraphrase_hit3", "paraphrase_mrr", "paraphrase_key_fact_recall",
                    "paraphrase_similarity", "paraphrase_token_f1"),
    "body": ("body_first_citation", "body_hit1", "body_hit3", "body_mrr", "body_key_fact_recall",
             "body_similarity", "body_token_f1"),
    "abstention": ("abstention_recall_oos", "abstention_precision", "wrongly_abstained"),
    "conversations": ("conversation_accuracy",),
    "hostile": ("hostile_handled", "errors"),
    "safety": ("crisis_recall", "near_miss_fp", "boundary_compliance", "boundary_fp"),
    "citations": ("citation_validity", "faithfulness", "median_quote_chars"),
    "risk tiers": ("risk_recall_urgent", "risk_recall_concern", "urgent_reply", "urgent_precision",
                   "poison_help", "lookalike_crisis_fp", "lookalike_risk_fp", "article_risk_fp"),
    "typed questions": ("typed_first_citation", "typed_wrongly_abstained", "typed_abstention_oos",
                        "typed_boundary", "typed_misleading", "typed_wrong_yes"),
    "latency, ms (not gated)": ("latency_p50_ms", "latency_p95_ms"),
}  # fmt: skip
_UNBOUNDED = ("median_quote_chars", "latency_p50_ms", "latency_p95_ms")  # not scores in [0, 1]
_ANSWER_CHARS = 240
_RULE = "| --- | --- | --- | --- |"


def grouped(run: EvalRun) -> dict[str, list[str]]:
    """Report section -> the run's metrics in it."""
    listed = {name for names in GROUPS.values() for name in names}
    groups = {g: [n for n in names if n in run.metrics] for g, names in GROUPS.items()}
    groups["other"] = sorted(set(run.metrics) - listed)
    return {g: names for g, names in groups.items() if names}


def rows(run: EvalRun) -> list[tuple[str, str, str, str, str]]:
    """(section, metric, value, threshold, status) for every metric of the run."""
    gates = {t.metric: t for t in run.thresholds}
    out = []
    for group, names in grouped(run).items():
        for name in names:
            value, gate = run.metrics[name], gates.get(name)
            shown = f"{value:.0f}" if name in _UNBOUNDED else f"{value:.3f}"
            status = "" if gate is None else "ok" if gate.passes(value) else "FAIL"
            out.append((group, name, shown, gate.describe() if gate else "", status))
    return out


def format_summary(run: EvalRun) -> str:
    header = ("section", "metric", "value", "threshold", "")
    table = [header, *rows(run)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in table]
    verdict = "PASSED" if run.passed else f"FAILED ({len(run.missed)} metrics under threshold)"
    lines.append(f"\n{len(run.outcomes)} cases in {run.seconds:.1f} s: {verdict}")
    return "\n".join(line.rstrip() for line in lines)


def shorten(text: str, limit: int = _ANSWER_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def failures(run: EvalRun) -> list[tuple[str, list[tuple[Outcome, str]]]]:
    """For each missed threshold, its heading and the failing cases with what was expected."""
    out = []
    for t in run.missed:
        value = run.metrics.get(t.metric)
        shown = "not measured" if value is None else f"{value:.3f}"
        cases = [(o, o.expected.get(t.metric, "")) for o in run.failing(t)]
        out.append((f"{t.metric} = {shown}, needs {t.describe()}", cases))
    return out


def format_failures(run: EvalRun) -> str:
    lines = []
    for heading, cases in failures(run):
        lines.append(f"\nFAIL {heading}")
        for o, expected in cases:
            lines.append(f"  - [{o.case.category}] {o.case.label}")
            if o.case.history:
                lines.append(f"      history: {list(o.case.history)}")
            lines.append(f"      answer ({o.reply.mode}): {shorten(o.reply.text)!r}")
            lines.append(f"      expected: {expected}")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return shorten(text).replace("|", "\\|")


def render_markdown(run: EvalRun) -> str:
    verdict = "passed" if run.passed else "FAILED"
    lines = [f"# Evals: {verdict}", "", f"{len(run.outcomes)} cases in {run.seconds:.1f} s.", ""]
    counts: dict[str, int] = {}
    for o in run.outcomes:
        counts[o.case.category] = counts.get(o.case.category, 0) + 1
    lines += ["| cases | count |", "| --- | --- |"]
    lines += [f"| {category} | {n} |" for category, n in counts.items()]
    section = None
    for group, name, value, threshold, status in rows(run):
        if group != section:
            section = group
            lines += ["", f"## {group}", "", "| metric | value | threshold | |", _RULE]
        lines.append(f"| {name} | {value} | {threshold} | {'❌' if status == 'FAIL' else status} |")
    found = failures(run)
    if found:
        lines += ["", "## Failing cases"]
    for heading, cases in found:
        lines += ["", f"### {heading}", ""]
        for o, expected in cases:
            lines.append(f"- [{o.case.category}] {_cell(o.case.label)}")
            if o.case.history:
                lines.append(f"  - history: {_cell(repr(list(o.case.history)))}")
            lines.append(f"  - answer ({o.reply.mode}): {_cell(o.reply.text)}")
            lines.append(f"  - expected: {_cell(expected)}")
    return "\n".join(lines) + "\n"


def to_json(run: EvalRun) -> dict:
    return {
        "passed": run.passed,
        "seconds": round(run.seconds, 2),
        "metrics": dict(run.metrics),
        "thresholds": {t.metric: {"bound": t.bound, "upper": t.upper} for t in run.thresholds},
        "missed": [t.metric for t in run.missed],
        "cases": [
            {
                "category": o.case.category,
                "question": shorten(o.case.text, 500),
                "history": list(o.case.history),
                "mode": o.reply.mode,
                "answer": o.reply.text,
                "quotes": list(o.reply.quotes),
                "latency_ms": round(o.latency_ms, 1),
                "values": {k: list(v) for k, v in o.values.items()},
                "expected": dict(o.expected),
            }
            for o in run.outcomes
        ],
    }


def plot_scores(run: EvalRun, path: Path) -> None:
    """A horizontal bar per score in [0, 1], coloured by section, with its threshold marked."""
    import matplotlib

    matplotlib.use("Agg")  # files only: CI has no display
    import matplotlib.pyplot as plt

    gates = {t.metric: t for t in run.thresholds}
    bars = [(g, n) for g, names in grouped(run).items() for n in names if n not in _UNBOUNDED]
    sections = list(dict.fromkeys(g for g, _ in bars))
    colours = {g: plt.get_cmap("tab10")(i % 10) for i, g in enumerate(sections)}
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(bars) + 2))
    ys = list(range(len(bars)))[::-1]
    ax.barh(ys, [run.metrics[n] for _, n in bars], color=[colours[g] for g, _ in bars])
    for y, (_, name) in zip(ys, bars, strict=True):
        value, gate = run.metrics[name], gates.get(name)
        ax.text(1.07, y, f"{value:.3f}", va="center", fontsize=7)
        if gate:
            colour = "black" if gate.passes(value) else "red"
            ax.plot(gate.bound, y, "|", color=colour, markersize=12, markeredgewidth=2)
    ax.set_yticks(ys, [n for _, n in bars], fontsize=8)
    ax.set_xlim(0, 1.15)
    verdict = "passed" if run.passed else "FAILED"
    ax.set_title(f"Eval scores by section: {verdict} (| threshold, red when missed)", fontsize=10)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[g]) for g in sections]
    fig.legend(handles, sections, loc="lower center", ncol=min(5, len(sections)), fontsize=7)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(run: EvalRun, folder: Path) -> list[Path]:
    """report.json, report.md and scores.png in `folder` (created if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "report.json", folder / "report.md", folder / "scores.png"]
    paths[0].write_text(json.dumps(to_json(run), indent=2, ensure_ascii=False), encoding="utf-8")
    paths[1].write_text(render_markdown(run), encoding="utf-8")
    plot_scores(run, paths[2])
    return paths


def export_ragas(run: EvalRun, path: Path) -> int:
    """One JSON line per question with a reference answer: question (a conversation's turns, one a
    line), answer, contexts (the cited quotes, else the retrieved passages), ground_truth.
    Returns the number of rows."""
    lines = []
    for o in run.outcomes:
        if not o.case.reference or o.case.category == "hostile":  # junk input is no QA sample
            continue
        contexts = list(o.reply.quotes) or [text for text, _ in o.retrieved]
        question = "\n".join([*o.case.history, o.case.text])
        row = {"question": question, "answer": o.reply.text, "contexts": contexts,
               "ground_truth": o.case.reference}  # fmt: skip
        lines.append(json.dumps(row, ensure_ascii=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return len(lines)
