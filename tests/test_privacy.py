"""Privacy: no chat text in logs, and the libraries' telemetry switched off."""

import logging
import os

from bot.settings import Settings
from ingest.store import ChromaIndex

SECRET = "my neighbour Zebulon takes sertraline and drinks"


def test_logs_carry_modes_and_timings_but_never_what_people_write(bot, caplog):
    with caplog.at_level(logging.DEBUG):
        bot.ask(f"Does {SECRET} work better with therapy?")
        bot.ask("I want to end it all, " + SECRET)
        bot.ask("What helps with OCD?", [SECRET])
    messages = [r.getMessage() for r in caplog.records]
    assert any("answered mode=crisis" in m and "risk=urgent" in m for m in messages)
    assert any("mode=passages" in m and " ms" in m for m in messages)
    assert not [m for m in messages if "Zebulon" in m or "neighbour" in m]


def test_chroma_telemetry_is_off(tmp_path):
    index = ChromaIndex.from_settings(Settings.from_env({}, index_path=tmp_path / "index"))
    assert index.client.get_settings().anonymized_telemetry is False


def test_gradio_and_hub_telemetry_are_off(bot):
    import app

    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert app.demo.analytics_enabled is False
    assert os.environ["HF_HUB_DISABLE_TELEMETRY"].lower() in ("1", "true")
