"""Citations say who wrote it and when: the outlet, publication date, title, link and author of
the cited chunk, in `Answer.citations`, `rag ask` (and `--json`), `rag chat` and the page; the
page's and the CLI's date range and outlets; the documents view. Fakes, a real Chroma in tmp_path,
the seeds' records given the metadata the ingest writes (tests.test_scope.publish)."""

from __future__ import annotations

import html
import json

import pytest

from rag.answer.byline import byline, day_label, web_link
from rag.cli.main import main
from rag.core.types import Citation, Passage, Scope
from rag.pipeline import RAG
from rag.testing.fakes import FakeLLM
from rag.ui import app
from tests.test_scope import FOGEL, PUBLISHED, QUESTION, publish

NOV = {"000_b3fd78398ee6b0e0.txt", "001_2b9e3b30e134a6cf.txt"}  # Agence Exemple, November 2024


@pytest.fixture
def published(settings):
    RAG(settings).ingest(progress=False)
    publish(settings, PUBLISHED)
    return settings


@pytest.mark.parametrize(
    "value, lang, label",
    [
        ("2017-01-31", "fr", "31 janvier 2017"),
        ("2017-02-01", "fr", "1er février 2017"),
        ("2017-01-31", "en", "January 31, 2017"),
        ("2024-11", "fr", "novembre 2024"),
        ("2024-11", "en", "November 2024"),
        ("2017", "fr", "2017"),
        ("2017-02-30", "fr", "2017-02-30"),  # not a day: shown as stored
        (None, "fr", ""),
    ],
)
def test_a_date_is_written_as_a_reader_writes_it(value, lang, label):
    assert day_label(value, lang) == label


def test_a_byline_names_outlet_date_and_title_and_falls_back_to_the_file_name():
    full = Citation(
        source="a.txt",
        chunk_id="a.txt:0",
        quote="q",
        number=1,
        outlet="Wikinews",
        published="2017-01-31",
        title="Un  titre",
    )
    assert byline(full) == "Wikinews, 31 janvier 2017 — Un titre"
    assert byline(full, "en") == "Wikinews, January 31, 2017 — Un titre"
    assert byline(Citation(source="a.txt", chunk_id="a.txt:0", quote="q", number=1)) == "a.txt"
    assert (
        byline(
            Citation(source="a.txt", chunk_id="a.txt:0", quote="q", number=1, published="2024-11")
        )
        == "a.txt, novembre 2024"
    )


@pytest.mark.parametrize(
    "url, link",
    [
        ("https://fr.wikinews.org/wiki/X", "https://fr.wikinews.org/wiki/X"),
        ("http://example.org", "http://example.org"),
        ("javascript:alert(1)", None),
        ("file:///etc/passwd", None),
        ("/local/path.html", None),
        ("", None),
        (None, None),
    ],
)
def test_only_a_web_address_becomes_a_link(url, link):
    assert web_link(url) == link


def test_a_citation_carries_its_passages_metadata():
    p = Passage(
        source="a.txt",
        chunk_id="a.txt:0",
        score=1.0,
        text="t",
        rank=1,
        title="T",
        published="2017-01-31",
        outlet="O",
    )
    c = Citation.of(p, "t", 1)
    assert (c.source, c.chunk_id, c.quote, c.number) == ("a.txt", "a.txt:0", "t", 1)
    assert (c.outlet, c.published, c.title, c.url, c.author) == ("O", "2017-01-31", "T", None, None)


def test_the_answers_citations_carry_outlet_date_title_link_and_author(published):
    answer = RAG(published).ask(QUESTION)
    assert not answer.abstained and answer.citations[0].source == FOGEL
    c = answer.citations[0]
    meta = PUBLISHED[FOGEL]
    assert (c.outlet, c.published, c.title, c.url, c.author) == (
        meta["outlet"],
        meta["published"],
        meta["title"],
        meta["url"],
        meta["author"],
    )


def test_a_scoped_question_cites_only_articles_in_its_scope(published):
    answer = RAG(published).ask(QUESTION, scope=Scope(outlets=("Agence Exemple",)))
    assert answer.passages and {p.source for p in answer.passages} <= NOV
    assert {c.source for c in answer.citations} <= NOV and answer.citations
    assert all(c.outlet == "Agence Exemple" for c in answer.citations)


@pytest.fixture
def cli_env(published, monkeypatch):
    for key, value in {
        "RAG_EMBEDDER": "fake",
        "RAG_LLM": "fake",
        "RAG_MIN_DENSE_SCORE": "0",
        "RAG_MIN_CONFIDENCE": "0",  # the fake's replies are no graded answers
        "RAG_INDEX_DIR": str(published.index.index_dir),
    }.items():
        monkeypatch.setenv(key, value)
    return published


