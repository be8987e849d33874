"""The settings model and its generated docs/configuration.md stay in step."""

import re
from pathlib import Path

import pytest

from rag.core import configdoc
from rag.core import settings as settings_module
from rag.core.settings import FIELDS, LLM_NAMES, SECTIONS, Settings, section_of
from rag.evaluation.settings import EvaluationSettings
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


def field(name):
    return SECTIONS[section_of(name)].model_fields[name]


@pytest.mark.parametrize("name", list(FIELDS))
def test_every_field_has_a_one_line_description_without_measurements(name):
    description = field(name).description
    assert description and description.strip(), f"{name}: no description"
    assert "\n" not in description, f"{name}: the description is more than one line"
    found = MEASUREMENT.search(description)
    assert not found, f"{name}: a measurement ({found.group()!r}); link to a note in docs/results/"


def test_linked_results_notes_exist():
    for name in FIELDS:
        for note in re.findall(r"docs/results/[\w.-]+\.md", field(name).description or ""):
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
        "advanced",
    ]
    assert list(Settings.model_fields) == list(SECTIONS)
    for name in FIELDS:
        owners = [s for s, section in SECTIONS.items() if name in section.model_fields]
        assert owners == [section_of(name)], f"{name}: in sections {owners}"


def test_llm_names_are_the_registry_backends():
    assert tuple(m.value for m in field("llm").annotation) == LLM_NAMES
    assert set(BACKENDS) == set(LLM_NAMES)


# Every variable the flat settings read before they had sections, a valid non-default value for
# it, and where that value is read now.
OLD_NAMES = [
    ("RAG_SOURCES", '["a", "b.jsonl"]', "index", "sources", [Path("a"), Path("b.jsonl")]),
    ("RAG_INDEX_DIR", "idx", "index", "index_dir", Path("idx")),
    ("RAG_COLLECTION", "news", "index", "collection", "news"),
    ("RAG_INGEST_WAIT", "2.5", "index", "ingest_wait", 2.5),
    ("RAG_CHUNK_SIZE", "200", "index", "chunk_size", 200),
    ("RAG_CHUNK_OVERLAP", "10", "index", "chunk_overlap", 10),
    ("RAG_WINDOW_SIZE", "60", "index", "window_size", 60),
    ("RAG_WINDOW_OVERLAP", "5", "index", "window_overlap", 5),
    ("RAG_MAX_FILE_BYTES", "1000", "index", "max_file_bytes", 1000),
    ("RAG_EMBEDDER", "fake", "index", "embedder", "fake"),
    ("RAG_EMBED_BATCH_SIZE", "8", "index", "embed_batch_size", 8),
    ("RAG_TOP_K", "3", "retrieval", "top_k", 3),
    ("RAG_CONTEXT", "window", "advanced", "context", "window"),
    ("RAG_PASSAGE_ORDER", "document", "advanced", "passage_order", "document"),
    ("RAG_CONTEXT_TOKENS", "50", "advanced", "context_tokens", 50),
    ("RAG_CANDIDATES", "12", "retrieval", "candidates", 12),
    ("RAG_FUSION", "bm25", "retrieval", "fusion", "bm25"),
    ("RAG_RRF_K", "60", "retrieval", "rrf_k", 60),
    ("RAG_DENSE_WEIGHT", "0.5", "retrieval", "dense_weight", 0.5),
    ("RAG_BM25_WEIGHT", "0.25", "retrieval", "bm25_weight", 0.25),
    ("RAG_LATENT_WEIGHT", "0.75", "advanced", "latent_weight", 0.75),
    ("RAG_DATE_WEIGHT", "0", "retrieval", "date_weight", 0.0),
    ("RAG_INLINE_DATES", "false", "retrieval", "inline_dates", False),
    ("RAG_DATE_FILTER", "0", "retrieval", "date_filter", 0),
    ("RAG_MIN_DENSE_SCORE", "0.5", "answer", "min_dense_score", 0.5),
    ("RAG_MIN_CONFIDENCE", "0.2", "answer", "min_confidence", 0.2),
    ("RAG_MIN_KEY_SUPPORT", "0.3", "answer", "min_key_support", 0.3),
    ("RAG_VERIFY", "true", "advanced", "verify", True),
    ("RAG_RETRY_WITHHELD", "false", "answer", "retry_withheld", False),
    ("RAG_SHORT_ANSWER", "false", "answer", "short_answer", False),
    ("RAG_CONFLICTS", "false", "answer", "conflicts", False),
    ("RAG_MAX_QUESTION_CHARS", "500", "answer", "max_question_chars", 500),
    ("RAG_PROMPTS_DIR", "p", "answer", "prompts_dir", Path("p")),
    ("RAG_LLM", "fake", "generation", "llm", "fake"),
    ("RAG_MODEL_FILE", "m.gguf", "generation", "model_file", Path("m.gguf")),
    ("RAG_MODEL_CACHE", "cache", "generation", "model_cache", Path("cache")),
    ("RAG_THREADS", "4", "generation", "threads", 4),
    ("RAG_QUANTIZE", "false", "generation", "quantize", False),
    ("RAG_PREFILL", "int8", "advanced", "prefill", "int8"),
    ("RAG_FAST_DECODE", "false", "advanced", "fast_decode", False),
    ("RAG_PREFIX_CACHE", "false", "advanced", "prefix_cache", False),
    ("RAG_PREFILL_CHUNK", "64", "advanced", "prefill_chunk", 64),
    ("RAG_PROMPT_CACHE_TOKENS", "100", "advanced", "prompt_cache_tokens", 100),
    ("RAG_MAX_NEW_TOKENS", "32", "generation", "max_new_tokens", 32),
    ("RAG_CHROMA_HOST", "db", "server", "chroma_host", "db"),
    ("RAG_CHROMA_PORT", "9000", "server", "chroma_port", 9000),
    ("RAG_CHROMA_SSL", "true", "server", "chroma_ssl", True),
    ("RAG_OPENAI_BASE_URL", "http://h/v1", "server", "openai_base_url", "http://h/v1"),
    ("RAG_OPENAI_MODEL", "m", "server", "openai_model", "m"),
    ("RAG_OPENAI_TIMEOUT", "5", "server", "openai_timeout", 5.0),
    ("RAG_OPENAI_RETRIES", "1", "server", "openai_retries", 1),
    ("RAG_OPENAI_BACKOFF", "0.1", "server", "openai_backoff", 0.1),
    ("RAG_MAX_UPLOAD_BYTES", "100", "app", "max_upload_bytes", 100),
    ("RAG_CONCURRENCY", "2", "app", "concurrency", 2),
    ("RAG_HOST", "0.0.0.0", "app", "host", "0.0.0.0"),
    ("RAG_PORT", "8001", "app", "port", 8001),
    ("GRADIO_SERVER_PORT", "8002", "app", "port", 8002),
    ("RAG_USERS_FILE", "u.json", "app", "users_file", Path("u.json")),
    ("RAG_AUDIT_LOG", "a.jsonl", "app", "audit_log", Path("a.jsonl")),
    ("RAG_USER_QUEUE", "2", "app", "user_queue", 2),
    ("RAG_MAX_REQUEST_BYTES", "5000", "app", "max_request_bytes", 5000),
    ("RAG_LOGIN_ATTEMPTS", "3", "app", "login_attempts", 3),
    ("RAG_INDEX_REFRESH_S", "0.5", "app", "index_refresh_s", 0.5),
]


