"""The settings model and its generated docs/configuration.md stay in step."""

import re
from pathlib import Path
from typing import get_args

import pytest

from rag.core import configdoc
from rag.core import settings as settings_module
from rag.core.settings import LLM_NAMES, SECTIONS, Settings, section_of
from rag.llm.registry import BACKENDS

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "configuration.md"

# A measurement: a percentage, a duration ("1.2 s", "50ms"), a speed-up ("3x"), an approximation
# ("~28 KB") or a benchmark score ("hit@5 92.2").
MEASUREMENT = re.compile(
    r"\d\s*%|\d(?:[.,]\d+)?\s*(?:s|ms|µs|sec|seconds?|min|minutes?)\b|\d(?:\.\d+)?\s*[x×]\b|~\s*\d|hit@\d"
)


def test_configuration_doc_is_current():
    assert DOC.exists(), "docs/configuration.md is missing: run `python -m rag.core.configdoc`"
    assert DOC.read_text(encoding="utf-8") == configdoc.render(), (
        "docs/configuration.md is stale: run `python -m rag.core.configdoc`"
    )


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_field_has_a_one_line_description_without_measurements(name):
    description = Settings.model_fields[name].description
    assert description and description.strip(), f"{name}: no description"
    assert "\n" not in description, f"{name}: the description is more than one line"
    found = MEASUREMENT.search(description)
    assert not found, f"{name}: a measurement ({found.group()!r}); link to a note in docs/results/"


def test_linked_results_notes_exist():
    for name, field in Settings.model_fields.items():
        for note in re.findall(r"docs/results/[\w.-]+\.md", field.description or ""):
            assert (ROOT / note).is_file(), f"{name}: links to {note}, which does not exist"


def test_measurement_pattern():
    for text in ("92.2 %", "~3x faster", "1.2x sooner", "51.8 s first token", "in 40ms", "hit@5"):
        assert MEASUREMENT.search(text), text
    for text in ("0: refuse at once", "429 and 5xx", "int4/int8", "'février 2025'", "Qwen2.5-1.5B"):
        assert not MEASUREMENT.search(text), text


def test_settings_docstrings_hold_no_measurements():
    for doc in [settings_module.__doc__, *(s.__doc__ for s in SECTIONS.values())]:
        assert doc and not MEASUREMENT.search(doc), doc


def test_every_field_belongs_to_exactly_one_section():
    assert list(SECTIONS) == [
        "index",
        "retrieval",
        "answer",
        "generation",
        "server",
        "app",
        "evaluation",
    ]
    for name in Settings.model_fields:
        owners = [s for s, section in SECTIONS.items() if name in section.model_fields]
        assert len(owners) == 1, f"{name}: in sections {owners}"
        assert section_of(name) == owners[0]
    declared = {f for section in SECTIONS.values() for f in section.model_fields}
    assert declared == set(Settings.model_fields)


def test_llm_names_are_the_registry_backends():
    assert LLM_NAMES == get_args(Settings.model_fields["llm"].annotation)
    assert set(BACKENDS) == set(LLM_NAMES)


def test_settings_stay_flat_and_read_the_environment(monkeypatch):
    monkeypatch.setenv("RAG_TOP_K", "3")
    monkeypatch.setenv("RAG_LLM", "fake")
    monkeypatch.setenv("RAG_SOURCES", '["a", "b.jsonl"]')
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    s = Settings()
    assert (s.top_k, s.llm, s.sources) == (3, "fake", [Path("a"), Path("b.jsonl")])
    assert s.openai_api_key.get_secret_value() == "sk-test"
    assert "sk-test" not in repr(s) + str(s.model_dump())
    copy = s.model_copy(update={"top_k": 7})
    assert (copy.top_k, copy.llm) == (7, "fake")
    with pytest.raises(ValueError):
        s.top_k = 1  # frozen


def test_rendered_defaults_are_machine_independent():
    text = configdoc.render()
    assert str(configdoc.PACKAGE) not in text
    if Path.home() != Path("/"):
        assert str(Path.home()) not in text
    assert "`rag/answer/templates`" in text and "`~/.cache/rag-news`" in text
    for name in Settings.model_fields:
        assert any(
            f"`{env}`" in text for env in configdoc.env_names(name, Settings.model_fields[name])
        )


def test_main_writes_and_checks(tmp_path, capsys):
    target = tmp_path / "configuration.md"
    assert configdoc.main([str(target), "--check"]) == 1
    assert "python -m rag.core.configdoc" in capsys.readouterr().err
    assert configdoc.main([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == configdoc.render()
    assert configdoc.main([str(target), "--check"]) == 0
