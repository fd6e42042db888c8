"""The embedding model run by ONNX Runtime: the same vectors as sentence-transformers (within
1e-5; about 2e-7 measured), in about half the time on a CPU.

The model is exported once from the installed sentence-transformers model with
`torch.onnx.export` and kept in a cache folder, under a name that changes whenever the
model's weights or modules, torch or the export itself change; a second process, or the next start,
loads the file (a fraction of a second) instead of exporting again (about two seconds).
Texts are tokenized by the sentence-transformers model itself, so both backends read
exactly the same tokens.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

log = logging.getLogger("medfaq.embedding")

# Bump when the exported graph changes (its inputs, outputs or opset).
EXPORT_VERSION = 1
OPSET = 17


def default_cache_dir() -> Path:
    """Where exported models are kept unless a setting says otherwise."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "medfaq" / "onnx"


def model_key(model) -> str:
    """A name for the export of `model` (a loaded SentenceTransformer): a digest of its
    modules (their settings, as printed) and of every weight, with torch's version and this
    export's. A model changed in any way, wherever it was loaded from, gets a new export."""
    import torch

    digest = hashlib.blake2b(digest_size=12)
    digest.update(f"v{EXPORT_VERSION} opset{OPSET} torch{torch.__version__}".encode())
    digest.update(repr(model).encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class OnnxEmbedder:
    """Sentence embeddings of a loaded SentenceTransformer, computed by ONNX Runtime."""

    def __init__(self, model, session, inputs: tuple[str, ...]):
        self.model = model  # for its tokenizer
        self.session = session
        self.inputs = inputs

    @classmethod
    def load(cls, model, cache_dir: Path, threads: int) -> OnnxEmbedder:
        """The exported model from `cache_dir`, exported there first if it is not yet."""
        import onnxruntime as ort

        path = Path(cache_dir) / f"{model_key(model)}.onnx"
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(threads, 1)
        options.inter_op_num_threads = 1
        # Idle threads sleep rather than spin: on two cores, a spinning thread takes the core
        # that the app's other requests (and a second app process) need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")

        def session():
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        if not path.exists():
            export(model, path)
            loaded = session()
        else:
            try:
                loaded = session()
            except Exception:  # a damaged file in the cache: export it again
                log.warning("the exported model %s cannot be read: exporting it again", path)
                export(model, path)
                loaded = session()
        return cls(model, loaded, tuple(i.name for i in loaded.get_inputs()))

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors of a few texts, in one batch."""
        features = self.model.preprocess(texts)
        feeds = {name: features[name].numpy() for name in self.inputs}
        return self.session.run(None, feeds)[0]


def export(model, path: Path) -> None:
    """Write `model` (a SentenceTransformer) to `path` as ONNX: token ids in, unit sentence
    vectors out, any batch size and length. Written beside and then renamed, so a process
    that reads the file never sees half of it."""
    import torch

    sample = model.preprocess(["an example sentence", "a second, longer example sentence"])
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in sample]

    class Sentences(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *tensors):
            features = dict(zip(names, tensors, strict=True))
            vectors = self.model.forward(features)["sentence_embedding"]
            return torch.nn.functional.normalize(vectors, dim=1)

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, suffix=".partial")
    os.close(handle)
    try:
        # Tracing warns about every shape-dependent branch of the model; the graph is checked
        # against torch's own vectors by the tests.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Sentences().eval(),
                tuple(sample[k] for k in names),
                partial,
                input_names=names,
                output_names=["sentence_embedding"],
                dynamic_axes={
                    **{k: {0: "batch", 1: "tokens"} for k in names},
                    "sentence_embedding": {0: "batch"},
                },
                opset_version=OPSET,
                dynamo=False,
            )
        os.chmod(partial, 0o644)  # mkstemp makes it private; a cache file need not be
        os.replace(partial, path)
    finally:
        Path(partial).unlink(missing_ok=True)
    log.info("exported the embedding model for ONNX Runtime to %s", path)
