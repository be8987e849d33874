"""The web app: `python app.py` serves a chat with cited sources on http://127.0.0.1:7860.

A thin adapter over `rag.RAG`: the handlers below are plain functions of a bot and the widget
values (testable without a server); `build_app` only lays out widgets and wires them. Retrieval,
answering and citation checking all happen in `rag`; this file only renders what they return.
"""

from __future__ import annotations

from rag.cli.main import offline_environment

offline_environment()  # before gradio (and anything from Hugging Face) is imported

import html  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import weakref  # noqa: E402
from collections.abc import Callable, Iterator, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402

from rag.answer.citations import MARKER  # noqa: E402
from rag.index.documents import remove_document, save_document  # noqa: E402
from rag.core.errors import RagError  # noqa: E402
from rag.pipeline import RAG  # noqa: E402
from rag.core.types import Answer  # noqa: E402

log = logging.getLogger("app")
Progress = Callable[..., object]  # gr.Progress in the page, any callable(fraction, desc=...) here


def _no_progress(*args: object, **kwargs: object) -> None:
    pass


TEXT = {
    "fr": {
        "title": "Questions sur l'actualité", "ui_language": "Langue de l'interface",
        "intro": "Posez une question sur les articles : la réponse cite ses sources [n], hors ligne.",
        "tab_chat": "Discussion", "tab_docs": "Documents", "chat": "Discussion",
        "question": "Votre question",
        "placeholder": "Ex. : Quel journal a révélé l'appel entre Trump et Poutine ?",
        "send": "Envoyer", "new": "Nouvelle conversation", "examples": "Exemples de questions",
        "sources": "Sources", "sources_hint": "Les sources de la réponse s'afficheront ici.",
        "searching": "Recherche des passages…", "writing": "Rédaction de la réponse…",
        "preparing": "Préparation du modèle", "preparing_once": "une seule fois, ~1 min",
        "loading_model": "Chargement du modèle…",
        "streaming": "…", "error": "Erreur", "unexpected": "Erreur inattendue, voir le journal du serveur",
        "no_sources": "Pas de réponse dans les articles : aucune source à montrer.",
        "retrieved": "Passages retrouvés (scores)", "colon": " : ", "latency": "Latence",
        "first_token": "premier mot", "total": "total", "retrieval": "recherche",
        "wall": "avec chargement", "settings": "Réglages", "top_k": "Nombre de passages",
        "language": "Langue de la réponse", "lang_auto": "Automatique",
        "show_scores": "Afficher les scores de recherche",
        "docs_help": "Les articles indexés. Ajoutez des fichiers .txt ou .md (UTF-8, 2 Mo au plus).",
        "headers": ["Fichier", "Date", "Passages", "Titre"],
        "upload": "Fichiers à ajouter (.txt, .md)", "upload_button": "Ajouter et indexer",
        "remove": "Document à supprimer", "remove_button": "Supprimer", "indexing": "Indexation…",
        "no_file": "Choisissez d'abord un fichier.", "rejected": "Fichier refusé, rien n'a changé",
        "added": "Ajouté", "pick_document": "Choisissez d'abord un document.", "removed": "Supprimé",
    },
    "en": {
        "title": "Questions about the news", "ui_language": "Interface language",
        "intro": "Ask about the articles: the answer cites its sources [n], offline.",
        "tab_chat": "Chat", "tab_docs": "Documents", "chat": "Chat",
        "question": "Your question",
        "placeholder": "E.g. Which newspaper reported the Trump–Putin call?",
        "send": "Send", "new": "New conversation", "examples": "Example questions",
        "sources": "Sources", "sources_hint": "The answer's sources will show here.",
        "searching": "Searching the passages…", "writing": "Writing the answer…",
        "preparing": "Preparing the model", "preparing_once": "once, ~1 min",
        "loading_model": "Loading the model…",
        "streaming": "…", "error": "Error", "unexpected": "Unexpected error, see the server log",
        "no_sources": "The articles don't answer this: no sources to show.",
        "retrieved": "Retrieved passages (scores)", "colon": ": ", "latency": "Latency",
        "first_token": "first token", "total": "total", "retrieval": "retrieval",
        "wall": "with model loading", "settings": "Settings", "top_k": "Number of passages",
        "language": "Answer language", "lang_auto": "Automatic",
        "show_scores": "Show retrieval scores",
        "docs_help": "The indexed articles. Add .txt or .md files (UTF-8, 2 MB at most).",
        "headers": ["File", "Date", "Chunks", "Title"],
        "upload": "Files to add (.txt, .md)", "upload_button": "Add and index",
        "remove": "Document to remove", "remove_button": "Remove", "indexing": "Indexing…",
        "no_file": "Choose a file first.", "rejected": "File refused, nothing changed",
        "added": "Added", "pick_document": "Choose a document first.", "removed": "Removed",
    },
}  # fmt: skip
EXAMPLES = [
    ["Quel journal a révélé l'appel entre Trump et Poutine ?"],
    ["Sur quel réseau Trump a-t-il annoncé sa conversation avec Poutine ?"],
    ["Which newspaper reported the call between Trump and Putin?"],
    ["What did Trump and Putin agree to do about Ukraine?"],
]


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
    if not top_k or int(top_k) == bot.settings.top_k:
        return bot
    variants = _VARIANTS.setdefault(bot, {})
    k = int(top_k)
    if k not in variants:
        settings = bot.settings.model_copy(update={"top_k": k})
        variants[k] = RAG(settings, llm=bot.llm, embedder=bot.embedder)
    return variants[k]


