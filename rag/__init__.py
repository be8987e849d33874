"""Offline question answering over news articles, with cited answers.

`from rag import RAG` — the heavy libraries (and pydantic) load only when first needed.
"""

from rag.core.errors import BackendError, IndexStateError, InputError, ModelError, RagError
from rag.core.types import Answer, Citation, IngestReport, Passage, Scope, Timings

__all__ = [
    "RAG",
    "Answer",
    "BackendError",
    "Citation",
    "IndexStateError",
    "IngestReport",
    "InputError",
    "ModelError",
    "Passage",
    "RagError",
    "Scope",
    "Settings",
    "Timings",
]


def __getattr__(name: str) -> type:
    if name == "RAG":
        from rag.pipeline import RAG

        return RAG
    if name == "Settings":  # pydantic-settings: loaded when first asked for
        from rag.core.settings import Settings

        return Settings
    raise AttributeError(name)
