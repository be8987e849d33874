"""Settings of the evaluation commands only (the product's are rag.core.settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EvaluationSettings(BaseSettings):
    """Datasets of the evaluation commands, read from `RAG_*` variables like the product's."""

    model_config = SettingsConfigDict(env_prefix="RAG_", frozen=True, extra="ignore")

    piaf_dir: Path = Field(
        Path("../shared/data/piaf"),
        description="Folder of the PIAF benchmark (corpus.jsonl, dev_questions.jsonl) for "
        "`rag eval piaf` and `gate`.",
    )
