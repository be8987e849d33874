"""The Chroma store: the only module that imports chromadb.

Embedded and persistent by default (a folder), or a Chroma server when `chroma_host` is set.
Embeddings are always computed by us; the collection carries a function that refuses to embed, so
Chroma's default embedding function (which downloads a model) can never run. The collection
records which embedder built it, and opening it with another one is refused.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rag.errors import IndexStateError
from rag.settings import Settings
from rag.types import Chunk

SCHEMA = "3"  # 2: sentence windows beside their chunks; 3: "dense" flag on what dense search sees


@dataclass(frozen=True)
class StoredChunk:
    id: str
    doc_id: str
    text: str
    title: str
    date: str | None
    doc_hash: str


@dataclass(frozen=True)
class Window:
    """A sentence window of a chunk: embedded for dense search, it points back at its chunk."""

    id: str
    chunk_id: str
    text: str


@dataclass(frozen=True)
class DenseHit:
    chunk_id: str
    similarity: float  # cosine similarity, 1 is identical
    window: str | None = None  # text of the best-matching window, when a window matched


def _refusing_embedding_function():
    from chromadb.api.types import EmbeddingFunction

    class Precomputed(EmbeddingFunction):
        """Refuses to embed: rag computes every embedding itself."""

        def __init__(self) -> None:
            pass

        def __call__(self, input):  # noqa: A002 - chromadb's parameter name
            raise RuntimeError("rag computes embeddings itself; pass query_embeddings")

        @staticmethod
        def name() -> str:
            return "rag-precomputed"

        def get_config(self) -> dict:
            return {}

        @staticmethod
        def build_from_config(config: dict) -> "Precomputed":
            return Precomputed()

    return Precomputed()


class Store:
    """One Chroma collection of chunks, guarded by the id of the embedder that built it."""

    def __init__(self, settings: Settings, embedder_id: str, create: bool = False) -> None:
        self.settings = settings
        self.embedder_id = embedder_id
        self.where = self._where()
        if not create and not _exists(settings):
            raise IndexStateError(self._missing_message())
        try:
            self.client = _client(settings)
        except Exception as exc:
            raise IndexStateError(f"cannot open the index at {self.where}: {exc}") from exc
        self.collection = self._open_collection(create)

    def _where(self) -> str:
        s = self.settings
        return f"{s.chroma_host}:{s.chroma_port}" if s.chroma_host else f"{s.index_dir}/"

    def _missing_message(self) -> str:
        return f"no index at {self.where} — run 'rag ingest' first"

    def _open_collection(self, create: bool):
        ef = _refusing_embedding_function()
        name = self.settings.collection
        try:
            if create:
                collection = self.client.get_or_create_collection(
                    name, embedding_function=ef,
                    metadata={"hnsw:space": "cosine", "embedder": self.embedder_id, "schema": SCHEMA},
                )  # fmt: skip
            else:
                collection = self.client.get_collection(name, embedding_function=ef)
        except Exception as exc:
            if not create and "does not exist" in str(exc).lower():
                raise IndexStateError(self._missing_message()) from None
            raise IndexStateError(f"cannot open collection {name!r} at {self.where}: {exc}") from exc
        meta = collection.metadata or {}
        built_with = meta.get("embedder")
        if built_with != self.embedder_id:
            raise IndexStateError(
                f"the index at {self.where} was built with embedder {built_with!r}, not "
                f"{self.embedder_id!r} — run 'rag ingest --rebuild' or use another RAG_INDEX_DIR"
            )
        if meta.get("schema") != SCHEMA:
            raise IndexStateError(
                f"the index at {self.where} has schema {meta.get('schema')!r}, expected {SCHEMA} — "
                "run 'rag ingest --rebuild'"
            )
        return collection

    def count(self) -> int:
        return self.collection.count()

    def document_hashes(self) -> dict[str, set[str]]:
        """doc_id -> the set of doc hashes its stored chunks carry (more than one: interrupted update)."""
        result: dict[str, set[str]] = {}
        for meta in self.collection.get(include=["metadatas"])["metadatas"]:
            result.setdefault(meta["doc_id"], set()).add(meta.get("doc_hash", ""))
        return result

    def record_ids(self, doc_id: str) -> list[str]:
        """Every record of a document: its chunks and their windows."""
        return self.collection.get(where={"doc_id": doc_id}, include=[])["ids"]

    def upsert(self, chunks: list[Chunk], embeddings, doc_hash: dict[str, str], windowed: list[bool]) -> None:
        """Chunks that have windows are not seen by dense search: the mean of their windows'
        vectors is a generic direction that would outrank the precise windows."""
        if not chunks:
            return
        metadatas = [_metadata(c, doc_hash[c.doc_id]) | {"dense": not w} for c, w in zip(chunks, windowed)]
        self.collection.upsert(
            ids=[c.id for c in chunks],
            embeddings=[list(map(float, e)) for e in embeddings],
            documents=[c.text for c in chunks],
            metadatas=metadatas,
        )

    def upsert_windows(self, windows: list[Window], embeddings, chunks: list[Chunk], doc_hash: dict[str, str]) -> None:
        if not windows:
            return
        by_id = {c.id: c for c in chunks}
        metadatas = []
        for w in windows:
            meta = _metadata(by_id[w.chunk_id], doc_hash[by_id[w.chunk_id].doc_id])
            meta.update(kind="window", chunk_id=w.chunk_id, dense=True)
            metadatas.append(meta)
        self.collection.upsert(
            ids=[w.id for w in windows],
            embeddings=[list(map(float, e)) for e in embeddings],
            documents=[w.text for w in windows],
            metadatas=metadatas,
        )

    def delete(self, ids: list[str]) -> None:
        if ids:
            self.collection.delete(ids=ids)

    def all_chunks(self) -> list[StoredChunk]:
        got = self.collection.get(where={"kind": "chunk"}, include=["documents", "metadatas"])
        return [
            StoredChunk(
                id=i, doc_id=m["doc_id"], text=t, title=m.get("title", ""),
                date=m.get("date") or None, doc_hash=m.get("doc_hash", ""),
            )
            for i, t, m in zip(got["ids"], got["documents"], got["metadatas"])
        ]  # fmt: skip

    def query(self, embedding, n: int) -> list[DenseHit]:
        """The n best chunks, each scored by its best-matching window (or itself)."""
        total = self.count()
        if total <= 0:
            return []
        got = self.collection.query(
            query_embeddings=[list(map(float, embedding))], n_results=min(4 * n, total),
            where={"dense": True}, include=["distances", "metadatas", "documents"],
        )  # fmt: skip
        hits: dict[str, DenseHit] = {}
        for meta, distance, text in zip(got["metadatas"][0], got["distances"][0], got["documents"][0]):
            window = text if meta.get("kind") == "window" else None
            hits.setdefault(meta["chunk_id"], DenseHit(meta["chunk_id"], 1.0 - float(distance), window))
        return list(hits.values())[:n]


def _exists(settings: Settings) -> bool:
    """A server is asked when opened; an embedded index must have its database file."""
    return bool(settings.chroma_host) or (settings.index_dir / "chroma.sqlite3").exists()


def _client(settings: Settings):
    """The Chroma client for the settings: a server when chroma_host is set, else the folder."""
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    if settings.chroma_host:
        return chromadb.HttpClient(
            host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
        )
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.index_dir), settings=chroma_settings)


def drop_collection(settings: Settings) -> None:
    """Drop the collection whatever embedder built it (for --rebuild); absent is fine."""
    if not _exists(settings):
        return
    client = _client(settings)
    if settings.collection in {c if isinstance(c, str) else c.name for c in client.list_collections()}:
        client.delete_collection(settings.collection)


def _metadata(chunk: Chunk, doc_hash: str) -> dict:
    meta = {
        "doc_id": chunk.doc_id, "index": chunk.index, "hash": chunk.hash,
        "title": chunk.title, "doc_hash": doc_hash, "kind": "chunk", "chunk_id": chunk.id,
    }  # fmt: skip
    if chunk.date:
        meta["date"] = chunk.date
    return meta


@contextmanager
def ingest_lock(settings: Settings) -> Iterator[None]:
    """Serialise ingest runs on one index: a second one fails at once with a clear message."""
    folder = settings.index_dir if not settings.chroma_host else Path(settings.model_cache)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".ingest-{settings.collection}.lock"
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexStateError(
                f"another 'rag ingest' is running on {folder}/ — wait for it to finish"
            ) from None
        handle.write(str(os.getpid()))
        handle.flush()
        yield
