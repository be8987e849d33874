"""Word files (.docx), read by python-docx: the paragraphs' text and the core properties
(title, author, creation date, and the identifier as the URL when it is one)."""

from __future__ import annotations

import io
import zipfile

from rag.core.errors import InputError
from rag.core.types import Document
from rag.index.readers.clean import clean_text, field, make_title
from rag.index.readers.published import iso, stated


def read_docx(name: str, data: bytes, path: str | None = None) -> Document:
    """One .docx → a Document whose id is `name`."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        why = " ".join(str(exc).split())[:80]
        raise InputError(
            f"{name}: not a readable Word document ({why}), skipped — re-save it as .docx"
        ) from None
    paragraphs = [p.text.strip() for p in document.paragraphs if p.text.strip()]
    text = clean_text("\n\n".join(paragraphs))
    if not text:
        raise InputError(f"{name}: the document has no text, skipped")
    props = document.core_properties
    identifier = field(props.identifier)
    return Document(
        id=name,
        title=field(props.title) or make_title(text),
        text=text,
        published=iso(props.created) or stated(text),
        url=identifier if identifier and identifier.startswith(("http://", "https://")) else None,
        author=field(props.author),
        format="docx",
        path=path,
    )
