import json

import pytest

from rag.core.errors import InputError
from rag.core.types import Document
from rag.index.ingest import (
    chunk_document,
    clean_text,
    decode,
    extract_date,
    load_sources,
    make_title,
)


@pytest.mark.parametrize(
    "text, date, rest_starts",
    [
        (" date 2024-11 Donald Trump s’est entretenu", "2024-11", "Donald"),
        ("date 2025-02-12 Ce mercredi", "2025-02-12", "Ce mercredi"),
        # a date in the body is an event's, not the article's: only a dateline or a cue counts
        ("Le 10 novembre 2024, le Washington Post", None, "Le 10"),
        ("Le 1er février 2025, Trump", None, "Le 1er"),
        ("Titre\n\n1er février 2025 . – Trump", "2025-02-01", "Titre"),
        ("Titre\n\nPARIS, 3 mars 2017 (AFP) – Le", "2017-03-03", "Titre"),
        ("Titre\nPublié le 3 mars 2017 à 10h12\nCorps", "2017-03-03", "Titre"),
        ("Le 4 novembre (heure américaine), le président", None, "Le 4"),
        ("Pas de date ici.", None, "Pas"),
    ],
)
def test_extract_date(text, date, rest_starts):
    found, rest = extract_date(text)
    assert found == date
    assert rest.startswith(rest_starts)


def test_clean_text_drops_ads_and_repeated_headline():
    text = "Titre\n\nTitre\n\nCorps un.\n\nLa suite après cette publicité\n\nLa suite après cette publicité\n\nCorps deux."
    assert clean_text(text) == "Titre\n\nCorps un.\n\nCorps deux."


def test_seed_boilerplate_is_gone(seeds):
    docs = {d.id: d for d in load_sources([seeds]).documents}
    assert "publicité" not in docs["003_17ab84beb0fc2423.txt"].text
    headline = "Trump révèle s’être entretenu avec Poutine"
    assert docs["002_08de760eebd6501b.txt"].text.count(headline) == 1
    assert docs["000_b3fd78398ee6b0e0.txt"].published == "2024-11"
    assert docs["001_2b9e3b30e134a6cf.txt"].published == "2024-11-10"
    assert not docs["000_b3fd78398ee6b0e0.txt"].text.startswith(" date")


def test_make_title_cuts_at_word():
    assert make_title("Court titre\nCorps") == "Court titre"
    long = "mot " * 60
    assert make_title(long, limit=20) == "mot mot mot mot mot…"


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x89PNG\x00\x00binary", "looks binary"),
        ("Élysée".encode("latin-1"), "not valid UTF-8"),
    ],
)
def test_decode_rejects_with_fix(raw, message):
    with pytest.raises(InputError, match=message):
        decode(raw, "f.txt")


def test_decode_accepts_bom():
    assert decode("\ufeffÉlysée".encode("utf-8"), "f.txt") == "Élysée"


def test_bad_files_are_skipped_and_reported(tmp_path):
    (tmp_path / "good.txt").write_text("Un article valide.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "latin.txt").write_bytes("Un été à Moscou".encode("latin-1"))
    (tmp_path / "bin.md").write_bytes(b"\x00\x01\x02")
    (tmp_path / "ignored.pdf").write_bytes(b"%PDF")
    loaded = load_sources([tmp_path])
    assert [d.id for d in loaded.documents] == ["good.txt"]
    reasons = " | ".join(loaded.skipped)
    assert "empty.txt: empty" in reasons and "latin.txt: not valid UTF-8" in reasons
    assert "bin.md: looks binary" in reasons


def test_too_big_file_is_skipped(tmp_path):
    (tmp_path / "big.txt").write_text("x" * 200, encoding="utf-8")
    loaded = load_sources([tmp_path], max_bytes=100)
    assert loaded.documents == [] and "over the 100-byte limit" in loaded.skipped[0]


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        load_sources([tmp_path / "nope"])


def test_jsonl_broken_lines_reported_rest_kept(tmp_path):
    path = tmp_path / "corpus.jsonl"
    lines = [
        json.dumps({"id": "a", "title": "A", "text": "Texte A."}),
        "{not json",
        json.dumps({"id": "b", "text": "Texte B."}),
        json.dumps({"title": "no id", "text": "x"}),
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    loaded = load_sources([path])
    assert [(d.id, d.title) for d in loaded.documents] == [("a", "A"), ("b", "Texte B.")]
    assert [s.split(":")[0] for s in loaded.skipped] == [
        "corpus.jsonl line 2",
        "corpus.jsonl line 4",
    ]


def test_duplicate_ids_refused(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="share the id 'a'"):
        load_sources([path])


def test_chunks_have_stable_ids_hashes_and_stay_in_source():
    text = " ".join(f"Phrase numéro {i} sur l'Ukraine et la Russie." for i in range(80))
    doc = Document(id="d.txt", title="T", text=text, published="2024-11")
    chunks = chunk_document(doc, 64, 8)
    assert len(chunks) > 3
    assert [c.id for c in chunks] == [f"d.txt:{i}" for i in range(len(chunks))]
    assert chunks == chunk_document(doc, 64, 8)  # deterministic
    assert all(c.published == "2024-11" and len(c.hash) == 64 for c in chunks)
    assert all(c.text in text for c in chunks)
    assert all(c.text.rstrip().endswith(".") for c in chunks)  # sentence-aware