def _reindex(bot: RAG, progress: Progress, ui: str):
    progress(0.2, desc=TEXT[ui]["indexing"])
    report = bot.ingest()
    _VARIANTS.pop(bot, None)  # their retrievers hold the old chunks
    progress(1.0, desc=TEXT[ui]["indexing"])
    return report


# -- the model, made ready while the page is served --------------------------------------------
class Preparation:
    """Loads (on a first start: prepares) the models in a background thread, so that the page is
    served at once; `text()` says how far it is, `wait()` blocks until it is done.

    Example: `p = Preparation(bot).start(); p.wait(); assert p.error == ""`
    """

    def __init__(self, bot: RAG) -> None:
        self.bot = bot
        self.fraction: float | None = None  # of a first start's preparation; None: loading only
        self.step = ""
        self.error = ""
        self.done = threading.Event()
        self._bar = None  # the terminal's progress bar, opened on the first report

    def start(self) -> Preparation:
        threading.Thread(target=self._run, name="rag-prepare", daemon=True).start()
        return self

    def _run(self) -> None:
        try:
            llm = self.bot.llm
            if hasattr(llm, "progress"):
                llm.progress = self.report
            self.bot.warm(prime=True)
        except RagError as exc:
            self.error = str(exc)
        except Exception as exc:  # a bug: keep the page usable and say so
            log.exception("preparing the model failed")
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.done.set()

    def report(self, fraction: float, step: str) -> None:
        """Progress of a first start: shown on the page and, as a bar with an ETA, in the terminal."""
        from rag.llm.transformers.prepare import LazyTerminalProgress

        self.fraction, self.step = fraction, step
        if self._bar is None:
            self._bar = LazyTerminalProgress()
        self._bar(fraction, step)
        if fraction >= 1.0:
            self._bar.close()

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def text(self, ui: str = "fr") -> str:
        """One status line for the page ("" once ready)."""
        t = TEXT[ui]
        if self.done.is_set():
            return f"⚠ {t['error']}{t['colon']}{self.error}" if self.error else ""
        if self.fraction is None or self.fraction >= 1.0:
            return f"⏳ {t['loading_model']}"
        return f"⏳ {t['preparing']}{t['colon']}{100 * self.fraction:.0f} % — {self.step} ({t['preparing_once']})"


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
) -> Iterator[tuple[list[dict], str, str, Conversation, str]]:
    """Stream an answer: yields (chat messages, sources HTML, latency, state, textbox value).

    The streamed text is replaced at the end by the final `Answer.text`, which is authoritative.
    A question asked while `preparation` runs waits for it, showing its progress.
    """
    t = TEXT[ui]
    conv = conv or Conversation()
    if not (question or "").strip():
        yield chat_messages(conv), sources_html(conv.last, show_scores, ui), "", conv, ""
        return
    asking = Conversation(conv.turns, conv.shown + [_msg("user", question), _msg("assistant", "…")])
    yield from _ready(preparation, asking, ui)
    if preparation is not None and preparation.error:
        yield _failed(asking, preparation.text(ui), ui)
        return
    yield chat_messages(asking), _note(t["searching"]), "", asking, ""
    text, answer, start, first = "", None, time.perf_counter(), None
    try:
        lang = None if language in (None, "", "auto") else language
        for item in bot_for(bot, top_k).stream(question, conv.turns, lang):
            if isinstance(item, Answer):
                answer = item
                break
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
    assert answer is not None
    done = Conversation(
        conv.turns + [_msg("user", question), _msg("assistant", answer.text)],
        conv.shown + [_msg("user", question), _msg("assistant", answer.text)],
        answer,
    )
    wall = time.perf_counter() - start
    yield (
        chat_messages(done),
        sources_html(answer, show_scores, ui),
        latency_text(answer, wall, ui),
        done,
        "",
    )


