"""`python -m evals.two_articles`: does the calibration made on the seed article carry over when
a second article joins the corpus?

Indexes (a) the seed corpus alone (a copy of `corpus/*`), (b) that plus
`evals/articles/depression-treatment.html` and (c) that article alone, and asks each bot the same
cases with the thresholds as calibrated (nothing is retuned):

- each article's FAQs asked verbatim: mode as in its faqs.yaml, first citation inside the
  answer of that FAQ of that article;
- the seed's paraphrases: first citation inside their FAQ's answer; the new article's: first
  cited passage (the chunk holding the first citation) their FAQ's answer or holding one of their
  `golds` (`evals/cases/second_article/paraphrases.yaml`, every passage that answers them);
- out-of-scope questions: `evals/cases/out_of_scope.yaml` minus those the second article
  answers (ANSWERED_BY_SECOND), plus `evals/cases/second_article/out_of_scope.yaml`;
- how often an answerable question (FAQ or paraphrase) was abstained on;
- (not asked for by the gate, but where the articles meet by design) the stopping questions of
  `evals/cases/boundary.yaml`: the boundary reply (mode boundary or faq, led by the prescriber
  advice, no stray digits) with its first citation inside the answer of a stopping FAQ of either
  article (an FAQ whose question `bot.safety.detect_boundary` finds "stopping").

Scoring reuses the runner (`runner.ask`, `runner.score`, `runner.summarize`) and rescores only
the FAQ and stopping checks, because the runner names an FAQ by its number, which HTML FAQs
(`<details>`) do not have and two articles may share. It prints the figures of (a) and (b) side
by side (and (c) where it applies), says whether each of (b) is within 5 points of the seed's in
(a), and exits 1 when an FAQ of either article asked verbatim is not answered from its own FAQ.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import yaml

from evals import runner
from evals.metrics import ProductTexts, contains_gold, stray_digits

HERE = Path(__file__).resolve().parent
SECOND_ARTICLE = HERE / "articles" / "depression-treatment.html"
SECOND_BANK = SECOND_ARTICLE.with_suffix(".questions.yaml")  # its question bank, if any
SECOND_CASES = runner.CASES_DIR / "second_article"
SEED_SOURCE = "medication-and-therapy.md"
SECOND_SOURCE = SECOND_ARTICLE.name
# Questions of evals/cases/out_of_scope.yaml that the second article answers, fully or in part,
# so that neither abstaining nor quoting it is wrong: left out of the out-of-scope set here.
ANSWERED_BY_SECOND = {
    "What is transcranial magnetic stimulation?": "Treatment > Brain stimulation therapies: "
    "rTMS 'uses a magnet instead of an electrical current to activate the brain'",
    "Is electroconvulsive therapy safe?": "in part: Treatment > Brain stimulation therapies "
    "describes ECT (under anesthesia, relief for severe depression) but not its safety",
}
WITHIN = 0.05  # "within 5 points"
CORPUS_NAMES = {"single": "seed alone", "two": "two articles", "second": "new article alone"}


@dataclass(frozen=True)
class ArticleCase:
    """An eval case about one article's FAQ: the FAQ is named by its article and question."""

    case: runner.Case
    source: str
    faq_question: str


# --------------------------------------------------------------------------- cases


def seed_cases() -> list[ArticleCase]:
    """The seed's FAQs and paraphrases, as the gate loads them."""
    cases = runner.load_cases(categories=("faqs", "paraphrases"))
    questions = {c.faq: c.text for c in cases if c.category == "faqs"}
    return [ArticleCase(c, SEED_SOURCE, questions[c.faq]) for c in cases]


def _read(folder: Path, name: str) -> dict:
    return yaml.safe_load((folder / f"{name}.yaml").read_text(encoding="utf-8"))


