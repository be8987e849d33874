"""One typed settings object in validated sections, overridable by environment variables.

Build it once at the edge (CLI, app, test) and pass it down; nothing reads the environment later.
Each section is a frozen model (`settings.retrieval.top_k`); every field is also set by its flat
name: `RAG_TOP_K=3`, `Settings(top_k=3)`, `settings.updated(top_k=3)` (and `RAG_RETRIEVAL__TOP_K`).
docs/configuration.md is generated from this module (`python -m rag.core.configdoc`); the
measurements behind the defaults are in docs/results/.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from rag.core.choices import Backend
from rag.core.sections import (
    SECTIONS,
    AdvancedSettings,
    AnswerSettings,
    AppSettings,
    GenerationSettings,
    IndexSettings,
    RetrievalSettings,
    Section,
    ServerSettings,
)

ENV_PREFIX = "RAG_"
LLM_NAMES: tuple[str, ...] = tuple(b.value for b in Backend)  # rag.llm.registry maps each


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