def _failed(conv: Conversation, message: str, ui: str):
    failed = Conversation(conv.turns, conv.shown[:-1] + [_msg("assistant", message)], None)
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


def link_markers(text: str, answer: Answer) -> str:
    """ "Paris [1, 2]." -> "Paris [[1]](#src-1) [[2]](#src-2)." for the cited numbers only."""
    cited = {c.number for c in answer.citations}

    def link(m: re.Match) -> str:
        nums = [int(n) for n in m.group(1).split(",")]
        return " ".join(f"[\\[{n}\\]](#src-{n})" if n in cited else f"\\[{n}\\]" for n in nums)

    return MARKER.sub(link, text)


def sources_html(answer: Answer | None, show_scores: bool = False, ui: str = "fr") -> str:
    """Each citation: file name, article date, its passage with the quoted span in <mark>."""
    t = TEXT[ui]
    if answer is None:
        return _note(t["sources_hint"])
    if answer.abstained:
        return _note(t["no_sources"])
    by_chunk = {p.chunk_id: p for p in answer.passages}
    items = []
    for c in answer.citations:
        p = by_chunk.get(c.chunk_id)
        date = f" · <time>{html.escape(p.date)}</time>" if p and p.date else ""
        scores = f'<div class="scores">{_scores(p)}</div>' if p and show_scores else ""
        body = highlight(p.text, c.quote) if p else f"<mark>{html.escape(c.quote)}</mark>"
        items.append(
            f'<article class="source" id="src-{c.number}" tabindex="-1">'
            f'<header><span class="num">[{c.number}]</span> <strong>{html.escape(c.source)}</strong>'
            f"{date}</header>{scores}<p>{body}</p></article>"
        )
    if show_scores:
        rows = "".join(
            f"<tr><td>{p.rank}</td><td>{html.escape(p.source)}</td><td>{_scores(p)}</td></tr>"
            for p in answer.passages
        )
        items.append(
            f"<details open><summary>{t['retrieved']}</summary><table>{rows}</table></details>"
        )
    heading = f"<h3>{t['sources']}</h3>"
    return (
        f'<section class="sources" aria-label="{t["sources"]}">{heading}{"".join(items)}</section>'
    )


def _scores(p) -> str:
    dense = f"{p.dense_score:.3f}" if p.dense_score is not None else "–"
    bm25 = f"{p.bm25_score:.2f}" if p.bm25_score is not None else "–"
    return f"score {p.score:.4f} · dense {dense} · BM25 {bm25}"


def highlight(text: str, quote: str) -> str:
    """Escape `text` and wrap the (whitespace-insensitive) occurrence of `quote` in <mark>."""
    words = quote.split()
    m = re.search(r"\s+".join(map(re.escape, words)), text) if words else None
    if not m:
        return html.escape(text)
    before, span, after = text[: m.start()], m.group(), text[m.end() :]
    return f"{html.escape(before)}<mark>{html.escape(span)}</mark>{html.escape(after)}"


def latency_text(answer: Answer, wall_s: float | None, ui: str = "fr") -> str:
    t, tm = TEXT[ui], answer.timings
    first = f"{tm.first_token_s:.1f} s" if tm.first_token_s is not None else "–"
    text = (
        f"{t['latency']}{t['colon']}{t['first_token']} {first} · {t['total']} {tm.total_s:.1f} s"
        f" · {t['retrieval']} {tm.retrieval_s * 1000:.0f} ms"
    )
    if wall_s is not None and wall_s - tm.total_s > 0.5:  # model loading on the first question
        text += f" · {t['wall']} {wall_s:.1f} s"
    return text


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


# -- documents -------------------------------------------------------------------------------
def document_rows(bot: RAG) -> list[list]:
    """[name, date, chunks, title] per indexed document; [] when there is no index yet."""
    try:
        docs = bot.documents()
    except RagError:
        return []
    return [[d["id"], d["date"] or "", d["chunks"], d["title"]] for d in docs]


