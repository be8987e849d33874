"""Reading sources into documents, and documents into chunks.

Each file format has its reader in rag.index.readers (trafilatura for saved web pages, pypdf,
python-docx, YAML front matter for text, JSONL and CSV exports), with strict decoding (a wrong
encoding or a binary file is reported, never silently mangled), the publication date from the
file's metadata first, and boilerplate removal. Chunking uses llama-index's sentence-aware
SentenceSplitter.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rag.core.errors import InputError
from rag.core.types import Chunk, Document
from rag.index.readers import CORPORA, SUFFIXES, read
from rag.index.readers.clean import clean_text, decode, make_title
from rag.index.readers.text import extract_date
from rag.text import dated, timeline
from rag.text.language import detect

__all__ = ["Loaded", "clean_text", "decode", "extract_date", "load_sources", "make_title"]
NOT_PROSE = re.compile(r"\S{200}")  # see _split


@dataclass
class Loaded:
    """Documents read from the sources, plus one line per file or record that was not."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def load_sources(
    paths: Iterable[Path],
    max_bytes: int = 5_000_000,
    fields: Mapping[str, str] | None = None,
) -> Loaded:
    """Read every file of a known format (rag.index.readers.SUFFIXES) in the given folders
    (recursively, hidden files left out) and the given files; `fields` maps record field names
    (RAG_RECORD_FIELDS)."""
    loaded = Loaded()
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise InputError(f"no such file or folder: {path} — check the path or RAG_SOURCES")
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if file.suffix.lower() in SUFFIXES and not file.name.startswith("."):
                    read_file(loaded, file, path, max_bytes, fields)
        elif path.suffix.lower() in SUFFIXES:
            read_file(loaded, path, path.parent, max_bytes, fields)
        else:
            raise InputError(
                f"{path}: unsupported file type — use a folder or a {', '.join(SUFFIXES)} file"
            )
    seen: dict[str, str] = {}
    for doc in loaded.documents:
        if doc.id in seen:
            raise InputError(
                f"two documents share the id {doc.id!r} ({seen[doc.id]} and {doc.path}) — "
                "rename one"
            )
        seen[doc.id] = doc.path or doc.id
    return loaded


def read_file(
    loaded: Loaded,
    file: Path,
    root: Path,
    max_bytes: int = 5_000_000,
    fields: Mapping[str, str] | None = None,
) -> None:
    """One file's documents into `loaded` (a single document's id is its path relative to
    `root`); a file that cannot be read is one line in `loaded.skipped`."""
    doc_id = file.relative_to(root).as_posix()
    try:
        if re.search("[\ud800-\udfff\x00-\x1f\x7f]", doc_id):  # os.listdir escapes bad bytes
            shown = doc_id.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            shown = re.sub("[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", shown)
            why = "is not valid UTF-8" if "\ufffd" in shown else "contains control characters"
            raise InputError(f"{shown}: the file name {why}, skipped — rename the file")
        size = file.stat().st_size
        if size > max_bytes and file.suffix.lower() not in CORPORA:
            raise InputError(
                f"{doc_id}: {size:,} bytes is over the {max_bytes:,}-byte limit, skipped"
            )
        docs, skipped = read(doc_id, file.read_bytes(), str(file), fields)
    except InputError as exc:
        loaded.skipped.append(str(exc))
        return
    loaded.documents.extend(docs)
    loaded.skipped.extend(skipped)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_document(doc: Document, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Sentence-aware chunks of a document, each with a stable id "{doc_id}:{index}", a hash,
    and its time expressions resolved against the article's date (over the whole text first, so
    that "le lendemain" at a chunk's start still counts from the date the chunk before gave)."""
    pieces = _split(doc.text, chunk_size, chunk_overlap)
    found = timeline.resolve(doc.text, doc.published)
    lang = detect(doc.text[:3000])
    chunks, pos = [], 0
    for i, piece in enumerate(pieces):
        at = doc.text.find(piece, pos)
        if at < 0:  # not a verbatim piece of the text (never seen): date it on its own
            at, inside = 0, timeline.resolve(piece, doc.published)
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
                published=doc.published,
                outlet=doc.outlet,
                url=doc.url,
                author=doc.author,
                times=tuple(dated.marks(inside, lang, at, doc.published)),
                dated=tuple(dated.keys(inside, doc.published)),
                lang=lang,
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
    key: list[object] = [doc.text, doc.title, doc.published, *params]
    about = [doc.outlet, doc.url, doc.author]
    if any(about):  # absent: the key of a document read before they were kept stays the same
        key.append(about)
    return content_hash(json.dumps(key))
