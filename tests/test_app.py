"""The app's handlers, called directly (no server): streaming, sources, abstention, follow-ups,
settings, errors, and the Documents tab (upload, rejection, removal). Fakes and tmp_path only."""

from __future__ import annotations

import html
import itertools
import re
from pathlib import Path

import pytest

from rag.core.errors import InputError, ModelError
from rag.index.documents import MAX_UPLOAD_BYTES, safe_name
from rag.pipeline import RAG
from rag.testing.fakes import FakeLLM
from rag.text.language import ABSTAIN
from rag.ui import app

QUESTION = "Quel journal a révélé l'appel entre Trump et Poutine ?"
NEW_ARTICLE = (
    "MONTAUBAN, 3 mars 2025 – Le maire a inauguré un musée consacré au zorglub.\n\n"
    "Le zorglub est un instrument de musique inventé dans le Tarn-et-Garonne."
).encode()


def no_progress(*args, **kwargs) -> None:
    pass


@pytest.fixture
def bot(settings) -> RAG:
    bot = RAG(settings)
    bot.ingest(progress=False)
    return bot


def ask(bot: RAG, question: str = QUESTION, conv=None, **kw) -> list[tuple]:
    return list(app.respond(bot, question, conv, **kw))


def folder_state(folder: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in sorted(folder.parent.rglob("*"))
        if p.is_file() and "index" not in p.parts
    }


# -- chat ------------------------------------------------------------------------------------
def test_answer_streams_token_by_token_then_shows_the_final_answer(bot):
    outputs = ask(bot)
    texts = [chat[-1]["content"] for chat, *_ in outputs]
    # first: the placeholder; then the tokens; then the checked answer with links, and last the
    # same with its short answer in bold above it (the sources show from the checked one on)
    streamed = texts[1:-2]
    assert len(streamed) >= 3
    assert all(a != b and b.startswith(a) for a, b in itertools.pairwise(streamed))
    checked, final = outputs[-2][3].last, outputs[-1][3].last
    assert final is not None and not final.abstained and final.short and not checked.short
    assert texts[-2] == app.link_markers(checked.text, checked)
    assert texts[-1] == app.link_markers(f"**{final.short}**\n\n{final.text}", final)
    assert outputs[-2][1] == outputs[-1][1] and "source" in outputs[-2][1]
    assert outputs[-1][3].turns[-1]["content"] == final.text  # the history holds the plain answer
    assert outputs[-1][0][0] == {"role": "user", "content": QUESTION}
    assert all(out[4] == "" for out in outputs)  # the textbox is cleared


def test_citations_show_file_date_and_highlighted_quote(bot):
    chat, sources, latency, conv, _ = ask(bot)[-1]
    answer = conv.last
    assert answer.citations
    for c in answer.citations:
        passage = next(p for p in answer.passages if p.chunk_id == c.chunk_id)
        assert html.escape(c.source) in sources
        marks = [
            " ".join(html.unescape(m).split())
            for m in re.findall(r"<mark>(.*?)</mark>", sources, re.DOTALL)
        ]
        assert " ".join(c.quote.split()) in marks
        assert f'id="src-{c.number}"' in sources
        assert f"(#src-{c.number})" in chat[-1]["content"]  # the marker links to its source
        if passage.published:  # as a reader writes it: "novembre 2024", "10 novembre 2024"
            assert f'<time datetime="{passage.published}">' in sources
    assert "Latence" in latency and "total" in latency


def test_highlight_marks_the_quote_whitespace_insensitively_and_escapes():
    got = app.highlight("Avant <b>.\nLe  Washington\nPost a dit.", "Le Washington Post")
    assert got == "Avant &lt;b&gt;.\n<mark>Le  Washington\nPost</mark> a dit."
    assert app.highlight("rien", "absent") == "rien"


def test_abstention_says_so_and_shows_no_sources(settings):
    bot = RAG(settings, llm=FakeLLM(lambda messages: "NO_ANSWER"))
    bot.ingest(progress=False)
    chat, sources, _, conv, _ = ask(bot)[-1]
    assert conv.last.abstained
    assert chat[-1]["content"] == ABSTAIN["fr"]
    assert "<mark>" not in sources and "src-" not in sources
    assert "aucune source" in sources


def test_follow_up_passes_the_history(bot):
    first = ask(bot)[-1][3]
    second = ask(bot, "Et quel jour ?", first)[-1]
    rewrites = [
        m[-1]["content"] for m, task in zip(bot.llm.calls, bot.llm.tasks) if task == "rewrite"
    ]
    assert rewrites and QUESTION in rewrites[-1] and "Et quel jour ?" in rewrites[-1]
    assert [m["role"] for m in second[3].turns] == ["user", "assistant", "user", "assistant"]
    assert len(second[0]) == 4


