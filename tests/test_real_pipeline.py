"""End-to-end with the bundled models (slow): real answers, real citations, real abstention.

Uses the shared model cache (see tests/test_hf_model.py) and a private index in tmp_path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.answer.citations import quote_in_source
from rag.core.settings import Settings
from rag.index.ingest import load_sources
from rag.pipeline import RAG

pytestmark = [pytest.mark.model, pytest.mark.embedder]

MODEL_CACHE = Path(os.environ.get("RAG_TEST_MODEL_CACHE", Path.home() / ".cache" / "rag-news"))


@pytest.fixture(scope="module")
def bot(tmp_path_factory) -> RAG:
    root = Path(__file__).resolve().parent.parent
    settings = Settings(
        sources=[root / "seeds"],
        index_dir=tmp_path_factory.mktemp("index"),
        model_cache=MODEL_CACHE,
    )
    bot = RAG(settings)
    bot.ingest(progress=False)
    return bot


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    root = Path(__file__).resolve().parent.parent
    return {d.id: d.text for d in load_sources([root / "seeds"]).documents}


def assert_quotes_are_real(answer, sources):
    assert answer.citations
    for c in answer.citations:
        assert quote_in_source(c.quote, sources[c.source]), c


def test_french_question_cited_answer(bot, sources):
    answer = bot.ask(
        "Quel quotidien américain a révélé le premier appel entre Trump et Poutine après l'élection de novembre 2024 ?"
    )
    assert not answer.abstained
    assert "Washington Post" in answer.text
    assert {c.source for c in answer.citations} <= {
        "000_b3fd78398ee6b0e0.txt",
        "001_2b9e3b30e134a6cf.txt",
        "002_08de760eebd6501b.txt",
    }
    assert_quotes_are_real(answer, sources)


def test_english_question_gets_english_answer_from_french_article(bot, sources):
    answer = bot.ask(
        "Which American detained in Russia did Trump thank Putin for releasing, the day before their February 2025 call?"
    )
    assert not answer.abstained
    assert "Marc Fogel" in answer.text
    assert " the " in f" {answer.text.lower()} " or " was " in answer.text.lower()
    assert "003_17ab84beb0fc2423.txt" in {c.source for c in answer.citations}
    assert_quotes_are_real(answer, sources)


def test_off_topic_question_abstains(bot):
    answer = bot.ask("Quelle est la recette de la tarte Tatin ?")
    assert answer.abstained and answer.citations == ()
    assert answer.text == "Les articles ne le disent pas."