def second_cases(folder: Path = SECOND_CASES) -> list[ArticleCase]:
    """The second article's FAQs and paraphrases (with their golds). Their Case.faq is None: that
    is the number the article's unnumbered FAQ chunks carry."""
    faqs = {}
    for f in _read(folder, "faqs")["faqs"]:
        case = runner.Case("faqs", f["question"], gold=f["gold"], reference=f["answer"],
                           key_facts=tuple(f["key_facts"]), modes=runner._modes(f.get("mode", "faq")))  # fmt: skip
        faqs[f["faq"]] = ArticleCase(case, SECOND_SOURCE, f["question"])
    cases = list(faqs.values())
    for p in _read(folder, "paraphrases")["paraphrases"]:
        base = faqs[p["faq"]]
        case = dataclasses.replace(base.case, category="paraphrases", text=p["question"],
                                   golds=tuple(p["golds"]))  # fmt: skip
        cases.append(dataclasses.replace(base, case=case))
    return cases


def out_of_scope_cases(folder: Path = SECOND_CASES) -> list[runner.Case]:
    old = runner.load_cases(categories=("out_of_scope",))
    new = _read(folder, "out_of_scope")["out_of_scope"]
    return [c for c in old if c.text not in ANSWERED_BY_SECOND] + [
        runner.Case("out_of_scope", q, modes=("abstain",)) for q in new
    ]


def stopping_cases() -> list[runner.Case]:
    return [c for c in runner.load_cases(categories=("boundary",)) if c.kind == "stopping"]


# --------------------------------------------------------------------------- corpora and bots


def make_corpus(target: Path, name: str = "two", bank: bool = True) -> Path:
    """In `target`: "single", a copy of corpus/* (the seed article and its question bank);
    "two", that plus the second article; "second", the second article alone (to tell what it
    does alone from what the seed's company does). The second article's question bank comes
    with it when `bank`."""
    from bot.settings import Settings

    if name == "second":
        target.mkdir(parents=True)
    else:
        shutil.copytree(Settings().corpus_dir, target, ignore=shutil.ignore_patterns(".*"))
    if name != "single":
        shutil.copy2(SECOND_ARTICLE, target / SECOND_SOURCE)
        if bank and SECOND_BANK.exists():
            shutil.copy2(SECOND_BANK, target / SECOND_BANK.name)
    return target


def build_bot(corpus: Path, index: Path, embedder=None, say=print):
    """The real bot over `corpus`, its index in the local folder `index` (never a server)."""
    from bot.chat import Bot
    from bot.settings import Settings

    settings = Settings.from_env(corpus_dir=corpus, index_path=index, chroma_url="")
    return Bot.build(settings, embedder=embedder, say=say)


def faq_chunk(bot, source: str, question: str):
    """The FAQ chunk of `source` whose question is `question`; None when ingest missed it."""
    chunks = bot.retriever.faq_chunks
    return next((c for c in chunks if (c.source, c.question) == (source, question)), None)


def stopping_faqs(bot) -> list:
    """The FAQ chunks, of every article, whose question is a stopping question."""
    from bot.routing import stopping_faqs as among

    return among(bot.retriever.faq_chunks)


# --------------------------------------------------------------------------- the checks


def from_own_faq(answer, chunk) -> bool:
    """The first citation quotes the FAQ's answer (right file, inside the answer's offsets)."""
    if chunk is None or answer is None or not answer.citations:
        return False
    first, span = answer.citations[0], chunk.answer
    return first.source == chunk.source and span.start <= first.start and first.end <= span.end


def first_citation_ok(answer, passage: str, source: str, chunk, golds: Sequence[str]) -> bool:
    """The first citation quotes the FAQ's answer (`chunk`), or the passage it sits in (`passage`,
    from `source`) holds one of the acceptable `golds`."""
    if from_own_faq(answer, chunk):
        return True
    cited = answer is not None and answer.citations and answer.citations[0].source == source
    return bool(cited) and any(contains_gold(passage, g) for g in golds)


def stopping_problems(reply, answer, product: ProductTexts, faqs: Sequence) -> list[str]:
    """What a reply to a stopping question got wrong; [] when it is the boundary reply (mode
    boundary or faq, led by the prescriber advice, no digits beyond cited quotes and resource
    numbers) and its first citation quotes the answer of one of the stopping FAQs `faqs`."""
    if reply.mode == "error":
        return [f"an answer, not an exception ({reply.text})"]
    problems = [] if reply.mode in ("boundary", "faq") else [f"mode boundary, not {reply.mode}"]
    if not any(lead in reply.text for lead in product.boundary_leads.get("stopping", ())):
        problems.append("the stopping reply (talk to your prescriber, pharmacist or doctor)")
    allowed = (*reply.quotes, *product.resource_lines, *product.resource_numbers)
    digits = stray_digits(reply.text, allowed)
    if digits:
        problems.append(f"no digits outside cited quotes and resource numbers (found {digits!r})")
    if not any(from_own_faq(answer, c) for c in faqs):
        names = "; ".join(f"{c.source} > {c.question!r}" for c in faqs)
        problems.append(f"a quote of a stopping FAQ's answer ({names})")
    return problems


