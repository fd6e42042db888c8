"""Serving the bot while the index changes or fails: a new generation is picked up without a
restart, and an unreachable index gets a plain reply instead of an error.

A running app holds one BotService. Every `reload_seconds` a background thread reads the
index's alias (one small request) and, when it names another generation, loads that one with
the embedding model and risk model already in memory and swaps it in; requests already
running finish on the Bot they started with. A request whose Bot fails asks the index once:
unreachable -> the unavailable reply (crisis resources first for a message at risk); a new
generation (the old one was dropped) -> reload now and answer again on the new Bot.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from bot import replies, safety
from bot.chat import Bot
from bot.decorate import risk_answer
from bot.risk import Risk
from bot.settings import Settings
from bot.types import Answer, Article, Chunk, Citation

log = logging.getLogger("medfaq")  # never given chat text


@dataclass(frozen=True)
class Health:
    """What /healthz reports: whether the index answers, and what the app serves from it."""

    ok: bool
    generation: str | None  # the generation the serving Bot searches
    model: str
    articles: tuple[Article, ...]

    def as_dict(self) -> dict:
        return {
            "status": "ok" if self.ok else "unavailable",
            "generation": self.generation,
            "model": self.model,
            "articles": [asdict(a) for a in self.articles],
        }


def generation_of(bot: Bot) -> str | None:
    """The generation a Bot searches: the name of its passage collection."""
    return getattr(bot.retriever.collection, "name", None)


def unavailable_answer(
    question: str | None, risk: Risk | None, flagged: Risk | None, max_chars: int = 2000
) -> Answer:
    """The reply while the articles cannot be reached. A message at risk still gets its
    resources first (the risk check needs only the embedding model); every other reply ends
    with the crisis lines the app's footer carries (the abuse lines in a conversation flagged
    for abuse).

    >>> unavailable_answer("Is CBT useful?", None, None).text.startswith("Sorry, I can't reach")
    True
    """
    cleaned = safety.clean_input(question, max_chars)
    notices = (replies.truncated_notice(max_chars),) if cleaned.truncated else ()
    if risk is not None and risk.urgent:  # what to do now, nothing else, as always
        return dataclasses.replace(risk_answer(risk), notices=notices)
    if risk is not None:
        reply = replies.crisis_reply(risk.tier, risk.kind, risk.overdose)
        text = f"{reply}\n\n{replies.UNAVAILABLE_REPLY}"
        return Answer(text, "unavailable", crisis=True, risk=risk.tier, notices=notices)
    kind = "abuse" if flagged is not None and flagged.kind == "abuse" else "crisis"
    text = f"{replies.UNAVAILABLE_REPLY}\n\n{replies.resources_reminder(kind)}"
    tier = flagged.tier if flagged is not None else None
    return Answer(text, "unavailable", crisis=flagged is not None, risk=tier, notices=notices)


def load_bot(index, old: Bot) -> Bot:
    """A Bot over the index's active generation, reusing the embedding model `old` holds (the
    risk model is loaded once per process); the corpus files are read again for the quote
    check, since a new generation usually means they changed. No corpus sync: whoever built
    the generation did that."""
    return Bot.build(old.settings, embedder=old.retriever.embedder, index=index, sync=False)


class BotService:
    """The Bot an app serves, replaced whenever the index gets a new generation. It has the
    Bot's interface (`ask`, `passage_for`, `retriever`, `settings`), so handlers and tests
    use it as they would a Bot; thread-safe like one."""

    def __init__(
        self,
        bot: Bot,
        index,
        *,
        reload_seconds: float = 0.0,
        load: Callable[[Bot], Bot] | None = None,
    ):
        self._bot = bot
        self.index = index
        self.settings: Settings = bot.settings  # the app swaps it in tests (feedback folder)
        self.reload_seconds = reload_seconds
        self._load = load or (lambda old: load_bot(index, old))
        self._reload_lock = threading.Lock()  # one reload at a time (single flight)
        self._state_lock = threading.Lock()
        self._down: str | None = None  # why the index is unreachable, while it is
        self._failed: tuple[str, str] | None = None  # (generation, error) of a failed reload
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def start(
        cls,
        settings: Settings | None = None,
        *,
        embedder=None,
        watch: bool = True,
        say: Callable[[str], None] = log.info,
    ) -> BotService:
        """Open the index (failing at once with IndexUnreachable when a server does not
        answer), build the Bot (syncing the index with the corpus) and, with `watch`, check
        for new generations every settings.reload_seconds."""
        from ingest.store import ChromaIndex

        settings = settings or Settings.from_env()
        index = ChromaIndex.from_settings(settings)
        bot = Bot.build(settings, embedder=embedder, index=index, say=say)
        service = cls(bot, index, reload_seconds=settings.reload_seconds if watch else 0.0)
        service.watch()
        return service

    # ------------------------------------------------------------------------ the Bot's face

    @property
    def bot(self) -> Bot:
        return self._bot

    @property
    def retriever(self):
        return self._bot.retriever

    @property
    def generation(self) -> str | None:
        return generation_of(self._bot)

    def passage_for(self, citation: Citation) -> Chunk | None:
        return self._bot.passage_for(citation)

    def ask(self, question: str | None, history: Sequence[str] = ()) -> Answer:
        """The Bot's answer. When it fails: the unavailable reply if the index does not
        answer; else, after swapping in the active generation if it changed (the one the
        Bot searched may have been dropped), one more try, whose failure is raised."""
        error: Exception | None = None
        for _ in range(2):
            bot = self._bot
            try:
                return bot.ask(question, history)
            except Exception as exc:  # most likely the index; the probe below tells
                error = exc
            reachable, _ = self._probe()
            if not reachable:
                return self._unavailable(bot, question, history)
            self._reload(stale=bot)
        assert error is not None
        raise error

    def _unavailable(self, bot: Bot, question: str | None, history: Sequence[str]) -> Answer:
        try:
            risk = bot.assess(question or "")
            flagged = bot.flagged(history)
        except Exception:  # cannot tell: the reply carries the crisis lines anyway
            risk = flagged = None
        answer = unavailable_answer(question, risk, flagged, self.settings.max_input_chars)
        log.info("answered mode=%s risk=%s (index unreachable)", answer.mode, answer.risk)
        return answer

    def health(self) -> Health:
        bot = self._bot
        reachable, _ = self._probe()
        model = bot.retriever.embedder.model_name
        return Health(reachable, generation_of(bot), model, bot.retriever.articles)

    # ------------------------------------------------------------------------ reloading

    def watch(self) -> None:
        """Check for a new generation every reload_seconds in a daemon thread (0: never)."""
        if self.reload_seconds <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._watch, name="medfaq-reload", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _watch(self) -> None:
        while not self._stop.wait(self.reload_seconds):
            try:
                self.check()
            except Exception as exc:  # never let the watcher die: the next round tries again
                log.warning("index check failed: %s", type(exc).__name__)

    def check(self) -> bool:
        """Swap in a Bot for the active generation if it is not the one served; True when it
        did. A failed reload keeps the current Bot serving (and is logged once)."""
        with self._reload_lock:
            return self._check_locked()

    def _reload(self, stale: Bot) -> None:
        """After `stale` failed: reload unless another request already swapped it out."""
        with self._reload_lock:
            if self._bot is stale:
                self._check_locked()

    def _check_locked(self) -> bool:
        reachable, name = self._probe()
        current = self._bot
        if not reachable or not name or name == generation_of(current):
            return False
        try:
            fresh = self._load(current)
        except Exception as exc:
            failure = (name, type(exc).__name__)
            if failure != self._failed:
                log.warning(
                    "could not load index generation %s (%s): still serving %s",
                    name,
                    exc,
                    generation_of(current),
                )
                self._failed = failure
            return False
        self._bot, self._failed = fresh, None
        log.info(
            "now serving index generation %s (was %s)", generation_of(fresh), generation_of(current)
        )
        return True

    def _probe(self) -> tuple[bool, str | None]:
        """(reachable, active generation name), noting the index going down and coming back
        with one log line each."""
        try:
            name = self.index.active_name()
        except Exception as exc:
            with self._state_lock:
                first, self._down = self._down is None, type(exc).__name__
            if first:
                log.warning(
                    "index unreachable at %s (%s): replying that the articles can't be "
                    "reached until it is back",
                    getattr(self.index, "where", "the index"),
                    type(exc).__name__,
                )
            return False, None
        with self._state_lock:
            was, self._down = self._down, None
        if was is not None:
            log.info("index reachable again at %s", getattr(self.index, "where", "the index"))
        return True, name
