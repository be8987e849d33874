"""Generation backends: one protocol, a scripted fake, and the factory that picks one by name.

A backend turns chat messages into a stream of text pieces (greedy decoding). Heavy libraries are
imported lazily inside the backend modules, so choosing `fake` never imports torch.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Protocol

from rag.errors import BackendError
from rag.settings import Settings

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": str}


class LLM(Protocol):
    name: str

    def stream(self, messages: list[Message], max_new_tokens: int) -> Iterator[str]:
        """Yield the reply to `messages` piece by piece (greedy)."""
        ...


class FakeLLM:
    """A model-free backend for tests and demos.

    By default it answers extractively: it copies the first sentence of passage [1] of the prompt
    and cites it, so the citation checker has real work to do. A `script` callable can replace
    that behaviour (it gets the messages and returns the full reply). Verification requests
    ("does the passage state this answer?") are judged by word overlap, not by the script.
    """

    name = "fake"

    def __init__(self, script: Callable[[list[Message]], str] | None = None) -> None:
        self.script = script
        self.calls: list[list[Message]] = []

    def stream(self, messages: list[Message], max_new_tokens: int = 160) -> Iterator[str]:
        self.calls.append(messages)
        if VERIFY_MARK in messages[-1]["content"]:
            reply = _verdict(messages[-1]["content"])
        else:
            reply = self.script(messages) if self.script else _extractive_reply(messages)
        for piece in re.findall(r"\S+\s*", reply):
            yield piece


VERIFY_MARK = "Reply with one word: YES or NO"


def _verdict(prompt: str) -> str:
    """YES when most of the proposed answer's words are in the passage."""
    from rag.citations import support

    passage = prompt.split("Passage:", 1)[-1].split("Question:", 1)[0]
    answer = prompt.split("Proposed answer:", 1)[-1].split("\n", 1)[0]
    return "YES" if support(answer, [passage]) >= 0.5 else "NO"


def _extractive_reply(messages: list[Message]) -> str:
    prompt = messages[-1]["content"]
    if "Question autonome" in prompt or "Standalone question" in prompt:
        # A rewrite request: echo the last question line unchanged.
        lines = [ln for ln in prompt.splitlines() if ln.strip()]
        return lines[-2].split(":", 1)[-1].strip() if len(lines) >= 2 else lines[-1]
    m = re.search(r"^\[1\][^\n]*\n(.+?)(?:\n\n|\n\[2\]|\Z)", prompt, flags=re.S | re.M)
    if not m:
        return "NO_ANSWER"
    first = re.split(r"(?<=[.!?])\s", m.group(1).strip(), maxsplit=1)[0]
    return f"{first} [1]"


JOIN_SHARE = 0.12  # of a first start's preparation, the joining and hashing of the parts
BACKENDS = ("auto", "transformers", "llamacpp", "fake", "openai")


def build_llm(settings: Settings) -> LLM:
    """The one factory: a backend by name, importing its heavy library only when chosen."""
    if settings.llm == "fake":
        return FakeLLM()
    if settings.llm == "auto":
        return AutoLLM(settings)
    if settings.llm == "transformers":
        from rag.hf import TransformersLLM

        return TransformersLLM(settings)
    if settings.llm == "llamacpp":
        try:
            from rag.llamacpp import LlamaCppLLM
        except ImportError as exc:  # pragma: no cover - depends on the optional wheel
            raise BackendError(
                "the llamacpp backend needs xllamacpp: run 'pip install xllamacpp'"
            ) from exc
        return LlamaCppLLM(settings)
    if settings.llm == "openai":
        from rag.remote import OpenAILLM

        return OpenAILLM(settings)
    raise BackendError(
        f"unknown llm backend {settings.llm!r}: use {', '.join(BACKENDS)}"
    )


class AutoLLM:
    """RAG_LLM=auto: the engine this machine runs fastest, chosen at first load by
    rag.kernels.choose_backend (measured once per machine, then read from the model cache).

    Until `load()` (or the first stream) nothing is measured or loaded; after it, `chosen` is
    the real backend and `choice` the measurements behind it, and every other attribute is the
    chosen backend's."""

    name = "auto"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.chosen: LLM | None = None
        self.choice = None  # rag.kernels.KernelChoice
        self.progress = None  # passed on to the transformers backend (see TransformersLLM)
        self._lock = threading.Lock()

    def _backend(self) -> LLM:
        with self._lock:
            if self.chosen is None:
                from rag import kernels
                from rag.prepare import LazyTerminalProgress
                from rag.weights import bundled_gguf

                # one progress bar for the whole first start: joining the parts here, the
                # preparation (transformers) next
                report = self.progress or LazyTerminalProgress()
                bundled_gguf(self.settings, progress=lambda f, what: report(JOIN_SHARE * f, what))
                self.choice = kernels.choose_backend(self.settings)
                name = self.choice.backend.get("chosen", "transformers")
                backend = build_llm(self.settings.model_copy(update={"llm": name}))
                if name == "transformers":
                    backend.progress = report
                elif hasattr(report, "close"):
                    report.close()
                self.chosen = backend
            return self.chosen

    def load(self) -> None:
        self._backend().load()

    def prime(self, conversations: list[list[Message]]) -> None:
        self._backend().prime(conversations)

    def stream(self, messages: list[Message], max_new_tokens: int) -> Iterator[str]:
        return self._backend().stream(messages, max_new_tokens)

    def __getattr__(self, name: str):
        chosen = self.__dict__.get("chosen")
        if chosen is None:
            raise AttributeError(name)
        return getattr(chosen, name)
