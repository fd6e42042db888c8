"""The examples in the pipeline's docstrings are true."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "bot.lexicon",
        "bot.understand",
        "bot.risk",
        "bot.replies",
        "bot.evidence",
        "bot.settings",
        "ingest.embedding",
    ],
)
def test_docstring_examples_hold(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
