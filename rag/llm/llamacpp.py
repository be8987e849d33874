"""The llama.cpp backend: the bundled GGUF run in-process by the `xllamacpp` wheel.

    RAG_LLM=llamacpp rag ask "…"      (RAG_LLM=auto picks it where PyTorch's kernels are slow)

On CPUs with AVX-512 VNNI/BF16 PyTorch's int8 prompt kernels are much faster than llama.cpp's;
on AVX2-only CPUs llama.cpp is the faster engine (measured:
docs/results/2026-12-02-every-cpu.md). `RAG_LLM=auto` compares the two on each machine
(rag.llm.auto: PyTorch's kernels timed by rag.llm.transformers.kernels, llama.cpp in a child
process). xllamacpp embeds llama.cpp's server: we call
its OpenAI-compatible chat handler directly (no socket), with greedy sampling, and relay the
streamed chunks from a worker thread.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.core.errors import ModelError
from rag.core.settings import Settings
from rag.llm.base import LLM, Message, every_option, picked_option
from rag.llm.weights import bundled_gguf

_DONE = object()


class LlamaCppLLM(LLM):
    """Greedy streaming generation through llama.cpp; one request at a time.

    Example: `"".join(LlamaCppLLM(Settings()).stream([{"role": "user", "content": "Bonjour"}], 20))`
    """

    name = "llamacpp"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model_path: Path | None = None
        self.load_seconds: float | None = None
        self._server: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            self._ensure_loaded()

    def _ensure_loaded(self) -> None:
        if self._server is not None:
            return
        start = time.perf_counter()
        try:
            import xllamacpp as xlc
        except ImportError as exc:
            raise ModelError(
                "the llamacpp backend needs xllamacpp: run 'pip install -e .'"
            ) from exc
        path = bundled_gguf(
            self.settings
        )  # RAG_MODEL_FILE too: checked when it claims to be the bundled file
        if not path.is_file():
            raise ModelError(f"model file {path} not found — set RAG_MODEL_FILE to a GGUF file")
        params = xlc.CommonParams()
        params.model.path = str(path)
        params.n_ctx = 4096
        params.n_parallel = 1
        params.warmup = False
        params.verbosity = -1  # llama.cpp logs only errors
        params.cpuparams.n_threads = self.settings.generation.threads
        params.cpuparams_batch.n_threads = self.settings.generation.threads
        params.sampling.temp = 0.0
        params.sampling.top_k = 1
        try:
            self._server = xlc.Server(params)
        except Exception as exc:
            raise ModelError(
                f"llama.cpp could not load {path}: {exc} (is it a GGUF file?)"
            ) from exc
        self.model_path = path
        self.load_seconds = time.perf_counter() - start

    def prime(self, conversations: list[list[Message]]) -> None:
        """Nothing to compute ahead here (llama.cpp reuses a prompt's prefix by itself)."""

    def timed(self, messages: list[Message], max_new_tokens: int) -> dict[str, float]:
        """Answer once (not streamed) and return llama.cpp's own timings of it: prompt_n,
        prompt_per_second, predicted_n, predicted_per_second (compared across engines by
        rag.llm.transformers.kernels)."""
        request = {
            "messages": messages,
            "max_tokens": max_new_tokens,
            "temperature": 0.0,
            "top_k": 1,
            "seed": 0,
        }
        with self._lock:
            self._ensure_loaded()
            result = self._server.handle_chat_completions(request)
        timings = result.get("timings") if isinstance(result, dict) else None
        if (
            not timings
            or not timings.get("prompt_per_second")
            or not timings.get("predicted_per_second")
        ):
            raise ModelError(f"llama.cpp returned no timings: {str(result)[:200]}")
        return timings

    def choose(
        self, messages: list[Message], options: list[str], abstain: str | None = None
    ) -> dict[str, float]:
        """Greedy decoding constrained to the options by a llama.cpp grammar (GBNF: one
        alternative per option): at each step the most likely token some option still allows,
        as in the transformers walk. llama.cpp gives no path probabilities here, so the option
        reached gets 1, or every option 0 if the reply is none (`abstain` is one more option)."""
        every = every_option(options, abstain)
        grammar = "root ::= " + " | ".join(_gbnf_literal(o) for o in every)
        longest = max(len(o.encode()) for o in every)  # a token is never shorter than one byte
        request = {
            "messages": messages,
            "max_tokens": min(longest + 4, 512),
            "temperature": 0.0,
            "top_k": 1,
            "seed": 0,
            "grammar": grammar,
        }
        with self._lock:
            self._ensure_loaded()
            try:
                result = self._server.handle_chat_completions(request)
                reply = result["choices"][0]["message"]["content"]
            except Exception as exc:
                raise ModelError(f"llama.cpp choosing failed: {str(exc)[:200]}") from exc
        picked = picked_option(reply, every)
        return {o: float(o == picked) for o in every}

    def stream(self, messages: list[Message], max_new_tokens: int) -> Iterator[str]:
        """Yield the reply piece by piece (greedy)."""
        with self._lock:
            self._ensure_loaded()
            yield from self._generate(messages, max_new_tokens)

    def _generate(self, messages: list[Message], max_new_tokens: int) -> Iterator[str]:
        request = {
            "messages": messages,
            "max_tokens": max_new_tokens,
            "stream": True,
            "temperature": 0.0,
            "top_k": 1,
            "seed": 0,
        }
        pieces: queue.Queue = queue.Queue()
        errors: list[str] = []
        cancel = threading.Event()  # set when the reader leaves: llama.cpp stops at its next chunk

        def on_chunk(chunk: Any) -> bool:
            data = json.loads(chunk) if isinstance(chunk, str | bytes) else chunk
            for item in data if isinstance(data, list) else [data]:
                if isinstance(item, dict) and "error" in item:
                    errors.append(str(item["error"])[:300])
                for choice in item.get("choices", []) if isinstance(item, dict) else []:
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        pieces.put(text)
            return cancel.is_set()  # True stops the generation (its slot is freed)

        def work() -> None:
            try:
                result = self._server.handle_chat_completions(request, on_chunk)
                if isinstance(result, dict) and "error" in result:
                    errors.append(str(result["error"])[:300])
            except Exception as exc:  # noqa: BLE001 - relayed below
                errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                pieces.put(_DONE)

        worker = threading.Thread(target=work, name="rag-llamacpp", daemon=True)
        worker.start()
        try:
            while (piece := pieces.get()) is not _DONE:
                yield piece
        finally:  # also when the caller closes us early: stop, and free the engine for the next
            cancel.set()
            worker.join()
        if errors:
            raise ModelError(f"llama.cpp generation failed: {errors[0]}")


def _gbnf_literal(text: str) -> str:
    """A GBNF string literal: '"a \\"b\\""' for 'a "b"' (backslash, quote and line ends escaped)."""
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'
