"""The index as a `RAG` holds it: opened on first use, reopened when another process changed it,
brought in line with the sources. `RAG` inherits it; the asking lives in rag.pipeline."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.core.settings import Settings
from rag.core.types import IngestReport, Passage, Scope

if TYPE_CHECKING:  # loaded on first use (the models and the index are heavy)
    from rag.index.embed import Embedder
    from rag.retrieve.retriever import Retriever

log = logging.getLogger(__name__)
REOPEN_WAIT = 60.0  # seconds a question waits for another process's ingest on an embedded folder


class Library:
    """The indexed articles of a `RAG`: its embedder, retriever and index version, opened lazily."""

    def __init__(self, settings: Settings, embedder: Embedder | None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._retriever: Retriever | None = None
        self._version = ""  # the index version the retriever was opened at (rag.index.version)
        self._checked = 0.0  # when refresh last looked at it (time.monotonic)
        self._reopening = threading.Lock()  # one thread reopens; the others then find it done

    # -- components, built on first use -------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from rag.index.embed import build_embedder

            self._embedder = build_embedder(self.settings)
        return self._embedder

    @property
    def retriever(self) -> Retriever:
        retriever = self._retriever
        if retriever is None:
            retriever = self._open()
        return retriever

    def _open(self) -> Retriever:
        """Open the index: store, version (read before the chunks), retriever; assigned at once,
        so a thread answering meanwhile keeps the retriever it had."""
        from rag.index.store import Store
        from rag.index.version import read_version
        from rag.retrieve.retriever import Retriever

        store = Store(self.settings, self.embedder.id)
        version = read_version(store)
        retriever = Retriever(self.settings, self.embedder, store)
        self._retriever, self._version, self._checked = retriever, version, time.monotonic()
        return retriever

    def refresh(self, force: bool = False) -> bool:
        """Reopen the index if another process changed it since it was opened; True if reopened.

        Looks at most every `index_refresh_s` seconds (one small read of the version the ingests
        write last), and reopens only between ingests (with the ingest lock), so a half-written
        ingest is never served. With a Chroma server the retriever opened before keeps serving
        its complete state meanwhile; an embedded folder cannot (a client's cached vectors no
        longer match the records another process wrote), so there the question waits for the
        running ingest to finish, up to REOPEN_WAIT seconds.
        """
        from rag.index.version import read_version

        now, retriever = time.monotonic(), self._retriever
        if retriever is None or (
            not force and now - self._checked < self.settings.app.index_refresh_s
        ):
            return False
        self._checked = now
        if read_version(retriever.store) == self._version:
            return False
        return self._reopen(wait=0.0 if self.settings.server.chroma_host else REOPEN_WAIT)

    def _reopen(self, wait: float) -> bool:
        from rag.core.errors import IndexStateError
        from rag.index.lock import ingest_lock
        from rag.index.version import forget_client

        seen = self._version
        try:
            with self._reopening, ingest_lock(self.settings, wait=wait):
                if self._version != seen:  # another thread reopened it meanwhile
                    return True
                if self._retriever is not None:
                    forget_client(self._retriever.store)
                self._open()
        except IndexStateError as exc:
            if not self.settings.server.chroma_host:
                raise IndexStateError(
                    f"another process is changing the index ({exc}) — "
                    "ask again when its ingest has finished"
                ) from None
            log.info("index not reopened yet: %s", exc)  # the server's old state stays consistent
            return False
        log.info("index reopened: another process changed it")
        return True

    def _search(
        self, question: str, top_k: int | None = None, scope: Scope | None = None
    ) -> list[Passage]:
        from rag.index.store import StaleIndexError

        try:
            return self.retriever.search(question, top_k, scope=scope)
        except StaleIndexError:  # written by another process before its version was: wait, reopen
            self._reopen(wait=REOPEN_WAIT)
            return self.retriever.search(question, top_k, scope=scope)

    # -- indexing -------------------------------------------------------------------------
    def ingest(
        self,
        sources: Sequence[Path | str] | None = None,
        rebuild: bool = False,
        progress: bool = True,
        wait: float | None = None,
    ) -> IngestReport:
        """Bring the index in line with the sources (default: settings.index.sources); `wait`:
        seconds
        to wait for another ingest (default settings.index.ingest_wait)."""
        from rag.index.ingest import load_sources
        from rag.index.lock import ingest_lock
        from rag.index.store import Store, drop_collection
        from rag.index.sync import sync
        from rag.index.version import write_version

        paths = [Path(p) for p in (sources or self.settings.index.sources)]
        fields = {str(k): v for k, v in self.settings.index.record_fields.items()}
        loaded = load_sources(paths, self.settings.index.max_file_bytes, fields)
        with ingest_lock(self.settings, wait=wait):
            if rebuild:
                drop_collection(self.settings)
            store = Store(self.settings, self.embedder.id, create=True)
            report = sync(self.settings, self.embedder, store, loaded, progress=progress)
            if rebuild or report.added or report.updated or report.removed:
                write_version(store)  # last, under the lock: readers see finished ingests only
        self._retriever = None
        return report

    def documents(self) -> list[dict]:
        """The indexed documents: id, title, date, published, outlet, url, author, chunks (their
        number); None where unknown (`published` falls back to the date the text gave)."""
        self.refresh()
        docs: dict[str, dict] = {}
        for c in self.retriever.chunks.values():
            d = docs.setdefault(c.doc_id, {"id": c.doc_id, "title": c.title, "date": c.published})
            d |= {"published": c.published, "outlet": c.outlet, "url": c.url, "author": c.author}
            d["chunks"] = d.get("chunks", 0) + 1
        return sorted(docs.values(), key=lambda d: d["id"])

    def outlets(self) -> list[str]:
        """The outlets named in the index, sorted: those a `Scope` can restrict a question to."""
        self.refresh()
        return self.retriever.outlets()
