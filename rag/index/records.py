"""What a stored record holds: the dataclasses read back from the index and the metadata written
with each chunk. Pure: no chromadb here (rag.index.store talks to Chroma)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from rag.core.errors import IndexStateError
from rag.core.types import Chunk
from rag.text.calendar import day_number


@dataclass(frozen=True)
class StoredChunk:
    id: str
    doc_id: str
    text: str
    title: str
    published: str | None  # Chunk.published
    doc_hash: str
    latent: str = ""  # the chunk's latent terms, encode_terms' text ("" when not computed)
    times: tuple[tuple[int, int, str, str], ...] = ()  # Chunk.times
    dated: tuple[str, ...] = ()  # Chunk.dated
    published_day: int | None = None  # published as YYYYMMDD: what a date range filters on
    outlet: str | None = None  # Chunk.outlet, .url, .author
    url: str | None = None
    author: str | None = None
    lang: str = ""  # Chunk.lang ("": an index from before it was stored)


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


def encode_terms(terms) -> str:
    """Latent terms as compact text. encode_terms(([7, 42], [1.5, 0.25])) -> "7:1.5 42:0.25" """
    dims, weights = terms
    return " ".join(f"{int(d)}:{float(w):.4g}" for d, w in zip(dims, weights, strict=True))


def decode_terms(text: str):
    """The (int32 dimensions, float32 weights) of encode_terms' text."""
    import numpy as np

    try:
        pairs = [(int(d), float(w)) for d, w in (p.split(":") for p in text.split())]
    except ValueError:
        raise IndexStateError(
            f"the index holds damaged latent terms ({text[:40]!r}…) — run 'rag ingest --rebuild'"
        ) from None
    return np.array([d for d, _ in pairs], np.int32), np.array([w for _, w in pairs], np.float32)


def metadata(chunk: Chunk, doc_hash: str, doc_records: dict[str, int] | None = None) -> dict:
    """The Chroma metadata of a chunk record (windows add their kind and chunk id to it)."""
    meta = {
        "doc_id": chunk.doc_id,
        "index": chunk.index,
        "hash": chunk.hash,
        "title": chunk.title,
        "doc_hash": doc_hash,
        "kind": "chunk",
        "chunk_id": chunk.id,
    }
    # None deletes a key: an upsert merges metadata, and a document that lost its date (or a
    # chunk that lost its dated expressions) must not keep the old ones; stored records have no
    # None values. "date" was the key of the publication date before "published".
    meta["date"] = None
    for key in ("published", "outlet", "url", "author", "lang"):
        meta[key] = getattr(chunk, key) or None
    meta["times"] = json.dumps(chunk.times, ensure_ascii=False) if chunk.times else None
    meta["dated"] = list(chunk.dated) or None  # filterable: {"dated": {"$contains": "2024-11"}}
    if doc_records:
        meta["doc_records"] = doc_records[chunk.doc_id]
    # Last, from what the record says it was published: Chroma compares numbers only ($gte).
    published = meta.get("published") or meta.get("date")
    meta["published_day"] = day_number(published if isinstance(published, str) else None)
    return meta