def test_only_the_last_answer_links_its_markers(bot):
    first = ask(bot)[-1][3]
    chat = ask(bot, "Sur quel réseau Trump a-t-il annoncé la conversation ?", first)[-1][0]
    assert "(#src-" not in chat[1]["content"] and "(#src-" in chat[3]["content"]


def test_new_conversation_clears_everything(bot):
    assert app.new_conversation()[0] == [] and app.new_conversation()[3].turns == []


def test_answer_language_and_top_k_reach_the_pipeline(bot):
    conv = ask(bot, top_k=2, language="en")[-1][3]
    assert len(conv.last.passages) <= 2
    answer_calls = [c for c, task in zip(bot.llm.calls, bot.llm.tasks) if task == "answer"]
    assert "English" in answer_calls[-1][0]["content"]  # the shared fake saw the system prompt
    variant = app.bot_for(bot, 2)
    assert variant is not bot and variant.llm is bot.llm and variant.settings.retrieval.top_k == 2
    assert app.bot_for(bot, bot.settings.retrieval.top_k) is bot


def test_scores_toggle(bot):
    answer = ask(bot)[-1][3].last
    assert "dense" not in app.sources_html(answer, False)
    assert "dense" in app.sources_html(answer, True) and "BM25" in app.sources_html(answer, True)


def test_missing_index_is_a_message_not_a_traceback(settings):
    outputs = ask(RAG(settings))  # never ingested
    message = outputs[-1][0][-1]["content"]
    assert message.startswith("⚠ Erreur") and "rag ingest" in message
    assert outputs[-1][3].last is None and outputs[-1][3].turns == []


def test_model_failure_is_a_message(bot):
    class Broken(FakeLLM):
        def stream(self, messages, max_new_tokens=160):
            raise ModelError("could not load the model — reinstall it")

    broken = RAG(bot.settings, llm=Broken(), embedder=bot.embedder)
    chat = ask(broken, ui="en")[-1][0]
    assert chat[-1]["content"] == "⚠ Error: could not load the model — reinstall it"


def test_empty_question_does_nothing(bot):
    (out,) = ask(bot, "   ")
    assert out[0] == [] and bot.llm.calls == []


# -- documents -------------------------------------------------------------------------------
def test_upload_is_indexed_and_retrievable(bot, seeds, tmp_path):
    upload = tmp_path / "upload" / "zorglub.txt"
    upload.parent.mkdir()
    upload.write_bytes(NEW_ARTICLE)
    message, rows, choices, cleared = app.upload_files(bot, [str(upload)], "fr", no_progress)
    assert message.startswith("✓") and "zorglub.txt" in message
    assert (seeds / "zorglub.txt").read_bytes() == NEW_ARTICLE
    assert rows[[r[0] for r in rows].index("zorglub.txt")][:2] == ["zorglub.txt", "2025-03-03"]
    assert "zorglub.txt" in choices["choices"] and cleared is None
    assert bot.retrieve("musée du zorglub à Montauban")[0].source == "zorglub.txt"


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("vide.txt", b"", "empty"),
        ("blanc.md", b"  \n\n \t\n", "empty"),
        ("latin1.txt", "Élysée, président".encode("latin-1"), "UTF-8"),
        ("../evil.txt", NEW_ARTICLE, "folder"),
        ("sub/evil.txt", NEW_ARTICLE, "folder"),
        ("énorme.txt", b"a " * (MAX_UPLOAD_BYTES // 2 + 1), "limit"),
        ("article.pdf", NEW_ARTICLE, "not a PDF file but text"),
        ("article.exe", NEW_ARTICLE, ".txt, .md, .html"),
        ("000_b3fd78398ee6b0e0.txt", NEW_ARTICLE, "exists"),
    ],
)
def test_rejected_upload_changes_nothing(bot, seeds, name, data, reason):
    before, rows_before = folder_state(seeds), app.document_rows(bot)
    message, rows, _ = app.add_uploads(bot, [(name, data)], "fr", no_progress)
    assert message.startswith("⚠ Fichier refusé") and reason in message
    assert folder_state(seeds) == before and rows == rows_before
    assert not (seeds.parent / "evil.txt").exists()


def test_a_bad_file_among_good_ones_rejects_all(bot, seeds):
    before = folder_state(seeds)
    message, _, _ = app.add_uploads(
        bot, [("ok.txt", NEW_ARTICLE), ("bad.txt", b"")], "en", no_progress
    )
    assert message.startswith("⚠ File refused") and folder_state(seeds) == before


def test_too_big_file_is_refused_through_the_upload_handler(bot, seeds, tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"mot " * 600_000)  # 2.4 MB
    message, *_ = app.upload_files(bot, [str(big)], "fr", no_progress)
    assert "limit" in message and not (seeds / "big.txt").exists()


