"""What a file's first bytes say it is, so that a file whose extension lies is named, not misread.

kind(b"%PDF-1.7 …") -> ("pdf", "a PDF");  kind(b"\\x89PNG…") -> (None, "a PNG image")
kind(b"Un article…") -> ("text", "text")
"""

from __future__ import annotations

# Leading bytes -> (the reader that can read it, or None, and what it is in words).
SIGNATURES: tuple[tuple[bytes, str | None, str], ...] = (
    (b"%PDF-", "pdf", "a PDF"),
    (b"PK\x03\x04", "zip", "a ZIP archive (DOCX, XLSX, ODT…)"),
    (b"\x89PNG\r\n\x1a\n", None, "a PNG image"),
    (b"\xff\xd8\xff", None, "a JPEG image"),
    (b"GIF87a", None, "a GIF image"),
    (b"GIF89a", None, "a GIF image"),
    (b"II*\x00", None, "a TIFF image"),
    (b"MM\x00*", None, "a TIFF image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", None, "an old Office file (.doc, .xls)"),
    (b"{\\rtf", None, "an RTF file"),
    (b"\x1f\x8b", None, "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", None, "a 7-Zip archive"),
    (b"Rar!", None, "a RAR archive"),
    (b"\x7fELF", None, "a program"),
)


def kind(data: bytes) -> tuple[str | None, str]:
    """(reader family, what it is in words): "pdf", "zip", "text", or None for a kind no reader
    takes. A PDF may have a few bytes before its header; text is what has no NUL byte."""
    head = data[:1024]
    for magic, family, words in SIGNATURES:
        if head.startswith(magic) or (family == "pdf" and magic in head):
            return family, words
    if b"\x00" in data[:8192]:
        return None, "binary data"
    return "text", "text"
