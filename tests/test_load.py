"""Several users at once on the running app (fake LLM): every answer arrives, none leaks into
another conversation. The full run (20 conversations, numbers in docs/SCALE_OUT.md) is
`python benchmarks/load_test.py`."""

from __future__ import annotations

import pytest

from benchmarks.load_test import cross_talk, run

pytestmark = pytest.mark.server


def test_five_concurrent_conversations_without_errors_or_cross_talk(tmp_path):
    report = run(conversations=5, turns=2, llm="fake", concurrency=2, timeout=180, root=tmp_path)
    assert report["errors"] == [] and report["cross_talk"] == []
    assert report["answers"] == 10 and report["p95_s"] < 60


def test_conversations_through_the_login_and_a_flood(tmp_path):
    """Each conversation logs in as its own user; one more user has 8 questions queued first: all
    are answered, none leaks, and the flood's are not refused (user_queue is raised for it)."""
    report = run(
        conversations=4,
        turns=2,
        llm="fake",
        concurrency=1,
        timeout=180,
        root=tmp_path,
        login=True,
        flood=8,
    )
    assert report["errors"] == [] and report["cross_talk"] == []
    assert report["answers"] == 8


@pytest.mark.parametrize(
    "chat, why",
    [
        (
            [
                {"role": "user", "content": "Qu'est-ce que le abricotin ?"},
                {"role": "assistant", "content": "Le abricotin est une fête à Albi [1]."},
            ],
            "",
        ),
        (
            [
                {"role": "user", "content": "Qu'est-ce que le abricotin ?"},
                {"role": "assistant", "content": "Le baleinor est une fête à Brest [1]."},
            ],
            "mentions baleinor",
        ),
        (
            [
                {"role": "user", "content": "Qu'est-ce que le abricotin ?"},
                {"role": "assistant", "content": "Une fête à Brest [1]."},
            ],
            "mentions Brest",
        ),
        (
            [
                {"role": "user", "content": "Qu'est-ce que le baleinor ?"},
                {"role": "assistant", "content": "Le abricotin [1]."},
            ],
            "mentions baleinor",
        ),
        ([{"role": "user", "content": "Qu'est-ce que le abricotin ?"}], "1 messages after 1 turns"),
    ],
)
def test_cross_talk_check(chat, why):
    got = cross_talk(chat, "abricotin", 1)
    assert (why in got) if why else got == ""


def test_generation_and_indexing_have_their_own_queues(settings):
    import gradio as gr

    from rag.pipeline import RAG
    from rag.ui import app

    bot = RAG(settings.updated(concurrency=3))
    demo = app.build_app(bot)
    fns = list(demo.fns.values())
    ask = [f for f in fns if f.name == "ask"]
    assert len(ask) == 2  # Enter and the Send button share one queue
    # gradio holds nothing back: the fair gate (rag.ui.fair) gives RAG_CONCURRENCY slots in turn
    assert {(f.concurrency_id, f.concurrency_limit) for f in ask} == {("generation", None)}
    assert demo.rag_access.gate.slots == 3
    indexing = [f for f in fns if f.name in {"upload", "drop"}]
    assert {(f.concurrency_id, f.concurrency_limit) for f in indexing} == {("indexing", 1)}
    # Per-session history: the conversation is a gr.State (copied per browser session), no global.
    states = [b for b in demo.blocks.values() if isinstance(b, gr.State)]
    assert any(isinstance(s.value, app.Conversation) for s in states)
