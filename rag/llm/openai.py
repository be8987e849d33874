"""The remote backend: any server that speaks OpenAI's chat completions API.

    RAG_LLM=openai RAG_OPENAI_BASE_URL=http://gpu-box:8000/v1 \\
        RAG_OPENAI_MODEL=Qwen/Qwen2.5-7B-Instruct rag ask "…"

vLLM, llama.cpp's `llama-server`, Ollama (`/v1`) and TGI all serve it. Requests are greedy
(temperature 0) and streamed as server-sent events. Connection errors, 429 and 5xx are retried
with exponential backoff before the first token arrives; other 4xx are not (retrying cannot fix
a wrong key or model name). Every failure becomes a one-line `ModelError` that says what to check.

httpx rather than the `openai` package: httpx is already installed (chromadb and gradio depend on
it), the protocol we need is one POST and a line-oriented stream, and owning the error mapping
lets each message name the URL and the setting to fix.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from rag.core.errors import ModelError
from rag.core.settings import Settings
from rag.llm.base import LLM, Message

RETRY_STATUS = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 30.0


class _Retry(Exception):
    """A failure worth another try (connection error, 429, 5xx); carries the final message."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


@dataclass(frozen=True)
class Role:
    """What a server is for, as its error messages name it and the settings that fix it."""

    what: str = "model server"
    url_setting: str = "RAG_OPENAI_BASE_URL"
    model_setting: str = "RAG_OPENAI_MODEL"


class Endpoint:
    """One OpenAI-compatible server: its URL, key, timeout, retries and one-line error messages.

    Shared by the chat backend below and the embeddings client (`rag.index.embed`), so both
    retry and report failures the same way.
    """

    def __init__(
        self,
        settings: Settings,
        base_url: str,
        role: Role = Role(),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.base_url = base_url.rstrip("/")
        self.role = role
        self.model: str | None = None  # named in the 404 message
        key = (
            settings.server.openai_api_key.get_secret_value()
            if settings.server.openai_api_key
            else None
        )
        self._client = httpx.Client(
            headers={"Authorization": f"Bearer {key}"} if key else {},
            timeout=httpx.Timeout(
                settings.server.openai_timeout, connect=min(settings.server.openai_timeout, 10.0)
            ),
            transport=transport,
        )

    def first_model(self) -> str:
        """The first model the server lists at /models."""
        response = self.request("GET", "/models")
        try:
            return str(response.json()["data"][0]["id"])
        except (ValueError, KeyError, IndexError, TypeError):
            raise ModelError(
                f"{self.base_url}/models lists no model — set {self.role.model_setting} to the "
                "model to use"
            ) from None

    def request(
        self, method: str, path: str, body: dict | None = None, stream: bool = False
    ) -> httpx.Response:
        """One request, retried with backoff on connection errors, 429 and 5xx."""
        s = self.settings
        for attempt in range(s.server.openai_retries + 1):
            try:
                return self._send(method, path, body, stream)
            except _Retry as exc:
                if attempt == s.server.openai_retries:
                    raise ModelError(f"{exc} (after {attempt + 1} tries)") from None
                delay = s.server.openai_backoff * 2**attempt
                time.sleep(min(max(delay, exc.wait or 0.0), MAX_RETRY_AFTER_S))
        raise AssertionError("unreachable")

    def _send(
        self, method: str, path: str, body: dict | None = None, stream: bool = False
    ) -> httpx.Response:
        """One request; raises _Retry for what may pass on its own, ModelError for the rest."""
        url = self.base_url + path
        try:
            request = self._client.build_request(method, url, json=body)
            response = self._client.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                raise _Retry(self.unreachable(exc)) from None
            raise ModelError(self.timeout_message()) from None
        except httpx.TransportError as exc:
            raise _Retry(self.unreachable(exc)) from None
        if response.status_code < 400:
            return response
        response.read()
        response.close()
        detail = _error_detail(response)
        if response.status_code in RETRY_STATUS:
            raise _Retry(f"{url} answered {response.status_code}: {detail}", _retry_after(response))
        raise ModelError(self._client_error(response.status_code, url, detail))

    def unreachable(self, exc: Exception) -> str:
        return (
            f"cannot reach the {self.role.what} at {self.base_url} ({type(exc).__name__}) — check "
            f"that it is running and that {self.role.url_setting} is right"
        )

    def timeout_message(self) -> str:
        return (
            f"the {self.role.what} at {self.base_url} sent nothing for "
            f"{self.settings.server.openai_timeout:g} s — it may be overloaded; "
            "raise RAG_OPENAI_TIMEOUT or check the server"
        )

    def _client_error(self, status: int, url: str, detail: str) -> str:
        r = self.role
        if status in (401, 403):
            return (
                f"the {r.what} at {self.base_url} refused the API key ({status}: {detail}) — "
                "set RAG_OPENAI_API_KEY (or OPENAI_API_KEY) to a valid key"
            )
        if status == 404 and "model" in detail.lower():
            return (
                f"model {self.model!r} not found on {self.base_url} ({detail}) — set "
                f"{r.model_setting} to a model the server lists at /models"
            )
        if status == 404:
            return f"{url} does not exist (404) — {r.url_setting} must end with /v1"
        return f"the {r.what} at {self.base_url} refused the request ({status}: {detail})"


class OpenAILLM(LLM):
    """Greedy streaming generation on an OpenAI-compatible server.

    Example: `"".join(OpenAILLM(Settings(llm="openai")).stream(messages, 20))` with
    `messages = [{"role": "user", "content": "Bonjour"}]`.
    """

    name = "openai"

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.endpoint = Endpoint(settings, settings.server.openai_base_url, transport=transport)
        self.base_url = self.endpoint.base_url
        self.model: str | None = settings.server.openai_model
        self._lock = threading.Lock()

    def load(self) -> None:
        """Check that the server answers and that the key is accepted; pick its model if unset."""
        with self._lock:
            if self.model is None:
                self.model = self.endpoint.first_model()
            self.endpoint.model = self.model

    def stream(self, messages: list[Message], max_new_tokens: int) -> Iterator[str]:
        """Yield the reply piece by piece (greedy). Retries happen only before the first piece."""
        self.load()
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_new_tokens,
            "temperature": 0.0,
            "top_p": 1.0,
            "stream": True,
        }
        response = self.endpoint.request("POST", "/chat/completions", body, stream=True)
        try:
            yield from _pieces(response, self.base_url)
        except httpx.TimeoutException:
            raise ModelError(self.endpoint.timeout_message()) from None
        except httpx.TransportError as exc:
            raise ModelError(
                f"the connection to {self.base_url} broke mid-answer ({type(exc).__name__}) — "
                "ask again"
            ) from None
        finally:
            response.close()


