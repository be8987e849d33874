"""The names settings accept for each choice, as string enums (stdlib only): the settings model
types its fields with them and the command line offers their values without importing pydantic.
"""

from enum import StrEnum


class Backend(StrEnum):
    """Generation backends (rag.llm.registry maps each to its class)."""

    AUTO = "auto"
    TRANSFORMERS = "transformers"
    LLAMACPP = "llamacpp"
    FAKE = "fake"
    OPENAI = "openai"


class Fusion(StrEnum):
    """How retrieval ranks passages."""

    RRF = "rrf"
    DENSE = "dense"
    BM25 = "bm25"
    LATENT = "latent"


class Context(StrEnum):
    """What the model sees of each passage."""

    CHUNK = "chunk"
    WINDOW = "window"


class PassageOrder(StrEnum):
    """The order of the passages in the prompt."""

    RANK = "rank"
    DOCUMENT = "document"


class Prefill(StrEnum):
    """How a quantised model processes the prompt."""

    INT8 = "int8"
    MIXED = "mixed"
    BF16 = "bf16"


LLM_BACKENDS: tuple[str, ...] = tuple(b.value for b in Backend)
FUSIONS: tuple[str, ...] = tuple(f.value for f in Fusion)
