"""The index's version: a mark every ingest that changed something writes last, under its lock.

A process that has the index open compares it with the version it opened (`read_version`, one
small read) to learn that another process (`rag ingest`, another app instance) changed the index.
The mark lives in Chroma itself, in a one-record-per-collection companion collection, so that it
works the same with the embedded folder and with a Chroma server; it is written after the last
chunk, so a reader that sees a new version sees a finished ingest.

The embedded folder needs more than a re-read: a Chroma client caches its vector index per process
and never sees another process's writes (checked: its `count()` and `get()` are live, its
`query()` is not), so `forget_client` drops the cached client and the next Store opens a fresh one.
Stores opened before keep answering from their own (old, complete) state until released.
"""

from __future__ import annotations

import time
import uuid

VERSIONS = "rag-versions"  # the companion collection: id = collection name, metadata = version


def write_version(store) -> str:
    """Mark `store`'s collection as changed now; returns the new version."""
    from rag.index.store import _refusing_embedding_function, _writing

    version = uuid.uuid4().hex
    marks = _writing(
        store.where,
        store.client.get_or_create_collection,
        VERSIONS,
        embedding_function=_refusing_embedding_function(),
    )
    meta = {"version": version, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _writing(
        store.where,
        marks.upsert,
        ids=[store.settings.index.collection],
        embeddings=[[0.0]],
        metadatas=[meta],
    )
    return version


def read_version(store) -> str:
    """The collection's current version ("" when no ingest has marked it yet)."""
    from chromadb.errors import ChromaError

    from rag.index.store import _refusing_embedding_function

    try:
        marks = store.client.get_collection(
            VERSIONS, embedding_function=_refusing_embedding_function()
        )
        got = marks.get(ids=[store.settings.index.collection], include=["metadatas"])
    except ChromaError:  # no mark yet (an index from before marks: NotFoundError), or unreadable
        return ""
    metas = got.get("metadatas") or []
    return str((metas[0] or {}).get("version", "")) if metas else ""


def forget_client(store) -> None:
    """Make the next Store on this folder open a fresh Chroma client (a server is always live)."""
    if store.settings.server.chroma_host:
        return
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(store.client._identifier, None)
    SharedSystemClient._identifier_to_refcount.pop(store.client._identifier, None)
