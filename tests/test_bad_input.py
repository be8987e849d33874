"""Bad input, through the API and the `rag` command: every case gives a one-line error that says
what to do (exit code 1, no traceback), or is skipped and reported by name; no indexed data is lost.

Questions: empty, blank, 100 kB, control characters, surrogates / bytes that are not UTF-8.
Corpus: binary, empty, 50 MB, Latin-1 and cp1252 files (skipped and named: the policy is strict
UTF-8, with the iconv command to fix them), a file name that is not UTF-8, JSONL broken lines.
Model: a file that fails its checksum. Index: damaged or other-schema folders, read-only folder,
a full disk during ingest, sources that come out empty.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag.cli.main import main
from rag.core.errors import IndexStateError, InputError
from rag.index.store import Store
from rag.pipeline import RAG

QUESTION = "Marc Fogel a-t-il été libéré ?"


def cli(args, tmp_path, **env) -> subprocess.CompletedProcess:
    """The real `rag` command in a subprocess; `args` may hold bytes (argv that is not UTF-8)."""
    full = {
        **os.environ,
        "RAG_EMBEDDER": "fake",
        "RAG_LLM": "fake",
        "RAG_MIN_DENSE_SCORE": "0",
        "RAG_INDEX_DIR": str(tmp_path / "index"),
        "RAG_MODEL_CACHE": str(tmp_path / "cache"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "rag.cli.main", *args], capture_output=True, env=full, timeout=180
    )


def one_line_error(result: subprocess.CompletedProcess) -> str:
    err = result.stderr.decode("utf-8")
    assert result.returncode == 1 and "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("Checking ")]
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    return lines[0]


def in_process(monkeypatch, capsys, settings, *args) -> tuple[int, str, str]:
    """`rag ARGS` in this process (so a test can break the store), with the fixture's settings."""
    for key, value in {
        "RAG_EMBEDDER": "fake",
        "RAG_LLM": "fake",
        "RAG_MIN_DENSE_SCORE": "0",
        "RAG_INDEX_DIR": str(settings.index.index_dir),
    }.items():
        monkeypatch.setenv(key, value)
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def bot(settings) -> RAG:
    bot = RAG(settings)
    bot.ingest(progress=False)
    return bot


# -- questions ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "question, needle",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\t\n\r ", "empty"),
        ("\x00\x01\x7f", "empty"),
        ("\ud800", "empty"),
        ("x" * 100_000, "the limit is 2,000"),
        ("é" * 2001, "the limit is 2,000"),
    ],
)
def test_unusable_questions_are_refused_with_the_fix(bot, question, needle):
    with pytest.raises(InputError, match=needle) as err:
        bot.ask(question)
    assert "\n" not in str(err.value) and bot.llm.calls == []


@pytest.mark.parametrize(
    "question, cleaned",
    [
        ("Marc\x00 Fogel\x1b a-t-il été libéré ?", "Marc  Fogel  a-t-il été libéré ?"),
        (
            QUESTION.encode("latin-1").decode("utf-8", "surrogateescape"),
            QUESTION,
        ),  # a Latin-1 terminal
        ("Marc Fogel a-t-il été lib\udcc3\udca9r\udcc3\udca9 ?", QUESTION),  # UTF-8 bytes, escaped
        ("Marc Fogel \ud83d a-t-il été libéré ?", "Marc Fogel   a-t-il été libéré ?"),
    ],  # a lone surrogate
)
def test_control_characters_and_surrogates_are_cleaned(bot, question, cleaned):
    answer = bot.ask(question)
    assert answer.question == cleaned and not answer.abstained
    json.dumps(answer.to_dict(), ensure_ascii=False).encode("utf-8")  # printable as UTF-8 JSON


def test_cli_questions_that_are_not_utf8(tmp_path, seeds):
    assert cli(["ingest", str(seeds)], tmp_path).returncode == 0
    latin1 = cli(["ask", "--json", "Marc Fogel a-t-il été libéré ?".encode("latin-1")], tmp_path)
    assert latin1.returncode == 0, latin1.stderr
    assert json.loads(latin1.stdout.decode("utf-8"))["question"] == QUESTION
    assert "empty" in one_line_error(cli(["ask", "  \t "], tmp_path))
    assert "limit is 2,000" in one_line_error(cli(["ask", b"\xff" * 100_000], tmp_path))


