"""Adding and removing article files in the documents folder (what the app's Documents tab does).

Uploads are checked before anything touches the disk: a plain file name that cannot leave the
folder, a suffix `rag ingest` reads (rag.index.readers.SUFFIXES), a size limit, and content that
its reader reads as at least one document (the same reader `rag ingest` runs). The caller runs
`RAG.ingest()` afterwards to bring the index in line.

    path = save_document(settings, "article.txt", data)   # InputError says what is wrong
    remove_document(settings, "article.txt")
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path

from rag.core.errors import InputError
from rag.core.settings import Settings
from rag.index.readers import SUFFIXES, read

MAX_UPLOAD_BYTES = 2_000_000
MAX_NAME_CHARS = 200


def safe_name(name: str) -> str:
    """A plain file name that stays inside the folder, or InputError.

    "article.txt" -> "article.txt"; "../x.txt", "a/b.txt", ".hidden.txt", "x.exe" -> InputError
    """
    name = unicodedata.normalize("NFC", str(name)).strip()
    if not name:
        raise InputError("the file has no name")
    if "/" in name or "\\" in name or name in {".", ".."}:
        raise InputError(f"{name!r}: a file name must not contain a folder ('/', '\\' or '..')")
    if re.search(r"[\x00-\x1f\x7f]", name):
        raise InputError(f"{name!r}: the file name contains control characters — rename it")
    if name.startswith("."):
        raise InputError(f"{name!r}: hidden files (names starting with '.') are not indexed")
    if len(name) > MAX_NAME_CHARS:
        raise InputError(f"the file name is over {MAX_NAME_CHARS} characters — rename it")
    if Path(name).suffix.lower() not in SUFFIXES:
        raise InputError(f"{name}: only {', '.join(SUFFIXES)} files can be added")
    return name


def check_document(name: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> str:
    """Validate an upload as `rag.index.ingest` would read it; return its safe name.

    Raises InputError for a bad name, an oversized file, or one its reader refuses (binary,
    non-UTF-8, empty, a scan without text, a page without an article…).
    """
    name = safe_name(name)
    if len(data) > max_bytes:
        raise InputError(f"{name}: {len(data):,} bytes is over the {max_bytes:,}-byte upload limit")
    docs, skipped = read(name, data)
    if not docs:
        raise InputError(skipped[0] if skipped else f"{name}: the file holds no document to index")
    return name


def documents_folder(settings: Settings) -> Path:
    """The folder where new documents go: the first source that is a folder."""
    for source in settings.index.sources:
        if Path(source).is_dir():
            return Path(source)
    raise InputError(
        "no documents folder: none of the sources is a folder — set RAG_SOURCES to include one"
    )


def save_document(
    settings: Settings, name: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES
) -> Path:
    """Check an upload and write it into the documents folder (atomically; never overwrites)."""
    name = check_document(name, data, max_bytes)
    folder = documents_folder(settings)
    target = folder / name
    if target.resolve().parent != folder.resolve():  # belt and braces after safe_name
        raise InputError(f"{name!r}: the file would land outside {folder}")
    if target.exists():
        raise InputError(f"{name}: a document with this name exists — remove it first")
    # A hidden temp name: an ingest running meanwhile skips it (load_sources ignores dot files).
    fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def remove_document(settings: Settings, doc_id: str) -> tuple[Path, str]:
    """Delete the file of an indexed document (its id is its path inside a source folder).

    Returns the path and the sha256 of the bytes it held (for the audit log)."""
    parts = Path(doc_id).parts
    if not doc_id or Path(doc_id).is_absolute() or ".." in parts:
        raise InputError(f"{doc_id!r}: not a document name")
    for source in settings.index.sources:
        folder = Path(source)
        if not folder.is_dir():
            continue
        target = folder / doc_id
        inside = folder.resolve() in target.resolve().parents
        if inside and target.is_file() and target.suffix.lower() in SUFFIXES:
            digest = hashlib.sha256(target.read_bytes()).hexdigest()
            target.unlink()
            return target, digest
    raise InputError(
        f"{doc_id}: no such file in the documents folders (records of a .jsonl corpus are "
        "removed by editing the corpus)"
    )
