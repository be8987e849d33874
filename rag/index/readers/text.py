"""Text and Markdown articles, with an optional YAML front matter.

    ---
    title: Le conseil vote la loi
    date: 2017-01-31
    source: Le Journal        # or outlet:
    url: https://journal.example/loi
    author: Jeanne Dupont
    ---
    Ce mardi, le conseil…

The publication date: the front matter's `date`, else the seeds' ` date YYYY-MM` marker that
opens the text, else a date the text states as its own (rag.index.readers.published).
"""

from __future__ import annotations

import re

from rag.core.errors import InputError
from rag.core.types import Document
from rag.index.readers.clean import clean_text, decode, field, make_title
from rag.index.readers.published import iso, stated

DATE_MARKER = re.compile(r"^\s*date\s+(\d{4}-\d{2}(?:-\d{2})?)\s*")
FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def extract_date(text: str) -> tuple[str | None, str]:
    """The date a text gives itself and the text without the seeds' marker: the marker, else a
    dateline or "Publié le" (never a date in the body: that is an event's).

    " date 2024-11 Donald…" -> ("2024-11", "Donald…"); "Le 10 novembre 2024, …" -> (None, same)
    """
    marker = DATE_MARKER.match(text)
    if marker:
        return marker.group(1), text[marker.end() :]
    return stated(text), text


def front_matter(text: str, name: str) -> tuple[dict, str]:
    """The YAML front matter as a dict, and the text after it; ({}, text) when there is none."""
    import yaml

    found = FRONT_MATTER.match(text)
    if not found:
        return {}, text
    try:
        meta = yaml.safe_load(found.group(1)) or {}
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 2}" if where is not None else ""
        raise InputError(
            f"{name}: its front matter is not valid YAML{line}, skipped — fix it or remove it"
        ) from None
    if not isinstance(meta, dict):
        raise InputError(f"{name}: its front matter is not a list of 'key: value', skipped")
    return meta, text[found.end() :]


def read_text(name: str, data: bytes, path: str | None = None, fmt: str = "text") -> Document:
    """One .txt or .md article → a Document whose id is `name`."""
    meta, text = front_matter(decode(data, name), name)
    date, text = extract_date(text)
    text = clean_text(text)
    if not text.strip():
        raise InputError(f"{name}: empty file, skipped")
    return Document(
        id=name,
        title=field(meta.get("title")) or make_title(text),
        text=text,
        published=iso(meta.get("date")) or date,
        outlet=field(meta.get("source") or meta.get("outlet")),
        url=field(meta.get("url")),
        author=field(meta.get("author")),
        format=fmt,
        path=path,
    )