def documents_view(bot: RAG):
    """The table and the removal choices, refreshed."""
    rows = document_rows(bot)
    return rows, gr.update(choices=[r[0] for r in rows], value=None)


def upload_files(
    bot: RAG, paths: Sequence[str] | None, ui: str = "fr", progress: Progress = _no_progress
):
    """gr.File paths -> add_uploads; returns (message, table, dropdown, cleared file input)."""
    uploads = []
    limit = bot.settings.max_upload_bytes
    for path in paths or []:
        with open(path, "rb") as handle:  # one byte over the limit is enough to refuse it
            uploads.append((Path(path).name, handle.read(limit + 1)))
    return (*add_uploads(bot, uploads, ui, progress), None)


def add_uploads(
    bot: RAG,
    uploads: Sequence[tuple[str, bytes]],
    ui: str = "fr",
    progress: Progress = _no_progress,
):
    """Save every upload into the documents folder and index them; all or nothing.

    Returns (message, table rows, dropdown update). A rejected file leaves the folder unchanged.
    """
    t = TEXT[ui]
    if not uploads:
        return t["no_file"], *documents_view(bot)
    saved: list[Path] = []
    try:
        for name, data in uploads:
            saved.append(save_document(bot.settings, name, data, bot.settings.max_upload_bytes))
        report = _reindex(bot, progress, ui)
    except RagError as exc:
        for path in saved:
            path.unlink(missing_ok=True)
        return f"⚠ {t['rejected']}{t['colon']}{exc}", *documents_view(bot)
    names = ", ".join(p.name for p in saved)
    return f"✓ {t['added']}{t['colon']}{names} — {report.summary()}", *documents_view(bot)


def delete_document(
    bot: RAG, doc_id: str | None, ui: str = "fr", progress: Progress = _no_progress
):
    """Delete a document's file and re-index; returns (message, table rows, dropdown update)."""
    t = TEXT[ui]
    if not doc_id:
        return t["pick_document"], *documents_view(bot)
    try:
        remove_document(bot.settings, doc_id)
        report = _reindex(bot, progress, ui)
    except RagError as exc:
        return f"⚠ {t['error']}{t['colon']}{exc}", *documents_view(bot)
    return f"✓ {t['removed']}{t['colon']}{doc_id} — {report.summary()}", *documents_view(bot)


def model_names(bot: RAG) -> str:
    s = bot.settings
    if s.llm == "fake":
        llm = "fake (scripted, no model)"
    elif s.llm == "openai":
        llm = f"openai · {s.openai_model or 'the server default model'} · {s.openai_base_url}"
    else:
        from rag.llm.weights import QWEN_1_5B

        llm = f"{s.llm} · {s.model_file.name if s.model_file else QWEN_1_5B.name}"
        llm += kernel_summary(bot.llm)
    try:
        embedder = bot.embedder.id
    except RagError:
        embedder = s.embedder
    return f"**LLM** : `{llm}`  \n**Embedder** : `{embedder}`  \n**Index** : `{s.index_dir}`"


def kernel_summary(llm: object) -> str:
    """What RAG_LLM=auto chose and the kernels transformers runs, once loaded ("" before)."""
    chosen = getattr(llm, "chosen", None)
    text = f" → {chosen.name}" if chosen is not None else ""
    choice = getattr(chosen or llm, "kernels", None) or getattr(llm, "choice", None)
    if choice is None:
        return text
    prompt = choice.prompt_kernel(True)
    text += (f"`  \n**Kernels** : `prompts {prompt} ({choice.prefill.get(prompt, 0):.0f} GOP/s), "
             f"decode {choice.decode_kernel} ({choice.decode.get(choice.decode_kernel, 0):.0f} GB/s)")  # fmt: skip
    if choice.backend.get("why"):
        text += f"`  \n**Backend** : `{choice.backend['chosen']}: {choice.backend['why']}"
    return text


