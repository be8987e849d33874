"""PDF files with a text layer, read by pypdf: the pages' text and the document's properties
(title, author, creation date). A scanned PDF has no text to read: it is refused with the fix
(OCR it first), as is an encrypted one."""

from __future__ import annotations

import io

from rag.core.errors import InputError
from rag.core.types import Document
from rag.index.readers.clean import clean_text, field, make_title
from rag.index.readers.published import iso, stated


def read_pdf(name: str, data: bytes, path: str | None = None) -> Document:
    """One PDF → a Document whose id is `name`."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))  # an owner-only password still opens with ""
            except (DependencyError, NotImplementedError):
                opened = False
            if not opened:
                raise InputError(
                    f"{name}: the PDF is encrypted, skipped — save a copy without a password"
                )
        pages = [page.extract_text() or "" for page in reader.pages]
        meta = reader.metadata
        title, author, created = _properties(meta)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        why = " ".join(str(exc).split())[:80]
        raise InputError(f"{name}: damaged PDF ({why}), skipped — re-export it") from None
    text = clean_text("\n\n".join(p.strip() for p in pages if p.strip()))
    if not text.strip():
        raise InputError(
            f"{name}: the PDF has no text layer (a scan?), skipped — OCR it first "
            "(e.g. ocrmypdf in.pdf out.pdf)"
        )
    return Document(
        id=name,
        title=title or make_title(text),
        text=text,
        published=created or stated(text),
        author=author,
        format="pdf",
        path=path,
    )


def _properties(meta) -> tuple[str | None, str | None, str | None]:
    """(title, author, creation date) of the PDF's document information; a malformed date is
    no date."""
    if meta is None:
        return None, None, None
    try:
        created = iso(meta.creation_date)
    except ValueError:
        created = None
    return field(meta.title), field(meta.author), created
