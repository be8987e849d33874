"""The Chroma store: with rag.index.version, the only modules that import chromadb.

Embedded and persistent by default (a folder), or a Chroma server when `chroma_host` is set.
Embeddings are always computed by us; the collection carries a function that refuses to embed, so
Chroma's default embedding function (which downloads a model) can never run. The collection
records which embedder built it, and opening it with another one is refused.

Everything lives in the collection (chunk texts, titles, dates, hashes, windows): BM25 is rebuilt
in memory from it when a retriever opens, so a Chroma server holds the whole index and only the
ingest lock file stays on the machine that runs `rag ingest`.

Crash safety: every record carries its document's hash and how many records the document has
(`doc_records`); a document whose records are fewer, or carry another hash, is re-embedded by the
next ingest. Write failures (disk full, read-only folder) become one-line `IndexStateError`s.
The ingest lock is in `rag.index.lock`.
"""

from __future__ import annotations

import errno
import itertools
import json

from rag.core.errors import IndexStateError
from rag.core.settings import Settings
from rag.core.types import Chunk
from rag.index.records import DenseHit, StoredChunk, Window, encode_terms, metadata

GET_PAGE = 5000  # records per `get` call
SCHEMA = "3"  # 2: sentence windows beside their chunks; 3: "dense" flag on what dense search sees


class StaleIndexError(IndexStateError):
    """The embedded folder changed under this process's client (another process wrote to it):
    its cached vector index no longer matches the records. Reopening the store mends it."""


def _refusing_embedding_function():
    from chromadb.api.types import EmbeddingFunction

    class Precomputed(EmbeddingFunction):
        """Refuses to embed: rag computes every embedding itself."""

        def __init__(self) -> None:
            pass

        def __call__(self, input):
            raise RuntimeError("rag computes embeddings itself; pass query_embeddings")

        @staticmethod
        def name() -> str:
            return "rag-precomputed"

        def get_config(self) -> dict:
            return {}

        @staticmethod
        def build_from_config(config: dict) -> Precomputed:
            return Precomputed()

    return Precomputed()


