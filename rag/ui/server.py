"""Serving the page `rag.ui.app.build_app` lays out: the sources indexed at start (`prepare`), then
the page served behind its login and access guard (`launch`), refused on the network without one.
"""

from __future__ import annotations

import gradio as gr  # after the offline environment, which rag.ui (the package) sets

from rag.core.errors import RagError
from rag.pipeline import RAG
from rag.ui.access import Access, Guard, exposure_error
from rag.ui.i18n import TEXT
from rag.ui.style import CSS, HEAD


class Page(gr.Blocks):  # the app's page, with the access (users, question queue) `launch` serves
    rag_access: Access


def prepare(bot: RAG) -> str:
    """Index the configured sources; return a readable error, or "" (the models load after)."""
    from rag.index import audit

    try:
        report = bot.ingest()
        audit.record_ingest(bot.settings, "app", report, via="app-start")
        print(f"{bot.settings.index.index_dir}/: {report.summary()}", flush=True)
    except RagError as exc:
        return str(exc)
    return ""


def launch(
    demo: Page,
    port: int,
    block: bool = True,
    max_file_bytes: int = 20_000_000,
    host: str | None = None,
) -> None:
    """Serve the page on `host` (default: the settings'), behind its login when there are users.

    Each event's concurrency is set where it is wired (see `build_app`). Refuses (InputError) an
    address other than loopback without a users file.
    """
    from starlette.middleware import Middleware

    from rag.core.errors import InputError

    access: Access = demo.rag_access
    settings = access.settings.updated(host=host) if host else access.settings
    if problem := exposure_error(settings):
        raise InputError(problem)
    users = access.users
    check = users.acheck if users else None
    demo.queue(default_concurrency_limit=1)
    demo.launch(
        server_name=settings.app.host,
        server_port=port,
        css=CSS,
        head=HEAD,
        prevent_thread_lock=not block,
        show_error=False,
        footer_links=["api"],
        max_file_size=max_file_bytes,
        auth=check,  # type: ignore[arg-type]  # gradio awaits an async auth; its hint says bool
        auth_message=f"{TEXT['fr']['login']} — {TEXT['en']['login']}" if users else None,
        app_kwargs={"middleware": [Middleware(Guard, access=access)]},
    )
