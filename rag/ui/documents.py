"""The Documents tab's handlers: list, upload and delete articles, then re-index.

Plain functions of a bot and the widget values returning (message, table rows, dropdown update):
uploads are saved all or nothing, a deletion removes the file, and both re-index and drop the
bots built for other numbers of passages (their retrievers hold the old chunks). Kept apart from
the chat because they change the corpus rather than query it.

Both check the caller's role themselves (a reader's upload through the raw API is refused here,
whatever the page shows) and append every change, and every refused attempt, to the audit log (an
invalid file, which changes nothing, is only reported).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Sequence
from pathlib import Path

from rag.core.errors import RagError
from rag.index import audit
from rag.index.documents import remove_document, save_document
from rag.pipeline import RAG
from rag.ui.access import LOCAL, Caller
from rag.ui.chat import _VARIANTS
from rag.ui.i18n import TEXT

log = logging.getLogger("app")

REINDEX_WAIT = 30.0  # seconds an upload's re-index waits for another ingest or an index reopen
Progress = Callable[..., object]  # gr.Progress in the page, any callable(fraction, desc=...) here


def _no_progress(*args: object, **kwargs: object) -> None:
    pass


def _reindex(
    bot: RAG, progress: Progress, ui: str, who: Caller = LOCAL, logged: Container[str] = frozenset()
):
    """Re-index the folder; what it changed besides `logged` (files changed by hand) is audited."""
    progress(0.2, desc=TEXT[ui]["indexing"])
    report = bot.ingest(wait=REINDEX_WAIT)  # behind a running ingest or an index reopen
    audit.record_ingest(bot.settings, who.name, report, via="app-ingest", skip=logged)
    _VARIANTS.pop(bot, None)  # their retrievers hold the old chunks
    progress(1.0, desc=TEXT[ui]["indexing"])
    return report


# -- documents -------------------------------------------------------------------------------
def document_rows(bot: RAG) -> list[list]:
    """[name, publication date, outlet, chunks, title] per indexed document ("" where unknown);
    [] when there is no index yet."""
    try:
        docs = bot.documents()
    except RagError:
        return []
    return [
        [d["id"], d["published"] or "", d["outlet"] or "", d["chunks"], d["title"]] for d in docs
    ]


def documents_view(bot: RAG):
    """The table and the removal choices, refreshed."""
    import gradio as gr  # already loaded by rag.ui.app, after rag.ui's offline_environment()

    rows = document_rows(bot)
    return rows, gr.update(choices=[r[0] for r in rows], value=None)


def upload_files(
    bot: RAG,
    paths: Sequence[str] | None,
    ui: str = "fr",
    progress: Progress = _no_progress,
    who: Caller = LOCAL,
):
    """gr.File paths -> add_uploads; returns (message, table, dropdown, cleared file input)."""
    if not who.editor:  # before reading anything
        return (*_refused(bot, who, "upload", [Path(p).name for p in paths or []], ui), None)
    uploads = []
    limit = bot.settings.app.max_upload_bytes
    for path in paths or []:
        with open(path, "rb") as handle:  # one byte over the limit is enough to refuse it
            uploads.append((Path(path).name, handle.read(limit + 1)))
    return (*add_uploads(bot, uploads, ui, progress, who), None)


def add_uploads(
    bot: RAG,
    uploads: Sequence[tuple[str, bytes]],
    ui: str = "fr",
    progress: Progress = _no_progress,
    who: Caller = LOCAL,
):
    """Save every upload into the documents folder and index them; all or nothing.

    Returns (message, table rows, dropdown update). A rejected file leaves the folder unchanged.
    """
    t = TEXT[ui]
    if not who.editor:
        return _refused(bot, who, "upload", [name for name, _ in uploads], ui)
    if not uploads:
        return t["no_file"], *documents_view(bot)
    saved: list[Path] = []
    try:
        audit.check_writable(bot.settings)  # no change that the log could not record
        for name, data in uploads:
            saved.append(save_document(bot.settings, name, data, bot.settings.app.max_upload_bytes))
        report = _reindex(bot, progress, ui, who, {p.name for p in saved})
    except RagError as exc:
        for path in saved:
            path.unlink(missing_ok=True)
        return f"⚠ {t['rejected']}{t['colon']}{exc}", *documents_view(bot)
    try:
        for path, (_, data) in zip(saved, uploads, strict=True):
            audit.record(bot.settings, who.name, "upload", path.name, audit.sha256(data))
    except RagError as exc:
        return f"⚠ {t['error']}{t['colon']}{exc}", *documents_view(bot)
    names = ", ".join(p.name for p in saved)
    return f"✓ {t['added']}{t['colon']}{names} — {report.summary()}", *documents_view(bot)


def delete_document(
    bot: RAG,
    doc_id: str | None,
    ui: str = "fr",
    progress: Progress = _no_progress,
    who: Caller = LOCAL,
):
    """Delete a document's file and re-index; returns (message, table rows, dropdown update)."""
    t = TEXT[ui]
    if not who.editor:
        return _refused(bot, who, "remove", [str(doc_id or "")], ui)
    if not doc_id:
        return t["pick_document"], *documents_view(bot)
    try:
        audit.check_writable(bot.settings)  # no change that the log could not record
        _, digest = remove_document(bot.settings, doc_id)
        audit.record(
            bot.settings, who.name, "remove", doc_id, digest
        )  # the file is gone: say so first
        report = _reindex(bot, progress, ui, who, {doc_id})
    except RagError as exc:
        return f"⚠ {t['error']}{t['colon']}{exc}", *documents_view(bot)
    return f"✓ {t['removed']}{t['colon']}{doc_id} — {report.summary()}", *documents_view(bot)


def _refused(bot: RAG, who: Caller, action: str, documents: list[str], ui: str):
    """A reader's change: nothing is touched; the attempt is logged."""
    for name in documents or [""]:
        _log(bot, who, action, name, "", "refused", f"role {who.role}")
    return f"⚠ {TEXT[ui]['not_editor']}", *documents_view(bot)


def _log(
    bot: RAG, who: Caller, action: str, document: str, digest: str, outcome: str, detail: str
) -> None:
    try:
        audit.record(bot.settings, who.name, action, document, digest, outcome, detail=detail)
    except RagError as exc:  # a refusal stands even when it cannot be logged
        log.error("%s", exc)


def outlet_choices(bot: RAG) -> list[str]:
    """The outlets a question can be restricted to (the index's); [] when there is no index."""
    try:
        return bot.outlets()
    except RagError:
        return []