def test_rag_ask_prints_who_published_each_source_and_when(cli_env, capsys):
    assert main(["ask", QUESTION]) == 0
    out = capsys.readouterr().out
    assert (
        "[1] Le Quotidien Test, 12 février 2025 — Un Américain libéré "
        "(https://quotidien.example/fogel)" in out
    )
    assert main(["ask", "Which American held in Russia was released?"]) == 0
    assert "Le Quotidien Test, February 12, 2025 — Un Américain libéré" in capsys.readouterr().out


def test_rag_ask_json_holds_the_metadata_and_the_flags_restrict_it(cli_env, capsys):
    assert main(["ask", QUESTION, "--json"]) == 0
    cited = json.loads(capsys.readouterr().out)["citations"][0]
    assert {k: cited[k] for k in ("outlet", "published", "url", "author", "title")} == PUBLISHED[
        FOGEL
    ]
    argv = ["ask", QUESTION, "--json", "--since", "2024-11", "--until", "2024-11-30"]
    assert main([*argv, "--outlet", "Agence Exemple"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["passages"] and {p["source"] for p in answer["passages"]} <= NOV
    assert {c["outlet"] for c in answer["citations"]} == {"Agence Exemple"}


def test_a_bad_date_on_the_command_line_is_one_line(cli_env, capsys):
    assert main(["ask", QUESTION, "--since", "2017-13-01"]) == 1
    err = capsys.readouterr().err
    fix = "write it as YYYY-MM-DD (or YYYY-MM, YYYY), e.g. 2017-01-31"
    assert err.strip().splitlines() == [f"Error: bad start date '2017-13-01': {fix}"]
    assert main(["ask", QUESTION, "--since", "2018", "--until", "2017"]) == 1
    assert "swap them" in capsys.readouterr().err
    assert main(["ask", QUESTION, "--outlet", "Nobody"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Les articles ne le disent pas.")
    assert "the index's outlets: Agence Exemple, Le Quotidien Test" in err


def test_rag_chat_keeps_to_its_scope(cli_env, capsys, monkeypatch):
    asked = iter([QUESTION, ""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(asked))
    assert main(["chat", "--outlet", "Agence Exemple"]) == 0
    out = capsys.readouterr().out
    assert "[1] Agence Exemple, 1" in out and "Le Quotidien Test" not in out


def test_the_page_shows_outlet_date_title_and_link(published):
    bot = RAG(published, llm=FakeLLM())
    *_, (_, sources, _, conv, _) = app.respond(bot, QUESTION)
    assert conv.last.citations[0].source == FOGEL
    assert "<strong>Le Quotidien Test</strong>" in sources
    assert '<time datetime="2025-02-12">12 février 2025</time>' in sources
    assert "<cite>Un Américain libéré</cite>" in sources
    assert '<a href="https://quotidien.example/fogel"' in sources and 'rel="noopener' in sources
    assert f'title="{FOGEL}"' in sources  # the file name, in the tooltip


def test_the_pages_handler_takes_a_date_range_and_outlets(published):
    bot = RAG(published, llm=FakeLLM())
    *_, (_, sources, _, conv, _) = app.respond(
        bot, QUESTION, since="2024-11-01", until="2024-11-30", outlets=["Agence Exemple"]
    )
    assert conv.last.passages and {p.source for p in conv.last.passages} <= NOV
    assert "Le Quotidien Test" not in sources and "<strong>Agence Exemple</strong>" in sources
    *_, (chat, _, _, conv, _) = app.respond(bot, QUESTION, since="31/01/2017")
    assert conv.last is None and "bad start date '31/01/2017'" in chat[-1]["content"]
    *_, (_, sources, _, conv, _) = app.respond(bot, QUESTION, outlets=["Nobody"])
    assert conv.last.abstained and app.TEXT["fr"]["no_match"] in html.unescape(sources)


def test_the_documents_view_lists_dates_and_outlets_and_the_outlets_to_choose(published):
    bot = RAG(published)
    rows = {r[0]: r for r in app.document_rows(bot)}
    assert rows[FOGEL][:3] == [FOGEL, "2025-02-12", "Le Quotidien Test"]
    assert rows["004_04761f5e471519e2.txt"][1:3] == ["", ""]  # unknown, said as nothing
    assert app.outlet_choices(bot) == ["Agence Exemple", "Le Quotidien Test"]
    assert app.TEXT["fr"]["headers"][:3] == ["Fichier", "Date", "Média"]
