"""Property-based tests (hypothesis): random files, names, encodings, sizes, JSONL lines, questions
and model replies. The only exceptions allowed out are the project's own errors, with one-line
messages; every file is either indexed or reported by name; citations always point at real text.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rag.core.errors import RagError
from rag.core.settings import Settings
from rag.index.ingest import chunk_document, load_sources
from rag.index.readers import SUFFIXES
from rag.pipeline import RAG
from rag.testing.fakes import FakeLLM
from rag.ui import app

ROOT = Path(__file__).resolve().parent.parent


def fuzz(examples: int):
    """Each property stays well under ~20 s here; no example database is written to the repo."""
    return settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )


ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "ascii"]


def one_line(exc: Exception) -> None:
    assert isinstance(exc, RagError), f"{type(exc).__name__}: {exc}"
    assert str(exc) and "\n" not in str(exc)


# -- files ---------------------------------------------------------------------------------------
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=3000)
names = st.text(
    st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="/\\"),
    min_size=1,
    max_size=40,
).filter(lambda n: n not in {".", ".."} and len(n.encode()) < 200)
byte_names = st.binary(min_size=1, max_size=30).map(
    lambda b: b.replace(b"/", b"_").replace(b"\x00", b"_")
)


@st.composite
def contents(draw) -> bytes:
    """Text in a random encoding, random bytes, or either repeated up to ~1 MB."""
    kind = draw(st.sampled_from(["text", "bytes", "big"]))
    if kind == "bytes":
        return draw(st.binary(max_size=3000))
    data = draw(texts).encode(draw(st.sampled_from(ENCODINGS)), errors="replace")
    if kind == "big":
        data = (data or b"x") * draw(st.integers(1, 1_000_000 // max(len(data), 1)))
    return data


@st.composite
def folders(draw) -> list[tuple[bytes, bytes]]:
    """(file name as bytes, content): names are unicode (in UTF-8) or arbitrary bytes."""
    files = []
    for _ in range(draw(st.integers(1, 6))):
        raw = draw(st.one_of(names.map(str.encode), byte_names))
        suffix = draw(st.sampled_from([b".txt", b".md", b".TXT", b".pdf", b""]))
        files.append((raw + suffix, draw(contents())))
    return files


def write(folder: Path, files: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Write the files (later duplicates overwrite earlier ones); the names that should be read."""
    base = os.fsencode(folder)
    expected = set()
    for name, data in files:
        if name in {b".", b".."}:
            continue
        with open(os.path.join(base, name), "wb") as handle:
            handle.write(data)
        if (
            not name.startswith(b".")
            and os.path.splitext(name)[1].lower().decode(errors="replace") in SUFFIXES
        ):
            expected.add(name)
    return expected


@fuzz(40)
@given(files=folders())
def test_loading_any_folder_indexes_or_reports_every_file(files):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        expected = write(folder, files)
        try:
            loaded = load_sources([folder], max_bytes=500_000)
        except Exception as exc:  # only our own errors, with one line
            one_line(exc)
            return
        assert len(loaded.documents) + len(loaded.skipped) == len(expected)  # never silently lost
        assert all("\n" not in s for s in loaded.skipped)
        for doc in loaded.documents:
            doc.id.encode("utf-8")  # storable: no surrogates
            assert doc.text.strip()
            chunks = chunk_document(doc, 160, 30)
            assert chunks and all(c.text.strip() for c in chunks)


@fuzz(12)
@given(files=folders())
def test_ingesting_any_folder_then_again_embeds_nothing(files):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        write(folder, files)
        s = Settings(
            sources=[folder],
            index_dir=Path(tmp) / "index",
            model_cache=Path(tmp) / "cache",
            embedder="fake",
            llm="fake",
            min_dense_score=0.0,
            max_file_bytes=200_000,
        )
        try:
            first = RAG(s).ingest(progress=False)
        except Exception as exc:
            one_line(exc)
            return
        second = RAG(s).ingest(progress=False)
        assert second.chunks_embedded == 0 and len(second.unchanged) == len(first.added)


