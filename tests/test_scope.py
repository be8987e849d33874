"""A question restricted to a date range and to outlets (`Scope`): read from what the user typed,
said as a Chroma `where` and as the same test in Python, and obeyed by every retriever of the
fusion (dense, BM25) — a real Chroma in tmp_path, the hashing embedder. The chunk metadata the
ingest writes (`published`, `outlet`, `url`, `author`, `title`, and `published_day` computed from
`published`) is put on the seeds' records here."""

from __future__ import annotations

import datetime as dt

import pytest

from rag.core.errors import IndexStateError, InputError
from rag.core.types import Scope
from rag.index.store import Store
from rag.pipeline import RAG
from rag.retrieve.scope import admits, parse_day, scope_from, where
from rag.text.calendar import day_number

FOGEL = "003_17ab84beb0fc2423.txt"  # the article that answers QUESTION
QUESTION = "Quel Américain détenu en Russie a été remis en liberté ?"
PUBLISHED = {  # doc -> its metadata; 004 stays without any (unknown outlet and date)
    "000_b3fd78398ee6b0e0.txt": {"published": "2024-11-10", "outlet": "Agence Exemple"},
    "001_2b9e3b30e134a6cf.txt": {"published": "2024-11-11", "outlet": "Agence Exemple"},
    "002_08de760eebd6501b.txt": {"published": "2025-02-13", "outlet": "Le Quotidien Test"},
    FOGEL: {
        "published": "2025-02-12",
        "outlet": "Le Quotidien Test",
        "url": "https://quotidien.example/fogel",
        "author": "Jeanne Exemple",
        "title": "Un Américain libéré",
    },
}


def store_of(settings) -> Store:
    return Store(settings, RAG(settings).embedder.id)


def publish(settings, metadata: dict[str, dict]) -> None:
    """Put each document's metadata on all its records, as the ingest writes it."""
    store = store_of(settings)
    for doc_id, meta in metadata.items():
        got = store.collection.get(where={"doc_id": doc_id}, include=["metadatas"])
        extra = meta | {"published_day": day_number(meta.get("published"))}
        store.collection.update(ids=got["ids"], metadatas=[m | extra for m in got["metadatas"]])


@pytest.fixture
def published(settings):
    """The seeds indexed, with PUBLISHED on their records; the settings to open them."""
    RAG(settings).ingest(progress=False)
    publish(settings, PUBLISHED)
    return settings


@pytest.mark.parametrize(
    "text, end, day",
    [
        ("2017-01-31", False, dt.date(2017, 1, 31)),
        ("2017-01-31", True, dt.date(2017, 1, 31)),
        ("2017-02", False, dt.date(2017, 2, 1)),
        ("2016-02", True, dt.date(2016, 2, 29)),
        ("2017", False, dt.date(2017, 1, 1)),
        ("2017", True, dt.date(2017, 12, 31)),
        (" 2017-3-5 ", False, dt.date(2017, 3, 5)),
        ("", False, None),
        (None, True, None),
    ],
)
def test_a_day_is_read_from_a_date_a_month_or_a_year(text, end, day):
    assert parse_day(text, end=end) == day


@pytest.mark.parametrize("bad", ["2017-13-01", "2017-02-30", "31/01/2017", "janvier", "17-01-31"])
def test_a_bad_date_is_a_one_line_error_that_says_how_to_write_it(bad):
    with pytest.raises(InputError) as error:
        scope_from(since=bad)
    message = str(error.value)
    assert "\n" not in message and repr(bad) in message and "YYYY-MM-DD" in message


def test_an_empty_range_is_refused_and_blank_values_restrict_nothing():
    with pytest.raises(InputError, match="swap them"):
        scope_from("2018-01-01", "2017-12-31")
    assert scope_from("", None, ["", " "]).empty and where(scope_from()) is None
    assert scope_from(outlets="Agence Exemple").outlets == ("Agence Exemple",)


SCOPES = [
    Scope(since=dt.date(2024, 11, 11)),
    Scope(until=dt.date(2024, 12, 31)),
    Scope(since=dt.date(2025, 2, 12), until=dt.date(2025, 2, 12)),
    Scope(outlets=("Agence Exemple",)),
    Scope(outlets=("Le Quotidien Test", "Nobody")),
    Scope(since=dt.date(2024, 1, 1), outlets=("Le Quotidien Test",)),
    Scope(outlets=("Nobody",)),
]


@pytest.mark.parametrize("scope", SCOPES)
def test_the_where_and_the_python_test_select_the_same_chunks(published, scope):
    store = store_of(published)
    chosen = store.collection.get(where={"$and": [{"kind": "chunk"}, where(scope)]}, include=[])
    admitted = {c.id for c in store.all_chunks() if admits(scope, c)}
    assert set(chosen["ids"]) == admitted
    assert len(admitted) < len(store.all_chunks())  # each scope leaves some chunks out


@pytest.mark.parametrize("fusion", ["dense", "bm25", "rrf"])
@pytest.mark.parametrize(
    "scope, allowed",
    [
        (
            Scope(until=dt.date(2024, 12, 31)),
            {"000_b3fd78398ee6b0e0.txt", "001_2b9e3b30e134a6cf.txt"},
        ),
        (
            Scope(outlets=("Agence Exemple",)),
            {"000_b3fd78398ee6b0e0.txt", "001_2b9e3b30e134a6cf.txt"},
        ),
        (Scope(since=dt.date(2025, 2, 13)), {"002_08de760eebd6501b.txt"}),
    ],
)
def test_every_retriever_keeps_to_the_scope_where_an_article_outside_it_would_win(
    published, fusion, scope, allowed
):
    bot = RAG(published.updated(fusion=fusion))
    assert bot.retrieve(QUESTION)[0].source == FOGEL  # unrestricted, it wins
    passages = bot.retrieve(QUESTION, scope=scope)
    assert passages and {p.source for p in passages} <= allowed
    assert [p.rank for p in passages] == list(range(1, len(passages) + 1))


def test_a_date_range_leaves_out_the_articles_without_a_publication_day(published):
    bot = RAG(published.updated(top_k=30))
    everything = {p.source for p in bot.retrieve(QUESTION)}
    assert "004_04761f5e471519e2.txt" in everything
    dated = {p.source for p in bot.retrieve(QUESTION, scope=scope_from("2000", "2100"))}
    assert dated == set(PUBLISHED)


def test_ingest_writes_the_publication_day_of_a_full_date_only(settings):
    RAG(settings).ingest(progress=False)
    days = {c.doc_id: c.published_day for c in store_of(settings).all_chunks()}
    assert days["001_2b9e3b30e134a6cf.txt"] == 20241110  # "Le 10 novembre 2024, …"
    assert days["000_b3fd78398ee6b0e0.txt"] is None  # "date 2024-11": no day


def test_an_index_written_before_publication_days_asks_for_a_rebuild(settings):
    RAG(settings).ingest(progress=False)
    store = store_of(settings)
    got = store.collection.get(include=["metadatas"])
    store.collection.update(  # as an ingest before published_day wrote them
        ids=got["ids"], metadatas=[m | {"published_day": None} for m in got["metadatas"]]
    )
    bot = RAG(settings)
    with pytest.raises(IndexStateError, match="rag ingest --rebuild"):
        bot.retrieve(QUESTION, scope=scope_from(since="2024"))
    assert bot.retrieve(QUESTION, scope=scope_from(outlets=["X"])) == []  # outlets still work
