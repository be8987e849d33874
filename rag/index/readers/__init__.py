"""Readers: one module per file format, each turning a file's bytes into Documents.

    docs, skipped = read("article.html", data, fields={"text": "body"})

| suffix          | module   | library     | metadata read                                   |
|-----------------|----------|-------------|-------------------------------------------------|
| .txt .md        | text     | PyYAML      | front matter: title, date, source, url, author  |
| .html .htm      | web      | trafilatura | title, date, site name, author, canonical URL   |
| .pdf            | pdf      | pypdf       | title, author, creation date                    |
| .docx           | word     | python-docx | title, author, created, identifier (URL)        |
| .jsonl .csv     | records  | json, csv   | id, title, text, date, url, outlet, author      |

The publication date comes from the metadata first, and from the text only where it states its
own date (rag.index.readers.published). What the first bytes say the file is must match its
suffix (rag.index.readers.sniff): a PNG named .pdf or a PDF named .txt is named, not misread.
Every error is an InputError whose one-line message says what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rag.core.errors import InputError
from rag.core.types import Document
from rag.index.readers import sniff

# suffix -> the format's name (Document.format); the one list of what `rag ingest` and the
# page's upload read.
FORMATS = {
    ".txt": "text",
    ".md": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".jsonl": "jsonl",
    ".csv": "csv",
}
SUFFIXES = tuple(FORMATS)
CORPORA = {".jsonl", ".csv"}  # files of many documents, each with its own id
_FAMILY = {"pdf": "pdf", "docx": "zip"}  # what the bytes of a format are; any other: text


def read(
    name: str, data: bytes, path: str | None = None, fields: Mapping[str, str] | None = None
) -> tuple[list[Document], list[str]]:
    """The documents of one file (its id: `name`; a corpus's: its records' ids) and a line per
    record that could not be read; a file that cannot be read at all raises InputError."""
    suffix = Path(name).suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt is None:
        raise InputError(
            f"{name}: unsupported file type, skipped — use one of {', '.join(SUFFIXES)}"
        )
    if not data.strip() and fmt != "jsonl":  # an empty corpus: no records, no error
        raise InputError(f"{name}: empty file, skipped")
    _check_kind(name, data, suffix, fmt)
    if fmt in ("text", "markdown"):
        from rag.index.readers.text import read_text

        return [read_text(name, data, path, fmt)], []
    if fmt == "html":
        from rag.index.readers.web import read_html

        return [read_html(name, data, path)], []
    if fmt == "pdf":
        from rag.index.readers.pdf import read_pdf

        return [read_pdf(name, data, path)], []
    if fmt == "docx":
        from rag.index.readers.word import read_docx

        return [read_docx(name, data, path)], []
    from rag.index.readers.records import read_csv, read_jsonl

    return (read_jsonl if fmt == "jsonl" else read_csv)(name, data, path, fields)


def _check_kind(name: str, data: bytes, suffix: str, fmt: str) -> None:
    """Refuse a file whose first bytes say it is something its suffix does not."""
    family, words = sniff.kind(data)
    expected = _FAMILY.get(fmt, "text")
    if family == expected or (fmt == "jsonl" and family is None and words == "binary data"):
        return  # a JSONL export with stray NUL bytes: its reader reports those lines one by one
    fix = next(
        (
            f"rename it to {s}"
            for s, f in FORMATS.items()
            if family is not None and _FAMILY.get(f, "text") == family
        ),
        "",
    )
    fix = fix or f"only {', '.join(SUFFIXES)} files are indexed"
    if expected == "text":
        raise InputError(f"{name}: looks binary ({words} named {suffix}), skipped — {fix}")
    raise InputError(f"{name}: not a {fmt.upper()} file but {words}, skipped — {fix}")
