"""The web app: `python app.py` serves a chat with cited sources on http://127.0.0.1:7860.

A thin adapter over `rag.RAG`: the handlers are plain functions of a bot and the widget values
(testable without a server) in `rag.ui.chat` (answers), `rag.ui.documents` (the Documents tab) and
`rag.ui.models` (model preparation), rendered by `rag.ui.render` with the words of `rag.ui.i18n`;
this module only lays out widgets and wires them (`build_app`), and `main` starts it all;
`rag.ui.server` indexes the sources at start and serves the page. Retrieval, answering and
citation checking all happen in `rag`. The handlers are re-exported from here.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import TypedDict

import gradio as gr  # after the offline environment, which rag.ui (the package) sets

from rag.core.errors import RagError
from rag.index.readers import SUFFIXES
from rag.pipeline import RAG
from rag.ui.access import Access, exposure_error, upload_limit
from rag.ui.chat import (
    Conversation,
    bot_for,
    chat_messages,
    new_conversation,
    respond,
    respond_in_turn,
)
from rag.ui.documents import (
    Progress,
    add_uploads,
    delete_document,
    document_rows,
    documents_view,
    outlet_choices,
    upload_files,
)
from rag.ui.i18n import TEXT, examples, language_choices, page_heading
from rag.ui.models import Preparation, kernel_summary, model_names
from rag.ui.render import (
    _note,
    highlight,
    latency_text,
    link_markers,
    sources_html,
)
from rag.ui.server import Page, launch, prepare
from rag.ui.style import CSS, HEAD

__all__ = [  # the handlers live in the modules above; tests and tools import them from here
    "CSS",
    "HEAD",
    "TEXT",
    "Conversation",
    "Preparation",
    "Progress",
    "add_uploads",
    "bot_for",
    "build_app",
    "chat_messages",
    "delete_document",
    "document_rows",
    "documents_view",
    "highlight",
    "kernel_summary",
    "latency_text",
    "launch",
    "link_markers",
    "main",
    "model_names",
    "new_conversation",
    "outlet_choices",
    "prepare",
    "respond",
    "respond_in_turn",
    "sources_html",
    "upload_files",
]


class _Queue(TypedDict):  # an event's queue: at most `concurrency_limit` events of one id at once
    concurrency_limit: int | None
    concurrency_id: str


def build_app(
    bot: RAG, notice: str = "", preparation: Preparation | None = None, access: Access | None = None
) -> Page:
    """The page: a Chat tab (chat, sources, settings) and a Documents tab, in French or English.

    `access` (default: from the bot's settings) holds the users and the per-user question queue;
    `launch` serves the page with its login.
    """
    t = TEXT["fr"]
    access = access or Access(bot.settings)
    with Page(title="Actualités : questions sourcées") as demo:
        demo.rag_access = access  # for launch
        conv = gr.State(Conversation())
        with gr.Row():  # wraps on a narrow window: each column keeps its min_width
            with gr.Column(scale=4, min_width=300):
                heading = gr.Markdown(page_heading(t))
            with gr.Column(scale=1, min_width=240):
                ui = gr.Radio(
                    [("Français", "fr"), ("English", "en")], value="fr", label=t["ui_language"]
                )
        gr.Markdown(f"⚠ {notice}", visible=bool(notice), elem_classes="notice")
        signed_in = gr.Markdown("", elem_id="signed-in")
        waiting = preparation if preparation and not preparation.done.is_set() else None
        model_status = gr.Markdown(waiting.text("fr") if waiting else "", elem_id="model-status")
        with gr.Tabs():
            with gr.Tab(t["tab_chat"]) as chat_tab:
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=320):
                        chatbot = gr.Chatbot(
                            label=t["chat"], height=440, elem_id="chat", buttons=["copy"]
                        )
                        question = gr.Textbox(
                            label=t["question"],
                            placeholder=t["placeholder"],
                            lines=1,
                            max_lines=1,
                            autofocus=True,
                            elem_id="question",
                        )
                        with gr.Row():
                            send = gr.Button(t["send"], variant="primary", elem_id="send")
                            new = gr.Button(t["new"], elem_id="new")
                        latency = gr.Markdown(elem_id="latency")
                        with gr.Accordion(t["scope"], open=False) as scope_box:
                            scope_help = gr.Markdown(t["scope_help"])
                            with gr.Row():
                                since = gr.DateTime(
                                    include_time=False, type="string", label=t["since"]
                                )
                                until = gr.DateTime(
                                    include_time=False, type="string", label=t["until"]
                                )
                            # filled when the page loads, as the removal choices below
                            outlets = gr.Dropdown(
                                [], multiselect=True, label=t["outlets"], allow_custom_value=True
                            )
                        asked = examples(bot.settings.index.sources)  # the corpus's, if any
                        shown = (
                            gr.Examples(asked, inputs=[question], label=t["examples"])
                            if asked
                            else None
                        )
                    with gr.Column(scale=2, min_width=280):
                        sources = gr.HTML(_note(t["sources_hint"]), elem_id="sources")
                with gr.Accordion(t["settings"], open=False) as settings_box:
                    top_k = gr.Slider(
                        1, 10, value=bot.settings.retrieval.top_k, step=1, label=t["top_k"]
                    )
                    language = gr.Radio(language_choices(t), value="auto", label=t["language"])
                    show_scores = gr.Checkbox(False, label=t["show_scores"])
                    model_panel = gr.Markdown(model_names(bot))
            with gr.Tab(t["tab_docs"]) as docs_tab:
                docs_help = gr.Markdown(t["docs_help"])
                table = gr.Dataframe(
                    document_rows(bot),
                    headers=t["headers"],
                    interactive=False,
                    wrap=True,
                    column_widths=["24%", "11%", "13%", "8%", "44%"],
                    show_search="search",
                    elem_id="documents",
                )
                files = gr.File(
                    file_count="multiple",
                    file_types=list(SUFFIXES),
                    label=f"{t['upload']} ({', '.join(SUFFIXES)})",
                )
                add = gr.Button(t["upload_button"], variant="primary")
                with gr.Row(equal_height=True):
                    # Filled when the page loads (role_view): gradio describes a dropdown's choices
                    # in the API description that even its login page carries. allow_custom_value:
                    # a document added since can be removed through the API (remove_document
                    # checks the name).
                    choice = gr.Dropdown(
                        [], value=None, label=t["remove"], scale=3, allow_custom_value=True
                    )
                    remove = gr.Button(t["remove_button"], variant="stop", scale=1)
                status = gr.Markdown(elem_id="status")

        # an API caller may leave out the date range and outlets; gradio passes the request
        async def ask(
            q,
            c,
            k,
            lang,
            scores,
            u,
            since=None,
            until=None,
            outlets=None,
            request: gr.Request | None = None,
        ):
            views = respond_in_turn(
                access.gate,
                access.queue_key(request),
                bot,
                q,
                c,
                k,
                lang,
                scores,
                ui=u,
                preparation=preparation,
                since=since,
                until=until,
                outlets=outlets,
            )
            async with contextlib.aclosing(views):  # a dropped event frees its slot at once
                async for view in views:
                    yield view

        if waiting is not None:
            timer = gr.Timer(1.0)

            def poll(u: str) -> tuple[str, gr.Timer, object]:
                text = waiting.text(u)
                done = waiting.done.is_set()
                return text, gr.Timer(active=not done), model_names(bot) if done else gr.skip()

            timer.tick(
                poll,
                [ui],
                [model_status, timer, model_panel],
                queue=False,
                show_progress="hidden",
                api_visibility="private",
            )

        def upload(paths, u, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - gradio injects it
            return upload_files(bot, paths, u, progress, access.caller(request))

        def drop(doc_id, u, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - gradio injects it
            return delete_document(bot, doc_id, u, progress, access.caller(request))

        def role_view(u, request: gr.Request):  # a reader sees no upload or remove controls
            who = access.caller(request)
            shown = gr.update(visible=who.editor)
            signed = (
                TEXT[u]["signed_in"].format(name=who.name, role=who.role) if access.users else ""
            )
            choices = gr.update(
                visible=who.editor, choices=[r[0] for r in document_rows(bot)], value=None
            )
            return shown, shown, choices, shown, signed, gr.update(choices=outlet_choices(bot))

        chat_out = [chatbot, sources, latency, conv, question]
        ask_in = [question, conv, top_k, language, show_scores, ui, since, until, outlets]
        # One queue for generation, shared by Enter and the button: RAG_CONCURRENCY answers at once,
        # served in turn across users by access.gate (rag.ui.fair), which shows each waiting
        # question its place; gradio itself does not hold them back.
        generation = _Queue(concurrency_limit=None, concurrency_id="generation")
        question.submit(ask, ask_in, chat_out, api_name="ask", **generation)
        send.click(ask, ask_in, chat_out, api_visibility="private", **generation)
        new.click(new_conversation, ui, chat_out, api_name="new_conversation")
        chatbot.clear(new_conversation, ui, chat_out, api_visibility="private")  # its bin icon
        show_scores.change(
            lambda c, s, u: sources_html(c.last, s, u),
            [conv, show_scores, ui],
            sources,
            api_visibility="private",
            concurrency_limit=None,  # pure rendering: no need to wait for a generation
        )
        indexing = _Queue(concurrency_limit=1, concurrency_id="indexing")  # one ingest at a time
        add.click(
            upload, [files, ui], [status, table, choice, files], api_name="upload", **indexing
        )
        remove.click(drop, [choice, ui], [status, table, choice], api_name="remove", **indexing)
        docs_tab.select(lambda: documents_view(bot), None, [table, choice], api_name=False)
        chat_tab.select(  # documents added or removed meanwhile
            lambda: gr.update(choices=outlet_choices(bot)), None, outlets, api_name=False
        )
        demo.load(
            role_view,
            ui,
            [files, add, choice, remove, signed_in, outlets],
            api_name=False,
            queue=False,
        )

        relabel = [
            (heading, lambda t: {"value": page_heading(t)}),
            (ui, lambda t: {"label": t["ui_language"]}),
            (chat_tab, lambda t: {"label": t["tab_chat"]}),
            (docs_tab, lambda t: {"label": t["tab_docs"]}),
            (chatbot, lambda t: {"label": t["chat"]}),
            (question, lambda t: {"label": t["question"], "placeholder": t["placeholder"]}),
            (send, lambda t: {"value": t["send"]}),
            (new, lambda t: {"value": t["new"]}),
            (settings_box, lambda t: {"label": t["settings"]}),
            (top_k, lambda t: {"label": t["top_k"]}),
            (language, lambda t: {"label": t["language"], "choices": language_choices(t)}),
            (show_scores, lambda t: {"label": t["show_scores"]}),
            (scope_box, lambda t: {"label": t["scope"]}),
            (scope_help, lambda t: {"value": t["scope_help"]}),
            (since, lambda t: {"label": t["since"]}),
            (until, lambda t: {"label": t["until"]}),
            (outlets, lambda t: {"label": t["outlets"]}),
            (docs_help, lambda t: {"value": t["docs_help"]}),
            (table, lambda t: {"headers": t["headers"]}),
            (files, lambda t: {"label": t["upload"]}),
            (add, lambda t: {"value": t["upload_button"]}),
            (choice, lambda t: {"label": t["remove"]}),
            (remove, lambda t: {"value": t["remove_button"]}),
        ]
        if shown is not None:
            relabel.append((shown.dataset, lambda t: {"label": t["examples"]}))
        ui.change(
            lambda u: [gr.update(**texts(TEXT[u])) for _, texts in relabel],
            ui,
            [c for c, _ in relabel],
            api_visibility="private",
            concurrency_limit=None,
        )
    return demo


def main() -> int:
    from pydantic import ValidationError

    from rag.core.settings import Settings

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"Error: bad RAG_* setting: {exc}", file=sys.stderr)
        return 1
    if problem := exposure_error(settings):
        print(f"Error: {problem}", file=sys.stderr)
        return 1
    try:
        access = Access(settings)
    except RagError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    bot = RAG(settings)
    notice = prepare(bot)
    if notice:
        print(f"Error: {notice}", file=sys.stderr)
    print("Loading the models (the page is served meanwhile)…", flush=True)
    preparation = Preparation(bot).start()
    # gradio refuses far larger uploads itself; add_uploads checks ours, with a clear message
    try:
        demo = build_app(bot, notice=notice, preparation=preparation, access=access)
    except RagError as exc:  # a source folder's examples.json that cannot be read
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    launch(demo, settings.app.port, max_file_bytes=upload_limit(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