class Store:
    """One Chroma collection of chunks, guarded by the id of the embedder that built it."""

    def __init__(self, settings: Settings, embedder_id: str, create: bool = False) -> None:
        self.settings = settings
        self.embedder_id = embedder_id
        self.where = location(settings)
        if not create and not exists(settings):
            raise IndexStateError(self._missing_message())
        self.client = _client(settings)
        self.collection = self._open_collection(create)
        self._max_batch: int | None = None

    def _missing_message(self) -> str:
        return f"no index at {self.where} — run 'rag ingest' first"

    def _open_collection(self, create: bool):
        ef = _refusing_embedding_function()
        name = self.settings.index.collection
        try:
            if create:
                collection = self.client.get_or_create_collection(
                    name,
                    embedding_function=ef,
                    metadata={
                        "hnsw:space": "cosine",
                        "embedder": self.embedder_id,
                        "schema": SCHEMA,
                    },
                )
            else:
                collection = self.client.get_collection(name, embedding_function=ef)
        except Exception as exc:
            if not create and "does not exist" in str(exc).lower():
                raise IndexStateError(self._missing_message()) from None
            raise IndexStateError(
                f"cannot open collection {name!r} at {self.where}: {exc}"
            ) from exc
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
        """doc_id -> the set of doc hashes its stored records carry.

        More than one hash, or the INCOMPLETE mark (fewer records than the document declared):
        an interrupted ingest, which the next one repairs by re-embedding the document.
        """
        result: dict[str, set[str]] = {}
        counts: dict[tuple[str, str], int] = {}
        declared: dict[tuple[str, str], int] = {}
        for meta in self._get(include=["metadatas"])["metadatas"]:
            key = (meta["doc_id"], meta.get("doc_hash", ""))
            result.setdefault(key[0], set()).add(key[1])
            counts[key] = counts.get(key, 0) + 1
            if "doc_records" in meta:  # indexes written before the count was kept lack it
                declared[key] = int(meta["doc_records"])
        for (doc_id, _), n in declared.items():
            if counts[(doc_id, _)] < n:
                result[doc_id].add(INCOMPLETE)
        return result

    def _get(self, **query) -> dict[str, list]:
        """`collection.get` in pages: one call for every record of a large archive fails in
        Chroma's SQLite ("too many SQL variables", seen at 36,000 chunks)."""
        got: dict[str, list] = {}
        for offset in itertools.count(0, GET_PAGE):
            page = self.collection.get(**query, limit=GET_PAGE, offset=offset)
            for key in ("ids", *query.get("include", ())):
                got.setdefault(key, []).extend(page[key] or [])
            if len(page["ids"]) < GET_PAGE:
                return got
        raise AssertionError("unreachable")

    def record_ids(self, doc_id: str) -> list[str]:
        """Every record of a document: its chunks and their windows."""
        return self.collection.get(where={"doc_id": doc_id}, include=[])["ids"]

    def upsert(
        self,
        chunks: list[Chunk],
        embeddings,
        doc_hash: dict[str, str],
        windowed: list[bool],
        doc_records: dict[str, int] | None = None,
        latent: list | None = None,
    ) -> None:
        """Chunks that have windows are not seen by dense search: the mean of their windows'
        vectors is a generic direction that would outrank the precise windows.

        `doc_records` (doc_id -> its number of chunks and windows) lets `document_hashes` see a
        document that an interrupted ingest stored only in part. `latent`: each chunk's latent
        terms (kept as text in its metadata; Chroma's local store takes no sparse vectors there)."""
        if not chunks:
            return
        metadatas = [
            metadata(c, doc_hash[c.doc_id], doc_records) | {"dense": not w}
            for c, w in zip(chunks, windowed, strict=True)
        ]
        for meta, terms in zip(metadatas, latent or [None] * len(chunks), strict=True):
            meta["latent"] = (
                encode_terms(terms) if terms is not None else ""
            )  # upsert keeps old keys
        self._upsert(
            [c.id for c in chunks],
            [list(map(float, e)) for e in embeddings],
            [c.text for c in chunks],
            metadatas,
        )

    def upsert_windows(
        self,
        windows: list[Window],
        embeddings,
        chunks: list[Chunk],
        doc_hash: dict[str, str],
        doc_records: dict[str, int] | None = None,
    ) -> None:
        if not windows:
            return
        by_id = {c.id: c for c in chunks}
        metadatas = []
        for w in windows:
            meta = metadata(by_id[w.chunk_id], doc_hash[by_id[w.chunk_id].doc_id], doc_records)
            meta.update(kind="window", chunk_id=w.chunk_id, dense=True)
            metadatas.append(meta)
        self._upsert(
            [w.id for w in windows],
            [list(map(float, e)) for e in embeddings],
            [w.text for w in windows],
            metadatas,
        )

    def _upsert(
        self, ids: list[str], embeddings: list, documents: list[str], metadatas: list[dict]
    ) -> None:
        """Upsert in slices the store accepts (Chroma caps one call at a few thousand records)."""
        if self._max_batch is None:
            self._max_batch = _writing(self.where, self.client.get_max_batch_size)
        step = self._max_batch
        for at in range(0, len(ids), step):
            _writing(
                self.where,
                self.collection.upsert,
                ids=ids[at : at + step],
                embeddings=embeddings[at : at + step],
                documents=documents[at : at + step],
                metadatas=metadatas[at : at + step],
            )

    def delete(self, ids: list[str]) -> None:
        if ids:
            _writing(self.where, self.collection.delete, ids=ids)

    def all_chunks(self) -> list[StoredChunk]:
        got = self._get(where={"kind": "chunk"}, include=["documents", "metadatas"])
        return [
            StoredChunk(
                id=i,
                doc_id=m["doc_id"],
                text=t,
                title=m.get("title", ""),
                published=m.get("published") or m.get("date") or None,  # "date": older indexes
                doc_hash=m.get("doc_hash", ""),
                latent=m.get("latent", ""),
                times=tuple(tuple(mark) for mark in json.loads(m.get("times") or "[]")),
                dated=tuple(m.get("dated") or ()),
                published_day=m.get("published_day"),
                outlet=m.get("outlet") or None,
                url=m.get("url") or None,
                author=m.get("author") or None,
                lang=m.get("lang") or "",
            )
            for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]

    @staticmethod
    def dated_where(keys: set[str]) -> dict:
        """A `where` for the records dated by one of `keys` (their "dated" metadata)."""
        clauses = [{"dated": {"$contains": k}} for k in sorted(keys)]
        return clauses[0] if len(clauses) == 1 else {"$or": clauses}

    def query(self, embedding, n: int, where: dict | None = None) -> list[DenseHit]:
        """The n best chunks, each scored by its best-matching window (or itself); `where`:
        among the records it selects only."""
        total = self.count()
        if total <= 0:
            return []
        try:
            got = self.collection.query(
                query_embeddings=[list(map(float, embedding))],
                n_results=min(4 * n, total),
                where={"$and": [{"dense": True}, where]} if where else {"dense": True},
                include=["distances", "metadatas", "documents"],
            )
        except Exception as exc:
            text = str(exc).lower()  # stale vectors, or a collection dropped by `ingest --rebuild`
            if "error finding id" not in text and not (
                "collection" in text and "does not exist" in text
            ):
                raise
            raise StaleIndexError(
                f"the index at {self.where} was changed by another process — reopen it"
            ) from exc
        hits: dict[str, DenseHit] = {}
        for meta, distance, text in zip(
            got["metadatas"][0], got["distances"][0], got["documents"][0], strict=True
        ):
            window = text if meta.get("kind") == "window" else None
            hits.setdefault(
                meta["chunk_id"], DenseHit(meta["chunk_id"], 1.0 - float(distance), window)
            )
        return list(hits.values())[:n]


