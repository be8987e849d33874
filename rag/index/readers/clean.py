"""What every reader does to the text it read: strict decoding, boilerplate out, a title.

clean_text("Titre\\n\\nTitre\\n\\nPublicité\\n\\nCorps.") -> "Titre\\n\\nCorps."
make_title("Court titre\\nCorps") -> "Court titre"
"""

from __future__ import annotations

import re
import unicodedata

from rag.core.errors import InputError

BOILERPLATE = re.compile(
    r"^\s*(la suite apr[eè]s cette publicit[eé]|publicit[eé]|advertisement|lire aussi\s*:?.*)\s*$",
    re.IGNORECASE,
)


def decode(raw: bytes, name: str, records: bool = False) -> str:
    """UTF-8 (with or without BOM); a binary or non-UTF-8 file raises with the fix to apply.
    `records`: NUL bytes are let through, for a record format that reports its bad lines."""
    if not records and b"\x00" in raw[:8192]:
        raise InputError(f"{name}: looks binary (NUL bytes), skipped — only text files are indexed")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}: not valid UTF-8 (byte {exc.start}), skipped — re-save it as UTF-8 "
            f"(e.g. iconv -f cp1252 -t utf-8, which also reads Latin-1)"
        ) from None


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


def field(value: object) -> str | None:
    """A metadata value as one line of text, None when absent or blank.

    field("  Le  Journal \\n") -> "Le Journal";  field(None) -> None;  field(["a", "b"]) -> "a, b"
    """
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value if v)
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None