json_lines = st.one_of(
    st.fixed_dictionaries(
        {"id": st.one_of(st.text(max_size=10), st.integers()), "text": texts},
        optional={"title": st.one_of(st.none(), texts, st.integers())},
    ).map(json.dumps),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=80).filter(
        lambda x: "\n" not in x and "\r" not in x
    ),
    st.sampled_from(
        ["{", "[]", "null", '{"id": 1}', '{"text": "x"}', '"just text"', "{broken json"]
    ),
)


@fuzz(60)
@given(lines=st.lists(json_lines, max_size=15))
def test_any_jsonl_keeps_good_records_and_reports_bad_lines_by_number(lines):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        path.write_text("\n".join(lines), encoding="utf-8")
        try:
            loaded = load_sources([path])
        except Exception as exc:  # e.g. two records with the same id
            one_line(exc)
            return
        physical = path.read_text(encoding="utf-8").splitlines()
        blank = sum(1 for ln in physical if not ln.strip())
        assert len(loaded.documents) + len(loaded.skipped) + blank == len(physical)
        for reason in loaded.skipped:
            number = int(re.match(r"corpus\.jsonl line (\d+):", reason).group(1))
            assert 1 <= number <= len(physical)


# -- questions and replies -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def seeds_index(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ROOT / "seeds", root / "seeds")
    s = Settings(
        sources=[root / "seeds"],
        index_dir=root / "index",
        model_cache=root / "cache",
        embedder="fake",
        llm="fake",
        min_dense_score=0.0,
    )
    RAG(s).ingest(progress=False)
    return s


questions = st.one_of(
    st.text(max_size=300),  # any code point, surrogates and control characters included
    st.text(st.characters(codec="utf-8"), min_size=1900, max_size=2100),
    st.binary(max_size=200).map(lambda b: b.decode("utf-8", "surrogateescape")),
)


@fuzz(80)
@given(question=questions)
def test_any_question_gets_an_answer_or_a_one_line_error(seeds_index, question):
    bot = RAG(seeds_index)
    try:
        answer = bot.ask(question)
    except Exception as exc:
        one_line(exc)
        return
    json.dumps(answer.to_dict(), ensure_ascii=False).encode("utf-8")
    for c in answer.citations:
        assert c.quote in answer.passages[c.number - 1].text


@fuzz(40)
@given(question=questions)
def test_the_page_handler_never_raises(seeds_index, question):
    *_, last = app.respond(RAG(seeds_index), question, None)
    chat, sources, _latency, _conv, box = last
    assert isinstance(chat, list) and isinstance(sources, str) and box == ""


replies = st.lists(
    st.one_of(
        st.text(max_size=60),
        st.integers(-2, 40).map(lambda n: f" [{n}]"),
        st.sampled_from([" NO_ANSWER", " (2)", " [1, 3]", " [[1]]", ". ", "\n", " 2024-11-10 "]),
    ),
    max_size=12,
).map("".join)


@fuzz(150)
@given(
    reply=replies,
    question=st.sampled_from(["Marc Fogel a-t-il été libéré ?", "Who reported the call?"]),
)
def test_any_model_reply_gets_only_real_citations(seeds_index, reply, question):
    assume(reply.strip())
    answer = RAG(seeds_index, llm=FakeLLM(lambda m: reply)).ask(question)
    shown = {
        int(n) for m in re.findall(r"\[(\d+(?:\s*,\s*\d+)*)\]", answer.text) for n in m.split(",")
    }
    assert shown <= {c.number for c in answer.citations}
    for c in answer.citations:
        passage = answer.passages[c.number - 1]
        assert c.source == passage.source and " ".join(c.quote.split()) in " ".join(
            passage.text.split()
        )
