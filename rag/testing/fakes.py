"""Fakes for tests and demos. The fake generation backend is a backend like the others
(rag.llm.fake, `RAG_LLM=fake`); it is offered here too, where tests look for fakes."""

from rag.llm.fake import FakeLLM, Script

__all__ = ["FakeLLM", "Script"]
