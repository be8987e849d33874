"""Reading sources into documents, and documents into chunks.

Files are read by hand rather than with llama-index's SimpleDirectoryReader because we need strict
decoding (a wrong encoding or a binary file must be reported, never silently mangled), the article
date, and boilerplate removal. Chunking uses llama-index's sentence-aware SentenceSplitter.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rag.core.errors import InputError
from rag.core.types import Chunk, Document
from rag.text import dated, timeline
from rag.text.calendar import FULL_DATE, month_number
from rag.text.language import detect

TEXT_SUFFIXES = {".txt", ".md"}
BOILERPLATE = re.compile(
    r"^\s*(la suite apr[eè]s cette publicit[eé]|publicit[eé]|advertisement|lire aussi\s*:?.*)\s*$",
    re.IGNORECASE,
)
DATE_MARKER = re.compile(r"^\s*date\s+(\d{4}-\d{2}(?:-\d{2})?)\s*")
NOT_PROSE = re.compile(r"\S{200}")  # see _split


@dataclass
class Loaded:
    """Documents read from the sources, plus one line per file or record that was not."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def load_sources(paths: Iterable[Path], max_bytes: int = 5_000_000) -> Loaded:
    """Read every .txt/.md file of the given folders (recursively) and every .jsonl corpus."""
    loaded = Loaded()
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise InputError(f"no such file or folder: {path} — check the path or RAG_SOURCES")
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if file.suffix.lower() in TEXT_SUFFIXES and not file.name.startswith("."):
                    _add(loaded, lambda f=file, root=path: [read_text_document(f, root, max_bytes)])
        elif path.suffix.lower() == ".jsonl":
            loaded.documents.extend(read_jsonl(path, loaded.skipped))
        elif path.suffix.lower() in TEXT_SUFFIXES:
            _add(loaded, lambda f=path: [read_text_document(f, f.parent, max_bytes)])
        else:
            raise InputError(f"{path}: unsupported file type — use a folder, .txt, .md or .jsonl")
    seen: dict[str, str] = {}
    for doc in loaded.documents:
        if doc.id in seen:
            raise InputError(
                f"two documents share the id {doc.id!r} ({seen[doc.id]} and {doc.path}) — "
                "rename one"
            )
        seen[doc.id] = doc.path or doc.id
    return loaded


def _add(loaded: Loaded, read) -> None:
    try:
        loaded.documents.extend(read())
    except InputError as exc:
        loaded.skipped.append(str(exc))


def read_text_document(file: Path, root: Path, max_bytes: int = 5_000_000) -> Document:
    """One article file → a Document whose id is its path relative to `root` (usually its name)."""
    doc_id = file.relative_to(root).as_posix()
    if re.search("[\ud800-\udfff\x00-\x1f\x7f]", doc_id):  # os.listdir escapes non-UTF-8 bytes
        shown = doc_id.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        shown = re.sub("[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", shown)
        why = "is not valid UTF-8" if "\ufffd" in shown else "contains control characters"
        raise InputError(f"{shown}: the file name {why}, skipped — rename the file")
    size = file.stat().st_size
    if size > max_bytes:
        raise InputError(f"{doc_id}: {size:,} bytes is over the {max_bytes:,}-byte limit, skipped")
    raw = file.read_bytes()
    text = decode(raw, doc_id)
    date, text = extract_date(text)
    text = clean_text(text)
    if not text.strip():
        raise InputError(f"{doc_id}: empty file, skipped")
    return Document(id=doc_id, title=make_title(text), text=text, date=date, path=str(file))


def decode(raw: bytes, name: str) -> str:
    """UTF-8 (with or without BOM); a binary or non-UTF-8 file raises with the fix to apply."""
    if b"\x00" in raw[:8192]:
        raise InputError(f"{name}: looks binary (NUL bytes), skipped — only text files are indexed")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}: not valid UTF-8 (byte {exc.start}), skipped — re-save it as UTF-8 "
            f"(e.g. iconv -f cp1252 -t utf-8, which also reads Latin-1)"
        ) from None


