"""The chat handlers: one question streamed into an answer, and the conversation state.

`respond` is a plain generator of (chat messages, sources HTML, latency, state, textbox value) for
a bot and the widget values, so it is testable without a server; `Conversation` is the per-session
state it threads through, and `bot_for` gives a sibling bot for another number of passages.
Rendering of the final answer is delegated to `rag.ui.render`.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections.abc import AsyncGenerator, Generator, Sequence
from dataclasses import dataclass, field

from rag.core.errors import RagError
from rag.core.types import Answer
from rag.pipeline import RAG
from rag.retrieve.scope import scope_from
from rag.ui.fair import Busy, Gate
from rag.ui.i18n import TEXT
from rag.ui.models import Preparation
from rag.ui.render import _note, latency_text, link_markers, sources_html

log = logging.getLogger("app")
View = tuple[list[dict], str, str, "Conversation", str]  # what each handler step yields


@dataclass
class Conversation:
    """Per-browser-session state: what the model sees, what the chat shows, the last answer."""

    turns: list[dict] = field(default_factory=list)  # history for RAG.stream (plain answer text)
    shown: list[dict] = field(default_factory=list)  # chat messages, errors included
    last: Answer | None = None  # the answer whose sources are on screen


# -- one RAG per number of passages (Settings is frozen) -----------------------------------
_VARIANTS: weakref.WeakKeyDictionary[RAG, dict[int, RAG]] = weakref.WeakKeyDictionary()


def bot_for(bot: RAG, top_k: int | None) -> RAG:
    """`bot`, or a sibling with another top_k sharing its models (kept until the next ingest)."""
    if not top_k or int(top_k) == bot.settings.retrieval.top_k:
        return bot
    variants = _VARIANTS.setdefault(bot, {})
    k = int(top_k)
    if k not in variants:
        settings = bot.settings.updated(top_k=k)
        variants[k] = RAG(settings, llm=bot.llm, embedder=bot.embedder)
    return variants[k]


def _ready(preparation: Preparation | None, asking: Conversation, ui: str):
    """While the model is being prepared, yield the chat with its progress as the reply."""
    while preparation is not None and not preparation.wait(0.5):
        asking.shown[-1] = _msg("assistant", preparation.text(ui))
        yield chat_messages(asking), _note(preparation.text(ui)), "", asking, ""


# -- chat ------------------------------------------------------------------------------------
def respond(
    bot: RAG,
    question: str,
    conv: Conversation | None = None,
    top_k: int | None = None,
    language: str = "auto",
    show_scores: bool = False,
    ui: str = "fr",
    preparation: Preparation | None = None,
    since: str | None = None,
    until: str | None = None,
    outlets: Sequence[str] | None = (),
) -> Generator[View, None, None]:
    """Stream an answer: yields (chat messages, sources HTML, latency, state, textbox value).

    The streamed text is replaced at the end by the final `Answer.text`, which is authoritative.
    A question asked while `preparation` runs waits for it, showing its progress. `since`,
    `until` (YYYY-MM-DD, YYYY-MM or YYYY) and `outlets` restrict the articles searched
    (rag.retrieve.scope); a bad date is said in the chat.
    """
    t = TEXT[ui]
    conv = conv or Conversation()
    if not (question or "").strip():
        yield chat_messages(conv), sources_html(conv.last, show_scores, ui), "", conv, ""
        return
    asking = Conversation(conv.turns, [*conv.shown, _msg("user", question), _msg("assistant", "…")])
    yield from _ready(preparation, asking, ui)
    if preparation is not None and preparation.error:
        yield _failed(asking, preparation.text(ui), ui)
        return
    yield chat_messages(asking), _note(t["searching"]), "", asking, ""
    text, answer, start, first = "", None, time.perf_counter(), None
    try:
        lang = None if language in (None, "", "auto") else language
        scope = scope_from(since, until, outlets)
        for item in bot_for(bot, top_k).stream(question, conv.turns, lang, scope=scope):
            if isinstance(item, Answer):  # checked; then again with its short answer
                answer = item
                view = _answered(
                    conv, question, answer, show_scores, ui, time.perf_counter() - start
                )
                if not scope.empty and not answer.passages:  # say why nothing was found
                    view = (view[0], _note(t["no_match"]), *view[2:])
                yield view
                continue
            first = first if first is not None else time.perf_counter() - start
            text += item
            asking.shown[-1] = _msg("assistant", text)
            yield chat_messages(asking), _note(t["writing"]), t["streaming"], asking, ""
    except RagError as exc:
        yield _failed(asking, f"⚠ {t['error']}{t['colon']}{exc}", ui)
        return
    except Exception as exc:  # a bug, not a user mistake: log it, say so, keep the page usable
        log.exception("answering failed")
        yield _failed(asking, f"⚠ {t['unexpected']} ({type(exc).__name__}: {exc})", ui)
        return
    if answer is None:  # RAG.stream ends with its Answer: a bug otherwise
        raise RuntimeError("the answer stream ended without its Answer")


async def respond_in_turn(
    gate: Gate,
    user: str,
    bot: RAG,
    question: str,
    conv: Conversation | None = None,
    top_k: int | None = None,
    language: str = "auto",
    show_scores: bool = False,
    ui: str = "fr",
    preparation: Preparation | None = None,
    since: str | None = None,
    until: str | None = None,
    outlets: Sequence[str] | None = (),
) -> AsyncGenerator[View, None]:
    """`respond` once the fair queue gives `user` a slot; meanwhile "n questions ahead of yours".

    Over `gate.per_user` questions of one user, the new one is refused with a message. An async
    generator: the waiting holds no worker thread; each step of `respond` runs in one.
    """
    import anyio

    t = TEXT[ui]
    conv = conv or Conversation()
    if not (question or "").strip():
        for view in respond(
            bot,
            question,
            conv,
            top_k,
            language,
            show_scores,
            ui,
            preparation,
            since,
            until,
            outlets,
        ):
            yield view
        return
    asking = Conversation(conv.turns, [*conv.shown, _msg("user", question), _msg("assistant", "…")])
    try:
        ticket = gate.enter(user)
    except Busy as exc:
        yield _failed(asking, f"⚠ {t['user_busy'].format(n=exc.held)}", ui)
        return
    steps: Generator[View, None, None] | None = None
    try:
        while not await ticket.wait_async(0.5):
            place = t["ahead"].format(n=gate.ahead(ticket))
            asking.shown[-1] = _msg("assistant", place)
            yield chat_messages(asking), _note(place), "", asking, ""
        steps = respond(
            bot,
            question,
            conv,
            top_k,
            language,
            show_scores,
            ui,
            preparation,
            since,
            until,
            outlets,
        )
        while (step := await anyio.to_thread.run_sync(_next_view, steps)) is not None:
            yield step
    finally:
        gate.release(ticket)
        if steps is not None:
            steps.close()


def _next_view(views: Generator[View, None, None]) -> View | None:
    return next(views, None)


_MARKDOWN = re.compile(r"[\\`*_\[\]<>#]")  # a quote's own characters, not formatting


def _answered(
    conv: Conversation, question: str, answer: Answer, show_scores: bool, ui: str, wall: float
):
    """The view of a checked answer: its short answer in bold above it, its sources beside."""
    bold = _MARKDOWN.sub(lambda m: "\\" + m.group(0), answer.short or "")
    shown = f"**{bold}**\n\n{answer.text}" if answer.short else answer.text
    done = Conversation(
        [*conv.turns, _msg("user", question), _msg("assistant", answer.text)],
        [*conv.shown, _msg("user", question), _msg("assistant", shown)],
        answer,
    )
    return (
        chat_messages(done),
        sources_html(answer, show_scores, ui),
        latency_text(answer, wall, ui),
        done,
        "",
    )


def _failed(conv: Conversation, message: str, ui: str):
    failed = Conversation(conv.turns, [*conv.shown[:-1], _msg("assistant", message)], None)
    return chat_messages(failed), sources_html(None, ui=ui), "", failed, ""


def _msg(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def new_conversation(ui: str = "fr") -> tuple[list[dict], str, str, Conversation, str]:
    return [], _note(TEXT[ui]["sources_hint"]), "", Conversation(), ""


def chat_messages(conv: Conversation) -> list[dict]:
    """The chat box content; the last answer's [n] markers link to its sources."""
    messages = [dict(m) for m in conv.shown]
    if conv.last is not None and not conv.last.abstained and messages:
        messages[-1]["content"] = link_markers(messages[-1]["content"], conv.last)
    return messages
