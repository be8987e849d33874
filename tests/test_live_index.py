"""One index seen live by every process: after a `rag ingest` in another process, the running app's
next answer cites the new document, with the embedded folder and with a Chroma server; and it never
reopens the index while an ingest holds the lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from rag.pipeline import RAG
from rag.testing.fakes import FakeLLM
from rag.ui import app
from tests.test_chroma_server import chroma_server  # noqa: F401 - the fixture, shared

ARTICLE = (
    "Le zorglub est une fête organisée chaque année à Montauban. "
    "Les habitants de Montauban préparent le zorglub pendant tout l'hiver."
).encode()
QUESTION = "Où a lieu le zorglub ?"


def env_of(settings) -> dict[str, str]:
    """The environment of a `rag` command in another process on the same index."""
    env = {
        **os.environ,
        "RAG_SOURCES": json.dumps([str(p) for p in settings.index.sources]),
        "RAG_INDEX_DIR": str(settings.index.index_dir),
        "RAG_COLLECTION": settings.index.collection,
        "RAG_EMBEDDER": "fake",
        "RAG_LLM": "fake",
        "RAG_MODEL_CACHE": str(settings.generation.model_cache),
    }
    if settings.server.chroma_host:
        env |= {
            "RAG_CHROMA_HOST": settings.server.chroma_host,
            "RAG_CHROMA_PORT": str(settings.server.chroma_port),
        }
    return env


def cli_ingest(settings) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli.main", "ingest"],
        env=env_of(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def hold_lock(settings, seconds: float) -> subprocess.Popen:
    """Another process that holds the index's ingest lock for `seconds` (as an ingest would)."""
    code = (
        "import time\nfrom rag.core.settings import Settings\nfrom rag.index.lock import ingest_lock\n"
        f"with ingest_lock(Settings()):\n    print('held', flush=True)\n    time.sleep({seconds})"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], env=env_of(settings), stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def sources_of_next_answer(bot) -> list[str]:
    *_, (_, _, _, conv, _) = app.respond(bot, QUESTION, ui="fr")
    assert conv.last is not None and not conv.last.abstained
    return [c.source for c in conv.last.citations]


@pytest.fixture(params=["folder", "server"])
def live_settings(request, settings):
    if request.param == "folder":
        return settings
    port = request.getfixturevalue("chroma_server")
    return settings.updated(chroma_host="127.0.0.1", chroma_port=port, collection="live")


@pytest.mark.server
def test_the_running_app_answers_from_another_process_ingest(live_settings, seeds):
    bot = RAG(live_settings, llm=FakeLLM())  # index_refresh_s: the default 2 s
    bot.ingest(progress=False)
    assert "zorglub.txt" not in sources_of_next_answer(bot)
    (seeds / "zorglub.txt").write_bytes(ARTICLE)
    cli_ingest(live_settings)
    start, cited = time.monotonic(), []
    while "zorglub.txt" not in cited and time.monotonic() - start < 10:
        time.sleep(0.25)
        cited = sources_of_next_answer(bot)
    assert cited[0] == "zorglub.txt", f"not seen after {time.monotonic() - start:.1f} s"
    assert time.monotonic() - start < 4  # "within a few seconds": one refresh period and a reopen
    assert "zorglub.txt" in [d["id"] for d in bot.documents()]
    (seeds / "zorglub.txt").unlink()  # a removal is seen too
    cli_ingest(live_settings)
    assert bot.refresh(force=True) and "zorglub.txt" not in [d["id"] for d in bot.documents()]


@pytest.mark.server
def test_no_reopen_while_an_ingest_holds_the_lock(live_settings, seeds):
    """A finished ingest, then another that holds the lock for 2 s: the server's old state is
    served meanwhile; the folder's question waits for the lock, then answers from the new state."""
    bot = RAG(live_settings.updated(index_refresh_s=0.0), llm=FakeLLM())
    bot.ingest(progress=False)
    assert "zorglub.txt" not in [
        p.source for p in bot.retrieve(QUESTION)
    ]  # opened before the change
    (seeds / "zorglub.txt").write_bytes(ARTICLE)
    cli_ingest(live_settings)
    holder = hold_lock(live_settings, seconds=2)
    try:
        start = time.monotonic()
        first = bot.retrieve(QUESTION)[0].source
        waited = time.monotonic() - start
    finally:
        holder.wait(20)
    if live_settings.server.chroma_host:
        assert first != "zorglub.txt" and waited < 1  # not reopened under the lock
        assert bot.refresh(force=True)
    else:
        assert first == "zorglub.txt" and waited > 1  # waited for the lock, then reopened
    assert bot.retrieve(QUESTION)[0].source == "zorglub.txt"


def test_a_question_waits_no_longer_than_reopen_wait(settings, seeds, monkeypatch):
    import rag.pipeline.library
    from rag.core.errors import IndexStateError

    monkeypatch.setattr(rag.pipeline.library, "REOPEN_WAIT", 0.5)
    bot = RAG(settings.updated(index_refresh_s=0.0), llm=FakeLLM())
    bot.ingest(progress=False)
    bot.retrieve(QUESTION)
    (seeds / "zorglub.txt").write_bytes(ARTICLE)
    cli_ingest(settings)
    holder = hold_lock(settings, seconds=30)
    try:
        with pytest.raises(IndexStateError, match="ask again when its ingest has finished"):
            bot.retrieve(QUESTION)
    finally:
        holder.kill()
        holder.wait(10)


def test_an_ingest_that_changes_nothing_keeps_the_version(settings):
    from rag.index.store import Store
    from rag.index.version import read_version

    bot = RAG(settings, llm=FakeLLM())
    bot.ingest(progress=False)
    store = Store(settings, bot.embedder.id)
    first = read_version(store)
    bot.ingest(progress=False)
    assert first and read_version(store) == first
    assert not bot.refresh(force=True)
