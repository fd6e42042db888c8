"""HybridRetriever against LangChain's own standard retriever suite (langchain-tests)."""

from __future__ import annotations

import functools

from langchain_tests.integration_tests import RetrieversIntegrationTests

from bot.retrieval import HybridRetriever


@functools.cache
def _built(search: str = "memory"):
    """The real retriever over the real corpus, with its index in a temporary folder,
    searched in memory or in Chroma."""
    import tempfile

    from bot.chat import Bot
    from bot.settings import Settings

    folder = tempfile.mkdtemp(prefix="medfaq-standard-")
    settings = Settings.from_env({}, index_path=folder, search=search)
    return Bot.build(settings, say=lambda _: None).retriever


class TestHybridRetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"retriever": _built()}

    @property
    def retriever_query_example(self) -> str:
        return "does therapy help with ocd"


class TestHybridRetrieverStandardSearchingChroma(TestHybridRetrieverStandard):
    @property
    def retriever_constructor_params(self) -> dict:
        return {"retriever": _built("index")}