@pytest.mark.parametrize(("env", "raw", "section", "name", "value"), OLD_NAMES)
def test_every_old_variable_sets_the_same_value(monkeypatch, env, raw, section, name, value):
    monkeypatch.setenv(env, raw)
    s = Settings()
    assert getattr(getattr(s, section), name) == value
    assert s.given() == {name}
    # The flat keyword and the section's own name give the same value.
    assert getattr(getattr(Settings(**{name: value}), section), name) == value


def test_old_names_cover_every_setting_and_secrets_stay_hidden(monkeypatch):
    new = {"record_fields", "openai_embed_base_url", "min_confidence", "agreement_below"}
    assert {n for *_, n, _ in OLD_NAMES} | {"chroma_token", "openai_api_key"} | new == set(FIELDS)
    monkeypatch.setenv("RAG_RECORD_FIELDS", '{"text": "body"}')
    assert Settings().index.record_fields == {"text": "body"}
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("RAG_CHROMA_TOKEN", "tok-test")
    s = Settings()
    assert s.server.openai_api_key.get_secret_value() == "sk-test"
    assert s.server.chroma_token.get_secret_value() == "tok-test"
    assert "sk-test" not in repr(s) + str(s.model_dump()) + str(s.flat())
    monkeypatch.setenv("RAG_PIAF_DIR", "piaf")
    assert EvaluationSettings().piaf_dir == Path("piaf")


def test_updated_validates_and_does_not_read_the_environment_again(monkeypatch):
    s = Settings(top_k=4, llm="fake")
    monkeypatch.setenv("RAG_RRF_K", "11")
    copy = s.updated(top_k=7, verify=True)
    assert (copy.retrieval.top_k, copy.advanced.verify, copy.generation.llm) == (7, True, "fake")
    assert copy.retrieval.rrf_k == s.retrieval.rrf_k
    assert copy.given() == {"top_k", "llm", "verify"}
    with pytest.raises(ValueError, match="top_k"):
        s.updated(top_k=0)
    with pytest.raises(ValueError, match="unknown setting"):
        s.updated(bogus=1)
    with pytest.raises(ValueError):
        s.retrieval.top_k = 1  # frozen


def test_nested_variables_and_bounds(monkeypatch):
    monkeypatch.setenv("RAG_RETRIEVAL__TOP_K", "9")
    assert Settings().retrieval.top_k == 9
    for bad in ({"top_k": 0}, {"fusion": "magic"}, {"chunk_size": 100, "chunk_overlap": 100}):
        with pytest.raises(ValueError):
            Settings(**bad)
    with pytest.raises(ValueError, match="bogus"):
        Settings(bogus=1)


def test_every_number_has_bounds():
    for name in FIELDS:
        f = field(name)
        if f.annotation in (int, float):
            assert configdoc.bounds(f), f"{name}: a number without bounds"


def test_rendered_defaults_are_machine_independent():
    text = configdoc.render()
    assert str(configdoc.PACKAGE) not in text
    if Path.home() != Path("/"):
        assert str(Path.home()) not in text
    assert "`rag/answer/templates`" in text and "`~/.cache/rag-news`" in text
    for name in FIELDS:
        assert any(f"`{env}`" in text for env in configdoc.env_names(name, field(name)))


def test_main_writes_and_checks(tmp_path, capsys):
    target = tmp_path / "configuration.md"
    assert configdoc.main([str(target), "--check"]) == 1
    assert "python -m rag.core.configdoc" in capsys.readouterr().err
    assert configdoc.main([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == configdoc.render()
    assert configdoc.main([str(target), "--check"]) == 0