def _pieces(response: httpx.Response, base_url: str) -> Iterator[str]:
    """Text pieces of an SSE stream of chat completion chunks, until `data: [DONE]`."""
    for data in _events(response.iter_lines()):
        if data.strip() == "[DONE]":
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            raise ModelError(
                f"{base_url} sent a stream that is not OpenAI's format: {data[:100]!r}"
            ) from None
        if isinstance(chunk, dict) and chunk.get("error"):
            raise ModelError(f"the model server at {base_url} failed mid-answer: {_message(chunk)}")
        for choice in chunk.get("choices") or [] if isinstance(chunk, dict) else []:
            text = (choice.get("delta") or {}).get("content")
            if text:
                yield text


def _events(lines: Iterator[str]) -> Iterator[str]:
    """The data of each server-sent event (multi-line data joined by newlines; comments skipped).

    ["data: a", "", ": ping", "data: b", "data: c", ""] -> "a", "b\\nc"
    """
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield "\n".join(data)


def _error_detail(response: httpx.Response) -> str:
    try:
        return _message(response.json())
    except ValueError:
        return " ".join(response.text.split())[:200] or response.reason_phrase


def _message(payload: Any) -> str:
    """The error message of OpenAI ({"error": {"message"}}), vLLM ({"message"}) or Ollama
    ({"error"})."""
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict):
            error = error.get("message", error)
        return " ".join(str(error).split())[:200]
    return " ".join(str(payload).split())[:200]


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
