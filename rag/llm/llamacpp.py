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
import math
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
        as in the transformers walk. The probabilities come from llama.cpp's top token
        log-probabilities at each step (`walk_shares`): renormalised over the tokens an option
        still allows, the option reached gets its path's probability, each option left behind
        a share of its branch. `abstain` is not in the grammar: its probability is measured at
        the first step, as in the transformers walk. No log-probabilities: the option reached
        gets 1 (every option 0 if the reply is none)."""
        every = every_option(options, abstain)
        walked = [o for o in every if o != abstain] or every
        grammar = "root ::= " + " | ".join(_gbnf_literal(o) for o in walked)
        longest = max(len(o.encode()) for o in walked)  # a token is never shorter than one byte
        request = {
            "messages": messages,
            "max_tokens": min(longest + 4, 512),
            "temperature": 0.0,
            "top_k": 1,
            "seed": 0,
            "grammar": grammar,
            "logprobs": True,
            "top_logprobs": TOP_LOGPROBS,
        }
        with self._lock:
            self._ensure_loaded()
            try:
                result = self._server.handle_chat_completions(request)
                choice = result["choices"][0]
                reply = choice["message"]["content"]
            except Exception as exc:
                raise ModelError(f"llama.cpp choosing failed: {str(exc)[:200]}") from exc
        steps = (choice.get("logprobs") or {}).get("content") or []
        picked = picked_option(reply, walked)
        if steps and picked is not None:
            return walk_shares(steps, walked, abstain)
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


TOP_LOGPROBS = 20  # the tokens whose log-probability llama.cpp reports at each step


def walk_shares(
    steps: list[dict[str, Any]], options: list[str], abstain: str | None = None
) -> dict[str, float]:
    """Each option's probability from a constrained greedy walk's steps, as llama.cpp (and the
    OpenAI format) reports them: each step's token (`bytes`, `logprob`) and its
    `top_logprobs`. At each step the probabilities of the top tokens some live option allows
    (its next bytes; an empty token ends an option the text so far completes) are renormalised;
    the walk's token carries the path on, each other allowed token's share goes, split evenly,
    to the options it would have led to. `abstain` is allowed at the first step only. Tokens
    outside the top ones are not seen: an option that branched off below them gets 0.

    walk_shares([{"bytes": [89], "logprob": -0.1,
                  "top_logprobs": [{"bytes": [89], "logprob": -0.1},
                                   {"bytes": [78], "logprob": -2.4}]},
                 {"bytes": [], "logprob": 0.0, "top_logprobs": []}], ["Y"], "N")
      -> {"Y": 0.909, "N": 0.091}
    """
    live = {o: o.encode() for o in options}
    shares = dict.fromkeys([*options, *([abstain] if abstain is not None else [])], 0.0)
    done, path = b"", 1.0
    for number, step in enumerate(steps):
        candidates = dict(live)
        if number == 0 and abstain is not None:
            candidates[abstain] = abstain.encode()
        own = bytes(step.get("bytes") or [])
        tokens = {_token_key(t): t for t in step.get("top_logprobs") or []}
        tokens.setdefault(_token_key(step), step)
        mass: dict[bytes, float] = {}  # by the bytes a token adds: tokens alike (ends) add up
        for t in tokens.values():
            if t.get("logprob") is not None:
                added = bytes(t.get("bytes") or [])
                mass[added] = mass.get(added, 0.0) + math.exp(t["logprob"])
        branches = {
            added: (p, _led_to(candidates, done, added))
            for added, p in mass.items()
            if _led_to(candidates, done, added)
        }
        total = sum(p for p, _ in branches.values())
        if own not in branches or not total:
            break
        for added, (p, reached) in branches.items():
            if added != own:
                for o in reached:
                    shares[o] += path * p / total / len(reached)
        path *= branches[own][0] / total
        done += own
        live = {o: b for o, b in live.items() if b.startswith(done)}
        if not own:
            break
    reached = [o for o, b in live.items() if b == done]
    for o in reached:
        shares[o] += path / len(reached)
    return shares


def _token_key(token: dict[str, Any]) -> Any:
    return token.get("id", bytes(token.get("bytes") or []))


def _led_to(candidates: dict[str, bytes], done: bytes, added: bytes) -> list[str]:
    """The options a token adding `added` after `done` keeps possible (an empty token ends the
    reply: the options `done` completes)."""
    if not added:
        return [o for o, b in candidates.items() if b == done]
    return [o for o, b in candidates.items() if b.startswith(done + added)]


def _gbnf_literal(text: str) -> str:
    """A GBNF string literal: '"a \\"b\\""' for 'a "b"' (backslash, quote and line ends escaped)."""
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'
