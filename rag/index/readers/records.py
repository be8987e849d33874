"""Corpus exports, one article a record: JSONL lines or CSV rows.

A record carries `id` and `text`, and may carry `title`, `date`, `url`, `outlet` (or `source`)
and `author`. A CMS export that names them otherwise is mapped by one setting,
RAG_RECORD_FIELDS='{"text": "body", "date": "published_at"}'. The publication date is the
record's date field, else the seeds' marker or a dateline opening its text. Broken records are
named in the summary (file and line) and the others kept.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping

from rag.core.errors import InputError
from rag.core.types import Document
from rag.index.readers.clean import clean_text, decode, field, make_title
from rag.index.readers.published import iso
from rag.index.readers.text import extract_date

FIELDS = ("id", "title", "text", "date", "url", "outlet", "author")
DEFAULT_NAMES = {"outlet": ("outlet", "source")}  # any other field: its own name


def names(fields: Mapping[str, str] | None = None) -> dict[str, tuple[str, ...]]:
    """Each field's names in a record, the mapping first.

    names({"text": "body"})["text"] -> ("body",);  names()["outlet"] -> ("outlet", "source")
    """
    fields = fields or {}
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise InputError(
            f"RAG_RECORD_FIELDS names unknown fields {unknown} — map some of {', '.join(FIELDS)}"
        )
    return {k: (fields[k],) if k in fields else DEFAULT_NAMES.get(k, (k,)) for k in FIELDS}


def _get(record: Mapping, keys: tuple[str, ...]) -> object:
    return next((record[k] for k in keys if record.get(k) not in (None, "")), None)


def _document(record: Mapping, keys: dict[str, tuple[str, ...]], path: str | None, fmt: str):
    """A Document, or the reason (str) the record is not one."""
    doc_id, body = _get(record, keys["id"]), _get(record, keys["text"])
    if doc_id is None or not isinstance(body, str):
        return f"not a {{{keys['id'][0]}, {keys['text'][0]}}} record"
    date, body = extract_date(body)
    body = clean_text(body)
    if not body.strip():
        return "empty text"
    return Document(
        id=str(doc_id),
        title=field(_get(record, keys["title"])) or make_title(body),
        text=body,
        published=iso(_get(record, keys["date"])) or date,
        outlet=field(_get(record, keys["outlet"])),
        url=field(_get(record, keys["url"])),
        author=field(_get(record, keys["author"])),
        format=fmt,
        path=path,
    )


def read_jsonl(
    name: str, data: bytes, path: str | None = None, fields: Mapping[str, str] | None = None
) -> tuple[list[Document], list[str]]:
    """The documents of a JSONL corpus and one line per record that is not one."""
    keys, docs, skipped = names(fields), [], []
    for number, line in enumerate(decode(data, name, records=True).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            skipped.append(f"{name} line {number}: not a JSON record ({exc})")
            continue
        got = _document(record, keys, path, "jsonl") if isinstance(record, dict) else None
        if not isinstance(got, Document):
            skipped.append(f"{name} line {number}: {got or 'not a {id, title, text} record'}")
            continue
        docs.append(got)
    return docs, skipped


def read_csv(
    name: str, data: bytes, path: str | None = None, fields: Mapping[str, str] | None = None
) -> tuple[list[Document], list[str]]:
    """The documents of a CSV export (comma, semicolon or tab separated, a header row)."""
    keys, docs, skipped = names(fields), [], []
    text = decode(data, name)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:8192], ",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    columns = rows.fieldnames or []
    for wanted in ("id", "text"):
        if not set(keys[wanted]) & set(columns):
            raise InputError(
                f"{name}: no {keys[wanted][0]!r} column (columns: {', '.join(columns) or 'none'}), "
                f'skipped — rename it or map it: RAG_RECORD_FIELDS=\'{{"{wanted}": "COLUMN"}}\''
            )
    try:
        for row in rows:
            got = _document(row, keys, path, "csv")
            if isinstance(got, Document):
                docs.append(got)
            else:
                skipped.append(f"{name} line {rows.line_num}: {got}")
    except csv.Error as exc:
        skipped.append(f"{name} line {rows.line_num}: {exc}; the rows after it are skipped")
    return docs, skipped