INCOMPLETE = "<incomplete>"  # in document_hashes: the document's records are not all stored


def _writing(where: str, write, *args, **kwargs):
    """Run a store write; a failure becomes a one-line IndexStateError that says what to do.

    The records written before stay: a later `rag ingest` resumes where this one stopped.
    """
    try:
        return write(*args, **kwargs)
    except Exception as exc:
        text = " ".join(str(exc).split())[:200]
        resume = "then run 'rag ingest' again (what was indexed before is kept)"
        if (
            getattr(exc, "errno", None) == errno.ENOSPC
            or "disk is full" in text
            or "No space left" in text
        ):
            raise IndexStateError(
                f"the disk is full: cannot write the index at {where} — free some space, {resume}"
            ) from exc
        if "readonly" in text.replace("-", "").replace(" ", "").lower() or isinstance(
            exc, PermissionError
        ):
            raise IndexStateError(
                f"the index at {where} is read-only ({text}) — fix its permissions or set "
                f"RAG_INDEX_DIR to a writable folder, {resume}"
            ) from exc
        raise IndexStateError(f"cannot write the index at {where}: {text} — {resume}") from exc


def location(settings: Settings) -> str:
    """Where the index lives, for messages: the server's URL or the folder."""
    s = settings
    if s.server.chroma_host:
        return f"{'https' if s.server.chroma_ssl else 'http'}://{s.server.chroma_host}:{s.server.chroma_port}"
    return f"{s.index.index_dir}/"


def exists(settings: Settings) -> bool:
    """A server is asked when opened; an embedded index must have its database file."""
    return (
        bool(settings.server.chroma_host) or (settings.index.index_dir / "chroma.sqlite3").exists()
    )


def _client(settings: Settings):
    """The Chroma client for the settings: a server when chroma_host is set, else the folder.

    The one place a client is made; its failures become one-line IndexStateErrors."""
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    where = location(settings)
    if settings.server.chroma_host:
        token = (
            settings.server.chroma_token.get_secret_value()
            if settings.server.chroma_token
            else None
        )
        headers = {"Authorization": f"Bearer {token}", "X-Chroma-Token": token} if token else None
        try:
            return chromadb.HttpClient(
                host=settings.server.chroma_host,
                port=settings.server.chroma_port,
                ssl=settings.server.chroma_ssl,
                headers=headers,
                settings=chroma_settings,
            )
        except Exception as exc:
            raise IndexStateError(
                f"cannot reach the Chroma server at {where} "
                f"({' '.join(str(exc).split())[:150]}) — start "
                "it ('chroma run --path DIR --host HOST --port PORT') or fix RAG_CHROMA_HOST, "
                "RAG_CHROMA_PORT, RAG_CHROMA_SSL, RAG_CHROMA_TOKEN"
            ) from exc
    try:
        settings.index.index_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(
            path=str(settings.index.index_dir), settings=chroma_settings
        )
    except Exception as exc:
        text = " ".join(str(exc).split())[:150]
        if "readonly" in text.replace(" ", "").lower() or isinstance(exc, PermissionError):
            raise IndexStateError(
                f"the index at {where} is read-only ({text}) — Chroma needs write access even to "
                "read: fix its permissions, or copy it to a writable folder and set RAG_INDEX_DIR"
            ) from exc
        raise IndexStateError(
            f"cannot open the index at {where} ({text}) — if it is damaged or from another Chroma "
            f"version, move it aside (mv {settings.index.index_dir} "
            f"{settings.index.index_dir}.old) "
            "and run 'rag ingest'"
        ) from exc


def drop_collection(settings: Settings) -> None:
    """Drop the collection whatever embedder built it (for --rebuild); absent is fine."""
    if not exists(settings):
        return
    client = _client(settings)
    if settings.index.collection in {
        c if isinstance(c, str) else c.name for c in client.list_collections()
    }:
        client.delete_collection(settings.index.collection)
