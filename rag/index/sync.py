"""Incremental indexing: bring the store in line with the documents, embedding only what changed."""

from __future__ import annotations

import hashlib
import sys
import time
from collections import Counter

import numpy as np

from rag.core.errors import InputError
from rag.core.settings import Settings
from rag.core.types import Chunk, Document, IngestReport
from rag.index.embed import Embedder, latent_terms
from rag.index.ingest import Loaded, chunk_document, document_hash, windows
from rag.index.records import Window
from rag.index.store import Store
from rag.text import timeline


def sync(
    settings: Settings, embedder: Embedder, store: Store, loaded: Loaded, progress: bool = True
) -> IngestReport:
    """Add new documents, re-embed changed ones, remove deleted ones; say what was done.

    Crash-safe by construction: a document's records are upserted before its stale records are
    deleted, and every record carries its document's hash and its document's record count, so an
    interrupted run leaves either the old state, or a mixed or partial one that the next run sees
    as "changed" and repairs (tests/test_crash.py kills ingests at many points to check it).
    """
    start = time.perf_counter()
    stored = store.document_hashes()
    if stored and not loaded.documents:
        raise InputError(_nothing_readable(loaded, len(stored)))
    params: tuple[int, ...] = (
        settings.index.chunk_size,
        settings.index.chunk_overlap,
        settings.index.window_size,
        settings.index.window_overlap,
    )
    params += (timeline.VERSION,)  # a change in how dates are resolved re-dates every document
    if latent_terms(embedder, settings):  # a document stored without them gets them
        params += (1,)
    added: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    todo: list[Document] = []
    hashes: dict[str, str] = {}
    for doc in loaded.documents:
        h = document_hash(doc, *params)
        hashes[doc.id] = h
        if stored.get(doc.id) == {h}:
            unchanged.append(doc.id)
            continue
        (updated if doc.id in stored else added).append(doc.id)
        todo.append(doc)
    current = {d.id for d in loaded.documents}
    removed = sorted(set(stored) - current)

    bar = _progress(len(todo), len(unchanged), progress)
    had = set(stored)  # documents that may keep records this run does not rewrite
    try:
        embedded = _embed_and_store(settings, embedder, store, todo, hashes, bar, had)
    except BaseException:
        bar.leave = False  # the error is the last line the user sees, not a half-drawn bar
        bar.close()
        raise
    for doc_id in removed:
        store.delete(store.record_ids(doc_id))
    return IngestReport(
        added=tuple(added),
        updated=tuple(updated),
        unchanged=tuple(unchanged),
        removed=tuple(removed),
        skipped=tuple(loaded.skipped),
        chunks_embedded=embedded,
        seconds=time.perf_counter() - start,
        texts={
            d.id: hashlib.sha256(d.text.encode("utf-8")).hexdigest()
            for d in loaded.documents
            if d.id in added or d.id in updated
        },
        formats=dict(Counter(d.format for d in loaded.documents)),
        undated=tuple(d.id for d in loaded.documents if not d.published),
    )


def _nothing_readable(loaded: Loaded, indexed: int) -> str:
    """Refuse to empty an index because its sources came out empty (a wrong path, a bad copy)."""
    why = f" ({len(loaded.skipped)} skipped: {loaded.skipped[0]}…)" if loaded.skipped else ""
    return (
        f"the sources hold no readable document{why}; the {indexed} indexed documents are kept — "
        "check the paths, or run 'rag ingest --rebuild' to empty the index on purpose"
    )


def _progress(todo: int, done: int, show: bool):
    """A bar over the documents to embed, with its ETA (tqdm's), on stderr.

    A resumed ingest says how many documents an earlier run already indexed."""
    from tqdm import tqdm

    already = f" ({done} already indexed)" if done and todo else ""
    return tqdm(
        total=todo,
        unit="doc",
        desc=f"Embedding{already}",
        file=sys.stderr,
        disable=not show or todo < 2,
        dynamic_ncols=True,
    )


def _embed_and_store(
    settings, embedder, store, todo: list[Document], hashes, bar, had: set[str]
) -> int:
    """Chunk, embed and store the documents batch by batch: each batch is committed to the store
    before the next is embedded, so a killed run loses at most one batch of work.

    `had`: the documents with records before this run; only they can have stale ones (asking the
    store about each new document too took minutes on a 10,000-article archive)."""
    kept: dict[str, set[str]] = {}  # doc id -> the ids of its records after this run
    batch: list[Chunk] = []
    in_batch = embedded = 0
    for doc in todo:
        doc_chunks = chunk_document(doc, settings.index.chunk_size, settings.index.chunk_overlap)
        if doc.id in had:
            kept[doc.id] = {c.id for c in doc_chunks} | {
                w.id for c in doc_chunks for w in _windows(settings, c)
            }
        batch.extend(doc_chunks)
        in_batch += 1
        if len(batch) >= settings.index.embed_batch_size:
            embedded += _flush(settings, embedder, store, batch, hashes)
            bar.update(in_batch)
            bar.set_postfix(chunks=embedded, refresh=False)
            batch, in_batch = [], 0
    embedded += _flush(settings, embedder, store, batch, hashes)
    bar.update(in_batch)
    bar.set_postfix(chunks=embedded)
    # Only after every new record is stored: drop records that no longer exist (a shorter document).
    for doc_id, keep in kept.items():
        store.delete([i for i in store.record_ids(doc_id) if i not in keep])
    bar.close()
    return embedded


def _windows(settings: Settings, chunk: Chunk) -> list[Window]:
    texts = windows(chunk.text, settings.index.window_size, settings.index.window_overlap)
    if len(texts) == 1:
        return []  # the chunk is its own window
    return [Window(f"{chunk.id}/w{j}", chunk.id, t) for j, t in enumerate(texts)]


def _flush(settings, embedder, store, batch: list[Chunk], hashes) -> int:
    """Embed and upsert whole documents at a time (a batch never splits a document).

    A chunk with windows gets the normalised mean of its windows' vectors; each window is stored
    too, pointing at its chunk, so dense search can match the precise window and return the chunk.
    Each chunk also gets its latent terms when the embedder has them (whole chunk, title first).
    """
    if not batch:
        return 0
    per_chunk = [_windows(settings, c) for c in batch]
    texts = [
        _embed_text(c, text)
        for c, ws in zip(batch, per_chunk, strict=True)
        for text in ([w.text for w in ws] or [c.text])
    ]
    vectors = embedder.passages(texts)
    chunk_vectors: list[np.ndarray] = []
    window_vectors: list[np.ndarray] = []
    at = 0
    for ws in per_chunk:
        n = max(len(ws), 1)
        block = vectors[at : at + n]
        at += n
        mean = block.mean(axis=0)
        chunk_vectors.append(mean / (np.linalg.norm(mean) or 1.0))
        window_vectors.extend(block if ws else [])
    records: dict[str, int] = {}  # a batch holds whole documents: these are complete counts
    for c, ws in zip(batch, per_chunk, strict=True):
        records[c.doc_id] = records.get(c.doc_id, 0) + 1 + len(ws)
    latent = latent_terms(embedder, settings)
    terms = latent([_embed_text(c, c.text) for c in batch]) if latent else None
    store.upsert(batch, chunk_vectors, hashes, [bool(ws) for ws in per_chunk], records, terms)
    store.upsert_windows(
        [w for ws in per_chunk for w in ws], window_vectors, batch, hashes, records
    )
    return len(batch)


def _embed_text(chunk: Chunk, text: str) -> str:
    """The title gives a piece its context (which article, which call)."""
    return f"{chunk.title}\n{text}" if chunk.title and not text.startswith(chunk.title) else text
