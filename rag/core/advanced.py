"""The settings' base section, and the advanced section: tuning knobs kept for measurements."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rag.core.choices import Context, PassageOrder, Prefill


class Section(BaseModel):
    """A frozen group of settings that rejects unknown names."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


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