def first_cited(answer) -> str:
    if answer is None or not answer.citations:
        return "nothing cited"
    c = answer.citations[0]
    return f"{c.source} > {c.section}"


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Measured:
    """One corpus's outcomes, by group ("medication-and-therapy.md", ..., "out_of_scope")."""

    outcomes: dict[str, list[runner.Outcome]]
    seconds: float

    def metrics(self, group: str) -> dict[str, float]:
        return runner.summarize(self.outcomes.get(group, []))


def article_check(item: ArticleCase, chunk, answer, reply, values) -> tuple[str, bool, str]:
    """(metric, right, expectation) of an article case, `chunk` being its FAQ's: asked verbatim,
    the runner's mode check and a quote of the FAQ's answer; a paraphrase, `first_citation_ok`."""
    case, quote = item.case, f"a quote of {item.source} > {item.faq_question!r}"
    if case.category == "faqs":
        ok = bool(values["faq_routing_verbatim"][0]) and from_own_faq(answer, chunk)
        return "faq_routing_verbatim", ok, f"mode {'/'.join(case.modes)}, {quote}"
    passage = reply.passages[0] if reply.passages else ""
    ok = first_citation_ok(answer, passage, item.source, chunk, case.golds)
    more = f", or a passage holding one of its {len(case.golds)} golds" if case.golds else ""
    return "faq_paraphrase_first_citation", ok, quote + more


def measure(bot, articles: Sequence[ArticleCase], out_of_scope: Sequence[runner.Case],
            stopping: Sequence[runner.Case], product: ProductTexts | None = None) -> Measured:  # fmt: skip
    """Ask `bot` every case and score it with the runner, the FAQ and stopping metrics
    rescored as the module says."""
    began = time.perf_counter()
    product = product or runner.product_texts()
    faqs, outcomes = stopping_faqs(bot), {}
    asked = [(item.source, item.case, item) for item in articles if item.source in bot.sources]
    asked += [("out_of_scope", c, None) for c in out_of_scope]
    asked += [("stopping", c, None) for c in stopping]
    # The bot, keeping its Answers: `runner.ask` keeps only what the runner scores, and the
    # FAQ checks need the cited file and offsets too.
    answers = []
    recorder = SimpleNamespace(ask=lambda q, h=(): answers.append(bot.ask(q, h)) or answers[-1],
                               passage_for=bot.passage_for, sources=bot.sources)  # fmt: skip
    for group, case, item in asked:
        answers.clear()
        reply, latency = runner.ask(recorder, case)
        answer = answers[-1] if answers else None
        values, expected = runner.score(case, reply, (), None, product)
        expected["first_cited"] = first_cited(answer)
        rescored = None  # (metric, right, expectation) replacing the runner's
        if item is not None:
            chunk = faq_chunk(bot, item.source, item.faq_question)
            rescored = article_check(item, chunk, answer, reply, values)
        elif group == "stopping":
            problems = stopping_problems(reply, answer, product, faqs)
            rescored = "boundary_compliance", not problems, "; ".join(problems)
        if rescored is not None:
            values[rescored[0]], expected[rescored[0]] = (float(rescored[1]),), rescored[2]
        outcome = runner.Outcome(case, reply, latency, (), values, expected)
        outcomes.setdefault(group, []).append(outcome)
    return Measured(outcomes, time.perf_counter() - began)


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Row:
    label: str
    group: str  # where the two-article figure comes from
    metric: str
    cases: int
    seed_alone: float | None  # the seed's figure in the single-article corpus
    two_articles: float | None  # the figure in the two-article corpus
    new_article_alone: float | None = None  # with the second article alone, where it applies

    @property
    def diff(self) -> float | None:
        if self.seed_alone is None or self.two_articles is None:
            return None
        return self.two_articles - self.seed_alone

    @property
    def within(self) -> str:
        """Whether the two-article figure is within 5 points of the seed's, else which way."""
        if self.diff is None:
            return "n/a"
        if abs(self.diff) <= WITHIN + 1e-9:
            return "yes"
        better = (self.diff < 0) if self.metric in _LOWER_IS_BETTER else (self.diff > 0)
        return "no (better)" if better else "no (worse)"


