"""One frozen settings object: defaults, overridable by MEDFAQ_* environment variables."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "MEDFAQ_"
BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# The fewest message vectors a process may remember: the texts of the messages being answered
# at once (a message has a few: the whole, its parts, its questions in two wordings).
MIN_VECTOR_CACHE = 256


class SettingsError(ValueError):
    """A setting, or a file a setting names, that cannot be used: said in one line."""


@dataclass(frozen=True)
class Settings:
    """Every knob of the pipeline. `MEDFAQ_<FIELD>` overrides a field, e.g. MEDFAQ_TOP_K=6."""

    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_path: Path = PROJECT_ROOT / ".index"
    collection: str = "medfaq"
    # A Chroma server ("http://127.0.0.1:8000") instead of the local folder when set.
    chroma_url: str = ""
    # Where a query is searched: "index" asks Chroma for what each query needs, so start-up
    # and memory stay the same however large the corpus; "memory" reads the whole generation
    # once and searches it in the process (fastest, and the least work for a shared server).
    # Unset: memory with the local folder, and with a server for a generation of at most
    # `memory_passages` passages; index for a larger one.
    search: str = ""
    memory_passages: int = 2000
    # The bundled model by default; any sentence-transformers name or local path works.
    embedding_model: str = BUNDLED_MODEL
    # "onnx" runs the model with ONNX Runtime: the same vectors as "torch", in about half the
    # time (evals/bench_answers.py). The model is exported once into `model_cache` (default
    # ~/.cache/medfaq/onnx); if that cannot be done, the log says so and torch runs it.
    embedding_backend: str = "onnx"
    model_cache: str = ""
    max_chunk_chars: int = 700
    top_k: int = 4
    max_sentences: int = 3
    context_weight: float = 1.0  # share of the earlier question's embedding in a follow-up
    # Share of the sentences a question of a long post leans on ("is one of them better?").
    post_context_weight: float = 0.5
    # Calibrated on evals/cases/dev.yaml by `python -m evals.calibrate` (see evals/CALIBRATION.md).
    abstain_threshold: float = 0.5
    coverage_weight: float = 0.0
    faq_threshold: float = 0.6
    faq_margin: float = 0.1
    faq_bank_threshold: float = 0.64
    lexical_weight: float = 0.1
    bank_offset: float = 0.1
    type_bonus: float = 0.3
    affirm_threshold: float = 0.78
    # A question at least this much closer to a background question (questions people ask
    # that no article answers) than to anything the articles answer is not covered.
    background_margin: float = 0.0
    # Background questions this close to what the articles answer are set aside.
    background_mask: float = 0.7
    background_file: str = str(PROJECT_ROOT / "bot" / "data" / "background.yaml")  # "": none
    # The share of held-out bank questions the calibrated threshold abstains on, which
    # `python -m evals.calibrate_corpus` keeps for another corpus (evals/CALIBRATION.md).
    abstain_bank_rate: float = 0.0945
    # The risk classifier's tiers, by `python -m evals.calibrate_safety` (evals/SAFETY.md).
    risk_concern_threshold: float = 0.76
    risk_urgent_threshold: float = 0.7
    risk_keyword_threshold: float = 0.74
    risk_neighbour_threshold: float = 0.55
    risk_neighbour_margin: float = 0.15
    # An urgent phrase rule in a medication question, with p(risk) below this: the concern
    # reply (resources first, then the prescriber line), not the urgent one (evals/SAFETY.md).
    risk_rule_doubt: float = 0.2
    max_input_chars: int = 2000
    # Message vectors each process remembers, the latest first: an earlier turn is checked for
    # risk again at every later one, and a message's own texts are looked up again while it
    # is answered (at least MIN_VECTOR_CACHE). 4096 vectors take 6 MB.
    vector_cache: int = 4096
    feedback_dir: str = ""  # votes are stored only when this is set
    # How often a running app checks for a new index generation (seconds; 0: never).
    reload_seconds: float = 30.0
    # How long one request to a Chroma server may take before the server counts as down
    # (seconds): a server that hangs gets the same clear message as one that is stopped.
    chroma_timeout: float = 10.0
    # BLAS threads for the bot's vector products (0: the library's default, one per core).
    # They are small (a vector against a few thousand rows), so a second thread gains nothing
    # and its waiting spins a core: on two cores, an app under load answered about a third as
    # many questions a second (evals/bench_load.py), and one embedding took 2.7 times as long
    # (evals/bench_answers.py). The model's own threads are left as they are.
    blas_threads: int = 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        """Defaults, then MEDFAQ_* variables, then keyword overrides.

        >>> Settings.from_env({"MEDFAQ_TOP_K": "6"}).top_k
        6
        """
        environ = os.environ if environ is None else environ
        values = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            kind = type(f.default)
            try:
                values[f.name] = kind(raw)
            except ValueError as exc:
                raise SettingsError(f"{ENV_PREFIX}{f.name.upper()}={raw!r}: {exc}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name in ("corpus_dir", "index_path"):
            values[name] = Path(values.get(name, getattr(cls, name))).expanduser()
        if values.get("search", "") not in ("", "index", "memory"):
            raise SettingsError(f"{ENV_PREFIX}SEARCH={values['search']!r}: use index or memory")
        if values.get("vector_cache", MIN_VECTOR_CACHE) < MIN_VECTOR_CACHE:
            raise SettingsError(
                f"{ENV_PREFIX}VECTOR_CACHE={values['vector_cache']}: at least {MIN_VECTOR_CACHE}"
            )
        if values.get("embedding_backend", "onnx") not in ("onnx", "torch"):
            raise SettingsError(
                f"{ENV_PREFIX}EMBEDDING_BACKEND={values['embedding_backend']!r}: use onnx or torch"
            )
        return cls(**values)

    def searches_index(self, passages: int) -> bool:
        """Whether a generation of `passages` passages is searched in Chroma query by query
        (bot/index_search.py), not read into memory.

        >>> server = Settings(chroma_url="http://127.0.0.1:8000")
        >>> server.searches_index(100_000), server.searches_index(28)
        (True, False)
        >>> Settings().searches_index(100_000), Settings(search="index").searches_index(28)
        (False, True)
        """
        if self.search:
            return self.search == "index"
        return bool(self.chroma_url) and passages > self.memory_passages