def read_jsonl(path: Path, skipped: list[str]) -> list[Document]:
    """A corpus of `{"id", "title", "text"}` records; broken lines are reported, the rest kept."""
    docs = []
    text = decode(path.read_bytes(), path.name)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            doc_id, body = str(record["id"]), str(record["text"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            skipped.append(f"{path.name} line {number}: not a {{id, title, text}} record ({exc})")
            continue
        date, body = extract_date(body)
        body = clean_text(body)
        if not body.strip():
            skipped.append(f"{path.name} line {number}: empty text")
            continue
        title = str(record.get("title") or make_title(body))
        docs.append(Document(id=doc_id, title=title, text=body, date=date, path=str(path)))
    return docs


def extract_date(text: str) -> tuple[str | None, str]:
    """The article date and the text without its ` date YYYY-MM` marker.

    " date 2024-11 Donald…" -> ("2024-11", "Donald…")
    "Le 10 novembre 2024, …" -> ("2024-11-10", same)
    """
    marker = DATE_MARKER.match(text)
    if marker:
        return marker.group(1), text[marker.end() :]
    lead = FULL_DATE.search(text[:400])
    if lead:
        day, month, year = int(lead.group(1)), month_number(lead.group(2)), lead.group(3)
        return f"{year}-{month:02d}-{day:02d}", text
    return None, text


def clean_text(text: str) -> str:
    """Drop ad markers and paragraphs repeated verbatim (a headline printed twice); tidy spaces."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)
    kept: list[str] = []
    seen: set[str] = set()
    for line in text.split("\n"):
        key = " ".join(line.split())
        if key and (BOILERPLATE.match(key) or key in seen):
            continue
        if key:
            seen.add(key)
        kept.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def make_title(text: str, limit: int = 120) -> str:
    """The first line, cut at a word boundary."""
    first = text.strip().split("\n", 1)[0].strip()
    return first if len(first) <= limit else first[:limit].rsplit(" ", 1)[0] + "…"


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_document(doc: Document, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Sentence-aware chunks of a document, each with a stable id "{doc_id}:{index}", a hash,
    and its time expressions resolved against the article's date (over the whole text first, so
    that "le lendemain" at a chunk's start still counts from the date the chunk before gave)."""
    pieces = _split(doc.text, chunk_size, chunk_overlap)
    found = timeline.resolve(doc.text, doc.date)
    lang = detect(doc.text[:3000])
    chunks, pos = [], 0
    for i, piece in enumerate(pieces):
        at = doc.text.find(piece, pos)
        if at < 0:  # not a verbatim piece of the text (never seen): date it on its own
            at, inside = 0, timeline.resolve(piece, doc.date)
        else:
            pos = at + 1
            inside = [w for w in found if at <= w.start and w.end <= at + len(piece)]
        chunks.append(
            Chunk(
                id=f"{doc.id}:{i}",
                doc_id=doc.id,
                index=i,
                text=piece,
                hash=content_hash(piece),
                title=doc.title,
                date=doc.date,
                times=tuple(dated.marks(inside, lang, at, doc.date)),
                dated=tuple(dated.keys(inside, doc.date)),
            )
        )
    return chunks


def windows(text: str, window_size: int, window_overlap: int) -> list[str]:
    """Sentence-aware windows of a chunk, the units dense retrieval embeds (small-to-big).

    Small windows embed more precisely than whole passages; the model is shown the whole chunk.
    A chunk that fits in one window is its own single window.
    """
    if window_size <= 0:
        return [text]
    pieces = _split(text, window_size, window_overlap)
    return pieces if len(pieces) > 1 else [text]


def _split(text: str, size: int, overlap: int) -> list[str]:
    """Sentence-aware pieces of at most `size` tokens (llama-index's SentenceSplitter).

    Text with a run of 200 characters and no space is not prose (binary-ish junk, found by
    tests/test_fuzz.py): on it the sentence tokenizer cuts off one character at a time, and
    SentenceSplitter recurses once per character, quadratic in time until a RecursionError
    (minutes on a file of a few dozen kB; measured:
    docs/results/2026-12-02-readme-overview-and-settings.md). Such text is cut into plain token
    windows instead.
    """
    from llama_index.core.node_parser import SentenceSplitter, TokenTextSplitter

    tokens = TokenTextSplitter(chunk_size=size, chunk_overlap=overlap)
    if NOT_PROSE.search(text):
        return [p.strip() for p in tokens.split_text(text) if p.strip()]
    try:
        splitter = SentenceSplitter(
            chunk_size=size, chunk_overlap=overlap, paragraph_separator="\n\n"
        )
        pieces = splitter.split_text(text)
    except RecursionError:  # belt and braces: any other text that makes it recurse that deep
        pieces = tokens.split_text(text)
    return [p.strip() for p in pieces if p.strip()]


def document_hash(doc: Document, *params: int) -> str:
    """What decides whether a stored document must be re-embedded: its content and the chunking."""
    key = json.dumps([doc.text, doc.title, doc.date, *params])
    return content_hash(key)
