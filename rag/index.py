"""Incremental indexing: bring the store in line with the documents, embedding only what changed."""

from __future__ import annotations

import sys
import time

from rag.embed import Embedder
from rag.ingest import Loaded, chunk_document, document_hash
from rag.settings import Settings
from rag.store import Store
from rag.types import Chunk, IngestReport


def sync(
    settings: Settings, embedder: Embedder, store: Store, loaded: Loaded, progress: bool = True
) -> IngestReport:
    """Add new documents, re-embed changed ones, remove deleted ones; say what was done.

    Crash-safe by construction: a document's chunks are upserted before its stale chunks are
    deleted, and every chunk carries its document's hash, so an interrupted run leaves either the
    old or a mixed state that the next run sees as "changed" and repairs.
    """
    start = time.perf_counter()
    stored = store.document_hashes()
    added, updated, unchanged = [], [], []
    todo: list[tuple[str, list[Chunk]]] = []
    hashes: dict[str, str] = {}
    for doc in loaded.documents:
        h = document_hash(doc, settings.chunk_size, settings.chunk_overlap)
        hashes[doc.id] = h
        if stored.get(doc.id) == {h}:
            unchanged.append(doc.id)
            continue
        (updated if doc.id in stored else added).append(doc.id)
        todo.append((doc.id, chunk_document(doc, settings.chunk_size, settings.chunk_overlap)))
    current = {d.id for d in loaded.documents}
    removed = sorted(set(stored) - current)

    embedded = _embed_and_store(settings, embedder, store, todo, hashes, progress)
    for doc_id in removed:
        store.delete(store.chunk_ids(doc_id))
    return IngestReport(
        added=tuple(added), updated=tuple(updated), unchanged=tuple(unchanged),
        removed=tuple(removed), skipped=tuple(loaded.skipped), chunks_embedded=embedded,
        seconds=time.perf_counter() - start,
    )  # fmt: skip


def _embed_and_store(settings, embedder, store, todo, hashes, progress: bool) -> int:
    from tqdm import tqdm

    chunks = [c for _, cs in todo for c in cs]
    bar = tqdm(
        total=len(chunks), unit="chunk", desc="Embedding", file=sys.stderr,
        disable=not progress or len(chunks) < 2 * settings.embed_batch_size,
    )  # fmt: skip
    batch: list[Chunk] = []
    for doc_id, doc_chunks in todo:
        batch.extend(doc_chunks)
        if len(batch) >= settings.embed_batch_size:
            _flush(embedder, store, batch, hashes, bar)
            batch = []
    _flush(embedder, store, batch, hashes, bar)
    # Only after every new chunk is stored: drop chunks that no longer exist (a shorter document).
    for doc_id, doc_chunks in todo:
        keep = {c.id for c in doc_chunks}
        store.delete([i for i in store.chunk_ids(doc_id) if i not in keep])
    bar.close()
    return len(chunks)


def _flush(embedder, store, batch: list[Chunk], hashes, bar) -> None:
    """Embed and upsert whole documents at a time (a batch never splits a document)."""
    if not batch:
        return
    vectors = embedder.passages([_embed_text(c) for c in batch])
    store.upsert(batch, vectors, hashes)
    bar.update(len(batch))


def _embed_text(chunk: Chunk) -> str:
    """The title gives a chunk its context (which article, which call)."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title and not chunk.text.startswith(chunk.title) else chunk.text