_ROWS = (
    (SEED_SOURCE, "faq_routing_verbatim", "seed FAQs asked verbatim, own FAQ"),
    (SEED_SOURCE, "faq_paraphrase_first_citation", "seed paraphrases, first citation"),
    (SEED_SOURCE, "wrongly_abstained", "seed FAQs+paraphrases wrongly abstained"),
    (SECOND_SOURCE, "faq_routing_verbatim", "new FAQs asked verbatim, own FAQ"),
    (SECOND_SOURCE, "faq_paraphrase_first_citation", "new paraphrases, first citation"),
    (SECOND_SOURCE, "wrongly_abstained", "new FAQs+paraphrases wrongly abstained"),
    ("out_of_scope", "abstention_recall_oos", "out-of-scope abstention"),
    ("stopping", "boundary_compliance", "stopping questions: boundary reply, a stopping FAQ"),
)
_LOWER_IS_BETTER = {"wrongly_abstained"}
# The seed's single-article figure each row is compared with.
_REFERENCE = {SECOND_SOURCE: SEED_SOURCE}


def table_rows(single: Measured, two: Measured, second: Measured | None = None) -> list[Row]:
    rows = []
    for group, metric, label in _ROWS:
        applies = second is not None and group in (SECOND_SOURCE, "out_of_scope")
        alone = second.metrics(group).get(metric) if applies else None
        cases = sum(len(o.values.get(metric, ())) for o in two.outcomes.get(group, []))
        reference = single.metrics(_REFERENCE.get(group, group)).get(metric)
        rows.append(Row(label, group, metric, cases, reference, two.metrics(group).get(metric), alone))  # fmt: skip
    return rows


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def format_table(rows: Sequence[Row]) -> str:
    lines = [("", "cases", "seed alone", "two articles", "diff", "within 5 pts", "new alone")]
    for r in rows:
        diff = "—" if r.diff is None else f"{100 * r.diff:+.1f}"
        lines.append((r.label, str(r.cases), _pct(r.seed_alone), _pct(r.two_articles), diff,
                      r.within, _pct(r.new_article_alone)))  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    out.append(
        "\n'diff' and 'within 5 pts' compare the two-article figure with the seed's figure in "
        "the seed-only corpus, where the thresholds were calibrated; for the new article's rows "
        "too. 'new alone': the new article as the only article."
    )
    return "\n".join(out)


def failing(measured: Measured) -> list[dict[str, str]]:
    """Every case that scored 0 on a table metric: what it got and was expected to do."""
    out = []
    for group, metric, _ in _ROWS:
        bad_when = 1.0 if metric in _LOWER_IS_BETTER else 0.0
        out += [
            {"group": group, "metric": metric, "question": o.case.text, "mode": o.reply.mode,
             "first_cited": o.expected["first_cited"], "expected": o.expected.get(metric, "")}
            for o in measured.outcomes.get(group, [])
            if o.values.get(metric, (None,))[0] == bad_when
        ]  # fmt: skip
    return out


def format_failures(name: str, measured: Measured) -> str:
    found = failing(measured)
    lines = [f"\n{name}: {len(found)} failing cases"]
    for f in found:
        lines.append(f"- [{f['group']} {f['metric']}] {f['question']!r}")
        lines.append(f"    got mode {f['mode']}, first cited: {f['first_cited']}")
        lines.append(f"    expected {f['expected']}")
    return "\n".join(lines)


def verbatim_routing_ok(measured: dict[str, Measured]) -> bool:
    """Every FAQ of each article, asked verbatim, answered from its own FAQ (100%), in every
    corpus that holds the article."""
    checks = [
        run.metrics(source).get("faq_routing_verbatim")
        for run in measured.values()
        for source in (SEED_SOURCE, SECOND_SOURCE)
        if source in run.outcomes
    ]
    return bool(checks) and all(v == 1.0 for v in checks)