# -- corpus files ------------------------------------------------------------------------------
def bad_folder(folder: Path) -> dict[str, str]:
    """A folder with one good article and every kind of bad file; returns name -> expected reason."""
    folder.mkdir()
    (folder / "good.txt").write_text(
        "Un article valide sur le zorglub de Montauban.", encoding="utf-8"
    )
    (folder / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (folder / "empty.md").write_bytes(b"")
    (folder / "blank.txt").write_bytes(b" \n\t\n")
    with open(folder / "huge.txt", "wb") as handle:
        handle.truncate(50_000_000)  # 50 MB (sparse): refused by its size, never read
    (folder / "latin1.txt").write_bytes("Un été à l'Élysée.".encode("latin-1"))
    (folder / "cp1252.txt").write_bytes("L’été « chaud » – 5 €.".encode("cp1252"))
    (folder / b"caf\xe9.txt".decode("utf-8", "surrogateescape")).write_bytes(b"Un nom en Latin-1.")
    return {
        "photo.txt": "looks binary",
        "empty.md": "empty file",
        "blank.txt": "empty file",
        "huge.txt": "50,000,000 bytes is over the 5,000,000-byte limit",
        "latin1.txt": "not valid UTF-8 (byte 3), skipped — re-save it as UTF-8 (e.g. iconv -f cp1252",
        "cp1252.txt": "not valid UTF-8 (byte 1)",
        "caf\ufffd.txt": "the file name is not valid UTF-8",
    }


def test_every_bad_file_is_skipped_and_named_and_the_rest_indexed(tmp_path):
    reasons = bad_folder(tmp_path / "docs")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "\n".join(
            [
                json.dumps({"id": "a", "title": "A", "text": "Texte A sur Montauban."}),
                "{broken",
                json.dumps({"id": "b", "text": "Texte B."}),
                '{"title": "no id"}',
                '"just a string"',
                json.dumps({"id": "c", "text": "   "}),
                "",
            ]
        ),
        encoding="utf-8",
    )
    result = cli(["ingest", str(tmp_path / "docs"), str(corpus)], tmp_path)
    out = result.stdout.decode("utf-8")
    assert result.returncode == 0, result.stderr
    assert "3 added" in out and "11 skipped" in out
    for name, reason in reasons.items():
        assert f"{name}: {reason}" in out, name
    for line in (2, 4, 5, 6):
        assert f"corpus.jsonl line {line}:" in out
    ask = cli(["ask", "--json", "zorglub de Montauban"], tmp_path)
    assert json.loads(ask.stdout)["passages"][0]["source"] == "good.txt"


def test_sources_that_come_out_empty_do_not_empty_the_index(
    bot, settings, tmp_path, monkeypatch, capsys
):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "bin.txt").write_bytes(b"\x00\x01")
    (tmp_path / "none").mkdir()
    before = Store(settings, "hash-bow-256").count()
    for source, why in (
        (tmp_path / "bad", " (1 skipped: bin.txt: looks binary"),
        (tmp_path / "none", ";"),
    ):
        code, _, err = in_process(monkeypatch, capsys, settings, "ingest", str(source))
        assert code == 1 and err.count("\n") == 1
        assert f"no readable document{why}" in err and "the 5 indexed documents are kept" in err
    assert Store(settings, "hash-bow-256").count() == before
    code, out, _ = in_process(
        monkeypatch, capsys, settings, "ingest", "--rebuild", str(tmp_path / "none")
    )
    assert code == 0 and "0 added" in out  # emptying on purpose is possible


# -- the model file ----------------------------------------------------------------------------
def test_a_model_file_that_fails_its_checksum(tmp_path, seeds):
    pytest.importorskip(
        "xllamacpp", reason="the llamacpp backend checks the file (pip install xllamacpp)"
    )
    from rag.llm.weights import QWEN_1_5B

    assert cli(["ingest", str(seeds)], tmp_path).returncode == 0
    fake = tmp_path / QWEN_1_5B.name
    with open(fake, "wb") as handle:
        handle.truncate(QWEN_1_5B.size)  # the right size, the wrong bytes: only the hash can tell
    result = cli(["ask", QUESTION], tmp_path, RAG_LLM="llamacpp", RAG_MODEL_FILE=str(fake))
    message = one_line_error(result)
    assert "sha256" in message or "corrupt" in message
    assert fake.exists()  # the user's file is reported, never deleted


# -- the index folder --------------------------------------------------------------------------
def test_a_damaged_index_folder_is_reported_and_kept(tmp_path, seeds):
    index = tmp_path / "index"
    index.mkdir()
    garbage = os.urandom(20_000)
    (index / "chroma.sqlite3").write_bytes(garbage)
    for args in (["ask", QUESTION], ["ingest", str(seeds)], ["ingest", "--rebuild", str(seeds)]):
        message = one_line_error(cli(args, tmp_path))
        assert "file is not a database" in message and f"mv {index} {index}.old" in message
    assert (index / "chroma.sqlite3").read_bytes() == garbage


