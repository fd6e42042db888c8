"""The same index, generations and alias, on a Chroma server (`chroma run`) on loopback."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.chunking import SCHEMA_VERSION
from ingest.indexing import ChromaIndex, ingest_corpus
from tests.conftest import FakeEmbedder


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        chroma = Path(shutil.which("chroma") or "chroma")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tmp_path_factory.mktemp("chroma-server")
    command = [
        str(chroma),
        "run",
        "--path",
        str(folder),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("chroma run did not start listening within 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_ingest_against_a_server_is_incremental_and_switches_generations(
    chroma_url, make_settings, small_corpus
):
    settings = make_settings(small_corpus, chroma_url=chroma_url, collection="server-test")
    index = ChromaIndex.from_settings(settings)
    first, _ = ingest_corpus(settings, index, FakeEmbedder())
    generation = index.pointers()["active"]
    again, _ = ingest_corpus(settings, index, FakeEmbedder(forbid=True))
    assert (first.added, again.unchanged, again.added) == (6, 6, 0)
    assert index.pointers()["active"] == generation

    (small_corpus / "exercise.txt").unlink()
    changed, _ = ingest_corpus(settings, index, FakeEmbedder())
    assert changed.deleted == 2
    assert index.pointers() == {
        "active": index.pointers()["active"],
        "previous": generation,
        "schema_version": SCHEMA_VERSION,
    }
    sources = {m["source"] for m in index.active("fake-embedder").get(["metadatas"])["metadatas"]}
    assert sources == {"sleep.md"}