def as_json(measured: dict[str, Measured], rows: Sequence[Row], passed: bool) -> dict:
    return {
        "rows": [
            {**dataclasses.asdict(r), "diff": r.diff, "within_5_points": r.within} for r in rows
        ],
        "metrics": {
            name: {g: run.metrics(g) for g in run.outcomes} for name, run in measured.items()
        },
        "failures": {name: failing(run) for name, run in measured.items()},
        "left_out_of_scope": ANSWERED_BY_SECOND,
        "verbatim_routing_100": passed,
    }


# --------------------------------------------------------------------------- main


def calibrated(bot):
    """The bot with the abstention threshold that `python -m evals.calibrate_corpus` sets for
    its corpus."""
    from bot.chat import Bot
    from evals.calibrate_corpus import held_out_samples, threshold_for_rate

    rate = bot.settings.abstain_bank_rate
    threshold = threshold_for_rate(held_out_samples(bot), bot.thresholds, rate)
    settings = dataclasses.replace(bot.settings, abstain_threshold=threshold)
    return Bot(bot.retriever, bot.sources, settings, bot.risk_model)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m evals.two_articles",
        description="Measure FAQ routing, paraphrase citations and abstention on the seed "
        "corpus alone and with a second article; exit 1 unless every FAQ of both articles "
        "asked verbatim is answered from its own FAQ.",
    )
    add = parser.add_argument
    add("--index", type=Path, help="keep the indexes here (DIR/single, DIR/two and DIR/second, "
        "reused when rerun); default: a temporary folder")  # fmt: skip
    add("--no-bank", action="store_true", help="leave out the second article's question bank")
    add("--json", action="store_true", help="print the figures as JSON")
    add("--calibrate", action="store_true", help="calibrate the abstention threshold of (b) and "
        "(c) for their corpus first (python -m evals.calibrate_corpus); (a) keeps the seed's")  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    began = time.perf_counter()
    args = parse_args(argv)
    from evals.__main__ import limit_threads
    from ingest.embedding import Embedder

    limit_threads()

    say = functools.partial(print, file=sys.stderr)
    articles = [*seed_cases(), *second_cases()]
    out_of_scope, stopping = out_of_scope_cases(), stopping_cases()
    product = runner.product_texts()
    embedder = Embedder()
    measured: dict[str, Measured] = {}
    with tempfile.TemporaryDirectory(prefix="medfaq-two-") as tmp:
        tmp = Path(tmp)
        index_root = args.index or tmp / "index"
        for name in CORPUS_NAMES:
            corpus = make_corpus(tmp / f"corpus-{name}", name, bank=not args.no_bank)
            bot = build_bot(corpus, index_root / name, embedder, say)
            if args.calibrate and name != "single":
                bot = calibrated(bot)
                say(f"{CORPUS_NAMES[name]}: abstain_threshold {bot.settings.abstain_threshold}")
            asked = stopping if name != "second" else ()  # the row compares (a) with (b)
            measured[name] = measure(bot, articles, out_of_scope, asked, product)
            say(f"{CORPUS_NAMES[name]}: {measured[name].seconds:.1f} s of questions")
    rows = table_rows(measured["single"], measured["two"], measured["second"])
    passed = verbatim_routing_ok(measured)
    if args.json:
        print(json.dumps(as_json(measured, rows, passed), indent=2, ensure_ascii=False))
    else:
        print(format_table(rows))
        left_out = "; ".join(f"{q!r} ({why})" for q, why in ANSWERED_BY_SECOND.items())
        print(f"Left out of the out-of-scope set (the new article answers them, fully or in part): {left_out}")  # fmt: skip
        for name, run in measured.items():
            print(format_failures(CORPUS_NAMES[name], run))
        verdict = (
            "every FAQ asked verbatim is" if passed else "FAILED: an FAQ asked verbatim is not"
        )
        print(f"\n{verdict} answered from its own FAQ")  # fmt: skip
    say(f"total {time.perf_counter() - began:.1f} s including model load and index builds")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