# -- layout ----------------------------------------------------------------------------------
CSS = """
#sources { max-height: 75vh; overflow-y: auto; }
.sources h3 { margin: 0 0 .5rem; }
.source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6rem .8rem;
  margin-bottom: .6rem; scroll-margin-top: 1rem; }
.source header { font-size: .9em; margin-bottom: .3rem; overflow-wrap: anywhere; }
.source p { white-space: pre-wrap; margin: 0; line-height: 1.45; }
.source:target, .source.flash, .source:focus { outline: 3px solid #f59e0b; outline-offset: 2px; }
.source mark { background: #fde68a; color: #111; padding: 0 .1em; }
.scores { color: var(--body-text-color-subdued); font-size: .85em; }
.note { color: var(--body-text-color); opacity: .75; }
.sources table { font-size: .8em; }
@media (max-width: 640px) { #chat { height: 55vh !important; } }
"""
# Citation markers in the chat scroll to (and focus) their source, in the same tab, by keyboard too.
HEAD = """<script>
document.addEventListener("click", function (e) {
  var a = e.target.closest ? e.target.closest('a[href^="#src-"]') : null;
  if (!a) return;
  var el = document.getElementById(a.getAttribute("href").slice(1));
  if (!el) return;
  e.preventDefault(); e.stopPropagation();
  document.querySelectorAll(".source.flash").forEach(function (s) { s.classList.remove("flash"); });
  el.classList.add("flash");
  el.scrollIntoView({behavior: "smooth", block: "nearest"});
  el.focus({preventScroll: true});
}, true);
</script>"""


def build_app(bot: RAG, notice: str = "", preparation: Preparation | None = None) -> gr.Blocks:
    """The page: a Chat tab (chat, sources, settings) and a Documents tab, in French or English."""
    t = TEXT["fr"]
    with gr.Blocks(title="Actualités : questions sourcées") as demo:
        conv = gr.State(Conversation())
        with gr.Row():  # wraps on a narrow window: each column keeps its min_width
            with gr.Column(scale=4, min_width=300):
                heading = gr.Markdown(_heading(t))
            with gr.Column(scale=1, min_width=240):
                ui = gr.Radio(
                    [("Français", "fr"), ("English", "en")], value="fr", label=t["ui_language"]
                )
        gr.Markdown(f"⚠ {notice}", visible=bool(notice), elem_classes="notice")
        waiting = preparation is not None and not preparation.done.is_set()
        model_status = gr.Markdown(preparation.text("fr") if waiting else "", elem_id="model-status")
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
                        examples = gr.Examples(EXAMPLES, inputs=[question], label=t["examples"])
                    with gr.Column(scale=2, min_width=280):
                        sources = gr.HTML(_note(t["sources_hint"]), elem_id="sources")
                with gr.Accordion(t["settings"], open=False) as settings_box:
                    top_k = gr.Slider(1, 10, value=bot.settings.top_k, step=1, label=t["top_k"])
                    language = gr.Radio(_language_choices(t), value="auto", label=t["language"])
                    show_scores = gr.Checkbox(False, label=t["show_scores"])
                    model_panel = gr.Markdown(model_names(bot))
            with gr.Tab(t["tab_docs"]) as docs_tab:
                docs_help = gr.Markdown(t["docs_help"])
                table = gr.Dataframe(
                    document_rows(bot),
                    headers=t["headers"],
                    interactive=False,
                    wrap=True,
                    column_widths=["28%", "12%", "10%", "50%"],
                    show_search="search",
                    elem_id="documents",
                )
                files = gr.File(
                    file_count="multiple", file_types=[".txt", ".md"], label=t["upload"]
                )
                add = gr.Button(t["upload_button"], variant="primary")
                with gr.Row(equal_height=True):
                    choice = gr.Dropdown(
                        [r[0] for r in document_rows(bot)], value=None, label=t["remove"], scale=3
                    )
                    remove = gr.Button(t["remove_button"], variant="stop", scale=1)
                status = gr.Markdown(elem_id="status")

        def ask(q, c, k, lang, scores, u):
            yield from respond(bot, q, c, k, lang, scores, u, preparation)

        if waiting:
            timer = gr.Timer(1.0)

            def poll(u):
                text = preparation.text(u)
                done = preparation.done.is_set()
                return text, gr.Timer(active=not done), model_names(bot) if done else gr.skip()

            timer.tick(poll, [ui], [model_status, timer, model_panel], queue=False,
                       show_progress="hidden", api_visibility="private")

        def upload(paths, u, progress=gr.Progress()):  # noqa: B008 - gradio injects it
            return upload_files(bot, paths, u, progress)

        def drop(doc_id, u, progress=gr.Progress()):  # noqa: B008
            return delete_document(bot, doc_id, u, progress)

        chat_out = [chatbot, sources, latency, conv, question]
        ask_in = [question, conv, top_k, language, show_scores, ui]
        # One queue for generation, shared by Enter and the button: RAG_CONCURRENCY answers at once,
        # the others wait (gradio shows each waiting user its place in the queue on the chat).
        generation = {"concurrency_limit": bot.settings.concurrency, "concurrency_id": "generation"}
        question.submit(ask, ask_in, chat_out, api_name="ask", **generation)
        send.click(ask, ask_in, chat_out, api_name=False, **generation)
        new.click(new_conversation, ui, chat_out, api_name="new_conversation")
        chatbot.clear(new_conversation, ui, chat_out, api_name=False)  # its own bin icon
        show_scores.change(
            lambda c, s, u: sources_html(c.last, s, u), [conv, show_scores, ui], sources,
            api_name=False, concurrency_limit=None,  # pure rendering: no need to wait for a generation
        )  # fmt: skip
        indexing = {"concurrency_limit": 1, "concurrency_id": "indexing"}  # one ingest at a time
        add.click(upload, [files, ui], [status, table, choice, files], api_name="upload", **indexing)
        remove.click(drop, [choice, ui], [status, table, choice], api_name="remove", **indexing)
        docs_tab.select(lambda: documents_view(bot), None, [table, choice], api_name=False)

        relabel = [
            (heading, lambda t: {"value": _heading(t)}), (ui, lambda t: {"label": t["ui_language"]}),
            (chat_tab, lambda t: {"label": t["tab_chat"]}), (docs_tab, lambda t: {"label": t["tab_docs"]}),
            (chatbot, lambda t: {"label": t["chat"]}),
            (question, lambda t: {"label": t["question"], "placeholder": t["placeholder"]}),
            (send, lambda t: {"value": t["send"]}), (new, lambda t: {"value": t["new"]}),
            (examples.dataset, lambda t: {"label": t["examples"]}),
            (settings_box, lambda t: {"label": t["settings"]}), (top_k, lambda t: {"label": t["top_k"]}),
            (language, lambda t: {"label": t["language"], "choices": _language_choices(t)}),
            (show_scores, lambda t: {"label": t["show_scores"]}), (docs_help, lambda t: {"value": t["docs_help"]}),
            (table, lambda t: {"headers": t["headers"]}), (files, lambda t: {"label": t["upload"]}),
            (add, lambda t: {"value": t["upload_button"]}), (choice, lambda t: {"label": t["remove"]}),
            (remove, lambda t: {"value": t["remove_button"]}),
        ]  # fmt: skip
        ui.change(
            lambda u: [gr.update(**texts(TEXT[u])) for _, texts in relabel],
            ui, [c for c, _ in relabel], api_name=False, concurrency_limit=None,
        )  # fmt: skip
    return demo


