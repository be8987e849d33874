"""The one list of backend names: each name maps to a function that imports its backend on use
and builds it, so that `import rag` stays light and the import contracts see every import."""

from __future__ import annotations

from collections.abc import Callable

from rag.core.errors import BackendError
from rag.core.settings import Settings
from rag.llm.base import LLM


def _auto(settings: Settings) -> LLM:
    from rag.llm.auto import AutoLLM

    return AutoLLM(settings, build_llm)


def _transformers(settings: Settings) -> LLM:
    from rag.llm.transformers.model import TransformersLLM

    return TransformersLLM(settings)


def _llamacpp(settings: Settings) -> LLM:
    from rag.llm.llamacpp import LlamaCppLLM

    return LlamaCppLLM(settings)


def _openai(settings: Settings) -> LLM:
    from rag.llm.openai import OpenAILLM

    return OpenAILLM(settings)


def _fake(settings: Settings) -> LLM:
    from rag.llm.fake import FakeLLM

    return FakeLLM()  # scripted by tests, not by settings


BACKENDS: dict[str, Callable[[Settings], LLM]] = {
    "auto": _auto,
    "transformers": _transformers,
    "llamacpp": _llamacpp,
    "openai": _openai,
    "fake": _fake,
}


def build_llm(settings: Settings) -> LLM:
    """The backend `settings.generation.llm` names (its library is imported only now)."""
    name = str(settings.generation.llm)
    build = BACKENDS.get(name)
    if build is None:
        raise BackendError(f"unknown llm backend {name!r}: use {', '.join(BACKENDS)}")
    return build(settings)
