"""The one list of backend names: each name maps to where its class lives, imported on use."""

from __future__ import annotations

import importlib

from rag.core.errors import BackendError
from rag.core.settings import Settings
from rag.llm.base import LLM

BACKENDS = {
    "auto": "rag.llm.auto:AutoLLM",
    "transformers": "rag.llm.transformers.model:TransformersLLM",
    "llamacpp": "rag.llm.llamacpp:LlamaCppLLM",
    "openai": "rag.llm.openai:OpenAILLM",
    "fake": "rag.testing.fakes:FakeLLM",
}


def build_llm(settings: Settings) -> LLM:
    """The backend `settings.generation.llm` names (its library is imported only now)."""
    target = BACKENDS.get(settings.generation.llm)
    if target is None:
        raise BackendError(
            f"unknown llm backend {settings.generation.llm!r}: use {', '.join(BACKENDS)}"
        )
    module, _, cls = target.partition(":")
    backend = getattr(importlib.import_module(module), cls)
    return backend() if settings.generation.llm == "fake" else backend(settings)