def _heading(t: dict) -> str:
    return f"# {t['title']}\n{t['intro']}"


def _language_choices(t: dict) -> list[tuple[str, str]]:
    return [(t["lang_auto"], "auto"), ("Français", "fr"), ("English", "en")]


def prepare(bot: RAG) -> str:
    """Index the configured sources; return a readable error, or "" (the models load after)."""
    try:
        report = bot.ingest()
        print(f"{bot.settings.index_dir}/: {report.summary()}", flush=True)
    except RagError as exc:
        return str(exc)
    return ""


def launch(demo: gr.Blocks, port: int, block: bool = True, max_file_bytes: int = 20_000_000) -> None:
    """Serve the page; each event's concurrency is set where it is wired (see `build_app`)."""
    demo.queue(default_concurrency_limit=1)
    demo.launch(
        server_name="127.0.0.1", server_port=port, css=CSS, head=HEAD, prevent_thread_lock=not block,
        show_error=False, footer_links=["api"], max_file_size=max_file_bytes,
    )  # fmt: skip


def main() -> int:
    from pydantic import ValidationError

    from rag.core.settings import Settings

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"Error: bad RAG_* setting: {exc}", file=sys.stderr)
        return 1
    bot = RAG(settings)
    notice = prepare(bot)
    if notice:
        print(f"Error: {notice}", file=sys.stderr)
    print("Loading the models (the page is served meanwhile)…", flush=True)
    preparation = Preparation(bot).start()
    port = int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    # gradio refuses far larger uploads itself; ours are checked (with a clear message) in add_uploads
    demo = build_app(bot, notice=notice, preparation=preparation)
    launch(demo, port, max_file_bytes=max(20_000_000, 2 * settings.max_upload_bytes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