def test_remove_document(bot, seeds):
    doc = "000_b3fd78398ee6b0e0.txt"
    message, rows, choices = app.delete_document(bot, doc, "fr", no_progress)
    assert message.startswith("✓") and not (seeds / doc).exists()
    assert doc not in [r[0] for r in rows] and doc not in choices["choices"]
    assert all(p.source != doc for p in bot.retrieve("Washington Post Poutine escalade Ukraine"))


@pytest.mark.parametrize(
    "doc_id", ["../seeds/000_b3fd78398ee6b0e0.txt", "absent.txt", "/etc/passwd", ""]
)
def test_remove_refuses_what_is_not_a_document(bot, seeds, doc_id):
    before = folder_state(seeds)
    message, *_ = app.delete_document(bot, doc_id, "fr", no_progress)
    assert message.startswith("⚠") or message == app.TEXT["fr"]["pick_document"]
    assert folder_state(seeds) == before


@pytest.mark.parametrize(
    "name, ok",
    [
        ("a.txt", True),
        ("Article 2024.MD", True),
        ("é.txt", True),
        ("../x.txt", False),
        ("a/b.txt", False),
        ("a\\b.txt", False),
        (".hidden.txt", False),
        ("..", False),
        ("x.pdf", True),
        ("x.exe", False),
        ("", False),
        ("a\nb.txt", False),
        ("x" * 300 + ".txt", False),
    ],
)
def test_safe_name(name, ok):
    if ok:
        assert safe_name(name) == name
    else:
        with pytest.raises(InputError):
            safe_name(name)


# -- the page --------------------------------------------------------------------------------
def test_build_app_and_both_languages(bot):
    assert set(app.TEXT["fr"]) == set(app.TEXT["en"])
    demo = app.build_app(bot, notice="no index at x/ — run 'rag ingest' first")
    assert demo.fns  # wired: ask, upload, remove, relabel…
    names = {fn.api_name for fn in demo.fns.values()}
    assert {"ask", "upload", "remove", "new_conversation"} <= names


def test_the_example_questions_are_the_corpus_own(bot, seeds, tmp_path):
    from rag.ui.i18n import examples

    shown = examples([tmp_path / "elsewhere", seeds])  # a folder without a file adds none
    assert shown and shown[0] == [QUESTION] and all(len(row) == 1 for row in shown)
    (seeds / "examples.json").unlink()
    assert examples([seeds]) == []
    assert app.build_app(bot).fns  # a corpus without examples gets a page without them


@pytest.mark.parametrize("data", ['{"q": "?"}', "[1, 2]", "[", b"\xff"])
def test_a_bad_examples_file_is_a_message(seeds, data):
    from rag.ui.i18n import examples

    file = seeds / "examples.json"
    file.write_bytes(data if isinstance(data, bytes) else data.encode())
    with pytest.raises(InputError, match="examples.json"):
        examples([seeds])


class SlowLoadingLLM(FakeLLM):
    """A FakeLLM whose load() reports progress and waits to be released, as a first start does."""

    def __init__(self, release, fail: str = "") -> None:
        super().__init__()
        self.release, self.fail, self.progress = release, fail, None

    def load(self) -> None:
        self.progress(0.42, "converting layer-11")
        self.release.wait(10)
        if self.fail:
            raise ModelError(self.fail)


def test_a_question_asked_while_the_model_is_prepared_waits_and_shows_progress(settings):
    import threading

    release = threading.Event()
    bot = RAG(settings, llm=SlowLoadingLLM(release))
    bot.ingest(progress=False)
    preparation = app.Preparation(bot).start()
    stream = app.respond(bot, QUESTION, preparation=preparation, ui="en")
    next(stream)  # the question shown
    waiting = next(stream)
    assert "Preparing the model: 42 % — converting layer-11" in waiting[0][-1]["content"]
    assert "Preparing the model: 42 %" in preparation.text("en")
    release.set()
    final = list(stream)[-1]
    assert preparation.text("en") == "" and not preparation.error
    assert "[1]" in final[0][-1]["content"] or final[3].last.citations  # a real (fake-model) answer


def test_a_failed_preparation_is_said_on_the_page_and_in_the_chat(settings):
    import threading

    release = threading.Event()
    release.set()
    bot = RAG(settings, llm=SlowLoadingLLM(release, fail="model file x is corrupt: reinstall"))
    bot.ingest(progress=False)
    preparation = app.Preparation(bot).start()
    assert preparation.wait(10)
    assert preparation.text("en") == "⚠ Error: model file x is corrupt: reinstall"
    final = list(app.respond(bot, QUESTION, preparation=preparation, ui="en"))[-1]
    assert "model file x is corrupt" in final[0][-1]["content"]