def test_an_index_of_another_schema_asks_for_a_rebuild(settings):
    import chromadb

    from rag.index.store import _refusing_embedding_function

    settings.index.index_dir.mkdir(parents=True)
    client = chromadb.PersistentClient(
        str(settings.index.index_dir), chromadb.Settings(anonymized_telemetry=False)
    )
    client.create_collection(
        "documents",
        embedding_function=_refusing_embedding_function(),
        metadata={"embedder": "hash-bow-256", "schema": "1"},
    )
    with pytest.raises(
        IndexStateError, match="has schema '1', expected 3 — run 'rag ingest --rebuild'"
    ):
        RAG(settings).ask(QUESTION)
    assert len(RAG(settings).ingest(rebuild=True, progress=False).added) == 5


def make_read_only(folder: Path) -> None:
    """Read-only for this user: chmod, or for root (who ignores modes) the immutable attribute."""
    if os.geteuid() != 0:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        return
    if (
        shutil.which("chattr") is None
        or subprocess.run(["chattr", "-R", "+i", str(folder)]).returncode
    ):
        pytest.skip("running as root without a working chattr: cannot make a folder read-only")


def make_writable(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-R", "-i", str(folder)], check=True)
    else:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)


def test_a_read_only_index_is_a_clear_error_and_keeps_its_data(tmp_path, seeds):
    assert cli(["ingest", str(seeds)], tmp_path).returncode == 0
    index = tmp_path / "index"
    (seeds / "new.txt").write_text("Un nouvel article sur le zorglub.", encoding="utf-8")
    make_read_only(index)
    try:
        assert "read-only" in one_line_error(cli(["ask", QUESTION], tmp_path))
        assert "must be writable" in one_line_error(cli(["ingest", str(seeds)], tmp_path))
    finally:
        make_writable(index)
    ask = cli(["ask", "--json", QUESTION], tmp_path)
    assert ask.returncode == 0 and json.loads(ask.stdout)["citations"]  # nothing was lost


@pytest.mark.parametrize("failure", ["oserror", "sqlite"])
def test_a_full_disk_during_ingest(bot, settings, seeds, monkeypatch, capsys, failure):
    from chromadb.api.models.Collection import Collection
    from chromadb.errors import InternalError

    before = sorted((c.id, c.text) for c in Store(settings, "hash-bow-256").all_chunks())
    (seeds / "new.txt").write_text(
        "Un nouvel article sur le zorglub de Montauban.", encoding="utf-8"
    )
    (seeds / "000_b3fd78398ee6b0e0.txt").write_text(
        "Un texte remplacé, plus court.", encoding="utf-8"
    )

    def full(self, *args, **kwargs):
        if failure == "oserror":
            raise OSError(errno.ENOSPC, "No space left on device")
        raise InternalError("error returned from database: (code: 13) database or disk is full")

    monkeypatch.setattr(Collection, "upsert", full)
    code, _, err = in_process(monkeypatch, capsys, settings, "ingest", str(seeds))
    # the progress bar is drawn, then cleared ("\r" and spaces) before the one-line error
    assert err.count("\n") == 1 and "Traceback" not in err
    err = err.rsplit("\r", 1)[-1]
    assert code == 1 and err.startswith(
        f"Error: the disk is full: cannot write the index at {settings.index.index_dir}/ — free some space"
    )
    assert "what was indexed before is kept" in err
    monkeypatch.undo()
    assert sorted((c.id, c.text) for c in Store(settings, "hash-bow-256").all_chunks()) == before
    report = RAG(settings).ingest(progress=False)  # space is back: the next run completes
    assert report.added == ("new.txt",) and report.updated == ("000_b3fd78398ee6b0e0.txt",)


def test_junk_without_spaces_is_chunked_in_seconds_not_minutes():
    """Found by tests/test_fuzz.py: the sentence splitter recursed once per character on it
    (two minutes, then RecursionError, for these 75 kB)."""
    import time

    from rag.core.types import Document
    from rag.index.ingest import chunk_document, windows

    junk = "?y8??THi?????^i?^r???gq??" * 3000
    start = time.perf_counter()
    chunks = chunk_document(Document(id="junk.txt", title="t", text=junk), 160, 30)
    assert chunks and all(windows(c.text, 80, 20) for c in chunks)
    assert time.perf_counter() - start < 30
